//! Partner Programs: the domain, validation, storage and HTTP envelope every Lambda shares.
//!
//! The layers, each a folder (`docs/architecture.md` walks a request through them):
//! - `domain`: the types and rules with no I/O (customers, linkages, tiers, dates, limits, the
//!   error catalog, expiry rules).
//! - `storage`: the single DynamoDB table — keys, item records and every call to the SDK (`Store`).
//! - `http`: the request and response envelope, the route table, the Lambda adapter, the
//!   authorizer, idempotency and the batch shape shared by every write.
//! - `operations`: one module per API operation, named like its binary in `functions/`.
//! - `sweep`: the scheduled tier-expiry sweep.
//!
//! `config`, `state` (what a container builds once), `logging` and `admin` (deployment bootstrap)
//! sit beside them.

pub mod admin;
pub mod config;
pub mod domain;
pub mod http;
pub mod logging;
pub mod operations;
pub mod state;
pub mod storage;
pub mod sweep;
