//! Tools for working on the service locally, kept out of every Lambda: the local server (`make
//! run`, the API tests), the table from `template.yaml`, the demo org, the sweep's seeding, and
//! loopback HTTP for the test doubles of `tests/` and `bench/`, with their round-trip count.

pub mod cli;
pub mod demo;
pub mod file_import;
pub mod import_bench;
pub mod local_server;
pub mod loopback;
pub mod round_trips;
pub mod sweep_seed;
pub mod table_definition;
