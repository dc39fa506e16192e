//! Exit codes (documented in the README) and the mapping from errors to them.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success, no finding at or above `--fail-on` |
//! | 1 | a finding at or above `--fail-on` |
//! | 2 | usage error or bad input |
//! | 3 | operational failure (I/O, network, storage) |

use std::{fmt, process::ExitCode};

/// Success.
pub const OK: u8 = 0;
/// A finding at or above `--fail-on`.
pub const FINDINGS: u8 = 1;
/// Usage error or bad input.
pub const USAGE: u8 = 2;
/// Operational failure.
pub const OPERATIONAL: u8 = 3;

/// An error caused by the user's input or invocation (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Wraps a message as a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// The exit code for an error: 2 when anything in its chain is bad input, 3 otherwise.
pub fn code_for(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|e| {
        e.is::<UsageError>()
            || e.is::<scorpius_core::Error>()
            || e.downcast_ref::<scorpius_core::rpc::RpcError>().is_some_and(scorpius_core::rpc::RpcError::is_input)
    });
    if bad_input { USAGE } else { OPERATIONAL }
}

/// Converts a numeric code to the process exit code.
pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}
