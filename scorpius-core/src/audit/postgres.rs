//! The audit log in PostgreSQL, for the server's replicas: the same tables, encoding,
//! checkpoints and verification as the SQLite store. Appends from any number of processes
//! are serialised by a transaction-scoped advisory lock, so sequence numbers stay dense and
//! the chain linear; an append is acknowledged only after `COMMIT`. Triggers reject UPDATE,
//! DELETE and TRUNCATE except the redaction path (clearing `details` and `salt`).

use std::cell::RefCell;

use postgres::{Client, NoTls, Transaction, types::ToSql};

use crate::pg::Statements;

use super::{
    checkpoint::{Checkpoint, NoteSigner, NoteVerifier},
    event::{Entry, Event, Outcome},
    log::{
        self, AuditError, ConsistencyProof, InclusionProof, LogWriter, NewEntry, StoredCheckpoint, WriterNodes, now_ms,
    },
    merkle::{self, Frontier, Hash},
    verify::{EntryChecker, RawEntry, Verification},
};

/// Advisory lock key that serialises appends (and schema set-up) across replicas.
const APPEND_LOCK: i64 = 0x5c0_a0d1;

const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_keys (key_id TEXT PRIMARY KEY, verifier TEXT NOT NULL, created_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_entries (
    seq          BIGINT PRIMARY KEY,
    ts_ms        BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    resource     TEXT NOT NULL,
    outcome      SMALLINT NOT NULL,
    details      TEXT,
    salt         BYTEA,
    details_hash BYTEA NOT NULL,
    prev_hash    BYTEA NOT NULL,
    hash         BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_ts ON audit_entries (ts_ms);
CREATE TABLE IF NOT EXISTS audit_nodes (
    level INT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    key_id     TEXT NOT NULL,
    note       TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE OR REPLACE FUNCTION audit_entries_redact_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.details IS NULL AND NEW.salt IS NULL AND OLD.details IS NOT NULL
        AND NEW.seq = OLD.seq AND NEW.ts_ms = OLD.ts_ms AND NEW.actor = OLD.actor
        AND NEW.action = OLD.action AND NEW.resource = OLD.resource AND NEW.outcome = OLD.outcome
        AND NEW.details_hash = OLD.details_hash AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit log entries are append-only; only redaction may clear details';
END $$;
CREATE OR REPLACE TRIGGER audit_entries_guard BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_redact_only();
CREATE OR REPLACE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
";

fn guards(table: &str) -> String {
    format!(
        "CREATE OR REPLACE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table} \
         FOR EACH ROW EXECUTE FUNCTION audit_append_only();\n\
         CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
         FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();\n"
    )
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn hash32(v: &[u8]) -> Result<Hash, AuditError> {
    v.try_into().map_err(|_| AuditError::Corrupt("a stored hash is not 32 bytes".into()))
}

/// An entry waiting in [`PgWriter`] for its batch's insert.
struct EntryRow {
    seq: i64,
    ts_ms: i64,
    actor: String,
    action: String,
    resource: String,
    outcome: i16,
    details: String,
    salt: Hash,
    details_hash: Hash,
    prev_hash: Hash,
    hash: Hash,
}

/// [`LogWriter`] on a PostgreSQL transaction holding the append lock. Entries and nodes are
/// buffered and inserted with one statement each ([`PgWriter::flush`]) before anything is
/// read and before the checkpoint, so a batch of appends costs a handful of statements
/// rather than two per entry; every statement is prepared once per connection.
struct PgWriter<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    stmts: &'a mut Statements,
    entries: Vec<EntryRow>,
    nodes: Vec<(i32, i64, Hash)>,
}

impl<'a, 'b> PgWriter<'a, 'b> {
    fn new(tx: &'a mut Transaction<'b>, stmts: &'a mut Statements) -> Self {
        PgWriter { tx, stmts, entries: Vec::new(), nodes: Vec::new() }
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<postgres::Row>, AuditError> {
        self.flush()?;
        let stmt = self.stmts.get(self.tx, sql)?;
        Ok(self.tx.query_opt(&stmt, params)?)
    }

    /// Inserts the buffered entries and nodes.
    fn flush(&mut self) -> Result<(), AuditError> {
        if !self.entries.is_empty() {
            let e = std::mem::take(&mut self.entries);
            let stmt = self.stmts.get(
                self.tx,
                "INSERT INTO audit_entries (seq, ts_ms, actor, action, resource, outcome, details, salt, details_hash, prev_hash, hash) \
                 SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::text[], \
                 $8::bytea[], $9::bytea[], $10::bytea[], $11::bytea[])",
            )?;
            let bytes = |f: fn(&EntryRow) -> &Hash| e.iter().map(|r| &f(r)[..]).collect::<Vec<&[u8]>>();
            let text = |f: fn(&EntryRow) -> &str| e.iter().map(f).collect::<Vec<&str>>();
            self.tx.execute(
                &stmt,
                &[
                    &e.iter().map(|r| r.seq).collect::<Vec<i64>>(),
                    &e.iter().map(|r| r.ts_ms).collect::<Vec<i64>>(),
                    &text(|r| &r.actor),
                    &text(|r| &r.action),
                    &text(|r| &r.resource),
                    &e.iter().map(|r| r.outcome).collect::<Vec<i16>>(),
                    &text(|r| &r.details),
                    &bytes(|r| &r.salt),
                    &bytes(|r| &r.details_hash),
                    &bytes(|r| &r.prev_hash),
                    &bytes(|r| &r.hash),
                ],
            )?;
        }
        if !self.nodes.is_empty() {
            let n = std::mem::take(&mut self.nodes);
            let stmt = self.stmts.get(
                self.tx,
                "INSERT INTO audit_nodes (level, idx, hash) SELECT * FROM UNNEST($1::int4[], $2::int8[], $3::bytea[])",
            )?;
            self.tx.execute(
                &stmt,
                &[
                    &n.iter().map(|r| r.0).collect::<Vec<i32>>(),
                    &n.iter().map(|r| r.1).collect::<Vec<i64>>(),
                    &n.iter().map(|r| &r.2[..]).collect::<Vec<&[u8]>>(),
                ],
            )?;
        }
        Ok(())
    }
}

impl LogWriter for PgWriter<'_, '_> {
    fn size(&mut self) -> Result<u64, AuditError> {
        let n: i64 =
            self.query_opt("SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries", &[])?.map_or(0, |r| r.get(0));
        Ok(to_u64(n))
    }

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, AuditError> {
        let row = if level == 0 {
            self.query_opt("SELECT hash FROM audit_entries WHERE seq = $1", &[&to_i64(index)])?
        } else {
            let level = i32::try_from(level).unwrap_or(i32::MAX);
            self.query_opt("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2", &[&level, &to_i64(index)])?
        };
        let row = row.ok_or_else(|| AuditError::Corrupt(format!("Merkle node ({level}, {index}) is missing")))?;
        hash32(row.get::<_, &[u8]>(0))
    }

    fn insert_entry(&mut self, e: &NewEntry<'_>) -> Result<(), AuditError> {
        self.entries.push(EntryRow {
            seq: to_i64(e.seq),
            ts_ms: e.event.timestamp_ms,
            actor: e.event.actor.clone(),
            action: e.event.action.clone(),
            resource: e.event.resource.clone(),
            outcome: i16::from(e.event.outcome.code()),
            details: e.details.to_owned(),
            salt: *e.salt,
            details_hash: *e.details_hash,
            prev_hash: *e.prev_hash,
            hash: *e.hash,
        });
        Ok(())
    }

    fn insert_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), AuditError> {
        self.nodes.push((i32::try_from(level).unwrap_or(i32::MAX), to_i64(index), *hash));
        Ok(())
    }

    fn checkpoint_note(&mut self, size: u64) -> Result<Option<String>, AuditError> {
        Ok(self
            .query_opt("SELECT note FROM audit_checkpoints WHERE tree_size = $1", &[&to_i64(size)])?
            .map(|r| r.get(0)))
    }

    fn insert_checkpoint(&mut self, size: u64, created_ms: i64, key_id: &str, note: &str) -> Result<(), AuditError> {
        self.flush()?;
        let stmt = self.stmts.get(
            self.tx,
            "INSERT INTO audit_checkpoints (tree_size, created_ms, key_id, note) VALUES ($1, $2, $3, $4)",
        )?;
        self.tx.execute(&stmt, &[&to_i64(size), &created_ms, &key_id, &note])?;
        Ok(())
    }
}

/// The audit log in one PostgreSQL database, with its signing key. Every replica opens it
/// with the same key.
pub struct PgAuditStore {
    client: Client,
    /// `client`'s prepared statements.
    stmts: Statements,
    signer: NoteSigner,
    origin: String,
    frontier: Option<(Frontier, Hash)>,
}

impl std::fmt::Debug for PgAuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAuditStore").field("origin", &self.origin).field("signer", &self.signer).finish()
    }
}

/// A data-modifying statement written with an append ([`PgAuditStore::append_with`]): `sql`
/// (an `INSERT`, say) numbers its parameters from `$2` (`$1` is the append lock's key), and
/// `params` are `$2`, `$3`, … in order.
pub struct Also<'a> {
    /// The statement.
    pub sql: &'a str,
    /// Its parameters.
    pub params: &'a [&'a (dyn ToSql + Sync)],
}

