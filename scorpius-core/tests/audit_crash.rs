//! Crash safety of the SQLite audit store: a child process appends in a loop (four threads
//! through the group-commit writer) and prints every sequence number as soon as its append
//! is acknowledged; the parent kills it with SIGKILL mid-stream. Afterwards every
//! acknowledged entry must be present and the whole log must verify.
#![cfg(all(feature = "store", unix))]

use std::{
    io::{BufRead as _, BufReader, Write as _},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use scorpius_core::audit::{
    Event, Outcome,
    sqlite::{AuditStore, GroupCommit},
};

const CHILD_ENV: &str = "SCORPIUS_AUDIT_CRASH_CHILD";

/// The child: runs only when the parent sets CHILD_ENV to the log directory.
#[test]
#[ignore = "run by sigkill_loses_no_acknowledged_entry as a child process"]
fn crash_child_appender() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let dir = std::path::PathBuf::from(dir);
    let store = AuditStore::open(&dir.join("audit.sqlite"), &dir.join("key")).unwrap();
    let writer = Arc::new(GroupCommit::start(store, 64));
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (w, out) = (writer.clone(), out.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let e = Event::now(
                        "cli",
                        "test.append",
                        format!("t{t}-{i}"),
                        Outcome::Success,
                        serde_json::json!({"i": i}),
                    );
                    let seq = w.append(e).unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "{seq}").unwrap();
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn sigkill_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "crash_child_appender", "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = Vec::new();
        let started = Instant::now();
        // Kill at a different point each round, while appends are in flight.
        let target = 200 + round * 350;
        while acked.len() < target && started.elapsed() < Duration::from_secs(60) {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Ok(seq) = l.trim().parse::<u64>() {
                        acked.push(seq);
                    }
                }
                _ => break,
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // Lines already in the pipe were acknowledged too.
        acked.extend(lines.map_while(Result::ok).filter_map(|l| l.trim().parse::<u64>().ok()));
        assert!(acked.len() >= target.min(50), "round {round}: the child acknowledged only {} appends", acked.len());

        let store = AuditStore::open(&dir.path().join("audit.sqlite"), &dir.path().join("key")).unwrap();
        let size = store.size().unwrap();
        let max = *acked.iter().max().unwrap();
        assert!(max < size, "round {round}: entry {max} was acknowledged but the log has {size} entries");
        let v = store.verify(None).unwrap();
        assert!(v.is_ok(), "round {round}: {:?}", v.problems);
        assert_eq!(v.signed_size, size, "round {round}: every committed entry is covered by a checkpoint");
    }
}
