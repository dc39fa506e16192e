//! `scorpius audit …`: every scan and intel change is recorded; the log verifies; direct
//! edits of the database are reported with the first bad entry; proofs, exports and
//! offline bundle verification; bad input.

use predicates::prelude::*;
use serde_json::Value;

use crate::common::{APPROVE_UNLIMITED, Env, USDC, stdout_json};

/// Three recorded commands: a transaction scan, an address scan, a failed scan.
fn env_with_log() -> Env {
    let env = Env::new();
    env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--format", "json", "--no-intel"]).success();
    env.run(["scan", "address", USDC, "--format", "json"]).success();
    env.run(["scan", "tx", "--to", USDC, "--data", "0xzz"]).code(2);
    env
}

fn entries(env: &Env) -> Vec<Value> {
    stdout_json(&env.run(["audit", "log", "--format", "json"]).success()).as_array().unwrap().clone()
}

/// The database file with its append-only triggers removed, as an administrator could.
fn tamper(env: &Env, sql: &str) {
    let c = rusqlite::Connection::open(env.data_dir().join("audit.sqlite")).unwrap();
    let names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for n in names {
        c.execute(&format!("DROP TRIGGER {n}"), []).unwrap();
    }
    c.execute_batch(sql).unwrap();
}

#[test]
fn scans_and_intel_changes_are_recorded() {
    let env = env_with_log();
    env.write("feed.txt", "0x1111111111111111111111111111111111111111\n");
    env.run(["intel", "import", "feed.txt", "--format", "txt", "--source", "my-feed", "--label", "drainer"]).success();
    let log = entries(&env);
    let summary: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["resource"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("scan.transaction", USDC, "success"),
            ("scan.address", USDC, "success"),
            ("scan.transaction", "-", "failure"),
            ("intel.import", "my-feed", "success"),
        ]
    );
    assert!(log.iter().all(|e| e["actor"] == "cli"));
    let details: Value = serde_json::from_str(log[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["risk_level"], "medium", "{details}");
    assert!(details["scan_id"].as_str().is_some_and(|s| s.len() == 36));
    let failed: Value = serde_json::from_str(log[2]["details"].as_str().unwrap()).unwrap();
    assert_eq!(failed["exit_code"], 2);
    // Read-only commands are not recorded.
    env.run(["rules", "--format", "json"]).success();
    env.run(["audit", "verify", "--format", "json"]).success();
    assert_eq!(entries(&env).len(), 4);
    // Filters.
    let scans = stdout_json(&env.run(["audit", "log", "--action", "scan.*", "--format", "json"]).success());
    assert_eq!(scans.as_array().unwrap().len(), 3);
    let none = stdout_json(&env.run(["audit", "log", "--since", "2999-01-01", "--format", "json"]).success());
    assert_eq!(none, serde_json::json!([]));
    // The key file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(env.data_dir().join("audit-signing.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn verify_passes_then_pinpoints_a_direct_edit() {
    let env = env_with_log();
    let v = stdout_json(&env.run(["audit", "verify", "--format", "json"]).code(0));
    assert_eq!((v["entries"].as_u64(), v["signed_size"].as_u64()), (Some(3), Some(3)), "{v}");
    tamper(&env, "UPDATE audit_entries SET outcome = 0 WHERE seq = 2");
    env.run(["audit", "verify", "--format", "table"])
        .code(1)
        .stdout(predicate::str::contains("first bad entry: 2 (Modified)"));
    let v = stdout_json(&env.run(["audit", "verify", "--format", "json"]).code(1));
    assert_eq!(v["problems"][0]["seq"], 2, "{v}");
    assert_eq!(v["problems"][0]["kind"], "modified", "{v}");
}

#[test]
fn a_saved_checkpoint_exposes_truncation() {
    let env = env_with_log();
    env.run(["audit", "checkpoint", "-o", "cp.txt"]).success();
    let cp = std::fs::read_to_string(env.work().join("cp.txt")).unwrap();
    assert_eq!(cp.lines().nth(1), Some("3"), "{cp}");
    // Remove the tail and every checkpoint that mentions it: only the saved one remembers.
    tamper(&env, "DELETE FROM audit_entries WHERE seq = 2; DELETE FROM audit_checkpoints WHERE tree_size = 3;");
    env.run(["audit", "verify", "--format", "json"]).code(0);
    let v = stdout_json(&env.run(["audit", "verify", "--checkpoint", "cp.txt", "--format", "json"]).code(1));
    let kinds: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"truncated"), "{v}");
}