impl std::fmt::Debug for Also<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Also").field("sql", &self.sql).finish_non_exhaustive()
    }
}

impl PgAuditStore {
    /// Connects (`postgres://…`), applies the schema (idempotent, under the append lock) and
    /// checks that `signer` is this log's key (a new log adopts it).
    pub fn open(url: &str, signer: NoteSigner) -> Result<Self, AuditError> {
        let mut client = Client::connect(url, NoTls)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])?;
        let mut sql = SCHEMA.to_owned();
        for t in ["audit_meta", "audit_keys", "audit_nodes", "audit_checkpoints"] {
            sql.push_str(&guards(t));
        }
        tx.batch_execute(&sql)?;
        let origin: Option<String> =
            tx.query_opt("SELECT value FROM audit_meta WHERE key = 'origin'", &[])?.map(|r| r.get(0));
        match origin {
            Some(o) if o != signer.name() => {
                return Err(AuditError::Key(format!(
                    "the signing key {:?} does not belong to this log ({o})",
                    signer.name()
                )));
            }
            Some(_) => {}
            None => {
                tx.execute("INSERT INTO audit_meta (key, value) VALUES ('origin', $1)", &[&signer.name()])?;
                tx.execute(
                    "INSERT INTO audit_keys (key_id, verifier, created_ms) VALUES ($1, $2, $3)",
                    &[&hex::encode(signer.key_id()), &signer.verifier().encode(), &now_ms()],
                )?;
            }
        }
        tx.commit()?;
        Ok(PgAuditStore {
            client,
            stmts: Statements::default(),
            origin: signer.name().to_owned(),
            signer,
            frontier: None,
        })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public key that verifies this log's checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// Number of entries.
    pub fn size(&mut self) -> Result<u64, AuditError> {
        let n: i64 = self.client.query_one("SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_entries", &[])?.get(0);
        Ok(to_u64(n))
    }

    /// Appends events and a signed checkpoint in one transaction; returns their sequence
    /// numbers once committed.
    pub fn append(&mut self, events: &[Event]) -> Result<Vec<u64>, AuditError> {
        self.append_with(events, None)
    }

    /// [`PgAuditStore::append`], with `also` written in the same transaction: rows that must
    /// be durable exactly when the entries are (the server's usage inbox). It runs in the
    /// statement that takes the append lock, as a data-modifying `WITH`, so it costs no round
    /// trip of its own; an error in it rolls the whole append back.
    pub fn append_with(&mut self, events: &[Event], also: Option<Also<'_>>) -> Result<Vec<u64>, AuditError> {
        log::check_events(events)?;
        let (origin, signer) = (self.origin.clone(), &self.signer);
        let mut cache = self.frontier.take();
        let mut tx = self.client.transaction()?;
        match also {
            None => {
                let lock = self.stmts.get(&mut tx, "SELECT pg_advisory_xact_lock($1)")?;
                tx.execute(&lock, &[&APPEND_LOCK])?;
            }
            Some(also) => {
                let sql = format!("WITH also AS ({}) SELECT pg_advisory_xact_lock($1)", also.sql);
                let lock = self.stmts.get(&mut tx, &sql)?;
                let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(also.params.len() + 1);
                params.push(&APPEND_LOCK);
                params.extend_from_slice(also.params);
                tx.execute(&lock, &params)?;
            }
        }
        let seqs = log::append(&mut PgWriter::new(&mut tx, &mut self.stmts), &origin, signer, &mut cache, events)?;
        tx.commit()?;
        self.frontier = cache;
        Ok(seqs)
    }

    /// Redacts the details of entry `seq` and records the redaction, in one transaction.
    pub fn redact(&mut self, seq: u64, actor: &str, reason: &str) -> Result<u64, AuditError> {
        let size = self.size()?;
        if seq >= size {
            return Err(AuditError::NoSuchEntry(seq, size));
        }
        let (origin, signer) = (self.origin.clone(), &self.signer);
        let mut cache = self.frontier.take();
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])?;
        let changed = tx.execute(
            "UPDATE audit_entries SET details = NULL, salt = NULL WHERE seq = $1 AND details IS NOT NULL",
            &[&to_i64(seq)],
        )?;
        let event = log::redaction_event(seq, actor, reason, changed == 0);
        let recorded = log::append(
            &mut PgWriter::new(&mut tx, &mut self.stmts),
            &origin,
            signer,
            &mut cache,
            std::slice::from_ref(&event),
        )?;
        tx.commit()?;
        self.frontier = cache;
        Ok(recorded[0])
    }

    /// Every entry, oldest first (for exports; use `LIMIT`-style paging in servers).
    pub fn entries(&mut self, from_seq: u64, limit: u64) -> Result<Vec<Entry>, AuditError> {
        let rows = self.client.query(
            "SELECT seq, ts_ms, actor, action, resource, outcome, details, salt, details_hash, prev_hash, hash \
             FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
            &[&to_i64(from_seq), &to_i64(limit)],
        )?;
        Ok(rows
            .iter()
            .map(|r| Entry {
                seq: to_u64(r.get(0)),
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
            })
            .collect())
    }

    /// Every stored checkpoint, by size.
    pub fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, AuditError> {
        let rows =
            self.client.query("SELECT tree_size, created_ms, note FROM audit_checkpoints ORDER BY tree_size", &[])?;
        Ok(rows
            .iter()
            .map(|r| StoredCheckpoint { tree_size: to_u64(r.get(0)), created_ms: r.get(1), note: r.get(2) })
            .collect())
    }

    /// The newest checkpoint, signing one first if the log grew since.
    pub fn checkpoint(&mut self) -> Result<StoredCheckpoint, AuditError> {
        let (origin, signer) = (self.origin.clone(), &self.signer);
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])?;
        let mut w = PgWriter::new(&mut tx, &mut self.stmts);
        let size = w.size()?;
        if let Some(note) = w.checkpoint_note(size)? {
            let created_ms: i64 =
                tx.query_one("SELECT created_ms FROM audit_checkpoints WHERE tree_size = $1", &[&to_i64(size)])?.get(0);
            tx.commit()?;
            return Ok(StoredCheckpoint { tree_size: size, created_ms, note });
        }
        let root = merkle::root(&WriterNodes(RefCell::new(&mut w)), size)?;
        let note = signer.sign(&Checkpoint { origin, size, root });
        let created_ms = now_ms();
        w.insert_checkpoint(size, created_ms, &hex::encode(signer.key_id()), &note)?;
        tx.commit()?;
        Ok(StoredCheckpoint { tree_size: size, created_ms, note })
    }

    /// The inclusion proof of entry `seq` in the tree of `size` entries (default: all).
    pub fn inclusion_proof(&mut self, seq: u64, size: Option<u64>) -> Result<InclusionProof, AuditError> {
        let (origin, signer) = (self.origin.clone(), &self.signer);
        let mut tx = self.client.transaction()?;
        let p = log::inclusion_proof(&mut PgWriter::new(&mut tx, &mut self.stmts), &origin, signer, seq, size)?;
        tx.commit()?;
        Ok(p)
    }

    /// The consistency proof between sizes `old` and `new` (default: all).
    pub fn consistency_proof(&mut self, old: u64, new: Option<u64>) -> Result<ConsistencyProof, AuditError> {
        let mut tx = self.client.transaction()?;
        let p = log::consistency_proof(&mut PgWriter::new(&mut tx, &mut self.stmts), old, new)?;
        tx.commit()?;
        Ok(p)
    }

    /// Recomputes everything (see [`super::sqlite::AuditStore::verify`]), streaming rows.
    pub fn verify(&mut self, trusted: Option<&NoteVerifier>) -> Result<Verification, AuditError> {
        self.verify_with(trusted, &[])
    }

    /// [`Self::verify`], also checking `saved` checkpoint notes kept outside the log (the log
    /// must still contain and extend each of them).
    pub fn verify_with(
        &mut self,
        trusted: Option<&NoteVerifier>,
        saved: &[String],
    ) -> Result<Verification, AuditError> {
        let mut notes: Vec<String> = self.checkpoints()?.into_iter().map(|c| c.note).collect();
        notes.extend(saved.iter().filter(|n| !notes.contains(n)).cloned().collect::<Vec<_>>());
        let sizes = notes.iter().filter_map(|n| super::checkpoint::parse_unverified(n).ok()).map(|c| c.size).collect();
        let mut checker = EntryChecker::new(sizes);
        // One snapshot for the whole check, so concurrent appends do not show up half-way.
        let mut tx =
            self.client.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start()?;
        let zero = [0u8; 32];
        {
            let params: [i64; 0] = [];
            let mut rows = tx.query_raw(
                "SELECT seq, ts_ms, actor, action, resource, outcome, details, salt, details_hash, prev_hash, hash \
                 FROM audit_entries ORDER BY seq",
                params,
            )?;
            while let Some(r) = postgres::fallible_iterator::FallibleIterator::next(&mut rows)? {
                let h = |i: usize| r.get::<_, &[u8]>(i).try_into().unwrap_or(zero);
                checker.push_raw(&RawEntry {
                    seq: to_u64(r.get(0)),
                    timestamp_ms: r.get(1),
                    actor: r.get(2),
                    action: r.get(3),
                    resource: r.get(4),
                    outcome: u8::try_from(r.get::<_, i16>(5)).unwrap_or(u8::MAX),
                    details: r.get(6),
                    salt: r.get::<_, Option<&[u8]>>(7).map(|s| s.try_into().ok()),
                    details_hash: h(8),
                    prev_hash: h(9),
                    hash: h(10),
                });
            }
        }
        {
            let params: [i64; 0] = [];
            let mut nodes = tx.query_raw("SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx", params)?;
            while let Some(r) = postgres::fallible_iterator::FallibleIterator::next(&mut nodes)? {
                let level = u32::try_from(r.get::<_, i32>(0)).unwrap_or(u32::MAX);
                checker.check_node(level, to_u64(r.get(1)), &r.get::<_, &[u8]>(2).try_into().unwrap_or(zero));
            }
        }
        let stored: Vec<(String, String)> =
            tx.query("SELECT key_id, verifier FROM audit_keys", &[])?.iter().map(|r| (r.get(0), r.get(1))).collect();
        tx.commit()?;
        let own = self.signer.verifier();
        let key = trusted.unwrap_or(&own);
        let mut v = checker.finish(&self.origin, &notes, key);
        v.problems.extend(log::key_problem(&stored, key));
        Ok(v)
    }
}
