//! The audit log in SQLite: append-only tables guarded by triggers, WAL with
//! `synchronous=FULL`, and group commit — one transaction (and one fsync) per batch of
//! events, with the batch's signed checkpoint written in the same transaction, so an append
//! is acknowledged only once it and a checkpoint covering it are durable.
//!
//! Tables: `audit_meta` (origin), `audit_keys` (the log's public key), `audit_entries`
//! (one row per entry; its hash is also the level-0 Merkle node), `audit_nodes` (perfect
//! Merkle subtrees of level ≥ 1, written as they complete), `audit_checkpoints` (signed
//! notes). Triggers reject every UPDATE and DELETE except the redaction path: clearing the
//! `details` and `salt` of an entry and nothing else.

use std::{
    fs,
    path::Path,
    sync::mpsc,
    thread::{self, JoinHandle},
};

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

pub use super::log::{AuditError, ConsistencyProof, InclusionProof, MAX_FIELD, StoredCheckpoint, load_or_create_key};
use super::{
    checkpoint::{Checkpoint, NoteSigner, NoteVerifier},
    event::{Entry, Event, Outcome},
    log::{self, LogWriter, NewEntry, now_ms},
    merkle::{self, Frontier, Hash, NodeSource},
    verify::{EntryChecker, RawEntry, Verification},
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_keys (
    key_id     TEXT PRIMARY KEY,
    verifier   TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_entries (
    seq          INTEGER PRIMARY KEY,
    ts_ms        INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    resource     TEXT NOT NULL,
    outcome      INTEGER NOT NULL,
    details      TEXT,
    salt         BLOB,
    details_hash BLOB NOT NULL,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_ts ON audit_entries(ts_ms);
CREATE TABLE IF NOT EXISTS audit_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    key_id     TEXT NOT NULL,
    note       TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log entries cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_redact_only BEFORE UPDATE ON audit_entries
WHEN NOT (NEW.details IS NULL AND NEW.salt IS NULL AND OLD.details IS NOT NULL
    AND NEW.seq = OLD.seq AND NEW.ts_ms = OLD.ts_ms AND NEW.actor = OLD.actor
    AND NEW.action = OLD.action AND NEW.resource = OLD.resource AND NEW.outcome = OLD.outcome
    AND NEW.details_hash = OLD.details_hash AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash)
BEGIN SELECT RAISE(ABORT, 'audit log entries are append-only; only redaction may clear details'); END;
";

/// Triggers that make the other tables append-only (one UPDATE and one DELETE guard each).
fn guard_sql(table: &str) -> String {
    format!(
        "CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} \
         BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;\n\
         CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} \
         BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;\n"
    )
}

/// Filters for [`AuditStore::entries`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only entries at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only this actor, or actors starting with the prefix when it ends in `*`.
    pub actor: Option<String>,
    /// Only this action, or actions starting with the prefix when it ends in `*`.
    pub action: Option<String>,
    /// At most this many (the newest ones, or the oldest from `from_seq` when that is set).
    pub limit: Option<u64>,
    /// Only entries at or after this sequence number (for paging forward).
    pub from_seq: Option<u64>,
}

/// The audit log in one SQLite file, with its signing key.
#[derive(Debug)]
pub struct AuditStore {
    conn: Connection,
    signer: NoteSigner,
    origin: String,
    /// Right edge of the tree after the last append through this handle (only trusted
    /// after checking the log did not change underneath; cleared when a commit fails).
    frontier: Option<(Frontier, Hash)>,
}

fn row_entry(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let seq: i64 = r.get(0)?;
    let outcome: u8 = r.get(5)?;
    let salt: Option<Vec<u8>> = r.get(7)?;
    let hex_col = |i: usize| -> rusqlite::Result<String> { Ok(hex::encode(r.get::<_, Vec<u8>>(i)?)) };
    Ok(Entry {
        seq: u64::try_from(seq).unwrap_or(u64::MAX),
        timestamp_ms: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        resource: r.get(4)?,
        // An unknown outcome byte cannot verify: map it to a value whose hash will differ.
        outcome: Outcome::from_code(outcome).unwrap_or(Outcome::Denied),
        details: r.get(6)?,
        salt: salt.map(hex::encode),
        details_hash: hex_col(8)?,
        prev_hash: hex_col(9)?,
        hash: hex_col(10)?,
    })
}

const ENTRY_COLS: &str = "seq, ts_ms, actor, action, resource, outcome, details, salt, details_hash, prev_hash, hash";

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn blob32(v: Vec<u8>) -> Result<Hash, AuditError> {
    v.try_into().map_err(|_| AuditError::Corrupt("a stored hash is not 32 bytes".into()))
}

/// Reads perfect nodes from the connection (level 0 from the entries).
struct Nodes<'a>(&'a Connection);

impl NodeSource for Nodes<'_> {
    type Error = AuditError;

    fn perfect(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        let blob: Option<Vec<u8>> = if level == 0 {
            self.0
                .prepare_cached("SELECT hash FROM audit_entries WHERE seq = ?1")?
                .query_row([to_i64(index)], |r| r.get(0))
                .optional()?
        } else {
            self.0
                .prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")?
                .query_row(params![level, to_i64(index)], |r| r.get(0))
                .optional()?
        };
        blob32(blob.ok_or_else(|| AuditError::Corrupt(format!("Merkle node ({level}, {index}) is missing")))?)
    }
}

