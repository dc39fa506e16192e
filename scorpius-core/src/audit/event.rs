//! Audit events and their canonical leaf encoding.
//!
//! A leaf is a fixed-order binary record (all integers big-endian):
//!
//! ```text
//! "scorpius-audit/v1"          17 bytes, domain separation
//! seq                          u64
//! timestamp                    i64, Unix milliseconds, UTC
//! actor, action, resource      each u32 length + UTF-8 bytes
//! outcome                      u8: 0 success, 1 failure, 2 denied
//! details_hash                 32 bytes: SHA-256("scorpius-audit/details/v1" || salt || details)
//! prev_hash                    32 bytes: leaf hash of entry seq-1 (zeros for seq 0)
//! ```
//!
//! The entry hash is the RFC 6962 leaf hash `SHA-256(0x00 || leaf)`. Because the leaf holds
//! only a salted hash of the details, the details (JSON text, stored exactly as hashed) can be
//! erased later (`scorpius audit redact`) without changing any hash; the random 32-byte salt
//! stops anyone from confirming a guess of erased details.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::merkle::{Hash, leaf_hash};

const LEAF_PREFIX: &[u8] = b"scorpius-audit/v1";
const DETAILS_PREFIX: &[u8] = b"scorpius-audit/details/v1";

/// How the audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did what was asked.
    Success,
    /// It failed (bad input, operational error).
    Failure,
    /// It was refused (authentication, authorisation, quota).
    Denied,
}

impl Outcome {
    /// The byte in the leaf encoding.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Denied => 2,
        }
    }

    /// The outcome for a leaf byte.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Outcome::Success),
            1 => Some(Outcome::Failure),
            2 => Some(Outcome::Denied),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// What happened, before it is sequenced into the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When, in Unix milliseconds (UTC).
    pub timestamp_ms: i64,
    /// Who: a user, an API key id, or `cli`.
    pub actor: String,
    /// What, dotted: `scan.transaction`, `intel.import`, `key.create`, `audit.redact`.
    pub action: String,
    /// On what: a scan target, a dataset name, a key id, `seq:42`.
    pub resource: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Free-form facts (JSON object); erasable later.
    pub details: serde_json::Value,
}

impl Event {
    /// An event stamped with the current time.
    pub fn now(
        actor: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
        outcome: Outcome,
        details: serde_json::Value,
    ) -> Self {
        let timestamp_ms =
            i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        Event { timestamp_ms, actor: actor.into(), action: action.into(), resource: resource.into(), outcome, details }
    }
}

/// A sequenced, hash-chained log entry as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log, from 0; also the Merkle leaf index.
    pub seq: u64,
    /// Unix milliseconds (UTC).
    pub timestamp_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub resource: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The details as the exact JSON text that was hashed; `None` once redacted.
    pub details: Option<String>,
    /// The details salt (hex); `None` once redacted.
    pub salt: Option<String>,
    /// Salted hash of the details (hex).
    pub details_hash: String,
    /// Entry hash of the previous entry (hex; zeros for the first).
    pub prev_hash: String,
    /// This entry's hash (hex), as stored; verification recomputes it.
    pub hash: String,
}

/// `SHA-256("scorpius-audit/details/v1" || salt || details)`.
pub fn details_hash(salt: &[u8; 32], details: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(DETAILS_PREFIX);
    h.update(salt);
    h.update(details.as_bytes());
    h.finalize().into()
}

/// The fields of an entry that the leaf commits to.
#[derive(Debug, Clone, Copy)]
pub struct LeafFields<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Unix milliseconds.
    pub timestamp_ms: i64,
    /// Actor.
    pub actor: &'a str,
    /// Action.
    pub action: &'a str,
    /// Resource.
    pub resource: &'a str,
    /// Outcome byte.
    pub outcome: u8,
    /// Salted details hash.
    pub details_hash: &'a Hash,
    /// Previous entry hash.
    pub prev_hash: &'a Hash,
}

impl LeafFields<'_> {
    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(LEAF_PREFIX);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        for s in [self.actor, self.action, self.resource] {
            // Fields longer than 4 GiB cannot be stored; the store rejects them first.
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.push(self.outcome);
        out.extend_from_slice(self.details_hash);
        out.extend_from_slice(self.prev_hash);
    }

    /// The entry hash: RFC 6962 leaf hash of the encoding.
    pub fn hash(&self, buf: &mut Vec<u8>) -> Hash {
        buf.clear();
        self.encode_into(buf);
        leaf_hash(buf)
    }
}

/// Decodes a 32-byte hex hash.
pub fn parse_hash(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_fixed_and_every_field_counts() {
        let dh = details_hash(&[7; 32], r#"{"a":1}"#);
        let prev = [9u8; 32];
        let base = LeafFields {
            seq: 1,
            timestamp_ms: 1_700_000_000_000,
            actor: "cli",
            action: "scan.transaction",
            resource: "0xabc",
            outcome: 0,
            details_hash: &dh,
            prev_hash: &prev,
        };
        let mut buf = Vec::new();
        base.encode_into(&mut buf);
        assert_eq!(&buf[..17], b"scorpius-audit/v1");
        assert_eq!(buf.len(), 17 + 8 + 8 + 4 * 3 + 3 + 16 + 5 + 1 + 32 + 32);
        let h = base.hash(&mut buf);
        let other = [1u8; 32];
        let variants = [
            LeafFields { seq: 2, ..base },
            LeafFields { timestamp_ms: 1, ..base },
            LeafFields { actor: "clj", ..base },
            LeafFields { action: "scan.transactioN", ..base },
            LeafFields { resource: "0xabd", ..base },
            LeafFields { outcome: 1, ..base },
            LeafFields { details_hash: &other, ..base },
            LeafFields { prev_hash: &other, ..base },
            // Length prefixes: moving a byte between fields changes the hash.
            LeafFields { actor: "cl", action: "iscan.transaction", ..base },
        ];
        for v in variants {
            assert_ne!(v.hash(&mut buf), h, "{v:?}");
        }
        assert_ne!(details_hash(&[7; 32], r#"{"a":2}"#), dh);
        assert_ne!(details_hash(&[8; 32], r#"{"a":1}"#), dh);
    }
}
