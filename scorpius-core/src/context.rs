//! What an analysis knows about the world besides its input: the chain the user is on, the
//! current time (passed in, so analysis stays a pure, reproducible function) and the site
//! that asked for the signature or transaction.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::{
    chain::Chain,
    intel::{
        IntelIndex,
        domain::DomainIndex,
        poisoning::{History, KnownTokens},
    },
};

/// Seconds in the 365-day horizon beyond which expirations count as "long".
pub const ONE_YEAR_SECS: i64 = 365 * 24 * 3600;

/// Inputs every analyzer receives besides the object under test.
#[derive(Debug, Clone)]
pub struct Context {
    /// The chain the wallet is connected to.
    pub chain: Chain,
    /// The time to evaluate expirations against.
    pub now: OffsetDateTime,
    /// The site (URL or host) that requested the signature or transaction, if known.
    pub origin: Option<String>,
    /// Threat intelligence for addresses; `None` scans without it.
    pub intel: Option<Arc<IntelIndex>>,
    /// Phishing-domain index for `origin`; `None` skips the origin check.
    pub domains: Option<Arc<DomainIndex>>,
    /// The wallet's transfer history and the known-token list, to check recipients for
    /// address poisoning (`scan tx --history`).
    pub history: Option<Arc<(History, KnownTokens)>>,
}

impl Context {
    /// A context for `chain` at the current time, with no origin.
    pub fn new(chain: Chain) -> Self {
        Context { chain, now: OffsetDateTime::now_utc(), origin: None, intel: None, domains: None, history: None }
    }

    /// Unix time one year after `now`.
    pub fn one_year_from_now(&self) -> i64 {
        self.now.unix_timestamp() + ONE_YEAR_SECS
    }
}
