//! Scorpius core: the analysis engine shared by the CLI, the server and the SDK.
//!
//! Everything here is a pure function of its inputs: callers collect facts (calldata, typed
//! data, a raw transaction) and get back a [`model::ScanReport`] with findings and evidence.
//! The core does no network I/O and no file I/O outside the `store` feature (the SQLite intel
//! store and audit log); see `docs/ARCHITECTURE.md` for the boundaries.

pub mod api;
pub mod audit;
pub mod chain;
pub mod checks;
pub mod context;
pub mod contract;
pub mod error;
pub mod evm;
pub mod intel;
pub mod metering;
pub mod model;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod policy;
pub mod report;
#[cfg(feature = "rpc")]
pub mod rpc;
pub mod rules;
pub mod signature;
pub mod tx;
pub mod wallet;
pub mod webhooks;

pub use error::{Error, Result};

/// The engine version recorded in every report.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
