//! Serde helpers that render EVM values the way every Scorpius output does: addresses
//! EIP-55-checksummed, integers as decimal strings (JSON numbers lose precision past 2^53),
//! bytes and hashes as 0x hex.

use alloy_primitives::{Address, B256, Selector, U256};
use serde::Serializer;

/// An address, checksummed.
pub fn address<S: Serializer>(v: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_checksum(None))
}

/// An optional address, checksummed.
pub fn opt_address<S: Serializer>(v: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(a) => address(a, s),
        None => s.serialize_none(),
    }
}

/// A 256-bit integer as a decimal string.
pub fn u256<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// An optional 32-byte hash as 0x hex.
pub fn opt_b256<S: Serializer>(v: &Option<B256>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(h) => s.serialize_str(&h.to_string()),
        None => s.serialize_none(),
    }
}

/// Bytes as 0x hex.
pub fn bytes<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(v)))
}

/// An optional selector as 0x hex.
pub fn opt_selector<S: Serializer>(v: &Option<Selector>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(sel) => s.serialize_str(&format!("0x{}", hex::encode(sel.as_slice()))),
        None => s.serialize_none(),
    }
}