impl AuditStore {
    /// Opens (or creates) the log at `db`, with the signing key at `key_file` (created,
    /// 0600, on first use). Refuses a key that does not belong to the log.
    pub fn open(db: &Path, key_file: &Path) -> Result<Self, AuditError> {
        if let Some(dir) = db.parent() {
            fs::create_dir_all(dir)
                .map_err(|source| AuditError::KeyFile { path: dir.display().to_string(), source })?;
        }
        let conn = Connection::open(db)?;
        let origin_of_db: Option<String> = {
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            let mut sql = SCHEMA.to_owned();
            for t in ["audit_meta", "audit_keys", "audit_nodes", "audit_checkpoints"] {
                sql.push_str(&guard_sql(t));
            }
            conn.execute_batch(&sql)?;
            conn.query_row("SELECT value FROM audit_meta WHERE key = 'origin'", [], |r| r.get(0)).optional()?
        };
        let signer = load_or_create_key(key_file, || {
            origin_of_db.clone().unwrap_or_else(|| {
                let mut id = [0u8; 8];
                let _ = getrandom::fill(&mut id);
                format!("scorpius.local/audit/{}", hex::encode(id))
            })
        })?;
        let mut store = AuditStore { conn, origin: signer.name().to_owned(), signer, frontier: None };
        let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let origin: Option<String> =
            tx.query_row("SELECT value FROM audit_meta WHERE key = 'origin'", [], |r| r.get(0)).optional()?;
        match origin {
            Some(o) if o != store.signer.name() => {
                return Err(AuditError::Key(format!(
                    "the key file holds key {:?}, but this log ({o}) was created with another key",
                    store.signer.name()
                )));
            }
            Some(_) => {}
            None => {
                tx.execute("INSERT INTO audit_meta (key, value) VALUES ('origin', ?1)", [store.signer.name()])?;
                tx.execute(
                    "INSERT INTO audit_keys (key_id, verifier, created_ms) VALUES (?1, ?2, ?3)",
                    params![hex::encode(store.signer.key_id()), store.signer.verifier().encode(), now_ms()],
                )?;
            }
        }
        tx.commit()?;
        store.origin = store.signer.name().to_owned();
        Ok(store)
    }

