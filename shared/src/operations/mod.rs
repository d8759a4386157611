//! One module per API operation; each exposes `handle(&AppState, ApiRequest) -> ApiResponse`
//! (or a named function per method), called by its Lambda binary and by the local server alike.

pub mod customer_activity_history;
pub mod customer_benefits;
pub mod customer_partner_programs;
pub mod customers;
pub mod delink_customer;
pub mod erase_customer;
pub mod expiry_preview;
pub mod link_customer;
pub mod partner_program_config;
pub mod programs;
pub mod update_customer_partner_program;
