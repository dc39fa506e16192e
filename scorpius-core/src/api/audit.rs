//! The audit trail over HTTP (`GET /v1/audit/*`): a tenant's entries page by page, the log's
//! signed checkpoint, inclusion and consistency proofs, and the tenant's export.

use serde::{Deserialize, Serialize};

use crate::audit::Entry;

/// Query of `GET /v1/audit/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Entries with seq ≥ this (default 0); page with `next_from_seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_seq: Option<u64>,
    /// Only this action, or a prefix ending in `*` (`scan.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only entries at or after this Unix time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A page of audit entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsPage {
    /// Entries, oldest first.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub entries: Vec<Entry>,
    /// Pass as `from_seq` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_from_seq: Option<u64>,
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub tree_size: u64,
    /// When it was signed (Unix ms).
    pub created_ms: i64,
    /// The signed note.
    pub note: String,
}

/// The newest signed checkpoint and the key that verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointResponse {
    /// The checkpoint (`tree_size`, `created_ms`, `note`: a C2SP signed note).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub checkpoint: StoredCheckpoint,
    /// The verifier key (`name+id+base64`).
    pub public_key: String,
}

/// Query of `GET /v1/audit/proof/{seq}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// Tree size (default: the whole log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// An inclusion proof, ready to hand to a verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry.
    pub seq: u64,
    /// Tree size the proof is for.
    pub tree_size: u64,
    /// The entry hash (hex).
    pub leaf_hash: String,
    /// Sibling hashes, nearest first (hex).
    pub proof: Vec<String>,
    /// Root of the tree of `tree_size` entries (hex).
    pub root: String,
    /// The signed checkpoint for `tree_size`.
    pub checkpoint: String,
}

/// Query of `GET /v1/audit/consistency`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size (default: the whole log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<u64>,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// Root at the older size (hex).
    pub old_root: String,
    /// Root at the newer size (hex).
    pub new_root: String,
    /// Proof hashes (hex).
    pub proof: Vec<String>,
}

/// The format name of [`Export`].
pub const EXPORT_FORMAT: &str = "scorpius-audit-export/v1";

/// An export of the tenant's entries with the checkpoint and key that verify them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Export {
    /// `scorpius-audit-export/v1`.
    pub format: String,
    /// The tenant.
    pub tenant: String,
    /// The verifier key.
    pub public_key: String,
    /// The newest signed checkpoint.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub checkpoint: StoredCheckpoint,
    /// Every entry of the tenant, oldest first (each provable with `/v1/audit/proof/{seq}`).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub entries: Vec<Entry>,
}
