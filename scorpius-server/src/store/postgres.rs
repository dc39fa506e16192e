//! The PostgreSQL backend (`--database-url postgres://…`), for several identical replicas:
//! keys, scans and idempotency records in plain tables, the audit log in the core's
//! `PgAuditStore` (advisory-lock serialised appends, append-only triggers). Migrations run at
//! start-up under an advisory lock, so replicas starting together apply them once. Every
//! replica must open the audit log with the same signing key file.

use std::{
    path::Path,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use postgres::{Client, NoTls, types::Type};
use scorpius_core::{
    api::{intel::IntelDataset, keys::Role, scans::ScanSummary},
    audit::{
        Entry, Event, Outcome,
        log::{AuditError, ConsistencyProof, InclusionProof, StoredCheckpoint, check_events, load_or_create_key},
        postgres::{Also, PgAuditStore},
        verify::Verification,
    },
    model::ScanReport,
    pg::Session,
};

use super::{
    AuditFilter, IdempotentResponse, KeyRecord, QueuedAudit, RateState, ScanFilter, ScanRow, Store, StoreError,
    StoreResult, level_rank,
    sqlite::now_ms,
    usage::Carried,
    writer::{Queued, Writer, ready},
};

/// One append queued to the audit writer: the entry, and the usage inbox rows of its request
/// (written in the same transaction; what they hold is dropped after the outcome).
struct AuditJob {
    event: Event,
    usage: Option<Carried>,
}

/// Advisory lock key for migrations (distinct from the audit log's append lock).
const MIGRATION_LOCK: i64 = 0x5c0_5e11;

const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    role         TEXT NOT NULL,
    name         TEXT,
    prefix       TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL UNIQUE,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT,
    last_used_ms BIGINT,
    revoked_ms   BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_ms);
CREATE TABLE scans (
    seq        BIGSERIAL PRIMARY KEY,
    tenant     TEXT NOT NULL,
    scan_id    TEXT NOT NULL UNIQUE,
    key_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    target_lc  TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    level_rank BIGINT NOT NULL,
    summary    TEXT NOT NULL,
    report     TEXT NOT NULL
);
CREATE INDEX scans_tenant_seq ON scans (tenant, seq);
CREATE TABLE idempotency (
    tenant       TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE probe (token TEXT PRIMARY KEY, created_ms BIGINT NOT NULL);
",
    "
CREATE TABLE tenant_intel (
    tenant      TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    meta        TEXT NOT NULL,
    entries     TEXT NOT NULL,
    imported_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, dataset)
);
CREATE TABLE rate_limits (
    key_id TEXT PRIMARY KEY,
    tat_ms DOUBLE PRECISION NOT NULL
);
",
];

const POOL: usize = 4;

/// The blocking clients: dropped on a thread of their own (closing a `postgres::Client`
/// blocks, which must not happen on an async worker).
struct Conns {
    pool: Vec<Mutex<Session>>,
    /// Sessions with `synchronous_commit = off`, for state whose last fraction of a second
    /// may be lost in a database crash: rate-limit steps and keys' last use. Their commits
    /// are visible to every replica at once; they only skip waiting for the WAL flush (one
    /// fsync per request fewer).
    relaxed: Vec<Mutex<Session>>,
    audit: Mutex<PgAuditStore>,
}

/// Sessions in [`Conns::relaxed`].
const RELAXED: usize = 4;

