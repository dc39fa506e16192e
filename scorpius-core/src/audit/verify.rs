//! Offline verification of an audit log: recompute every entry hash, the hash chain, the
//! Merkle tree and every checkpoint, and say where the log was tampered with.
//!
//! The same code checks a live store (`scorpius audit verify`) and an exported bundle
//! (`scorpius audit verify-bundle`): the caller streams entries in sequence order into an
//! [`EntryChecker`], then hands it the checkpoints and the trusted public key.

use serde::Serialize;

use super::{
    checkpoint::{NoteVerifier, parse_unverified},
    event::{Entry, LeafFields, details_hash, parse_hash},
    merkle::{Hash, MemoryTree},
};

/// What kind of tampering or damage a problem shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// An entry's content no longer matches its hash or the next entry's link.
    Modified,
    /// The details no longer match the committed details hash.
    DetailsModified,
    /// Sequence numbers skip: entries were removed.
    Deleted,
    /// An entry sits at another position than the one it was written at.
    Reordered,
    /// Entries that no signed checkpoint covers, or that do not belong.
    Inserted,
    /// A signed checkpoint covers more entries than the log holds.
    Truncated,
    /// A checkpoint signature does not verify.
    BadSignature,
    /// A validly signed checkpoint does not match the log.
    InconsistentCheckpoint,
    /// The stored public key does not match the signing key.
    KeyMismatch,
    /// A stored Merkle node does not match the entries.
    NodeMismatch,
    /// A record cannot be parsed.
    Malformed,
}

/// One problem found, with the first sequence number it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The entry it concerns, when it concerns one.
    pub seq: Option<u64>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// Plain-language description.
    pub message: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Entries read.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// Size of the newest valid checkpoint.
    pub signed_size: u64,
    /// Merkle root of the entries as read (hex).
    pub root: String,
    /// Everything wrong, in order of sequence number (log-wide problems last).
    pub problems: Vec<Problem>,
}

impl Verification {
    /// Whether the log verified.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first problem, by sequence number.
    pub fn first(&self) -> Option<&Problem> {
        self.problems.iter().min_by_key(|p| p.seq.unwrap_or(u64::MAX))
    }
}

/// An entry as read from storage, borrowing its text.
#[derive(Debug, Clone, Copy)]
pub struct RawEntry<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Unix ms.
    pub timestamp_ms: i64,
    /// Actor.
    pub actor: &'a str,
    /// Action.
    pub action: &'a str,
    /// Resource.
    pub resource: &'a str,
    /// Outcome byte as stored.
    pub outcome: u8,
    /// Details text, unless redacted.
    pub details: Option<&'a str>,
    /// Salt, unless redacted; `Some(None)` when present but not 32 bytes.
    pub salt: Option<Option<Hash>>,
    /// Committed details hash.
    pub details_hash: Hash,
    /// Link to the previous entry.
    pub prev_hash: Hash,
    /// Stored entry hash.
    pub hash: Hash,
}

/// An exported entry as stored (`None` when one of its hashes is not 32 bytes of hex).
fn raw_of(e: &Entry) -> Option<RawEntry<'_>> {
    Some(RawEntry {
        seq: e.seq,
        timestamp_ms: e.timestamp_ms,
        actor: &e.actor,
        action: &e.action,
        resource: &e.resource,
        outcome: e.outcome.code(),
        details: e.details.as_deref(),
        salt: e.salt.as_deref().map(parse_hash),
        details_hash: parse_hash(&e.details_hash)?,
        prev_hash: parse_hash(&e.prev_hash)?,
        hash: parse_hash(&e.hash)?,
    })
}

/// The leaf fields an entry's hash covers.
fn leaf_of<'a>(e: &'a RawEntry<'a>) -> LeafFields<'a> {
    LeafFields {
        seq: e.seq,
        timestamp_ms: e.timestamp_ms,
        actor: e.actor,
        action: e.action,
        resource: e.resource,
        outcome: e.outcome,
        details_hash: &e.details_hash,
        prev_hash: &e.prev_hash,
    }
}

/// Details that no longer match their committed hash, or a malformed salt.
fn details_problem(e: &RawEntry<'_>) -> Option<(ProblemKind, String)> {
    let seq = e.seq;
    match (e.details, e.salt) {
        (Some(d), Some(Some(salt))) if details_hash(&salt, d) == e.details_hash => None,
        (Some(_), Some(Some(_))) => Some((
            ProblemKind::DetailsModified,
            format!("the details of entry {seq} were modified: they no longer match their committed hash"),
        )),
        (Some(_), Some(None)) => Some((ProblemKind::Malformed, format!("entry {seq} has a malformed salt"))),
        (None, None) => None,
        _ => {
            Some((ProblemKind::Malformed, format!("entry {seq} has details without a salt or a salt without details")))
        }
    }
}

