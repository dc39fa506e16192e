//! The server over real HTTP on the loopback: each test starts the app on 127.0.0.1:0 with
//! its own SQLite directory (or PostgreSQL database) and talks to it with reqwest.

mod audit;
mod bad_input;
mod binary;
mod common;
mod health;
mod keys;
mod matrix;
mod metering;
#[cfg(feature = "postgres")]
mod pg;
mod scans;
mod webhooks;
