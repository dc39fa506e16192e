//! JSON-RPC for the commands that read chain state: the client is the core's
//! ([`scorpius_core::rpc`]); the CLI adds the runtime its blocking commands run it on.
//! [`scorpius_core::rpc::RpcError::Input`] maps to exit code 2 (see [`crate::exit::code_for`]).

use anyhow::{Context as _, Result};
pub use scorpius_core::rpc::{Rpc, RpcOptions, redact};

/// A current-thread tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}
