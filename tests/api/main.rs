//! Integration tests: real HTTP requests with JSON bodies through the local server (the same
//! router and handlers the Lambdas run) against DynamoDB Local. Run with `make test`.

mod openapi;
mod support;

mod activity_history;
mod capillary_examples;
mod auth_and_tenancy;
mod benefits;
mod customers;
mod erasure;
mod expiry_sweep;
mod http_errors;
mod idempotency;
mod link_delink;
mod subscriptions;
mod template_routes;
mod update_partner_program;
