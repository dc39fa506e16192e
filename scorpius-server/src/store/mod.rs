//! Storage behind one interface, [`Store`], with two backends: SQLite (`sqlite`, the default,
//! one file in the data directory) and PostgreSQL (`postgres`, for several replicas). Keys,
//! saved scans, idempotency records and the audit log all live here, so replicas on one
//! PostgreSQL database are interchangeable.
//!
//! The interface is synchronous (rusqlite and the blocking `postgres` client); handlers call
//! it through [`crate::app::AppState::db`], which runs it on the blocking pool. Writes on the
//! per-request path (saved scans, audit appends, metering reservations) are group-committed
//! by writer threads ([`writer`]); the `queue_*` methods hand them over without blocking, so
//! a request waits for its commit on a channel instead of holding a blocking thread.

pub mod periodic;
pub mod sqlite;
pub mod sqlite_usage;
pub mod usage;
pub mod writer;

#[cfg(feature = "postgres")]
pub mod pg_inbox;
#[cfg(feature = "postgres")]
pub mod pg_leases;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgres")]
pub mod postgres_usage;

use scorpius_core::{
    api::{intel::IntelDataset, keys::Role, scans::ScanSummary},
    audit::{
        Entry, Event,
        log::{AuditError, ConsistencyProof, InclusionProof, StoredCheckpoint},
        verify::Verification,
    },
    model::{RiskLevel, ScanReport},
};

/// Storage failures. Everything but `NotFound` and `Range` is internal to the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("database: {0}")]
    Db(String),
    /// The audit log reported an error.
    #[error("{0}")]
    Audit(#[from] AuditError),
    /// Stored data that does not parse.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Asked for something that is not there (audit sequence numbers).
    #[error("{0}")]
    NotFound(String),
    /// Parameters out of range (proof sizes).
    #[error("{0}")]
    Range(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

#[cfg(feature = "postgres")]
impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        // `db error` alone says nothing: give the server's message when there is one.
        StoreError::Db(e.as_db_error().map_or_else(|| e.to_string(), ToString::to_string))
    }
}

/// Store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// What [`Store::queue_audit_with`] returns: the queued append, or the event and rows back.
pub type QueuedAudit = Result<writer::Queued<u64>, (Box<Event>, usage::Carried)>;

/// An API key as stored: only the SHA-256 of the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `key_…`.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Role.
    pub role: Role,
    /// Label.
    pub name: Option<String>,
    /// First characters of the secret, for display.
    pub prefix: String,
    /// SHA-256 of the secret.
    pub secret_hash: [u8; 32],
    /// Creation (Unix ms).
    pub created_ms: i64,
    /// Expiry (Unix ms).
    pub expires_ms: Option<i64>,
    /// Last use (Unix ms).
    pub last_used_ms: Option<i64>,
    /// Revocation (Unix ms).
    pub revoked_ms: Option<i64>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("role", &self.role)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Filters of `GET /v1/scans`.
#[derive(Debug, Clone, Default)]
pub struct ScanFilter {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this target (case-insensitive).
    pub target: Option<String>,
    /// Only scans started at or after (Unix ms).
    pub since_ms: Option<i64>,
    /// Only scans at or above this risk level.
    pub min_level: Option<RiskLevel>,
    /// Only scans older than this position (the cursor).
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// A stored response to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    /// SHA-256 of the request (method, path and body).
    pub request_hash: [u8; 32],
    /// HTTP status.
    pub status: u16,
    /// Response body (JSON).
    pub body: String,
}

/// Filters of `GET /v1/audit/events`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only actors starting with this prefix (`tenant/`).
    pub actor_prefix: Option<String>,
    /// Only entries with seq ≥ this.
    pub from_seq: Option<u64>,
    /// Only entries at or after (Unix ms).
    pub since_ms: Option<i64>,
    /// Only this action (a `prefix*` matches a prefix).
    pub action: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// The outcome of a shared rate-limit check (GCRA; see [`crate::ratelimit`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateState {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// The key's theoretical arrival time after this request (Unix ms, fractional).
    pub tat_ms: f64,
}

