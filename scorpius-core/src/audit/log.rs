//! What every audit store shares: errors, the signing key file, and the append algorithm
//! (sequence, chain, Merkle nodes, signed checkpoint) over a small [`LogWriter`] interface
//! that the SQLite and PostgreSQL stores implement inside their own transactions.

use std::{cell::RefCell, fs, io::Write as _, path::Path};

use super::{
    checkpoint::{Checkpoint, CheckpointError, NoteSigner, NoteVerifier},
    event::{Event, LeafFields, details_hash},
    merkle::{self, Frontier, Hash, NodeSource},
    verify::{Problem, ProblemKind},
};
// The proof and checkpoint shapes are wire types (`GET /v1/audit/*`), shared with the SDK.
pub use crate::api::audit::{ConsistencyProof, InclusionProof, StoredCheckpoint};

/// Longest actor, action or resource accepted, in bytes.
pub const MAX_FIELD: usize = 4096;

/// Audit store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// SQLite reported an error.
    #[cfg(feature = "store")]
    #[error("audit log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error.
    #[cfg(feature = "postgres")]
    #[error("audit log: {0}")]
    Postgres(#[from] postgres::Error),
    /// Reading or writing the key file failed.
    #[error("audit signing key {path}: {source}")]
    KeyFile {
        /// The key file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file or a stored key does not parse, or does not belong to this log.
    #[error("audit signing key: {0}")]
    Key(String),
    /// An event field is empty or too long.
    #[error("audit event: {0}")]
    InvalidEvent(String),
    /// No entry with this sequence number.
    #[error("no audit entry {0} (the log has {1} entries)")]
    NoSuchEntry(u64, u64),
    /// Proof sizes out of range.
    #[error("{0}")]
    Range(String),
    /// Stored data that does not parse.
    #[error("audit log: corrupt record: {0}")]
    Corrupt(String),
    /// The group-commit writer stopped.
    #[error("audit log writer stopped")]
    WriterGone,
    /// The group-commit writer could not commit a batch.
    #[error("audit log: append failed: {0}")]
    Writer(String),
}

impl From<CheckpointError> for AuditError {
    fn from(e: CheckpointError) -> Self {
        AuditError::Key(e.to_string())
    }
}

pub(crate) fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn random32() -> Result<[u8; 32], AuditError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AuditError::Key(format!("no randomness: {e}")))?;
    Ok(b)
}

/// Loads the signing key, or creates it (mode 0600, never overwritten) under `name`.
pub fn load_or_create_key(path: &Path, name: impl FnOnce() -> String) -> Result<NoteSigner, AuditError> {
    let io = |source| AuditError::KeyFile { path: path.display().to_string(), source };
    match fs::read_to_string(path) {
        Ok(s) => return Ok(NoteSigner::from_private_key(&s)?),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let signer = NoteSigner::generate(&name())?;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(signer.private_key().as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
            Ok(signer)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(NoteSigner::from_private_key(&fs::read_to_string(path).map_err(io)?)?)
        }
        Err(e) => Err(io(e)),
    }
}

/// One entry about to be stored.
#[derive(Debug, Clone, Copy)]
pub struct NewEntry<'a> {
    /// Sequence number.
    pub seq: u64,
    /// The event.
    pub event: &'a Event,
    /// The details as the JSON text that was hashed.
    pub details: &'a str,
    /// The details salt.
    pub salt: &'a Hash,
    /// Salted details hash.
    pub details_hash: &'a Hash,
    /// Previous entry hash.
    pub prev_hash: &'a Hash,
    /// This entry's hash.
    pub hash: &'a Hash,
}

/// The storage operations the append algorithm needs, all inside the caller's transaction
/// (which must exclude concurrent appenders: SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory
/// lock).
pub trait LogWriter {
    /// Number of entries.
    fn size(&mut self) -> Result<u64, AuditError>;
    /// A perfect subtree hash: level 0 is an entry hash, higher levels stored nodes.
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, AuditError>;
    /// Stores an entry.
    fn insert_entry(&mut self, entry: &NewEntry<'_>) -> Result<(), AuditError>;
    /// Stores a completed perfect subtree of level ≥ 1.
    fn insert_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), AuditError>;
    /// The stored checkpoint note for exactly `size` entries, if any.
    fn checkpoint_note(&mut self, size: u64) -> Result<Option<String>, AuditError>;
    /// Stores a signed checkpoint.
    fn insert_checkpoint(&mut self, size: u64, created_ms: i64, key_id: &str, note: &str) -> Result<(), AuditError>;
}

/// Reads perfect nodes through a [`LogWriter`] (for proofs and the frontier).
pub(crate) struct WriterNodes<'a, W: LogWriter>(pub RefCell<&'a mut W>);

impl<W: LogWriter> NodeSource for WriterNodes<'_, W> {
    type Error = AuditError;

    fn perfect(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        self.0.borrow_mut().perfect(level, index)
    }
}

/// The entry that records the redaction of entry `seq` (appended in the redaction's
/// transaction by every store).
pub fn redaction_event(seq: u64, actor: &str, reason: &str, already_redacted: bool) -> Event {
    Event::now(
        actor,
        "audit.redact",
        format!("seq:{seq}"),
        super::event::Outcome::Success,
        serde_json::json!({ "seq": seq, "reason": reason, "already_redacted": already_redacted }),
    )
}

