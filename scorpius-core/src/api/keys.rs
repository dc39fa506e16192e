//! API keys and roles as they appear on the wire. The secret itself is only ever in
//! [`CreatedKey`], returned once by `POST /v1/keys` and `POST /v1/keys/{id}/rotate`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// What a key may do (the role matrix is in `docs/server.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in its tenant, including keys.
    Admin,
    /// Scans, intel lookups and imports, reports, audit read.
    Security,
    /// Audit read, export and verification; reading scans and reports.
    Auditor,
    /// Reading scans and reports.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Security, Role::Auditor, Role::Viewer];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Security => "security",
            Role::Auditor => "auditor",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            crate::Error::input("role", format!("`{s}` is not a role: use admin, security, auditor or viewer"))
        })
    }
}

/// `POST /v1/keys`: a new key in the caller's tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The new key's role.
    pub role: Role,
    /// A label for people (which team or app uses it).
    #[serde(default)]
    pub name: Option<String>,
    /// When the key stops working (RFC 3339); never when absent.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    /// Key id (`key_…`): the actor in audit entries.
    pub id: String,
    /// The tenant whose data the key reaches.
    pub tenant: String,
    /// Its role.
    pub role: Role,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The first characters of the secret (`sk_live_ab12…`), to tell keys apart.
    pub prefix: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Expiry (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Last successful use (RFC 3339, to the minute), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Revocation time (RFC 3339), if revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A key with its secret: the only response that carries it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedKey {
    /// The key.
    pub key: KeyInfo,
    /// The secret (`sk_live_…`): shown once, store it now.
    pub secret: String,
}

impl fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedKey").field("key", &self.key).field("secret", &"<redacted>").finish()
    }
}

/// `GET /v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyList {
    /// The tenant's keys, newest first (revoked ones included).
    pub keys: Vec<KeyInfo>,
}
