//! Integration tests: real HTTP requests with JSON bodies through the local server (the same
//! router and handlers the Lambdas run) against DynamoDB Local. Run with `make test`.

mod support;

mod auth_and_tenancy;
mod customers;
mod http_errors;
mod link_delink;
mod template_routes;