#[test]
fn proofs_export_and_offline_bundle_verification() {
    let env = env_with_log();
    let p = stdout_json(&env.run(["audit", "prove", "1"]).success());
    assert_eq!((p["seq"].as_u64(), p["tree_size"].as_u64()), (Some(1), Some(3)));
    assert_eq!(p["proof"].as_array().unwrap().len(), 2);
    assert!(p["checkpoint"].as_str().unwrap().contains("\n3\n"));
    let c = stdout_json(&env.run(["audit", "consistency", "1", "3"]).success());
    assert_eq!(c["new_root"], p["root"]);

    env.run(["audit", "export", "-o", "bundle"]).success();
    for f in ["entries.jsonl", "checkpoints.jsonl", "checkpoint", "public-key.vkey", "manifest.json"] {
        assert!(env.work().join("bundle").join(f).is_file(), "{f} missing");
    }
    env.run(["audit", "export", "-o", "bundle"]).code(2).stderr(predicate::str::contains("not empty"));
    let key = env.work().join("bundle/public-key.vkey");
    let key = key.to_str().unwrap();
    env.run(["audit", "verify-bundle", "bundle", "--public-key", key, "--format", "table"])
        .code(0)
        .stdout(predicate::str::contains("verified: 3 entries"));

    // Anyone holding the bundle and the key can check it, with no database at all.
    std::fs::remove_dir_all(env.data_dir()).unwrap();
    env.run(["audit", "verify-bundle", "bundle", "--public-key", key, "--format", "json"]).code(0);

    // Another key: every checkpoint fails.
    let other = Env::new();
    other.run(["scan", "address", USDC, "--format", "json"]).success();
    other.run(["audit", "export", "-o", "b2"]).success();
    let wrong = other.work().join("b2/public-key.vkey");
    let v = stdout_json(
        &env.run(["audit", "verify-bundle", "bundle", "--public-key", wrong.to_str().unwrap(), "--format", "json"])
            .code(1),
    );
    assert_eq!(v["problems"][0]["kind"], "bad-signature", "{v}");

    // An edited bundle entry is pinpointed.
    let path = env.work().join("bundle/entries.jsonl");
    let text = std::fs::read_to_string(&path).unwrap().replacen("scan.address", "scan.addresz", 1);
    std::fs::write(&path, text).unwrap();
    let v =
        stdout_json(&env.run(["audit", "verify-bundle", "bundle", "--public-key", key, "--format", "json"]).code(1));
    assert_eq!((v["problems"][0]["seq"].as_u64(), v["problems"][0]["kind"].as_str()), (Some(1), Some("modified")));
}

#[test]
fn redaction_erases_details_and_still_verifies() {
    let env = env_with_log();
    env.run(["audit", "redact", "1", "--reason", "erasure request"]).success();
    let log = entries(&env);
    assert_eq!(log[1]["details"], Value::Null);
    assert_eq!((log[3]["action"].as_str(), log[3]["resource"].as_str()), (Some("audit.redact"), Some("seq:1")));
    env.run(["audit", "verify", "--format", "json"]).code(0);
}

#[test]
fn bad_input_is_exit_2() {
    let env = env_with_log();
    for args in [
        vec!["audit", "prove", "3"],
        vec!["audit", "prove", "1", "--size", "1"],
        vec!["audit", "consistency", "0"],
        vec!["audit", "consistency", "2", "9"],
        vec!["audit", "redact", "42", "--reason", "x"],
        vec!["audit", "log", "--since", "yesterday"],
        vec!["audit", "verify-bundle", "nowhere", "--public-key", "nokey"],
        vec!["audit", "verify", "--public-key", "nokey"],
    ] {
        env.run(&args).code(2).stderr(predicate::str::starts_with("error: "));
    }
    let fresh = Env::new();
    fresh.run(["audit", "verify"]).code(2).stderr(predicate::str::contains("no audit log"));
}
