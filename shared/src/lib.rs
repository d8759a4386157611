//! Partner Programs: the domain, validation, storage and HTTP envelope every Lambda shares.
//! Route → binary → rules: `router.rs` names each operation's module under `operations/`.

pub mod activity_history;
pub mod admin;
pub mod api;
pub mod auth;
pub mod authorizer;
pub mod batch;
pub mod change_id;
pub mod config;
pub mod customer_identity;
pub mod dates;
pub mod error_catalog;
pub mod expiry_rules;
pub mod expiry_sweep;
pub mod idempotency;
pub mod keys;
pub mod lambda_adapter;
pub mod limits;
pub mod linkage_write;
pub mod local_server;
pub mod logging;
pub mod model;
pub mod operations;
pub mod outbox;
pub mod records;
pub mod request_decoding;
pub mod router;
pub mod state;
pub mod store;
pub mod sweep_seed;
pub mod table_definition;
pub mod wire;
