//! Partner Programs: the domain, validation, storage and HTTP envelope every Lambda shares.
//!
//! The layers, low to high, each a folder; a module names only its own layer and those below it
//! (docs/architecture.md#the-layers, checked by `tests/api/layers.rs`): `domain` (types and rules,
//! no I/O), `config`, `storage` (the table and every SDK call), `state` (what a container builds
//! once, the write loop), `http` (envelope, dispatch, adapter, idempotency, batch; `logging`
//! beside it), `sweep`, `operations` (one module per operation and the route table; `admin`
//! beside it).

pub mod admin;
pub mod config;
pub mod domain;
pub mod http;
pub mod logging;
pub mod operations;
pub mod state;
pub mod storage;
pub mod sweep;
