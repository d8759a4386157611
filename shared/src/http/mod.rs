//! The HTTP side: the request/response envelope (`api`), strict path and query decoding, the
//! route table (`router`), the Lambda adapter, Basic-auth credentials and the API Gateway
//! authorizer, the `Idempotency-Key` layer, the batch shape of every write, the wire objects, and
//! the console's static files.

pub mod api;
pub mod auth;
pub mod authorizer;
pub mod batch;
pub mod console;
pub mod error;
pub mod idempotency;
pub mod lambda_adapter;
pub mod request_decoding;
pub mod router;
pub mod wire;
