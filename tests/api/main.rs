//! Integration tests: real HTTP requests with JSON bodies through the local server (the same
//! router and handlers the Lambdas run) against DynamoDB Local. Run with `make test`.

// Test code: a failed unwrap is a failed test with its message, which is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A test reads as one scenario, top to bottom; splitting one to fit a screen hides its story.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
mod openapi;
mod round_trips;
mod support;
mod sweep_kills;

mod activity_history;
mod agents;
mod auth_and_tenancy;
mod bench_auth;
mod benefits;
mod burst;
mod capillary_examples;
mod contention;
mod customers;
mod docs_links;
mod erasure;
mod exactly_once;
mod expiry_reminders;
mod expiry_sweep;
mod fault_proxy;
mod fault_workload;
mod file_kills;
mod file_pipeline;
mod file_sync;
mod hardening;
mod http_errors;
mod idempotency;
mod layers;
mod link_delink;
mod member_care;
mod moto_emulator;
mod partner_files;
mod program_catalog;
mod subscriptions;
mod template_routes;
mod update_partner_program;
