//! The server over real HTTP on the loopback: each test starts the app on 127.0.0.1:0 with
//! its own SQLite directory (or PostgreSQL database) and talks to it with reqwest.

mod audit;
mod bad_input;
mod binary;
#[allow(dead_code)] // shared with the CLI's tests; not every helper is used here
#[path = "../../../scorpius-cli/tests/it/chain.rs"]
mod chain;
mod common;
mod health;
mod intel;
mod keys;
mod matrix;
mod metering;
mod onchain;
#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "postgres")]
mod pg;
mod policy;
mod scans;
mod webhooks;
