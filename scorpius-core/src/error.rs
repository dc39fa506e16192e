//! The core's error type. Every variant names what was wrong so the CLI and the server can
//! show it to the user unchanged.

use std::fmt;

/// A result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors returned by the core. All of them are caused by the input, never by the environment:
/// the core does no I/O.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A value supplied by the user is malformed. `field` names where it came from (a flag, a
    /// JSON path such as `message.spender`, or `raw transaction`).
    #[error("{field}: {problem}")]
    InvalidInput {
        /// Where the bad value came from.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A chain name or id that the registry does not know.
    #[error("unknown chain `{0}`: use a chain id (e.g. 1) or one of: {names}", names = crate::chain::known_names())]
    UnknownChain(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn input(field: impl Into<String>, problem: impl fmt::Display) -> Self {
        Self::InvalidInput { field: field.into(), problem: problem.to_string() }
    }
}
