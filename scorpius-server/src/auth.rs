//! API keys and what each role may do.
//!
//! A secret looks like `sk_live_` (or `sk_test_`) + 40 hex digits of randomness (160 bits) +
//! 8 hex digits of CRC-32 over everything before them, so secret scanners can match
//! `sk_(live|test)_[0-9a-f]{48}` and check the checksum without calling us. Only the SHA-256
//! of the secret is stored; the lookup is by that hash and the stored hash is compared again
//! in constant time. [`Secret`] never prints itself.

use std::fmt;

use scorpius_core::api::keys::Role;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a secret.
const RANDOM_BYTES: usize = 20;
/// Hex digits after the prefix: randomness then checksum.
const BODY_HEX: usize = RANDOM_BYTES * 2 + 8;

/// Which prefix new keys get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    /// `sk_live_`.
    Live,
    /// `sk_test_`.
    Test,
}

impl KeyMode {
    fn prefix(self) -> &'static str {
        match self {
            KeyMode::Live => "sk_live_",
            KeyMode::Test => "sk_test_",
        }
    }
}

/// A key secret. `Debug` and `Display` print only its prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}…)", self.display_prefix())
    }
}

/// CRC-32 (IEEE 802.3, reflected), as used by zlib and PNG.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

impl Secret {
    /// A fresh secret.
    pub fn generate(mode: KeyMode) -> Result<Self, getrandom::Error> {
        let mut random = [0u8; RANDOM_BYTES];
        getrandom::fill(&mut random)?;
        let mut s = format!("{}{}", mode.prefix(), hex::encode(random));
        let crc = crc32(s.as_bytes());
        s.push_str(&format!("{crc:08x}"));
        Ok(Secret(s))
    }

    /// Parses a presented secret: known prefix, length, lower-case hex and a valid checksum.
    pub fn parse(s: &str) -> Option<Self> {
        let body = s.strip_prefix("sk_live_").or_else(|| s.strip_prefix("sk_test_"))?;
        if body.len() != BODY_HEX || !body.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        let (head, check) = s.split_at(s.len() - 8);
        (format!("{:08x}", crc32(head.as_bytes())) == check).then(|| Secret(s.to_owned()))
    }

    /// The secret text (to return once to its owner).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the secret: what is stored.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The first characters, shown in listings (`sk_live_3f9a1c`).
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(14).collect()
    }
}

/// Constant-time comparison of two hashes.
pub fn hashes_match(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// A fresh key id (`key_` + 16 hex digits).
pub fn new_key_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)?;
    Ok(format!("key_{}", hex::encode(b)))
}

/// Tenant names: 1–64 of `a-z 0-9 - _` (they prefix audit actors as `tenant/key_id`).
pub fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The authenticated caller, set by the authentication middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Key id.
    pub key_id: String,
    /// Tenant.
    pub tenant: String,
    /// Role.
    pub role: Role,
}

impl Principal {
    /// The audit actor: `tenant/key_id`.
    pub fn actor(&self) -> String {
        format!("{}/{}", self.tenant, self.key_id)
    }

    /// Checks the role matrix.
    pub fn require(&self, action: Action) -> Result<(), crate::error::ApiError> {
        if allowed(self.role, action) {
            Ok(())
        } else {
            Err(crate::error::ApiError::Forbidden { role: self.role.as_str(), action: action.describe() })
        }
    }
}

/// What a route does, for the role matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /v1/scan/*`.
    ScanRun,
    /// `GET /v1/scans`, `/v1/scans/{id}`, `/v1/scans/{id}/report`.
    ScanRead,
    /// `GET /v1/intel/{value}`.
    IntelRead,
    /// `POST /v1/intel/import`.
    IntelImport,
    /// `GET /v1/audit/events|checkpoint|proof|consistency`.
    AuditRead,
    /// `GET /v1/audit/export`.
    AuditExport,
    /// `/v1/keys*`.
    KeysManage,
    /// `GET /health/deep`.
    HealthDeep,
    /// `GET /v1/usage`, `/v1/usage/forecast` (issue 9).
    UsageRead,
    /// `GET /v1/billing/preview` (issue 9).
    BillingRead,
    /// `/v1/webhooks*` (issue 9).
    WebhooksManage,
}

