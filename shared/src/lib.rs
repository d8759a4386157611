//! Partner Programs: everything a Lambda runs, in layers low to high (`domain`, `config`, `storage`,
//! `state`, `http`, `sweep`, `operations`; `logging`, `metrics`, and `admin` and `file_sync` beside
//! them); a module names only its own layer and those below (docs/architecture.md#the-layers, held
//! by `tests/api/layers.rs`).

pub mod admin;
pub mod config;
pub mod domain;
pub mod file_sync;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod operations;
pub mod state;
pub mod storage;
pub mod sweep;
