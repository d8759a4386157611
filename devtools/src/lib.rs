//! Tools for working on the service locally, kept out of every Lambda: the HTTP server that serves
//! the route table on a local port (`make run`, the API tests), the table created from
//! `template.yaml`, the demo org, and seeding for the sweep benchmark (`ppsweep`).

pub mod demo;
pub mod local_server;
pub mod sweep_seed;
pub mod table_definition;
