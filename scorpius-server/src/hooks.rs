//! Extension points for what follows the API (usage metering and webhooks, issue 9): every
//! authenticated request and every finished scan is handed to the registered hooks after the
//! response is decided. Hooks must be quick (queue work elsewhere); they cannot change the
//! response.

use std::sync::Arc;

use scorpius_core::{api::keys::Role, model::ScanReport};

use crate::auth::Principal;

/// One authenticated request, as the hooks see it.
#[derive(Debug, Clone)]
pub struct RequestRecord<'a> {
    /// Who.
    pub principal: &'a Principal,
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The route template (`/v1/scans/{id}`).
    pub route: &'a str,
    /// The response status.
    pub status: u16,
}

/// Something that happened in the server that webhooks announce (issue 9).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A key was created through the API.
    KeyCreated {
        /// Its id.
        key_id: String,
        /// Its role.
        role: Role,
    },
    /// A key was revoked through the API.
    KeyRevoked {
        /// Its id.
        key_id: String,
    },
    /// `/health/deep` found that the audit log does not verify.
    AuditVerificationFailed {
        /// Number of problems.
        problems: usize,
        /// The first failing sequence number.
        first_seq: Option<u64>,
    },
}

/// A hook: override what you need.
pub trait Hook: Send + Sync + 'static {
    /// After every authenticated request (allowed or denied).
    fn on_request(&self, _record: &RequestRecord<'_>) {}
    /// After a scan was stored (not on an idempotent replay).
    fn on_scan(&self, _principal: &Principal, _report: &ScanReport) {}
    /// After a key event or a failed audit verification (`principal`: who caused it).
    fn on_event(&self, _principal: &Principal, _event: &ServerEvent) {}
}

/// The registered hooks.
#[derive(Clone, Default)]
pub struct Hooks(Vec<Arc<dyn Hook>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hooks({})", self.0.len())
    }
}

impl Hooks {
    /// Adds a hook.
    #[must_use]
    pub fn with(mut self, hook: Arc<dyn Hook>) -> Self {
        self.0.push(hook);
        self
    }

    pub(crate) fn request(&self, record: &RequestRecord<'_>) {
        for h in &self.0 {
            h.on_request(record);
        }
    }

    pub(crate) fn scan(&self, principal: &Principal, report: &ScanReport) {
        for h in &self.0 {
            h.on_scan(principal, report);
        }
    }

    pub(crate) fn event(&self, principal: &Principal, event: &ServerEvent) {
        for h in &self.0 {
            h.on_event(principal, event);
        }
    }
}
