//! The SQLite audit store: appends, proofs that verify against signed checkpoints,
//! append-only triggers, redaction, and a tamper suite that edits the database file
//! directly (as an administrator with file access could) and expects every edit to be
//! detected and pinpointed.
#![cfg(feature = "store")]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use scorpius_core::audit::{
    Event, Outcome,
    checkpoint::{NoteSigner, NoteVerifier},
    event::parse_hash,
    merkle::{verify_consistency, verify_inclusion},
    sqlite::{AuditStore, Filter, GroupCommit},
    verify::ProblemKind,
};

struct Log {
    _dir: tempfile::TempDir,
    db: PathBuf,
    key: PathBuf,
}

fn event(i: u64) -> Event {
    Event {
        timestamp_ms: 1_764_000_000_000 + i64::try_from(i).unwrap(),
        actor: if i.is_multiple_of(3) { "cli".into() } else { "key_7f3a".into() },
        action: if i.is_multiple_of(2) { "scan.transaction".into() } else { "intel.import".into() },
        resource: format!("resource-{i}"),
        outcome: Outcome::Success,
        details: serde_json::json!({ "i": i, "user": "alice@example.com" }),
    }
}

/// A log of `n` entries written in batches of 3 (so there are several checkpoints).
fn log(n: u64) -> Log {
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = (dir.path().join("audit.db"), dir.path().join("audit.key"));
    let mut store = AuditStore::open(&db, &key).unwrap();
    let events: Vec<Event> = (0..n).map(event).collect();
    for chunk in events.chunks(3) {
        store.append(chunk).unwrap();
    }
    Log { _dir: dir, db, key }
}

fn open(l: &Log) -> AuditStore {
    AuditStore::open(&l.db, &l.key).unwrap()
}

/// Opens the file directly and removes the guards, as an attacker with file access would.
fn raw(db: &Path) -> Connection {
    let c = Connection::open(db).unwrap();
    let triggers: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in triggers {
        c.execute(&format!("DROP TRIGGER {t}"), []).unwrap();
    }
    c
}

fn first_problem(l: &Log) -> (Option<u64>, ProblemKind, String) {
    let v = open(l).verify(None).unwrap();
    assert!(!v.is_ok(), "tampering went unnoticed");
    let p = v.first().unwrap().clone();
    (p.seq, p.kind, p.message)
}

#[test]
fn appends_verify_and_proofs_check_against_the_signed_checkpoint() {
    let l = log(10);
    let mut s = open(&l);
    assert_eq!(s.size().unwrap(), 10);
    let v = s.verify(None).unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    assert_eq!((v.entries, v.signed_size, v.checkpoints), (10, 10, 4));

    let key = s.verifier();
    for seq in 0..10 {
        for size in (seq + 1)..=10 {
            let p = s.inclusion_proof(seq, Some(size)).unwrap();
            let cp = key.verify(&p.checkpoint).unwrap();
            assert_eq!(cp.size, size);
            let proof: Vec<_> = p.proof.iter().map(|h| parse_hash(h).unwrap()).collect();
            verify_inclusion(&parse_hash(&p.leaf_hash).unwrap(), seq, size, &proof, &cp.root).unwrap();
        }
    }
    for old in 1..=10 {
        let c = s.consistency_proof(old, None).unwrap();
        let proof: Vec<_> = c.proof.iter().map(|h| parse_hash(h).unwrap()).collect();
        verify_consistency(old, 10, &parse_hash(&c.old_root).unwrap(), &parse_hash(&c.new_root).unwrap(), &proof)
            .unwrap();
    }
    assert!(s.inclusion_proof(10, None).is_err());
    assert!(s.consistency_proof(0, None).is_err() && s.consistency_proof(3, Some(11)).is_err());

    let scans = s.entries(&Filter { action: Some("scan.*".into()), ..Filter::default() }).unwrap();
    assert_eq!(scans.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 2, 4, 6, 8]);
    let cli = s.entries(&Filter { actor: Some("cli".into()), since_ms: Some(1_764_000_000_004), ..Filter::default() });
    assert_eq!(cli.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [6, 9]);
}

