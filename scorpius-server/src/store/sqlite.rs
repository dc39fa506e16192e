//! The SQLite backend (the default): keys, scans and idempotency records in
//! `<data dir>/server.sqlite`, the audit log in `<data dir>/audit.sqlite` with its signing
//! key `<data dir>/audit-signing.key` (the core's append-only store with group commit).
//! WAL, a small pool of connections; writers are serialised by SQLite itself.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rusqlite::{Connection, OptionalExtension, params};
use scorpius_core::{
    api::{intel::IntelDataset, keys::Role, scans::ScanSummary},
    audit::{
        Entry, Event,
        log::{ConsistencyProof, InclusionProof, StoredCheckpoint},
        sqlite::{AuditStore, Filter, GroupCommit},
        verify::Verification,
    },
    model::ScanReport,
};

use super::{
    AuditFilter, IdempotentResponse, KeyRecord, ScanFilter, ScanRow, Store, StoreError, StoreResult, level_rank,
    periodic::Periodic,
    writer::{Job, Queued, Writer},
};

/// Schema migrations, applied in order at start-up; the applied version is recorded.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    role         TEXT NOT NULL,
    name         TEXT,
    prefix       TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    last_used_ms INTEGER,
    revoked_ms   INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_ms);
CREATE TABLE scans (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT NOT NULL,
    scan_id    TEXT NOT NULL UNIQUE,
    key_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    target_lc  TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    level_rank INTEGER NOT NULL,
    summary    TEXT NOT NULL,
    report     TEXT NOT NULL
);
CREATE INDEX scans_tenant_seq ON scans (tenant, seq);
CREATE TABLE idempotency (
    tenant       TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE probe (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
",
    "
CREATE TABLE tenant_intel (
    tenant      TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    meta        TEXT NOT NULL,
    entries     TEXT NOT NULL,
    imported_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, dataset)
);
",
];