/// Rejects events whose fields the leaf encoding or the stores cannot hold.
pub fn check_events(events: &[Event]) -> Result<(), AuditError> {
    for e in events {
        for (name, v) in [("actor", &e.actor), ("action", &e.action), ("resource", &e.resource)] {
            if v.is_empty() || v.len() > MAX_FIELD {
                return Err(AuditError::InvalidEvent(format!("{name} must be 1 to {MAX_FIELD} bytes")));
            }
        }
    }
    Ok(())
}

/// Appends `events` and a signed checkpoint covering them. `cache` is the right edge after
/// this handle's last append: reused when nobody appended since (same size, same last hash),
/// rebuilt from the stored nodes otherwise.
pub fn append<W: LogWriter>(
    w: &mut W,
    origin: &str,
    signer: &NoteSigner,
    cache: &mut Option<(Frontier, Hash)>,
    events: &[Event],
) -> Result<Vec<u64>, AuditError> {
    check_events(events)?;
    let size = w.size()?;
    let mut prev = if size == 0 { [0; 32] } else { w.perfect(0, size - 1)? };
    let mut frontier = match cache.take() {
        Some((f, last)) if f.size() == size && last == prev => f,
        _ => Frontier::from_source(&WriterNodes(RefCell::new(&mut *w)), size)?,
    };
    let mut seqs = Vec::with_capacity(events.len());
    let mut nodes: Vec<(u32, u64, Hash)> = Vec::new();
    let mut buf = Vec::with_capacity(256);
    for e in events {
        let seq = frontier.size();
        let details = serde_json::to_string(&e.details).unwrap_or_else(|_| "null".into());
        let salt = random32()?;
        let dh = details_hash(&salt, &details);
        let fields = LeafFields {
            seq,
            timestamp_ms: e.timestamp_ms,
            actor: &e.actor,
            action: &e.action,
            resource: &e.resource,
            outcome: e.outcome.code(),
            details_hash: &dh,
            prev_hash: &prev,
        };
        let hash = fields.hash(&mut buf);
        w.insert_entry(&NewEntry {
            seq,
            event: e,
            details: &details,
            salt: &salt,
            details_hash: &dh,
            prev_hash: &prev,
            hash: &hash,
        })?;
        nodes.clear();
        frontier.push(hash, |level, idx, h| {
            if level > 0 {
                nodes.push((level, idx, *h));
            }
        });
        for (level, idx, h) in &nodes {
            w.insert_node(*level, *idx, h)?;
        }
        prev = hash;
        seqs.push(seq);
    }
    let cp = Checkpoint { origin: origin.to_owned(), size: frontier.size(), root: frontier.root() };
    w.insert_checkpoint(cp.size, now_ms(), &hex::encode(signer.key_id()), &signer.sign(&cp))?;
    *cache = Some((frontier, prev));
    Ok(seqs)
}

/// The inclusion proof of entry `seq` in the tree of `size` entries (default: all), with the
/// stored checkpoint for that size (signed now when none was stored for exactly that size).
pub fn inclusion_proof<W: LogWriter>(
    w: &mut W,
    origin: &str,
    signer: &NoteSigner,
    seq: u64,
    size: Option<u64>,
) -> Result<InclusionProof, AuditError> {
    let total = w.size()?;
    let size = size.unwrap_or(total);
    if size > total {
        return Err(AuditError::Range(format!("tree size {size} is larger than the log ({total} entries)")));
    }
    if seq >= size {
        return Err(AuditError::NoSuchEntry(seq, size));
    }
    let (proof, leaf, root) = {
        let nodes = WriterNodes(RefCell::new(&mut *w));
        let proof = merkle::inclusion_proof(&nodes, seq, size)?.unwrap_or_default();
        (proof, nodes.perfect(0, seq)?, merkle::root(&nodes, size)?)
    };
    let checkpoint = match w.checkpoint_note(size)? {
        Some(n) => n,
        None => signer.sign(&Checkpoint { origin: origin.to_owned(), size, root }),
    };
    Ok(InclusionProof {
        seq,
        tree_size: size,
        leaf_hash: hex::encode(leaf),
        proof: proof.iter().map(hex::encode).collect(),
        root: hex::encode(root),
        checkpoint,
    })
}

/// The consistency proof between sizes `old` and `new` (default: all).
pub fn consistency_proof<W: LogWriter>(w: &mut W, old: u64, new: Option<u64>) -> Result<ConsistencyProof, AuditError> {
    let total = w.size()?;
    let new = new.unwrap_or(total);
    if new > total {
        return Err(AuditError::Range(format!("new size {new} is larger than the log ({total} entries)")));
    }
    if old == 0 || old > new {
        return Err(AuditError::Range(format!("need 0 < old size ≤ new size, got {old} and {new}")));
    }
    let nodes = WriterNodes(RefCell::new(w));
    let proof = merkle::consistency_proof(&nodes, old, new)?.unwrap_or_default();
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        old_root: hex::encode(merkle::root(&nodes, old)?),
        new_root: hex::encode(merkle::root(&nodes, new)?),
        proof: proof.iter().map(hex::encode).collect(),
    })
}

/// A problem when none of the stored `(key id, verifier key)` pairs is the verifying key.
pub fn key_problem(stored: &[(String, String)], key: &NoteVerifier) -> Option<Problem> {
    let want = key.encode();
    if stored.iter().any(|(id, k)| *k == want && *id == hex::encode(key.key_id())) {
        return None;
    }
    Some(Problem {
        seq: None,
        kind: ProblemKind::KeyMismatch,
        message: format!(
            "the public key stored in the log ({}) is not the key that verifies it ({want})",
            stored.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
    })
}