/// A scan report as stored (what both backends' scan writers take), serialised by the caller.
pub(crate) struct ScanRow {
    pub(crate) tenant: String,
    pub(crate) scan_id: String,
    pub(crate) key_id: String,
    pub(crate) kind: &'static str,
    pub(crate) target_lc: String,
    pub(crate) started_ms: i64,
    pub(crate) level_rank: i64,
    pub(crate) summary: String,
    pub(crate) report: String,
}

impl ScanRow {
    pub(crate) fn of(tenant: &str, key_id: &str, report: &ScanReport) -> StoreResult<Self> {
        Ok(ScanRow {
            tenant: tenant.to_owned(),
            scan_id: report.scan_id.to_string(),
            key_id: key_id.to_owned(),
            kind: report.kind.as_str(),
            target_lc: report.target.to_lowercase(),
            started_ms: i64::try_from(report.started_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
            level_rank: level_rank(report.risk.level),
            summary: serde_json::to_string(&ScanSummary::of(report, key_id))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            report: serde_json::to_string(report).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }
}

/// Rank of a risk level, for filtering.
pub fn level_rank(level: RiskLevel) -> i64 {
    match level {
        RiskLevel::None => 0,
        RiskLevel::Low => 1,
        RiskLevel::Medium => 2,
        RiskLevel::High => 3,
        RiskLevel::Critical => 4,
    }
}

/// Everything the server stores. Every method is scoped by tenant where data belongs to one.
pub trait Store: Send + Sync + 'static {
    /// Backend name, for logs and `/health/deep`.
    fn backend(&self) -> &'static str;
    /// Storage reachable and migrated.
    fn ping(&self) -> StoreResult<()>;
    /// Writes a probe row and reads it back.
    fn probe(&self) -> StoreResult<()>;

    /// Stores a new key.
    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()>;
    /// The key with this secret hash, if any (revoked ones included).
    fn key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<KeyRecord>>;
    /// The tenant's keys, newest first.
    fn keys(&self, tenant: &str) -> StoreResult<Vec<KeyRecord>>;
    /// One key of the tenant.
    fn key(&self, tenant: &str, id: &str) -> StoreResult<Option<KeyRecord>>;
    /// Replaces the secret of an unrevoked key; false when there is none.
    fn rotate_key(&self, tenant: &str, id: &str, secret_hash: &[u8; 32], prefix: &str) -> StoreResult<bool>;
    /// Revokes a key; false when there is no unrevoked key with this id.
    fn revoke_key(&self, tenant: &str, id: &str, now_ms: i64) -> StoreResult<bool>;
    /// The key with this secret hash from memory, without blocking, when this backend can
    /// cache keys exactly (only storage that one process owns: a revocation made by another
    /// replica would go unseen). `None`: call [`Store::key_by_hash`].
    fn cached_key(&self, _hash: &[u8; 32]) -> Option<KeyRecord> {
        None
    }
    /// Records a use of the key.
    fn touch_key(&self, id: &str, now_ms: i64) -> StoreResult<()>;

    /// Saves a scan report for the tenant.
    fn insert_scan(&self, tenant: &str, key_id: &str, report: &ScanReport) -> StoreResult<()>;
    /// [`Store::insert_scan`] queued to a writer thread without blocking the caller, when this
    /// backend group-commits scans (`Ok(None)`: call `insert_scan` on the blocking pool).
    fn queue_scan(
        &self,
        _tenant: &str,
        _key_id: &str,
        _report: &ScanReport,
    ) -> StoreResult<Option<writer::Queued<()>>> {
        Ok(None)
    }
    /// One saved report of the tenant.
    fn scan(&self, tenant: &str, scan_id: &str) -> StoreResult<Option<ScanReport>>;
    /// A page of the tenant's scans, newest first, and the position of the last one.
    fn scans(&self, tenant: &str, filter: &ScanFilter) -> StoreResult<(Vec<ScanSummary>, Option<i64>)>;

    /// The stored response for an idempotency key.
    fn idempotent(&self, tenant: &str, key: &str) -> StoreResult<Option<IdempotentResponse>>;
    /// Stores the response for an idempotency key unless one is there; returns the stored one.
    fn put_idempotent(&self, tenant: &str, key: &str, response: &IdempotentResponse)
    -> StoreResult<IdempotentResponse>;

    /// Appends audit events (one transaction, with a signed checkpoint).
    fn audit_append(&self, events: Vec<Event>) -> StoreResult<Vec<u64>>;
    /// One audit event queued to the group-commit writer without blocking the caller; the
    /// event back when this backend appends synchronously (call [`Store::audit_append`] on
    /// the blocking pool).
    fn queue_audit(&self, event: Event) -> Result<writer::Queued<u64>, Box<Event>> {
        Err(Box::new(event))
    }
    /// [`Store::queue_audit`] with usage inbox rows written in the same transaction (so they
    /// are durable exactly when the entry is); both back when this backend cannot (the rows
    /// are then written through `UsageStore::write_inbox`).
    fn queue_audit_with(&self, event: Event, usage: usage::Carried) -> QueuedAudit {
        Err((Box::new(event), usage))
    }
    /// Audit entries, oldest first.
    fn audit_entries(&self, filter: &AuditFilter) -> StoreResult<Vec<Entry>>;
    /// One audit entry.
    fn audit_entry(&self, seq: u64) -> StoreResult<Option<Entry>>;
    /// The newest signed checkpoint (signing one if the log grew).
    fn audit_checkpoint(&self) -> StoreResult<StoredCheckpoint>;
    /// Inclusion proof.
    fn audit_proof(&self, seq: u64, size: Option<u64>) -> StoreResult<InclusionProof>;
    /// Consistency proof.
    fn audit_consistency(&self, old: u64, new: Option<u64>) -> StoreResult<ConsistencyProof>;
    /// Full verification of the log.
    fn audit_verify(&self) -> StoreResult<Verification>;
    /// The verifier key (`name+id+key`).
    fn audit_public_key(&self) -> String;

    /// Stores a tenant's intel dataset (its entries as intel TSV), replacing one of the same
    /// name; true when it replaced one.
    fn intel_put(&self, tenant: &str, dataset: &IntelDataset, tsv: &str, now_ms: i64) -> StoreResult<bool>;
    /// The tenant's datasets with their stored text, by name.
    fn intel_datasets(&self, tenant: &str) -> StoreResult<Vec<(IntelDataset, String)>>;
    /// Changes whenever the tenant's datasets do: (how many, newest import time in ms).
    fn intel_stamp(&self, tenant: &str) -> StoreResult<(i64, i64)>;

    /// Whether [`Store::rate_step`] keeps the rate-limit state (shared by replicas).
    fn shares_rate_limits(&self) -> bool {
        false
    }

    /// For backends that share rate limits: [`Store::key_by_hash`] and, when that key is live
    /// at `now_ms` (not revoked, not expired), one [`Store::rate_step`] for it, in one round
    /// trip. `None` from backends that do not share rate limits.
    fn key_and_rate_step(
        &self,
        _hash: &[u8; 32],
        _now_ms: f64,
        _interval_ms: f64,
        _tau_ms: f64,
    ) -> StoreResult<Option<(Option<KeyRecord>, Option<RateState>)>> {
        Ok(None)
    }

    /// Rate limiting shared by every replica: one GCRA step for `key` at `now_ms` with
    /// emission interval `interval_ms` and tolerance `tau_ms`, applied atomically in storage.
    /// `None` when this backend leaves rate limiting to the process (SQLite: one process).
    fn rate_step(&self, _key: &str, _now_ms: f64, _interval_ms: f64, _tau_ms: f64) -> StoreResult<Option<RateState>> {
        Ok(None)
    }
}

/// Maps the audit errors a client caused (a sequence number or size out of range) to
/// `NotFound` / `Range`.
pub(crate) fn audit_error(e: AuditError) -> StoreError {
    match e {
        AuditError::NoSuchEntry(..) => StoreError::NotFound(e.to_string()),
        AuditError::Range(m) => StoreError::Range(m),
        other => StoreError::Audit(other),
    }
}
