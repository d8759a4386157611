//! One module per API operation, named like its Lambda binary in `functions/src/bin/`; each
//! exposes `handle(&AppState, ApiRequest) -> Answer`, which its binary passes to
//! `http::lambda_adapter::run_http` and the route table (`routes`) names for the local server.

pub mod create_client;
pub mod create_loyalty_program;
pub mod customer_activity_histories;
pub mod customer_benefits;
pub mod customer_partner_programs;
pub mod delink_customer;
pub mod erase_customer;
pub mod expiry_preview;
pub mod link_customer;
pub mod list_programs;
pub mod membership_lookup;
pub mod partner_files;
pub mod put_partner_program;
pub mod register_customer;
pub mod routes;
pub mod update_customer_partner_program;
pub mod whoami;

#[cfg(test)]
pub(crate) mod rule_fixtures;