/// Inserts saved scans in one statement (one transaction, one commit for the batch).
fn insert_scans(c: &mut Session, rows: &[ScanRow]) -> Result<u64, postgres::Error> {
    let text = |f: fn(&ScanRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let int = |f: fn(&ScanRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    c.execute_prepared(
        "INSERT INTO scans (tenant, scan_id, key_id, kind, target_lc, started_ms, level_rank, summary, report) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::int8[], \
         $8::text[], $9::text[])",
        &[],
        &[
            &text(|r| &r.tenant),
            &text(|r| &r.scan_id),
            &text(|r| &r.key_id),
            &text(|r| r.kind),
            &text(|r| &r.target_lc),
            &int(|r| r.started_ms),
            &int(|r| r.level_rank),
            &text(|r| &r.summary),
            &text(|r| &r.report),
        ],
    )
}

/// The PostgreSQL store.
pub struct PgStore {
    conns: Option<Conns>,
    next: AtomicUsize,
    /// Audit appends, group-committed (one transaction and checkpoint per batch), with the
    /// usage inbox rows of their requests.
    writer: Writer<AuditJob, u64>,
    /// Saved scans, group-committed: one multi-row insert per batch.
    scans: Writer<ScanRow, ()>,
    public_key: String,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(conns) = self.conns.take() {
            let _ = std::thread::spawn(move || drop(conns)).join();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Applies `migrations` in order under the advisory lock `lock`, recording each applied version
/// in `table` (a name fixed in the code), so replicas starting together apply each once.
pub(super) fn migrate(client: &mut Client, lock: i64, table: &str, migrations: &[&str]) -> StoreResult<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)"
    ))?;
    let done: i64 = tx.query_one(&format!("SELECT COALESCE(MAX(version), 0) FROM {table}"), &[])?.get(0);
    for (i, sql) in migrations.iter().enumerate() {
        let version = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if version > done {
            tx.batch_execute(sql)?;
            tx.execute(&format!("INSERT INTO {table} (version, applied_ms) VALUES ($1, $2)"), &[&version, &now_ms()])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn key_row(r: &postgres::Row) -> KeyRecord {
    let role: String = r.get(2);
    let hash: &[u8] = r.get(5);
    KeyRecord {
        id: r.get(0),
        tenant: r.get(1),
        role: role.parse().unwrap_or(Role::Viewer),
        name: r.get(3),
        prefix: r.get(4),
        secret_hash: hash.try_into().unwrap_or([0; 32]),
        created_ms: r.get(6),
        expires_ms: r.get(7),
        last_used_ms: r.get(8),
        revoked_ms: r.get(9),
    }
}

const KEY_COLS: &str = "id, tenant, role, name, prefix, secret_hash, created_ms, expires_ms, last_used_ms, revoked_ms";

/// A key by secret hash and, for a live key, the shared GCRA step of `rate_step`.
static KEY_AND_RATE_STEP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH k AS (SELECT {KEY_COLS} FROM api_keys WHERE secret_hash = $1), \
         s AS (INSERT INTO rate_limits AS r (key_id, tat_ms) \
           SELECT id, $2::FLOAT8 + $3::FLOAT8 FROM k \
           WHERE revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $5::BIGINT) \
           ON CONFLICT (key_id) DO UPDATE SET tat_ms = GREATEST(r.tat_ms, $2::FLOAT8) + $3::FLOAT8 \
           WHERE GREATEST(r.tat_ms, $2::FLOAT8) - $2::FLOAT8 <= $4::FLOAT8 RETURNING tat_ms) \
         SELECT {KEY_COLS}, (SELECT tat_ms FROM s) FROM k"
    )
});
const ENTRY_COLS: &str = "seq, ts_ms, actor, action, resource, outcome, details, salt, details_hash, prev_hash, hash";

