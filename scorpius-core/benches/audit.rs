//! Audit log benchmarks (figures in docs/PERFORMANCE.md):
//!
//! - durable appends through the group-commit writer from 8 and from 64 concurrent producers
//!   (each waits for its acknowledgement, as a request handler does; target ≥ 20,000
//!   events/s): a batch holds what queued up during the previous commit's fsync;
//! - `verify` of a 1,000,000-entry log (target ≤ 3 s);
//! - an inclusion proof for one entry of that log (target ≤ 1 ms).
//!
//! The million-entry log is built once (in batches of 1,000, as a busy server's group commit
//! would write it) and kept in `target/audit-bench/` for later runs.
//!
//! Run: `cargo bench -p scorpius-core --features store --bench audit`

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scorpius_core::audit::{
    Event, Outcome,
    sqlite::{AuditStore, GroupCommit},
};

const BIG: u64 = 1_000_000;

fn event(i: u64) -> Event {
    Event {
        timestamp_ms: 1_764_000_000_000 + i64::try_from(i).unwrap_or(0),
        actor: "key_01HZX3".into(),
        action: "scan.transaction".into(),
        resource: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into(),
        outcome: Outcome::Success,
        details: serde_json::json!({ "scan_id": "9748e64b-3abe-48b7-8344-b1823887bec7", "risk_score": 88, "findings": 4 }),
    }
}

fn big_log() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/audit-bench");
    let (db, key) = (dir.join("audit-1m.sqlite"), dir.join("audit-1m.key"));
    if db.exists() && AuditStore::open(&db, &key).and_then(|s| s.size()).ok() == Some(BIG) {
        return (db, key);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = AuditStore::open(&db, &key).expect("creating the bench log");
    let started = Instant::now();
    let mut i = 0;
    while i < BIG {
        let batch: Vec<Event> = (i..i + 1000).map(event).collect();
        store.append(&batch).expect("append");
        i += 1000;
    }
    eprintln!("built a {BIG}-entry audit log in {:.1} s", started.elapsed().as_secs_f64());
    (db, key)
}

fn appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("audit");
    const PER_ITER: u64 = 4_000;
    g.throughput(Throughput::Elements(PER_ITER));
    g.sample_size(10);
    for producers in [8u64, 64] {
        g.bench_function(format!("append/group-commit-{producers}-producers"), |b| {
            let dir = tempfile::tempdir().unwrap();
            let store = AuditStore::open(&dir.path().join("a.sqlite"), &dir.path().join("k")).unwrap();
            let writer = Arc::new(GroupCommit::start(store, 1024));
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let threads: Vec<_> = (0..producers)
                        .map(|t| {
                            let w = writer.clone();
                            std::thread::spawn(move || {
                                for i in 0..PER_ITER / producers {
                                    w.append(event(t * 1_000_000 + i)).unwrap();
                                }
                            })
                        })
                        .collect();
                    for t in threads {
                        t.join().unwrap();
                    }
                    total += started.elapsed();
                }
                total
            });
        });
    }
    g.finish();
}

fn big(c: &mut Criterion) {
    let (db, key) = big_log();
    let mut g = c.benchmark_group("audit-1m");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    let store = AuditStore::open(&db, &key).unwrap();
    g.bench_function("verify", |b| {
        b.iter(|| {
            let v = store.verify(None).unwrap();
            assert!(v.is_ok() && v.entries == BIG);
        })
    });
    drop(store);
    let mut store = AuditStore::open(&db, &key).unwrap();
    let mut seq = 12_345u64;
    g.sample_size(100);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("inclusion-proof", |b| {
        b.iter(|| {
            seq = (seq * 7_919 + 104_729) % BIG;
            store.inclusion_proof(seq, None).unwrap()
        })
    });
    g.finish();
}

criterion_group!(audit, appends, big);
criterion_main!(audit);