/// The first problem an exported entry shows on its own: a malformed hash, details that no
/// longer match their committed hash, or fields that no longer match its hash. For readers
/// who see only some entries (a tenant's view), where the chain cannot be followed;
/// [`EntryChecker`] adds the order and the links.
pub fn entry_problem(e: &Entry, buf: &mut Vec<u8>) -> Option<Problem> {
    let seq = e.seq;
    let problem = |kind, message| Some(Problem { seq: Some(seq), kind, message });
    let Some(raw) = raw_of(e) else {
        return problem(ProblemKind::Malformed, format!("entry {seq} has a malformed hash"));
    };
    if let Some((kind, message)) = details_problem(&raw) {
        return problem(kind, message);
    }
    if leaf_of(&raw).hash(buf) != raw.hash {
        return problem(
            ProblemKind::Modified,
            format!("entry {seq} was modified: its fields no longer match its hash"),
        );
    }
    None
}

/// Streams entries in order and checks each one and its link to the previous one.
#[derive(Debug)]
pub struct EntryChecker {
    tree: MemoryTree,
    prev: Hash,
    prev_bad: bool,
    expected: u64,
    buf: Vec<u8>,
    problems: Vec<Problem>,
    /// Checkpoint sizes still to reach (ascending) and the roots recorded at them.
    pending: Vec<u64>,
    roots: Vec<(u64, Hash)>,
    /// Sequence numbers with entry-level problems (ascending).
    bad: Vec<u64>,
}

impl EntryChecker {
    /// A checker; `checkpoint_sizes` are the sizes whose roots must be recorded on the way.
    pub fn new(mut checkpoint_sizes: Vec<u64>) -> Self {
        checkpoint_sizes.sort_unstable();
        checkpoint_sizes.dedup();
        checkpoint_sizes.reverse();
        let mut c = EntryChecker {
            tree: MemoryTree::default(),
            prev: [0; 32],
            prev_bad: false,
            expected: 0,
            buf: Vec::with_capacity(256),
            problems: Vec::new(),
            pending: checkpoint_sizes,
            roots: Vec::new(),
            bad: Vec::new(),
        };
        c.record_roots();
        c
    }

    fn record_roots(&mut self) {
        while self.pending.last() == Some(&self.tree.size()) {
            self.pending.pop();
            self.roots.push((self.tree.size(), self.tree.root()));
        }
    }

    fn problem(&mut self, seq: u64, kind: ProblemKind, message: String) {
        self.bad.push(seq);
        self.problems.push(Problem { seq: Some(seq), kind, message });
    }

    /// Checks the next entry (as exported: hashes in hex).
    pub fn push(&mut self, e: &Entry) {
        let Some(raw) = raw_of(e) else {
            if !self.sequence(e.seq) {
                return;
            }
            let seq = e.seq;
            self.problem(seq, ProblemKind::Malformed, format!("entry {seq} has a malformed hash"));
            self.tree.push([0; 32]);
            self.prev_bad = true;
            self.record_roots();
            return;
        };
        self.push_raw(&raw);
    }

    /// Sequence-number checks; `false` when the entry must be skipped.
    fn sequence(&mut self, seq: u64) -> bool {
        if seq > self.expected {
            let (a, b) = (self.expected, seq - 1);
            let which = if a == b { format!("entry {a} is") } else { format!("entries {a}–{b} are") };
            self.problem(a, ProblemKind::Deleted, format!("{which} missing: the sequence jumps to {seq}"));
            self.prev_bad = true;
        } else if seq < self.expected {
            self.problem(
                seq,
                ProblemKind::Reordered,
                format!("entry {seq} appears again after entry {}", self.expected - 1),
            );
            return false;
        }
        self.expected = seq + 1;
        true
    }

    /// Checks the next entry (as stored: hashes as bytes, text borrowed from the row).
    pub fn push_raw(&mut self, e: &RawEntry<'_>) {
        if !self.sequence(e.seq) {
            return;
        }
        let seq = e.seq;
        let (prev, stored) = (e.prev_hash, e.hash);
        if let Some((kind, message)) = details_problem(e) {
            self.problem(seq, kind, message);
        }
        let fields = leaf_of(e);
        let computed = fields.hash(&mut self.buf);
        let mut own_bad = false;
        if computed != stored {
            own_bad = true;
            // Written at another position? The sequence number is part of the hash.
            let origin = (seq.saturating_sub(64)..seq + 64)
                .filter(|&s| s != seq)
                .find(|&s| LeafFields { seq: s, ..fields }.hash(&mut Vec::new()) == stored);
            match origin {
                Some(s) => self.problem(
                    seq,
                    ProblemKind::Reordered,
                    format!("entry {seq} holds the entry written as number {s}: entries were swapped or moved"),
                ),
                None => self.problem(
                    seq,
                    ProblemKind::Modified,
                    format!("entry {seq} was modified: its fields no longer match its hash"),
                ),
            }
        } else if prev != self.prev && !self.prev_bad {
            if seq == 0 {
                self.problem(seq, ProblemKind::Modified, "entry 0 links to a predecessor, but it is the first".into());
            } else {
                let p = seq - 1;
                self.problem(
                    p,
                    ProblemKind::Modified,
                    format!("entry {p} was modified or replaced: its hash no longer matches the link in entry {seq}"),
                );
            }
        }
        self.tree.push(computed);
        self.prev = computed;
        self.prev_bad = own_bad;
        self.record_roots();
    }