fn entry_row(r: &postgres::Row) -> Entry {
    Entry {
        seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
        timestamp_ms: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        resource: r.get(4),
        outcome: u8::try_from(r.get::<_, i16>(5)).ok().and_then(Outcome::from_code).unwrap_or(Outcome::Denied),
        details: r.get(6),
        salt: r.get::<_, Option<&[u8]>>(7).map(hex::encode),
        details_hash: hex::encode(r.get::<_, &[u8]>(8)),
        prev_hash: hex::encode(r.get::<_, &[u8]>(9)),
        hash: hex::encode(r.get::<_, &[u8]>(10)),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl PgStore {
    /// Connects, applies migrations and opens the audit log with the key at `key_file`
    /// (created on first use; every replica must share it).
    pub fn open(url: &str, key_file: &Path) -> StoreResult<Self> {
        let mut first = Client::connect(url, NoTls)?;
        migrate(&mut first, MIGRATION_LOCK, "schema_migrations", MIGRATIONS)?;
        let mut pool = vec![Mutex::new(Session::new(first))];
        for _ in 1..POOL {
            pool.push(Mutex::new(Session::new(Client::connect(url, NoTls)?)));
        }
        let mut relaxed = Vec::with_capacity(RELAXED);
        for _ in 0..RELAXED {
            let mut c = Client::connect(url, NoTls)?;
            c.batch_execute("SET synchronous_commit TO off")?;
            relaxed.push(Mutex::new(Session::new(c)));
        }
        let key = |path: &Path| {
            load_or_create_key(path, || {
                let mut id = [0u8; 8];
                let _ = getrandom::fill(&mut id);
                format!("scorpius.server/audit/{}", hex::encode(id))
            })
        };
        let mut appender = PgAuditStore::open(url, key(key_file)?)?;
        let public_key = appender.verifier().encode();
        let reader = PgAuditStore::open(url, key(key_file)?)?;
        let inbox_sql = super::pg_inbox::insert_sql(2);
        let writer = Writer::start("audit-writer", 256, move |jobs: &[AuditJob]| {
            let events: Vec<Event> = jobs.iter().map(|j| j.event.clone()).collect();
            let usage = super::pg_inbox::InboxColumns::new(
                jobs.iter().flat_map(|j| j.usage.iter().flat_map(|u| u.rows.iter())),
            );
            let params = usage.params();
            let with_usage = jobs.iter().any(|j| j.usage.as_ref().is_some_and(|u| !u.rows.is_empty()));
            let also = with_usage.then_some(Also { sql: &inbox_sql, params: &params });
            let appended = appender.append_with(&events, also);
            match appended {
                Ok(seqs) => seqs.into_iter().map(Ok).collect(),
                Err(e) => {
                    let msg = e.to_string();
                    jobs.iter().map(|_| Err(StoreError::Audit(AuditError::Writer(msg.clone())))).collect()
                }
            }
        })?;
        let mut scan_client = Session::new(Client::connect(url, NoTls)?);
        let scans = Writer::start("scan-writer", 256, move |rows: &[ScanRow]| {
            let r = insert_scans(&mut scan_client, rows);
            rows.iter().map(|_| r.as_ref().map(|_| ()).map_err(|e| StoreError::Db(e.to_string()))).collect()
        })?;
        Ok(PgStore {
            conns: Some(Conns { pool, relaxed, audit: Mutex::new(reader) }),
            next: AtomicUsize::new(0),
            writer,
            scans,
            public_key,
        })
    }

    fn conns(&self) -> &Conns {
        // Only `drop` takes them.
        self.conns.as_ref().unwrap_or_else(|| unreachable!("PgStore used after drop"))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Session) -> StoreResult<T>) -> StoreResult<T> {
        let pool = &self.conns().pool;
        let i = self.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        f(&mut lock(&pool[i]))
    }

    /// Like [`PgStore::with`] on a `synchronous_commit = off` session (see [`Conns::relaxed`]).
    fn with_relaxed<T>(&self, f: impl FnOnce(&mut Session) -> StoreResult<T>) -> StoreResult<T> {
        let pool = &self.conns().relaxed;
        let i = self.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        f(&mut lock(&pool[i]))
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn ping(&self) -> StoreResult<()> {
        self.with(|c| {
            let v: i64 = c
                .query_opt_prepared("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[], &[])?
                .map_or(0, |r| r.get(0));
            if v < to_i64(MIGRATIONS.len() as u64) {
                return Err(StoreError::Db(format!("schema at version {v}, migrations not applied")));
            }
            Ok(())
        })
    }

    fn probe(&self) -> StoreResult<()> {
        let token = uuid::Uuid::new_v4().to_string();
        self.with(|c| {
            c.execute("INSERT INTO probe (token, created_ms) VALUES ($1, $2)", &[&token, &now_ms()])?;
            let found = c.query_opt("SELECT token FROM probe WHERE token = $1", &[&token])?.is_some();
            c.execute("DELETE FROM probe WHERE token = $1", &[&token])?;
            if !found {
                return Err(StoreError::Db("the probe row could not be read back".into()));
            }
            Ok(())
        })
    }

    fn insert_key(&self, k: &KeyRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                &format!("INSERT INTO api_keys ({KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                &[
                    &k.id,
                    &k.tenant,
                    &k.role.as_str(),
                    &k.name,
                    &k.prefix,
                    &&k.secret_hash[..],
                    &k.created_ms,
                    &k.expires_ms,
                    &k.last_used_ms,
                    &k.revoked_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<KeyRecord>> {
        self.with(|c| {
            // Typed statements on the per-request path: one round trip (parse, bind and
            // execute together) instead of a prepare and an execute.
            Ok(c.query_typed_opt(
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE secret_hash = $1"),
                &[(&&hash[..], Type::BYTEA)],
            )?
            .map(|r| key_row(&r)))
        })
    }

    fn keys(&self, tenant: &str) -> StoreResult<Vec<KeyRecord>> {
        self.with(|c| {
            Ok(c.query(
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE tenant = $1 ORDER BY created_ms DESC, id"),
                &[&tenant],
            )?
            .iter()
            .map(key_row)
            .collect())
        })
    }

    fn key(&self, tenant: &str, id: &str) -> StoreResult<Option<KeyRecord>> {
        self.with(|c| {
            Ok(c.query_opt(&format!("SELECT {KEY_COLS} FROM api_keys WHERE tenant = $1 AND id = $2"), &[&tenant, &id])?
                .map(|r| key_row(&r)))
        })
    }

    fn rotate_key(&self, tenant: &str, id: &str, secret_hash: &[u8; 32], prefix: &str) -> StoreResult<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE api_keys SET secret_hash = $1, prefix = $2 WHERE tenant = $3 AND id = $4 AND revoked_ms IS NULL",
                &[&&secret_hash[..], &prefix, &tenant, &id],
            )? == 1)
        })
    }

    fn revoke_key(&self, tenant: &str, id: &str, now_ms: i64) -> StoreResult<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE api_keys SET revoked_ms = $1 WHERE tenant = $2 AND id = $3 AND revoked_ms IS NULL",
                &[&now_ms, &tenant, &id],
            )? == 1)
        })
    }

    fn touch_key(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        self.with_relaxed(|c| {
            c.execute_prepared("UPDATE api_keys SET last_used_ms = $1 WHERE id = $2", &[], &[&now_ms, &id])?;
            Ok(())
        })
    }

    fn insert_scan(&self, tenant: &str, key_id: &str, report: &ScanReport) -> StoreResult<()> {
        self.scans.run(ScanRow::of(tenant, key_id, report)?)
    }

    fn queue_scan(&self, tenant: &str, key_id: &str, report: &ScanReport) -> StoreResult<Option<Queued<()>>> {
        Ok(Some(self.scans.queue(ScanRow::of(tenant, key_id, report)?)))
    }

    fn scan(&self, tenant: &str, scan_id: &str) -> StoreResult<Option<ScanReport>> {
        let text: Option<String> = self.with(|c| {
            Ok(c.query_opt("SELECT report FROM scans WHERE tenant = $1 AND scan_id = $2", &[&tenant, &scan_id])?
                .map(|r| r.get(0)))
        })?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt(format!("scan {scan_id}: {e}")))).transpose()
    }

    fn scans(&self, tenant: &str, f: &ScanFilter) -> StoreResult<(Vec<ScanSummary>, Option<i64>)> {
        let level = f.min_level.map(level_rank);
        let target = f.target.as_ref().map(|t| t.to_lowercase());
        let rows: Vec<(i64, String)> = self.with(|c| {
            Ok(c.query(
                "SELECT seq, summary FROM scans WHERE tenant = $1 \
                 AND ($2::TEXT IS NULL OR kind = $2) AND ($3::TEXT IS NULL OR target_lc = $3) \
                 AND ($4::BIGINT IS NULL OR started_ms >= $4) AND ($5::BIGINT IS NULL OR level_rank >= $5) \
                 AND ($6::BIGINT IS NULL OR seq < $6) ORDER BY seq DESC LIMIT $7",
                &[&tenant, &f.kind, &target, &f.since_ms, &level, &f.before, &i64::from(f.limit)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        let last = rows.last().map(|(s, _)| *s);
        let items = rows.iter().map(|(_, s)| serde_json::from_str(s).map_err(corrupt)).collect::<StoreResult<_>>()?;
        Ok((items, last))
    }

    fn idempotent(&self, tenant: &str, key: &str) -> StoreResult<Option<IdempotentResponse>> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT request_hash, status, body FROM idempotency WHERE tenant = $1 AND key = $2",
                &[&tenant, &key],
            )?
            .map(|r| IdempotentResponse {
                request_hash: r.get::<_, &[u8]>(0).try_into().unwrap_or([0; 32]),
                status: u16::try_from(r.get::<_, i32>(1)).unwrap_or(500),
                body: r.get(2),
            }))
        })
    }

    fn put_idempotent(&self, tenant: &str, key: &str, resp: &IdempotentResponse) -> StoreResult<IdempotentResponse> {
        self.with(|c| {
            c.execute(
                "INSERT INTO idempotency (tenant, key, request_hash, status, body, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, key) DO NOTHING",
                &[&tenant, &key, &&resp.request_hash[..], &i32::from(resp.status), &resp.body, &now_ms()],
            )?;
            Ok(())
        })?;
        self.idempotent(tenant, key)?.ok_or_else(|| StoreError::Db("idempotency record vanished".into()))
    }

    fn audit_append(&self, events: Vec<Event>) -> StoreResult<Vec<u64>> {
        events
            .into_iter()
            .map(|e| {
                check_events(std::slice::from_ref(&e)).map_err(StoreError::Audit)?;
                self.writer.run(AuditJob { event: e, usage: None })
            })
            .collect()
    }

    fn queue_audit(&self, event: Event) -> Result<Queued<u64>, Box<Event>> {
        // An event the log would refuse fails alone, not with the batch it would join.
        if let Err(e) = check_events(std::slice::from_ref(&event)) {
            return Ok(ready(Err(StoreError::Audit(e))));
        }
        Ok(self.writer.queue(AuditJob { event, usage: None }))
    }

    fn queue_audit_with(&self, event: Event, usage: Carried) -> QueuedAudit {
        // Refused alone, and with its rows back (the caller writes them apart).
        if check_events(std::slice::from_ref(&event)).is_err() {
            return Err((Box::new(event), usage));
        }
        Ok(self.writer.queue(AuditJob { event, usage: Some(usage) }))
    }

    fn audit_entries(&self, f: &AuditFilter) -> StoreResult<Vec<Entry>> {
        // The tenant prefix is compared with left(), not LIKE: `_` in tenant names is literal.
        let (action_exact, action_prefix) = match &f.action {
            Some(a) => match a.strip_suffix('*') {
                Some(p) => (None, Some(p.to_owned())),
                None => (Some(a.clone()), None),
            },
            None => (None, None),
        };
        self.with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {ENTRY_COLS} FROM audit_entries WHERE seq >= $1 \
                     AND ($2::TEXT IS NULL OR left(actor, length($2)) = $2) \
                     AND ($3::BIGINT IS NULL OR ts_ms >= $3) AND ($4::TEXT IS NULL OR action = $4) \
                     AND ($5::TEXT IS NULL OR left(action, length($5)) = $5) ORDER BY seq LIMIT $6"
                ),
                &[
                    &to_i64(f.from_seq.unwrap_or(0)),
                    &f.actor_prefix,
                    &f.since_ms,
                    &action_exact,
                    &action_prefix,
                    &i64::from(f.limit),
                ],
            )?
            .iter()
            .map(entry_row)
            .collect())
        })
    }

    fn audit_entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
        self.with(|c| {
            Ok(c.query_opt(&format!("SELECT {ENTRY_COLS} FROM audit_entries WHERE seq = $1"), &[&to_i64(seq)])?
                .map(|r| entry_row(&r)))
        })
    }

    fn audit_checkpoint(&self) -> StoreResult<StoredCheckpoint> {
        Ok(lock(&self.conns().audit).checkpoint()?)
    }

    fn audit_proof(&self, seq: u64, size: Option<u64>) -> StoreResult<InclusionProof> {
        lock(&self.conns().audit).inclusion_proof(seq, size).map_err(super::audit_error)
    }

    fn audit_consistency(&self, old: u64, new: Option<u64>) -> StoreResult<ConsistencyProof> {
        lock(&self.conns().audit).consistency_proof(old, new).map_err(super::audit_error)
    }

    fn audit_verify(&self) -> StoreResult<Verification> {
        Ok(lock(&self.conns().audit).verify(None)?)
    }

    fn audit_public_key(&self) -> String {
        self.public_key.clone()
    }

    fn intel_put(&self, tenant: &str, dataset: &IntelDataset, tsv: &str, now_ms: i64) -> StoreResult<bool> {
        let meta = serde_json::to_string(dataset).map_err(corrupt)?;
        self.with(|c| {
            // `xmax <> 0` on the returned row: it was an update of an existing one.
            let row = c.query_one(
                "INSERT INTO tenant_intel (tenant, dataset, meta, entries, imported_ms) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant, dataset) DO UPDATE SET meta = EXCLUDED.meta, entries = EXCLUDED.entries, \
                 imported_ms = EXCLUDED.imported_ms RETURNING (xmax <> 0)",
                &[&tenant, &dataset.dataset, &meta, &tsv, &now_ms],
            )?;
            Ok(row.get(0))
        })
    }

    fn intel_datasets(&self, tenant: &str) -> StoreResult<Vec<(IntelDataset, String)>> {
        let rows: Vec<(String, String)> = self.with(|c| {
            Ok(c.query("SELECT meta, entries FROM tenant_intel WHERE tenant = $1 ORDER BY dataset", &[&tenant])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })?;
        rows.into_iter()
            .map(|(meta, text)| {
                Ok((serde_json::from_str(&meta).map_err(|e| corrupt(format!("intel dataset: {e}")))?, text))
            })
            .collect()
    }

    fn intel_stamp(&self, tenant: &str) -> StoreResult<(i64, i64)> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT COUNT(*), COALESCE(MAX(imported_ms), 0)::BIGINT FROM tenant_intel WHERE tenant = $1",
                &[&tenant],
            )?;
            Ok((r.get(0), r.get(1)))
        })
    }

    fn shares_rate_limits(&self) -> bool {
        true
    }

    fn key_and_rate_step(
        &self,
        hash: &[u8; 32],
        now_ms: f64,
        interval_ms: f64,
        tau_ms: f64,
    ) -> StoreResult<Option<(Option<KeyRecord>, Option<RateState>)>> {
        let now_int = now_ms as i64;
        let found = self.with_relaxed(|c| {
            // The GCRA step of `rate_step`, applied only to a live key, in the same statement.
            Ok(c.query_opt_prepared(
                &KEY_AND_RATE_STEP,
                &[Type::BYTEA, Type::FLOAT8, Type::FLOAT8, Type::FLOAT8, Type::INT8],
                &[&&hash[..], &now_ms, &interval_ms, &tau_ms, &now_int],
            )?
            .map(|r| (key_row(&r), r.get::<_, Option<f64>>(10))))
        })?;
        let Some((key, stepped)) = found else { return Ok(Some((None, None))) };
        let live = key.revoked_ms.is_none() && key.expires_ms.is_none_or(|e| e > now_int);
        let state = match (live, stepped) {
            (false, _) => None,
            (true, Some(tat_ms)) => Some(RateState { allowed: true, tat_ms }),
            // Refused: the stored time, for the headers.
            (true, None) => {
                let tat: f64 = self.with_relaxed(|c| {
                    Ok(c.query_opt_prepared("SELECT tat_ms FROM rate_limits WHERE key_id = $1", &[], &[&key.id])?
                        .map_or(now_ms, |r| r.get(0)))
                })?;
                Some(RateState { allowed: false, tat_ms: tat })
            }
        };
        Ok(Some((Some(key), state)))
    }

    fn rate_step(&self, key: &str, now_ms: f64, interval_ms: f64, tau_ms: f64) -> StoreResult<Option<RateState>> {
        self.with_relaxed(|c| {
            // One atomic GCRA step: the row lock of ON CONFLICT serialises replicas; the WHERE
            // leaves the stored time alone when the request is refused.
            let stepped = c.query_opt_prepared(
                "INSERT INTO rate_limits AS r (key_id, tat_ms) VALUES ($1, $2::FLOAT8 + $3::FLOAT8) \
                 ON CONFLICT (key_id) DO UPDATE SET tat_ms = GREATEST(r.tat_ms, $2::FLOAT8) + $3::FLOAT8 \
                 WHERE GREATEST(r.tat_ms, $2::FLOAT8) - $2::FLOAT8 <= $4::FLOAT8 RETURNING tat_ms",
                &[Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::FLOAT8],
                &[&key, &now_ms, &interval_ms, &tau_ms],
            )?;
            Ok(Some(match stepped {
                Some(row) => RateState { allowed: true, tat_ms: row.get(0) },
                None => {
                    let tat: f64 = c
                        .query_opt_prepared("SELECT tat_ms FROM rate_limits WHERE key_id = $1", &[], &[&key])?
                        .map_or(now_ms, |r| r.get(0));
                    RateState { allowed: false, tat_ms: tat }
                }
            }))
        })
    }
}
