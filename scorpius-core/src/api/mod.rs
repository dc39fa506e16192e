//! Wire types of the server's HTTP API (`scorpius-server`), shared with the SDK so that both
//! sides serialise the same structs: scan requests and how they become reports ([`scan`]),
//! saved-scan listings ([`scans`]), API keys and roles ([`keys`]), the audit trail ([`audit`]),
//! intel lookups ([`intel`]), health ([`health`]), and the RFC 9457 problem
//! body every error carries ([`Problem`]). With the `openapi` feature the types also derive
//! `utoipa::ToSchema` for the server's OpenAPI document.

pub mod audit;
pub mod health;
pub mod intel;
pub mod keys;
pub mod scan;
pub mod scans;
pub mod usage;
pub mod webhooks;

use serde::{Deserialize, Serialize};

/// An error response: RFC 9457 problem details (`application/problem+json`). `type` is a
/// stable URI naming the problem; `detail` says what was wrong with this request, never
/// server internals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI that names the problem type (documented in `docs/server.md#errors`).
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What was wrong with this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id (also in the `x-request-id` header), for support and logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Base of every problem `type` URI; the slug after `#` names the problem.
pub const PROBLEM_BASE: &str = "https://github.com/scorpius-security/scorpius/blob/main/docs/server.md#";

/// The slug of a problem `type` URI (`invalid-key` for `…/server.md#invalid-key`).
pub fn problem_slug(type_uri: &str) -> &str {
    type_uri.rsplit('#').next().unwrap_or(type_uri)
}