/// Applies `migrations` in order, recording each applied version in `table` (a name fixed in
/// the code); one immediate transaction, so concurrent openers apply each once.
pub(super) fn migrate(conn: &mut Connection, table: &str, migrations: &[&str]) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)"
    ))?;
    let done: i64 = tx.query_row(&format!("SELECT COALESCE(MAX(version), 0) FROM {table}"), [], |r| r.get(0))?;
    for (i, sql) in migrations.iter().enumerate() {
        let version = i64::try_from(i).unwrap_or(i64::MAX) + 1;
        if version > done {
            tx.execute_batch(sql)?;
            tx.execute(
                &format!("INSERT INTO {table} (version, applied_ms) VALUES (?1, ?2)"),
                params![version, now_ms()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    pool: Arc<Vec<Mutex<Connection>>>,
    next: AtomicUsize,
    writer: GroupCommit,
    /// Saved scans, group-committed on the first connection.
    scans: Writer<ScanRow, ()>,
    audit: Mutex<AuditStore>,
    public_key: String,
    keys: Mutex<KeyCache>,
    _checkpoints: Periodic,
}

/// Keys found by hash, so a request needs no storage read to authenticate. Exact because
/// one process owns a SQLite store: every revocation and rotation goes through this store,
/// which bumps `generation` and evicts the key; a lookup that read the database before such
/// a change (same generation check) does not cache what it read.
#[derive(Debug, Default)]
struct KeyCache {
    generation: u64,
    by_hash: HashMap<[u8; 32], KeyRecord>,
}

/// Cached keys at most (only keys that exist are cached; past this the cache starts over).
const KEY_CACHE_MAX: usize = 10_000;

impl Job for ScanRow {
    type Output = ();

    fn apply(&self, c: &Connection) -> StoreResult<()> {
        c.prepare_cached(
            "INSERT INTO scans (tenant, scan_id, key_id, kind, target_lc, started_ms, level_rank, summary, report) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            self.tenant,
            self.scan_id,
            self.key_id,
            self.kind,
            self.target_lc,
            self.started_ms,
            self.level_rank,
            self.summary,
            self.report
        ])?;
        Ok(())
    }
}

/// Saved scans committed together at most.
const SCAN_BATCH: usize = 64;

/// A connection to one of the server's SQLite files: WAL, `synchronous=NORMAL`, and no
/// automatic checkpoints — the file's [`checkpointer`] does them.
pub(super) fn open_conn(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// How often a [`checkpointer`] copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// WAL checkpoints off the writers' path. With automatic checkpoints, the commit that
/// crosses the WAL's size limit copies the WAL into the database and fsyncs both while every
/// request waiting on that writer's batch waits too (measured: p90 three to four times the
/// p50 under load). A thread of its own runs a `PASSIVE` checkpoint every
/// [`CHECKPOINT_EVERY`] instead, which writers do not wait for.
pub(super) fn checkpointer(path: &Path) -> StoreResult<Periodic> {
    let conn = open_conn(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tick = move || {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, file = name, "WAL checkpoint failed");
        }
    };
    Periodic::start("sqlite-checkpoint", CHECKPOINT_EVERY, tick, || {})
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    let role: String = r.get(2)?;
    let hash: Vec<u8> = r.get(5)?;
    Ok(KeyRecord {
        id: r.get(0)?,
        tenant: r.get(1)?,
        // An unknown role cannot come from this server: treat it as the weakest.
        role: role.parse().unwrap_or(Role::Viewer),
        name: r.get(3)?,
        prefix: r.get(4)?,
        secret_hash: hash.try_into().unwrap_or([0; 32]),
        created_ms: r.get(6)?,
        expires_ms: r.get(7)?,
        last_used_ms: r.get(8)?,
        revoked_ms: r.get(9)?,
    })
}

const KEY_COLS: &str = "id, tenant, role, name, prefix, secret_hash, created_ms, expires_ms, last_used_ms, revoked_ms";

impl SqliteStore {
    /// Opens (creating) the databases in `dir` and applies migrations.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(format!("creating {}: {e}", dir.display())))?;
        let path = dir.join("server.sqlite");
        let mut first = open_conn(&path)?;
        migrate(&mut first, "schema_migrations", MIGRATIONS)?;
        let mut pool = vec![Mutex::new(first)];
        for _ in 1..4 {
            pool.push(Mutex::new(open_conn(&path)?));
        }
        let pool = Arc::new(pool);
        let scans = Writer::sqlite("scan-writer", Arc::clone(&pool), 0, SCAN_BATCH)?;
        let (db, key) = (dir.join("audit.sqlite"), dir.join("audit-signing.key"));
        let appender = AuditStore::open(&db, &key)?;
        let public_key = appender.verifier().encode();
        let reader = AuditStore::open(&db, &key)?;
        Ok(SqliteStore {
            pool,
            next: AtomicUsize::new(0),
            writer: GroupCommit::start(appender, 256),
            scans,
            audit: Mutex::new(reader),
            public_key,
            keys: Mutex::default(),
            _checkpoints: checkpointer(&path)?,
        })
    }

    /// Evicts a key whose secret or status changed.
    fn forget_key(&self, id: &str) {
        let mut cache = lock(&self.keys);
        cache.generation += 1;
        cache.by_hash.retain(|_, k| k.id != id);
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        f(&mut lock(&self.pool[i]))
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn ping(&self) -> StoreResult<()> {
        self.with(|c| {
            let v: i64 = c.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
            if v < i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX) {
                return Err(StoreError::Db(format!("schema at version {v}, migrations not applied")));
            }
            Ok(())
        })
    }

    fn probe(&self) -> StoreResult<()> {
        let token = uuid::Uuid::new_v4().to_string();
        self.with(|c| {
            c.execute(
                "INSERT INTO probe (id, value) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET value = excluded.value",
                [&token],
            )?;
            let back: String = c.query_row("SELECT value FROM probe WHERE id = 1", [], |r| r.get(0))?;
            if back != token {
                return Err(StoreError::Db("the probe row read back differs from what was written".into()));
            }
            Ok(())
        })
    }

    fn insert_key(&self, k: &KeyRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                &format!("INSERT INTO api_keys ({KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    k.id,
                    k.tenant,
                    k.role.as_str(),
                    k.name,
                    k.prefix,
                    &k.secret_hash[..],
                    k.created_ms,
                    k.expires_ms,
                    k.last_used_ms,
                    k.revoked_ms
                ],
            )?;
            Ok(())
        })
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<KeyRecord>> {
        let generation = lock(&self.keys).generation;
        let found = self.with(|c| {
            Ok(c.prepare_cached(&format!("SELECT {KEY_COLS} FROM api_keys WHERE secret_hash = ?1"))?
                .query_row([&hash[..]], key_row)
                .optional()?)
        })?;
        if let Some(k) = &found {
            let mut cache = lock(&self.keys);
            if cache.generation == generation {
                if cache.by_hash.len() >= KEY_CACHE_MAX {
                    cache.by_hash.clear();
                }
                cache.by_hash.insert(*hash, k.clone());
            }
        }
        Ok(found)
    }

    fn cached_key(&self, hash: &[u8; 32]) -> Option<KeyRecord> {
        lock(&self.keys).by_hash.get(hash).cloned()
    }

    fn keys(&self, tenant: &str) -> StoreResult<Vec<KeyRecord>> {
        self.with(|c| {
            let mut stmt =
                c.prepare(&format!("SELECT {KEY_COLS} FROM api_keys WHERE tenant = ?1 ORDER BY created_ms DESC, id"))?;
            Ok(stmt.query_map([tenant], key_row)?.collect::<Result<_, _>>()?)
        })
    }

    fn key(&self, tenant: &str, id: &str) -> StoreResult<Option<KeyRecord>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE tenant = ?1 AND id = ?2"),
                [tenant, id],
                key_row,
            )
            .optional()?)
        })
    }

    fn rotate_key(&self, tenant: &str, id: &str, secret_hash: &[u8; 32], prefix: &str) -> StoreResult<bool> {
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE api_keys SET secret_hash = ?1, prefix = ?2 WHERE tenant = ?3 AND id = ?4 AND revoked_ms IS NULL",
                params![&secret_hash[..], prefix, tenant, id],
            )? == 1)
        })?;
        self.forget_key(id);
        Ok(changed)
    }

    fn revoke_key(&self, tenant: &str, id: &str, now_ms: i64) -> StoreResult<bool> {
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE api_keys SET revoked_ms = ?1 WHERE tenant = ?2 AND id = ?3 AND revoked_ms IS NULL",
                params![now_ms, tenant, id],
            )? == 1)
        })?;
        self.forget_key(id);
        Ok(changed)
    }

    fn touch_key(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        self.with(|c| {
            c.prepare_cached("UPDATE api_keys SET last_used_ms = ?1 WHERE id = ?2")?.execute(params![now_ms, id])?;
            Ok(())
        })?;
        for k in lock(&self.keys).by_hash.values_mut().filter(|k| k.id == id) {
            k.last_used_ms = Some(now_ms);
        }
        Ok(())
    }

    fn insert_scan(&self, tenant: &str, key_id: &str, report: &ScanReport) -> StoreResult<()> {
        self.scans.run(ScanRow::of(tenant, key_id, report)?)
    }

    fn queue_scan(&self, tenant: &str, key_id: &str, report: &ScanReport) -> StoreResult<Option<Queued<()>>> {
        Ok(Some(self.scans.queue(ScanRow::of(tenant, key_id, report)?)))
    }

    fn scan(&self, tenant: &str, scan_id: &str) -> StoreResult<Option<ScanReport>> {
        let text: Option<String> = self.with(|c| {
            Ok(c.prepare_cached("SELECT report FROM scans WHERE tenant = ?1 AND scan_id = ?2")?
                .query_row([tenant, scan_id], |r| r.get(0))
                .optional()?)
        })?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt(format!("scan {scan_id}: {e}")))).transpose()
    }

    fn scans(&self, tenant: &str, f: &ScanFilter) -> StoreResult<(Vec<ScanSummary>, Option<i64>)> {
        let mut sql = "SELECT seq, summary FROM scans WHERE tenant = ?".to_owned();
        let mut args: Vec<rusqlite::types::Value> = vec![tenant.to_owned().into()];
        if let Some(k) = &f.kind {
            sql.push_str(" AND kind = ?");
            args.push(k.clone().into());
        }
        if let Some(t) = &f.target {
            sql.push_str(" AND target_lc = ?");
            args.push(t.to_lowercase().into());
        }
        if let Some(s) = f.since_ms {
            sql.push_str(" AND started_ms >= ?");
            args.push(s.into());
        }
        if let Some(l) = f.min_level {
            sql.push_str(" AND level_rank >= ?");
            args.push(level_rank(l).into());
        }
        if let Some(b) = f.before {
            sql.push_str(" AND seq < ?");
            args.push(b.into());
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", f.limit));
        let rows: Vec<(i64, String)> = self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            Ok(stmt
                .query_map(rusqlite::params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?)
        })?;
        let last = rows.last().map(|(s, _)| *s);
        let items = rows.iter().map(|(_, s)| serde_json::from_str(s).map_err(corrupt)).collect::<StoreResult<_>>()?;
        Ok((items, last))
    }

    fn idempotent(&self, tenant: &str, key: &str) -> StoreResult<Option<IdempotentResponse>> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT request_hash, status, body FROM idempotency WHERE tenant = ?1 AND key = ?2")?
                .query_row([tenant, key], |r| {
                    let h: Vec<u8> = r.get(0)?;
                    Ok(IdempotentResponse {
                        request_hash: h.try_into().unwrap_or([0; 32]),
                        status: r.get(1)?,
                        body: r.get(2)?,
                    })
                })
                .optional()?)
        })
    }

    fn put_idempotent(&self, tenant: &str, key: &str, resp: &IdempotentResponse) -> StoreResult<IdempotentResponse> {
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO idempotency (tenant, key, request_hash, status, body, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (tenant, key) DO NOTHING",
            )?
            .execute(params![tenant, key, &resp.request_hash[..], resp.status, resp.body, now_ms()])?;
            Ok(())
        })?;
        self.idempotent(tenant, key)?.ok_or_else(|| StoreError::Db("idempotency record vanished".into()))
    }

    fn audit_append(&self, events: Vec<Event>) -> StoreResult<Vec<u64>> {
        events.into_iter().map(|e| self.writer.append(e).map_err(Into::into)).collect()
    }

    fn queue_audit(&self, event: Event) -> Result<Queued<u64>, Box<Event>> {
        let (ack, rx) = tokio::sync::oneshot::channel();
        let queued = self.writer.append_then(
            event,
            Box::new(move |r| {
                let _ = ack.send(r.map_err(|e| StoreError::Audit(scorpius_core::audit::log::AuditError::Writer(e))));
            }),
        );
        // Refused before queueing (an event the log would refuse; a stopped writer): the
        // refusal alone, not with the batch it would have joined.
        Ok(match queued {
            Ok(()) => rx,
            Err(e) => super::writer::ready(Err(StoreError::Audit(e))),
        })
    }

    fn audit_entries(&self, f: &AuditFilter) -> StoreResult<Vec<Entry>> {
        let filter = Filter {
            since_ms: f.since_ms,
            actor: f.actor_prefix.as_ref().map(|p| format!("{p}*")),
            action: f.action.clone(),
            limit: Some(u64::from(f.limit)),
            from_seq: Some(f.from_seq.unwrap_or(0)),
        };
        Ok(lock(&self.audit).entries(&filter)?)
    }

    fn audit_entry(&self, seq: u64) -> StoreResult<Option<Entry>> {
        let filter = Filter { from_seq: Some(seq), limit: Some(1), ..Filter::default() };
        Ok(lock(&self.audit).entries(&filter)?.into_iter().find(|e| e.seq == seq))
    }

    fn audit_checkpoint(&self) -> StoreResult<StoredCheckpoint> {
        Ok(lock(&self.audit).checkpoint()?)
    }

    fn audit_proof(&self, seq: u64, size: Option<u64>) -> StoreResult<InclusionProof> {
        lock(&self.audit).inclusion_proof(seq, size).map_err(super::audit_error)
    }

    fn audit_consistency(&self, old: u64, new: Option<u64>) -> StoreResult<ConsistencyProof> {
        lock(&self.audit).consistency_proof(old, new).map_err(super::audit_error)
    }

    fn audit_verify(&self) -> StoreResult<Verification> {
        Ok(lock(&self.audit).verify(None)?)
    }

    fn audit_public_key(&self) -> String {
        self.public_key.clone()
    }

    fn intel_put(&self, tenant: &str, dataset: &IntelDataset, tsv: &str, now_ms: i64) -> StoreResult<bool> {
        let meta = serde_json::to_string(dataset).map_err(corrupt)?;
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existed = tx
                .query_row(
                    "SELECT 1 FROM tenant_intel WHERE tenant = ?1 AND dataset = ?2",
                    [tenant, &dataset.dataset],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            tx.execute(
                "INSERT INTO tenant_intel (tenant, dataset, meta, entries, imported_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (tenant, dataset) DO UPDATE SET meta = excluded.meta, entries = excluded.entries, \
                 imported_ms = excluded.imported_ms",
                params![tenant, dataset.dataset, meta, tsv, now_ms],
            )?;
            tx.commit()?;
            Ok(existed)
        })
    }

    fn intel_datasets(&self, tenant: &str) -> StoreResult<Vec<(IntelDataset, String)>> {
        let rows: Vec<(String, String)> = self.with(|c| {
            let mut stmt = c.prepare("SELECT meta, entries FROM tenant_intel WHERE tenant = ?1 ORDER BY dataset")?;
            Ok(stmt.query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?)
        })?;
        rows.into_iter()
            .map(|(meta, text)| {
                Ok((serde_json::from_str(&meta).map_err(|e| corrupt(format!("intel dataset: {e}")))?, text))
            })
            .collect()
    }

    fn intel_stamp(&self, tenant: &str) -> StoreResult<(i64, i64)> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT COUNT(*), COALESCE(MAX(imported_ms), 0) FROM tenant_intel WHERE tenant = ?1")?
                .query_row([tenant], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })
    }
}