#[test]
fn the_key_file_is_private_and_never_replaced() {
    let l = log(1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&l.key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let before = std::fs::read(&l.key).unwrap();
    open(&l).append(&[event(1)]).unwrap();
    assert_eq!(std::fs::read(&l.key).unwrap(), before);
    // A different key is refused instead of silently signing with it.
    std::fs::write(&l.key, NoteSigner::generate("scorpius.local/audit/other").unwrap().private_key()).unwrap();
    let err = AuditStore::open(&l.db, &l.key).unwrap_err().to_string();
    assert!(err.contains("another key"), "{err}");
}

#[test]
fn triggers_reject_updates_and_deletes_but_allow_redaction() {
    let l = log(4);
    let c = Connection::open(&l.db).unwrap();
    for sql in [
        "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1",
        "UPDATE audit_entries SET details = '{}' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 3",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET note = 'x'",
        "DELETE FROM audit_nodes",
        "UPDATE audit_keys SET verifier = 'x'",
    ] {
        let e = c.execute(sql, []).unwrap_err().to_string();
        assert!(e.contains("append-only") || e.contains("cannot be deleted"), "{sql}: {e}");
    }
    let mut s = open(&l);
    let rec = s.redact(1, "cli", "GDPR erasure request").unwrap();
    assert_eq!(rec, 4);
    let e = &s.entries(&Filter::default()).unwrap()[1];
    assert_eq!((e.details.as_deref(), e.salt.as_deref()), (None, None));
    let last = &s.entries(&Filter::default()).unwrap()[4];
    assert_eq!((last.action.as_str(), last.resource.as_str()), ("audit.redact", "seq:1"));
    let v = s.verify(None).unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
}

#[test]
fn modified_field_is_pinpointed() {
    let l = log(9);
    raw(&l.db).execute("UPDATE audit_entries SET resource = 'innocent' WHERE seq = 4", []).unwrap();
    let (seq, kind, msg) = first_problem(&l);
    assert_eq!((seq, kind), (Some(4), ProblemKind::Modified), "{msg}");
}

#[test]
fn modified_details_are_pinpointed() {
    let l = log(9);
    raw(&l.db).execute(r#"UPDATE audit_entries SET details = '{"i":5}' WHERE seq = 5"#, []).unwrap();
    let (seq, kind, msg) = first_problem(&l);
    assert_eq!((seq, kind), (Some(5), ProblemKind::DetailsModified), "{msg}");
}

#[test]
fn rehashed_modification_is_caught_by_the_chain() {
    // The attacker also rewrites the stored hash of the entry: the next entry's link breaks.
    let l = log(9);
    let c = raw(&l.db);
    c.execute("UPDATE audit_entries SET hash = zeroblob(32) WHERE seq = 2", []).unwrap();
    let (seq, kind, msg) = first_problem(&l);
    assert_eq!(seq, Some(2), "{kind:?} {msg}");
}

#[test]
fn deleted_entry_is_pinpointed() {
    let l = log(9);
    raw(&l.db).execute("DELETE FROM audit_entries WHERE seq = 3", []).unwrap();
    let (seq, kind, msg) = first_problem(&l);
    assert_eq!((seq, kind), (Some(3), ProblemKind::Deleted), "{msg}");
}

#[test]
fn swapped_entries_are_pinpointed() {
    let l = log(9);
    let c = raw(&l.db);
    c.execute_batch(
        "UPDATE audit_entries SET seq = -1 WHERE seq = 5;
         UPDATE audit_entries SET seq = 5 WHERE seq = 6;
         UPDATE audit_entries SET seq = 6 WHERE seq = -1;",
    )
    .unwrap();
    let (seq, kind, msg) = first_problem(&l);
    assert_eq!((seq, kind), (Some(5), ProblemKind::Reordered), "{msg}");
    assert!(msg.contains("written as number 6"), "{msg}");
}

#[test]
fn truncated_tail_is_detected() {
    let l = log(9);
    raw(&l.db).execute("DELETE FROM audit_entries WHERE seq >= 7", []).unwrap();
    let v = open(&l).verify(None).unwrap();
    let t = v.problems.iter().find(|p| p.kind == ProblemKind::Truncated).expect("truncation reported");
    assert_eq!(t.seq, Some(7), "{}", t.message);
}

#[test]
fn forged_appended_entry_is_detected() {
    // A well-formed entry (correct chain, correct hash) appended without the signing key.
    let l = log(6);
    let forged_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&l.db, forged_dir.path().join("copy.db")).unwrap();
    // Build the forged row by appending to a copy with the same key, then move only the entry.
    let mut copy = AuditStore::open(&forged_dir.path().join("copy.db"), &l.key).unwrap();
    copy.append(&[event(99)]).unwrap();
    drop(copy);
    let c = raw(&l.db);
    c.execute(&format!("ATTACH '{}' AS f", forged_dir.path().join("copy.db").display()), []).unwrap();
    c.execute("INSERT INTO audit_entries SELECT * FROM f.audit_entries WHERE seq = 6", []).unwrap();
    drop(c);
    let v = open(&l).verify(None).unwrap();
    let p = v.first().expect("forgery reported");
    assert_eq!((p.seq, p.kind), (Some(6), ProblemKind::Inserted), "{}", p.message);
}

#[test]
fn inserted_entry_in_the_middle_is_pinpointed() {
    let l = log(9);
    let c = raw(&l.db);
    c.execute_batch(
        "UPDATE audit_entries SET seq = seq + 100 WHERE seq >= 4;
         UPDATE audit_entries SET seq = seq - 99 WHERE seq >= 100;
         INSERT INTO audit_entries SELECT 4, ts_ms, 'mallory', action, resource, outcome, details, salt, details_hash, prev_hash, hash FROM audit_entries WHERE seq = 3;",
    )
    .unwrap();
    let (seq, _, msg) = first_problem(&l);
    assert_eq!(seq, Some(4), "{msg}");
}

#[test]
fn replaced_checkpoint_signature_is_detected() {
    let l = log(9);
    let origin = open(&l).origin().to_owned();
    let c = raw(&l.db);
    let note: String = c.query_row("SELECT note FROM audit_checkpoints WHERE tree_size = 6", [], |r| r.get(0)).unwrap();
    let (body, sig) = note.split_once("\n\n").unwrap();
    let forged = NoteSigner::generate(&origin)
        .unwrap()
        .sign(&scorpius_core::audit::checkpoint::parse_body(&format!("{body}\n")).unwrap());
    let forged_sig = forged.split_once("\n\n").unwrap().1;
    assert_ne!(sig, forged_sig);
    c.execute("UPDATE audit_checkpoints SET note = ?1 WHERE tree_size = 6", [format!("{body}\n\n{forged_sig}")])
        .unwrap();
    let v = open(&l).verify(None).unwrap();
    let p = v.problems.iter().find(|p| p.kind == ProblemKind::BadSignature).expect("bad signature reported");
    assert_eq!(p.seq, Some(5), "{}", p.message);
}

#[test]
fn swapped_public_key_is_detected() {
    let l = log(3);
    let other = NoteSigner::generate(open(&l).origin()).unwrap().verifier();
    raw(&l.db)
        .execute("UPDATE audit_keys SET verifier = ?1, key_id = ?2", [other.encode(), hex::encode(other.key_id())])
        .unwrap();
    let v = open(&l).verify(None).unwrap();
    assert!(v.problems.iter().any(|p| p.kind == ProblemKind::KeyMismatch), "{:?}", v.problems);
    // And a verifier given another key rejects every checkpoint.
    let v = open(&l).verify(Some(&other)).unwrap();
    assert!(v.problems.iter().any(|p| p.kind == ProblemKind::BadSignature), "{:?}", v.problems);
}

#[test]
fn tampered_merkle_node_is_detected() {
    let l = log(9);
    raw(&l.db).execute("UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 0", []).unwrap();
    let (seq, kind, msg) = first_problem(&l);
    assert_eq!((seq, kind), (Some(0), ProblemKind::NodeMismatch), "{msg}");
}

#[test]
fn group_commit_acknowledges_every_event_once_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = AuditStore::open(&dir.path().join("a.db"), &dir.path().join("k")).unwrap();
    let writer = std::sync::Arc::new(GroupCommit::start(store, 256));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let w = writer.clone();
            std::thread::spawn(move || (0..50).map(|i| w.append(event(t * 100 + i)).unwrap()).collect::<Vec<_>>())
        })
        .collect();
    let mut seqs: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
    let store = std::sync::Arc::try_unwrap(writer).unwrap().close().unwrap();
    let v = store.verify(None).unwrap();
    assert!(v.is_ok() && v.entries == 200, "{:?}", v.problems);
    let _ = NoteVerifier::parse(&store.verifier().encode()).unwrap();
}

