//! `GET /v1/intel/{value}`: what the server's threat intelligence says about an address or a
//! domain.

use serde::{Deserialize, Serialize};

/// Query of `GET /v1/intel/{value}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct IntelQuery {
    /// Chain name or id for address lookups (default: ethereum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
}

/// What the intel knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntelAnswer {
    /// `address` or `domain`.
    pub kind: String,
    /// The value as normalised (checksummed address, host).
    pub value: String,
    /// Address records (labels, dataset, version, confidence) or the domain check.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub result: serde_json::Value,
}
