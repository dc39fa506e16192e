//! The PostgreSQL audit store on a real server (127.0.0.1:5432, or
//! `SCORPIUS_TEST_POSTGRES_URL`): several "replicas" appending at once, proofs, append-only
//! triggers, redaction, and tampering by a superuser who disables the triggers.
#![cfg(feature = "postgres")]

use postgres::{Client, NoTls};
use scorpius_core::audit::{
    Event, Outcome, checkpoint::NoteSigner, event::parse_hash, merkle::verify_inclusion, postgres::PgAuditStore,
    verify::ProblemKind,
};

fn server_url() -> String {
    std::env::var("SCORPIUS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh database, dropped at the end of the test.
struct TestDb {
    name: String,
}

impl TestDb {
    fn new() -> Self {
        let mut admin = Client::connect(&format!("{}/postgres", server_url()), NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for this test at {} ({e}); start it or set SCORPIUS_TEST_POSTGRES_URL",
                server_url()
            )
        });
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).unwrap();
        let name = format!("scorpius_audit_{}", hex::encode(id));
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        TestDb { name }
    }

    fn url(&self) -> String {
        format!("{}/{}", server_url(), self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&format!("{}/postgres", server_url()), NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

fn event(i: u64) -> Event {
    Event::now("key_a1", "scan.transaction", format!("r{i}"), Outcome::Success, serde_json::json!({ "i": i }))
}

const SEED: [u8; 32] = [11; 32];

fn signer() -> NoteSigner {
    NoteSigner::from_seed("scorpius.test/audit/pg", &SEED).unwrap()
}

#[test]
fn replicas_append_concurrently_and_the_log_verifies() {
    let db = TestDb::new();
    PgAuditStore::open(&db.url(), signer()).unwrap();
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let url = db.url();
            std::thread::spawn(move || {
                let mut store = PgAuditStore::open(&url, signer()).unwrap();
                let mut seqs = Vec::new();
                for i in 0..20 {
                    seqs.extend(store.append(&[event(t * 100 + i), event(t * 100 + i + 50)]).unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..120).collect::<Vec<_>>());
    let mut store = PgAuditStore::open(&db.url(), signer()).unwrap();
    let v = store.verify(None).unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    assert_eq!((v.entries, v.signed_size), (120, 120));

    let p = store.inclusion_proof(77, None).unwrap();
    let cp = store.verifier().verify(&p.checkpoint).unwrap();
    let proof: Vec<_> = p.proof.iter().map(|h| parse_hash(h).unwrap()).collect();
    verify_inclusion(&parse_hash(&p.leaf_hash).unwrap(), 77, 120, &proof, &cp.root).unwrap();
    assert_eq!(store.consistency_proof(40, None).unwrap().new_root, p.root);
    assert_eq!(store.entries(118, 10).unwrap().len(), 2);

    // Another key is refused.
    let other = NoteSigner::from_seed("scorpius.test/audit/other", &SEED).unwrap();
    assert!(PgAuditStore::open(&db.url(), other).unwrap_err().to_string().contains("does not belong"));
}

#[test]
fn triggers_guard_the_tables_and_redaction_keeps_it_verifiable() {
    let db = TestDb::new();
    let mut store = PgAuditStore::open(&db.url(), signer()).unwrap();
    store.append(&[event(0), event(1), event(2)]).unwrap();
    let mut c = Client::connect(&db.url(), NoTls).unwrap();
    for sql in [
        "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1",
        "UPDATE audit_entries SET details = '{}' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 2",
        "TRUNCATE audit_entries",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_nodes SET hash = hash",
        "TRUNCATE audit_keys",
    ] {
        let e = c.batch_execute(sql).unwrap_err();
        let msg = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
        assert!(msg.contains("append-only"), "{sql}: {msg}");
    }
    assert_eq!(store.redact(1, "admin", "erasure").unwrap(), 3);
    let e = &store.entries(0, 10).unwrap()[1];
    assert_eq!((e.details.as_deref(), e.salt.as_deref()), (None, None));
    assert!(store.verify(None).unwrap().is_ok());
}

#[test]
fn a_superuser_edit_is_pinpointed() {
    let db = TestDb::new();
    let mut store = PgAuditStore::open(&db.url(), signer()).unwrap();
    for i in 0..6 {
        store.append(&[event(i)]).unwrap();
    }
    let mut c = Client::connect(&db.url(), NoTls).unwrap();
    c.batch_execute(
        "ALTER TABLE audit_entries DISABLE TRIGGER ALL;
         UPDATE audit_entries SET resource = 'innocent' WHERE seq = 3;
         DELETE FROM audit_entries WHERE seq = 5;",
    )
    .unwrap();
    let v = store.verify(None).unwrap();
    let first = v.first().unwrap();
    assert_eq!((first.seq, first.kind), (Some(3), ProblemKind::Modified), "{:?}", v.problems);
    assert!(v.problems.iter().any(|p| p.kind == ProblemKind::Truncated), "{:?}", v.problems);
}
