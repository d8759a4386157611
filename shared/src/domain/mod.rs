//! Types and rules with no I/O: what a customer, a linkage and a program are, how dates and time
//! zones are read, the limits every input is held to, the error catalog and the expiry rules.

pub mod catalog;
pub mod change_id;
pub mod dates;
pub mod error_catalog;
pub mod expiry_rules;
pub mod limits;
pub mod model;
pub mod reminders;
pub mod text;
pub mod zone;