    /// The log's origin (checkpoint first line).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public key that verifies this log's checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// Number of entries.
    pub fn size(&self) -> Result<u64, AuditError> {
        let n: i64 = self.conn.query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Appends events in one transaction and signs a checkpoint covering them; returns
    /// their sequence numbers once committed.
    pub fn append(&mut self, events: &[Event]) -> Result<Vec<u64>, AuditError> {
        log::check_events(events)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seqs = log::append(&mut SqliteWriter(&tx), &self.origin, &self.signer, &mut self.frontier, events)?;
        tx.commit()?;
        Ok(seqs)
    }

    /// Redacts the details of entry `seq` and records the redaction as a new entry, in one
    /// transaction. Hashes are unchanged, so the log still verifies.
    pub fn redact(&mut self, seq: u64, actor: &str, reason: &str) -> Result<u64, AuditError> {
        let size = self.size()?;
        if seq >= size {
            return Err(AuditError::NoSuchEntry(seq, size));
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE audit_entries SET details = NULL, salt = NULL WHERE seq = ?1 AND details IS NOT NULL",
            [to_i64(seq)],
        )?;
        let event = log::redaction_event(seq, actor, reason, changed == 0);
        // The redaction and its record commit together.
        let recorded = log::append(
            &mut SqliteWriter(&tx),
            &self.origin,
            &self.signer,
            &mut self.frontier,
            std::slice::from_ref(&event),
        )?;
        tx.commit()?;
        Ok(recorded[0])
    }

    /// Entries matching `filter`, oldest first.
    pub fn entries(&self, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
        let mut sql = format!("SELECT {ENTRY_COLS} FROM audit_entries WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(t) = filter.since_ms {
            sql.push_str(" AND ts_ms >= ?");
            args.push(t.into());
        }
        if let Some(a) = &filter.actor {
            if let Some(prefix) = a.strip_suffix('*') {
                sql.push_str(" AND substr(actor, 1, ?) = ?");
                args.push(i64::try_from(prefix.chars().count()).unwrap_or(0).into());
                args.push(prefix.to_owned().into());
            } else {
                sql.push_str(" AND actor = ?");
                args.push(a.clone().into());
            }
        }
        if let Some(from) = filter.from_seq {
            sql.push_str(" AND seq >= ?");
            args.push(to_i64(from).into());
        }
        if let Some(a) = &filter.action {
            if let Some(prefix) = a.strip_suffix('*') {
                sql.push_str(" AND substr(action, 1, ?) = ?");
                args.push(i64::try_from(prefix.chars().count()).unwrap_or(0).into());
                args.push(prefix.to_owned().into());
            } else {
                sql.push_str(" AND action = ?");
                args.push(a.clone().into());
            }
        }
        let forward = filter.from_seq.is_some();
        sql.push_str(if forward { " ORDER BY seq" } else { " ORDER BY seq DESC" });
        if let Some(l) = filter.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let mut out: Vec<Entry> =
            stmt.query_map(rusqlite::params_from_iter(args), row_entry)?.collect::<Result<_, _>>()?;
        if !forward {
            out.reverse();
        }
        Ok(out)
    }

    /// Calls `f` on every entry in sequence order.
    pub fn for_each_entry(&self, mut f: impl FnMut(Entry)) -> Result<(), AuditError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {ENTRY_COLS} FROM audit_entries ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(row_entry(r)?);
        }
        Ok(())
    }

    /// Every stored checkpoint, by size.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, AuditError> {
        let mut stmt =
            self.conn.prepare("SELECT tree_size, created_ms, note FROM audit_checkpoints ORDER BY tree_size")?;
        let rows = stmt.query_map([], |r| {
            Ok(StoredCheckpoint {
                tree_size: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                created_ms: r.get(1)?,
                note: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest checkpoint; signs one first if entries were added since (or none exists).
    pub fn checkpoint(&mut self) -> Result<StoredCheckpoint, AuditError> {
        let size = self.size()?;
        let latest: Option<(i64, i64, String)> = self
            .conn
            .query_row(
                "SELECT tree_size, created_ms, note FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((s, created_ms, note)) = latest
            && u64::try_from(s).unwrap_or(0) == size
        {
            return Ok(StoredCheckpoint { tree_size: size, created_ms, note });
        }
        let root = merkle::root(&Nodes(&self.conn), size)?;
        let cp = Checkpoint { origin: self.origin.clone(), size, root };
        let note = self.signer.sign(&cp);
        let created_ms = now_ms();
        self.conn.execute(
            "INSERT OR IGNORE INTO audit_checkpoints (tree_size, created_ms, key_id, note) VALUES (?1, ?2, ?3, ?4)",
            params![to_i64(size), created_ms, hex::encode(self.signer.key_id()), note],
        )?;
        Ok(StoredCheckpoint { tree_size: size, created_ms, note })
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries (default: all).
    pub fn inclusion_proof(&mut self, seq: u64, size: Option<u64>) -> Result<InclusionProof, AuditError> {
        log::inclusion_proof(&mut SqliteWriter(&self.conn), &self.origin, &self.signer, seq, size)
    }

    /// The consistency proof between sizes `old` and `new` (default: all).
    pub fn consistency_proof(&self, old: u64, new: Option<u64>) -> Result<ConsistencyProof, AuditError> {
        log::consistency_proof(&mut SqliteWriter(&self.conn), old, new)
    }

    /// Recomputes everything: entry hashes, the chain, stored Merkle nodes, every checkpoint
    /// against `trusted` (default: this log's own key), and the stored public key.
    pub fn verify(&self, trusted: Option<&NoteVerifier>) -> Result<Verification, AuditError> {
        self.verify_with(trusted, &[])
    }

    /// [`Self::verify`], also checking `saved` checkpoint notes kept outside the log (the log
    /// must still contain and extend each of them).
    pub fn verify_with(&self, trusted: Option<&NoteVerifier>, saved: &[String]) -> Result<Verification, AuditError> {
        let mut notes: Vec<String> = self.checkpoints()?.into_iter().map(|c| c.note).collect();
        notes.extend(saved.iter().filter(|n| !notes.contains(n)).cloned().collect::<Vec<_>>());
        let sizes = notes.iter().filter_map(|n| super::checkpoint::parse_unverified(n).ok()).map(|c| c.size).collect();
        let mut checker = EntryChecker::new(sizes);
        {
            // Borrow each row's text and bytes: no per-entry allocation or hex round trip.
            let mut stmt = self.conn.prepare(&format!("SELECT {ENTRY_COLS} FROM audit_entries ORDER BY seq"))?;
            let mut rows = stmt.query([])?;
            let bad = |what: &str| AuditError::Corrupt(format!("an entry's {what} is not what the schema says"));
            while let Some(r) = rows.next()? {
                let text = |i: usize| r.get_ref(i).ok().and_then(|v| v.as_str().ok());
                let hash32 = |i: usize| -> Option<Hash> { r.get_ref(i).ok()?.as_blob().ok()?.try_into().ok() };
                let zero = [0u8; 32];
                let raw = RawEntry {
                    seq: u64::try_from(r.get::<_, i64>(0)?).map_err(|_| bad("seq"))?,
                    timestamp_ms: r.get(1)?,
                    actor: text(2).ok_or_else(|| bad("actor"))?,
                    action: text(3).ok_or_else(|| bad("action"))?,
                    resource: text(4).ok_or_else(|| bad("resource"))?,
                    outcome: u8::try_from(r.get::<_, i64>(5)?).unwrap_or(u8::MAX),
                    details: text(6),
                    salt: match r.get_ref(7)? {
                        rusqlite::types::ValueRef::Null => None,
                        _ => Some(hash32(7)),
                    },
                    // A wrong-sized hash can only mismatch: compare it as zeros.
                    details_hash: hash32(8).unwrap_or(zero),
                    prev_hash: hash32(9).unwrap_or(zero),
                    hash: hash32(10).unwrap_or(zero),
                };
                checker.push_raw(&raw);
            }
        }
        {
            let mut stmt = self.conn.prepare("SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (level, idx, hash): (u32, i64, Vec<u8>) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let idx = u64::try_from(idx).unwrap_or(u64::MAX);
                match <[u8; 32]>::try_from(hash) {
                    Ok(h) => checker.check_node(level, idx, &h),
                    Err(_) => checker.check_node(level, idx, &[0; 32]),
                }
            }
        }
        let own = self.signer.verifier();
        let key = trusted.unwrap_or(&own);
        let mut v = checker.finish(&self.origin, &notes, key);
        let mut stmt = self.conn.prepare("SELECT key_id, verifier FROM audit_keys")?;
        let stored: Vec<(String, String)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        v.problems.extend(log::key_problem(&stored, key));
        Ok(v)
    }
}

/// Appends `events` and a signed checkpoint inside the caller's transaction.
/// The SQLite side of [`LogWriter`], on a connection inside an immediate transaction.
struct SqliteWriter<'a>(&'a Connection);

impl LogWriter for SqliteWriter<'_> {
    fn size(&mut self) -> Result<u64, AuditError> {
        let n: i64 = self.0.query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, AuditError> {
        Nodes(self.0).perfect(level, index)
    }

    fn insert_entry(&mut self, e: &NewEntry<'_>) -> Result<(), AuditError> {
        self.0
            .prepare_cached(
                "INSERT INTO audit_entries (seq, ts_ms, actor, action, resource, outcome, details, salt, details_hash, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                to_i64(e.seq),
                e.event.timestamp_ms,
                e.event.actor,
                e.event.action,
                e.event.resource,
                e.event.outcome.code(),
                e.details,
                &e.salt[..],
                &e.details_hash[..],
                &e.prev_hash[..],
                &e.hash[..]
            ])?;
        Ok(())
    }

    fn insert_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), AuditError> {
        self.0.prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?.execute(params![
            level,
            to_i64(index),
            &hash[..]
        ])?;
        Ok(())
    }

    fn checkpoint_note(&mut self, size: u64) -> Result<Option<String>, AuditError> {
        Ok(self
            .0
            .query_row("SELECT note FROM audit_checkpoints WHERE tree_size = ?1", [to_i64(size)], |r| r.get(0))
            .optional()?)
    }

    fn insert_checkpoint(&mut self, size: u64, created_ms: i64, key_id: &str, note: &str) -> Result<(), AuditError> {
        self.0
            .prepare_cached(
                "INSERT INTO audit_checkpoints (tree_size, created_ms, key_id, note) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![to_i64(size), created_ms, key_id, note])?;
        Ok(())
    }
}

/// Told the outcome of one append once its batch committed (or failed).
pub type Ack = Box<dyn FnOnce(Result<u64, String>) + Send>;

/// One append waiting for the writer.
type Job = (Event, Ack);

/// The single writer with group commit: callers on any thread hand it events; it commits
/// whatever has queued up (up to `max_batch`) in one transaction and acknowledges each
/// caller only after the commit.
#[derive(Debug)]
pub struct GroupCommit {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<JoinHandle<AuditStore>>,
}

impl GroupCommit {
    /// Starts the writer thread, which owns the store until [`GroupCommit::close`].
    pub fn start(mut store: AuditStore, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(max_batch * 4);
        let thread = thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut jobs = vec![first];
                while jobs.len() < max_batch {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let events: Vec<Event> = jobs.iter().map(|(e, _)| e.clone()).collect();
                match store.append(&events) {
                    Ok(seqs) => {
                        for ((_, ack), seq) in jobs.into_iter().zip(seqs) {
                            ack(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for (_, ack) in jobs {
                            ack(Err(msg.clone()));
                        }
                    }
                }
            }
            store
        });
        GroupCommit { tx: Some(tx), thread: Some(thread) }
    }

    /// Appends one event; returns its sequence number once it is committed.
    pub fn append(&self, event: Event) -> Result<u64, AuditError> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.append_then(
            event,
            Box::new(move |r| {
                let _ = ack_tx.send(r);
            }),
        )?;
        ack_rx.recv().map_err(|_| AuditError::WriterGone)?.map_err(AuditError::Writer)
    }

    /// Queues one event without waiting: `ack` is called on the writer thread with its
    /// sequence number (or the error) once its batch committed. For callers that wait
    /// asynchronously (a channel in `ack`) instead of blocking a thread.
    pub fn append_then(&self, event: Event, ack: Ack) -> Result<(), AuditError> {
        // An event the log refuses fails alone here, not with the batch it would join.
        log::check_events(std::slice::from_ref(&event))?;
        self.tx.as_ref().ok_or(AuditError::WriterGone)?.send((event, ack)).map_err(|_| AuditError::WriterGone)
    }

    /// Stops the writer after the queued events and returns the store.
    pub fn close(mut self) -> Result<AuditStore, AuditError> {
        drop(self.tx.take());
        self.thread.take().ok_or(AuditError::WriterGone)?.join().map_err(|_| AuditError::WriterGone)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