/// An event the log refuses (a field over the limit) is refused alone, before it can join a
/// batch: events queued beside it are committed.
#[test]
fn group_commit_refuses_an_invalid_event_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = AuditStore::open(&dir.path().join("a.db"), &dir.path().join("k")).unwrap();
    let writer = GroupCommit::start(store, 256);
    let mut bad = event(1);
    bad.resource = "x".repeat(scorpius_core::audit::log::MAX_FIELD + 1);
    let (tx, rx) = std::sync::mpsc::channel();
    for e in [event(0), bad, event(2)] {
        let tx = tx.clone();
        let queued = writer.append_then(e, Box::new(move |r| tx.send(r).unwrap()));
        if let Err(err) = queued {
            assert!(err.to_string().contains("resource"), "{err}");
        }
    }
    drop(tx);
    let acks: Vec<_> = rx.iter().collect();
    assert_eq!(acks, vec![Ok(0), Ok(1)], "the two valid events are committed");
    let store = writer.close().unwrap();
    assert_eq!(store.verify(None).unwrap().entries, 2);
}

/// One entry checked on its own, as a tenant's partial view is (the SDK's `verify_audit`):
/// every stored entry passes, and each kind of edit to an exported copy is named.
#[test]
fn an_entry_alone_is_checked_against_its_hash_and_details() {
    use scorpius_core::audit::verify::entry_problem;
    let l = log(6);
    let entries = open(&l).entries(&Filter::default()).unwrap();
    assert_eq!(entries.len(), 6);
    let mut buf = Vec::new();
    for e in &entries {
        assert_eq!(entry_problem(e, &mut buf), None, "entry {}", e.seq);
    }
    let kind = |e: &scorpius_core::audit::Entry| entry_problem(e, &mut Vec::new()).map(|p| (p.seq, p.kind));
    let mut moved = entries[2].clone();
    moved.resource = "innocent".into();
    assert_eq!(kind(&moved), Some((Some(2), ProblemKind::Modified)));
    let mut details = entries[3].clone();
    details.details = Some(r#"{"i":99}"#.into());
    assert_eq!(kind(&details), Some((Some(3), ProblemKind::DetailsModified)));
    let mut salt = entries[3].clone();
    salt.salt = None;
    assert_eq!(kind(&salt), Some((Some(3), ProblemKind::Malformed)));
    let mut hash = entries[4].clone();
    hash.hash = "zz".into();
    assert_eq!(kind(&hash), Some((Some(4), ProblemKind::Malformed)));
    // A redacted entry (no details, no salt) still verifies.
    let mut redacted = entries[5].clone();
    (redacted.details, redacted.salt) = (None, None);
    assert_eq!(kind(&redacted), None);
}