impl Action {
    /// Every action, in the order of the documented matrix.
    pub const ALL: [Action; 11] = [
        Action::ScanRun,
        Action::ScanRead,
        Action::IntelRead,
        Action::IntelImport,
        Action::AuditRead,
        Action::AuditExport,
        Action::KeysManage,
        Action::HealthDeep,
        Action::UsageRead,
        Action::BillingRead,
        Action::WebhooksManage,
    ];

    /// The action's id in policies (`Scorpius::Action::"scan.run"`).
    pub fn id(self) -> &'static str {
        match self {
            Action::ScanRun => "scan.run",
            Action::ScanRead => "scan.read",
            Action::IntelRead => "intel.read",
            Action::IntelImport => "intel.import",
            Action::AuditRead => "audit.read",
            Action::AuditExport => "audit.export",
            Action::KeysManage => "keys.manage",
            Action::HealthDeep => "health.deep",
            Action::UsageRead => "usage.read",
            Action::BillingRead => "billing.read",
            Action::WebhooksManage => "webhooks.manage",
        }
    }

    /// For error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Action::ScanRun => "run scans",
            Action::ScanRead => "read scans and reports",
            Action::IntelRead => "look up intel",
            Action::IntelImport => "import intel",
            Action::AuditRead => "read the audit log",
            Action::AuditExport => "export the audit log",
            Action::KeysManage => "manage API keys",
            Action::HealthDeep => "run the deep health check",
            Action::UsageRead => "read usage",
            Action::BillingRead => "preview the bill",
            Action::WebhooksManage => "manage webhooks",
        }
    }
}

/// The static role matrix (documented in `docs/server.md#roles`).
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Security => matches!(action, ScanRun | ScanRead | IntelRead | IntelImport | AuditRead | HealthDeep),
        Role::Auditor => matches!(action, ScanRead | AuditRead | AuditExport | HealthDeep | UsageRead | BillingRead),
        Role::Viewer => matches!(action, ScanRead | HealthDeep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn generated_secrets_parse_and_have_the_documented_shape() {
        for mode in [KeyMode::Live, KeyMode::Test] {
            let s = Secret::generate(mode).unwrap();
            assert_eq!(s.expose().len(), 8 + BODY_HEX);
            assert!(s.expose().starts_with(mode.prefix()));
            assert_eq!(Secret::parse(s.expose()).as_ref(), Some(&s));
        }
    }

    #[test]
    fn a_changed_digit_breaks_the_checksum() {
        let s = Secret::generate(KeyMode::Live).unwrap();
        let mut t = s.expose().as_bytes().to_vec();
        t[10] = if t[10] == b'0' { b'1' } else { b'0' };
        assert!(Secret::parse(std::str::from_utf8(&t).unwrap()).is_none());
        assert!(Secret::parse(&s.expose().to_uppercase()).is_none());
        assert!(Secret::parse(&s.expose()[..s.expose().len() - 1]).is_none());
        assert!(Secret::parse(&s.expose().replace("sk_live_", "sk_prod_")).is_none());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::generate(KeyMode::Live).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains(&s.expose()[14..]), "{shown}");
    }

    #[test]
    fn admin_may_do_everything_and_viewer_only_reads() {
        for a in Action::ALL {
            assert!(allowed(Role::Admin, a));
        }
        assert!(allowed(Role::Viewer, Action::ScanRead));
        assert!(!allowed(Role::Viewer, Action::ScanRun));
        assert!(!allowed(Role::Security, Action::KeysManage));
        assert!(!allowed(Role::Security, Action::AuditExport));
        assert!(allowed(Role::Auditor, Action::AuditExport));
    }
}