    /// Number of entries read.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The tree of the recomputed entry hashes.
    pub fn tree(&self) -> &MemoryTree {
        &self.tree
    }

    /// Compares a stored perfect node (level ≥ 1) with the recomputed one.
    pub fn check_node(&mut self, level: u32, index: u64, hash: &Hash) {
        let span = 1u64.checked_shl(level).unwrap_or(u64::MAX);
        let first = index.saturating_mul(span);
        if level == 0 || index.saturating_add(1).saturating_mul(span) > self.tree.size() {
            self.problems.push(Problem {
                seq: Some(first),
                kind: ProblemKind::NodeMismatch,
                message: format!("stored Merkle node ({level}, {index}) covers entries the log does not hold"),
            });
            return;
        }
        // Entries already reported change the recomputed node: that is not news.
        let last = first + span - 1;
        let i = self.bad.partition_point(|&s| s < first);
        if self.bad.get(i).is_some_and(|&s| s <= last) {
            return;
        }
        let want = super::merkle::subtree_hash(&self.tree, first, first + span).unwrap_or_else(|never| match never {});
        if want != *hash {
            self.problems.push(Problem {
                seq: Some(first),
                kind: ProblemKind::NodeMismatch,
                message: format!(
                    "stored Merkle node ({level}, {index}) over entries {first}–{} does not match them",
                    first + span - 1
                ),
            });
        }
    }

    /// Checks the checkpoints (signed notes) against the entries read and the trusted key.
    pub fn finish(mut self, origin: &str, checkpoints: &[String], key: &NoteVerifier) -> Verification {
        let size = self.tree.size();
        let mut signed_size = 0;
        let mut claimed_size = 0;
        let mut log_wide = Vec::new();
        for note in checkpoints {
            let claimed = parse_unverified(note).ok();
            claimed_size = claimed_size.max(claimed.as_ref().map_or(0, |c| c.size));
            let what = claimed.as_ref().map_or_else(|| "a checkpoint".to_owned(), |c| format!("checkpoint {}", c.size));
            let cp = match key.verify(note) {
                Ok(cp) => cp,
                Err(e) => {
                    log_wide.push(Problem {
                        seq: claimed.map(|c| c.size.saturating_sub(1)),
                        kind: ProblemKind::BadSignature,
                        message: format!("{what}: {e}"),
                    });
                    continue;
                }
            };
            if cp.origin != origin {
                log_wide.push(Problem {
                    seq: None,
                    kind: ProblemKind::InconsistentCheckpoint,
                    message: format!("{what} is for log {:?}, not {origin:?}", cp.origin),
                });
                continue;
            }
            if cp.size > size {
                log_wide.push(Problem {
                    seq: Some(size),
                    kind: ProblemKind::Truncated,
                    message: format!(
                        "the log was truncated: {what} is signed for {} entries, but only {size} remain (entries {size}–{} are gone)",
                        cp.size,
                        cp.size - 1
                    ),
                });
                continue;
            }
            let root = self
                .roots
                .iter()
                .find(|(s, _)| *s == cp.size)
                .map(|(_, r)| *r)
                .unwrap_or_else(|| self.tree.root_at(cp.size));
            if root != cp.root {
                log_wide.push(Problem {
                    seq: cp.size.checked_sub(1),
                    kind: ProblemKind::InconsistentCheckpoint,
                    message: format!("the first {} entries do not match the signed {what}", cp.size),
                });
                continue;
            }
            signed_size = signed_size.max(cp.size);
        }
        // Entries beyond every checkpoint (even an invalid one) were added without the key;
        // a shorter valid prefix only repeats the checkpoint problems reported above.
        if claimed_size < size {
            let last = size - 1;
            let which = if claimed_size == last {
                format!("entry {last} is")
            } else {
                format!("entries {claimed_size}–{last} are")
            };
            log_wide.push(Problem {
                seq: Some(claimed_size),
                kind: ProblemKind::Inserted,
                message: format!("{which} not covered by any signed checkpoint: added without the log's key"),
            });
        }
        self.problems.sort_by_key(|p| p.seq.unwrap_or(u64::MAX));
        self.problems.extend(log_wide);
        Verification {
            entries: size,
            checkpoints: checkpoints.len(),
            signed_size,
            root: hex::encode(self.tree.root()),
            problems: self.problems,
        }
    }
}
