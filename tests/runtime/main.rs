//! Runtime API tests: the compiled Lambda binaries (`target/debug/<bin>`, built by `make test`)
//! run as Lambda runs them — started with the sandbox's environment, talking HTTP to a Runtime API
//! emulator on loopback — and are fed the event files in `tests/events/` that `sam local invoke`
//! and `cargo lambda invoke` use. Every function in template.yaml is covered; none is listed here.

// Test code: a failed unwrap is a failed test with its message, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A test reads as one scenario, top to bottom; splitting one to fit a screen hides its story.
#![allow(clippy::too_many_lines)]

mod aws_recorder;
#[path = "../common/mod.rs"]
mod common;
mod dynamodb_recorder;
// The API suite's fault proxy, here in front of a function binary's DynamoDB endpoint.
#[allow(dead_code)]
#[path = "../api/fault_proxy.rs"]
mod fault_proxy;
mod fixtures;
mod lambda_process;
mod policies;
mod runtime_api;
mod template;

mod authorizer;
mod bench;
mod event_files;
mod http_functions;
mod init_errors;
mod least_privilege;
mod metrics;
mod observability;
mod partner_files;
mod release;
mod scheduled;
mod static_files;
