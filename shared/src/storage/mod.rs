//! The single DynamoDB table: key design (`keys`), item records (`records`), the one client
//! wrapper every SDK call goes through (`store`), and the reads and conditional writes built on
//! it (customer lookup, linkage changes, activity history, the outbox).

pub mod activity_history;
pub mod admission;
pub mod conditional;
pub mod customer_identity;
pub mod keys;
pub mod linkage_items;
pub mod outbox;
pub mod partner_files;
pub mod records;
pub mod reminder_items;
pub mod sdk_metrics;
pub mod store;
pub mod write_context;
