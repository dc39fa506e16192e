//! `/health/live`, `/health/ready` and the authenticated `/health/deep`.

use serde::{Deserialize, Serialize};

/// Health status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
    /// Storage backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

/// Deep check result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeepHealth {
    /// `ok` when everything passed; `degraded` (with status 503) when an RPC endpoint failed.
    pub status: String,
    /// Storage backend.
    pub backend: String,
    /// Write-read probe time (ms).
    pub probe_ms: f64,
    /// Audit entries verified.
    pub audit_entries: u64,
    /// Audit verification time (ms).
    pub audit_verify_ms: f64,
    /// The configured RPC endpoints.
    #[serde(default)]
    pub rpc: Vec<RpcHealth>,
}

/// One RPC endpoint's check: `eth_chainId`, which must be the chain it is configured for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RpcHealth {
    /// The chain it is configured for.
    pub chain_id: u64,
    /// The endpoint as shown (scheme, host and port).
    pub endpoint: String,
    /// Reachable and serving the right chain.
    pub ok: bool,
    /// Round trip (ms).
    pub latency_ms: f64,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
