//! Tools for working on the service locally, kept out of every Lambda: the HTTP server that serves
//! the route table on a local port (`make run`, the API tests), the table created from
//! `template.yaml`, the demo org, seeding for the sweep benchmark (`ppsweep`), and plain loopback HTTP
//! for the test doubles of `tests/` and `bench/`, and how both count sequential round trips.

pub mod demo;
pub mod local_server;
pub mod loopback;
pub mod round_trips;
pub mod sweep_seed;
pub mod table_definition;
