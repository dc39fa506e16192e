//! Wallet scans: every standing permission a wallet has granted and every risk in its history.
//!
//! - [`snapshot`]: the versioned record of on-chain facts (`scorpius snapshot wallet`);
//! - [`collect`]: how those facts are gathered from a node, behind the [`collect::ChainReader`]
//!   trait (log chunking with adaptive splitting, Multicall3 and JSON-RPC batching);
//! - [`analyze`]: the pure analysis of a snapshot into the approval inventory and findings;
//! - [`revoke`]: the unsigned transactions that revoke risky permissions;
//! - [`abi`]: the interfaces involved and tolerant decoders for non-standard tokens.

pub mod abi;
pub mod analyze;
pub mod collect;
pub mod revoke;
pub mod snapshot;

pub use analyze::{Permission, PermissionKind, WalletAnalysis, analyze, analyze_parts, inventory};
pub use snapshot::{SNAPSHOT_FORMAT, WalletSnapshot};

/// Serialises an address with its EIP-55 checksum (what people compare), not lowercase.
pub(crate) fn checksummed<S: serde::Serializer>(a: &alloy_primitives::Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_checksum(None))
}

/// [`checksummed`] for optional addresses.
pub(crate) fn checksummed_opt<S: serde::Serializer>(
    a: &Option<alloy_primitives::Address>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => checksummed(a, s),
        None => s.serialize_none(),
    }
}
