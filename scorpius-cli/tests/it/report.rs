//! `scorpius report` over saved scans, `keys generate|public`, `--sign` and `report verify`.

use predicates::prelude::*;

use crate::common::{APPROVE_UNLIMITED, Env, USDC, stdout_json};

#[test]
fn reports_from_history_in_every_format() {
    let env = Env::new();
    let first = stdout_json(
        &env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--format", "json", "--no-intel"]).success(),
    );
    let second = stdout_json(&env.run(["scan", "address", USDC, "--format", "json"]).success());

    let latest = stdout_json(&env.run(["report", "--latest", "--format", "json"]).success());
    assert_eq!(latest, second);
    let one =
        stdout_json(&env.run(["report", "--scan", first["scan_id"].as_str().unwrap(), "--format", "json"]).success());
    assert_eq!(one, first);
    let both = stdout_json(&env.run(["report", "--since", "2000-01-01", "--format", "json"]).success());
    assert_eq!(both, serde_json::json!([first, second]));

    let out = env.run(["report", "--since", "2000-01-01", "--format", "csv"]).success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("scan_id,kind,target").count(), 1, "one header: {text}");
    env.run(["report", "--since", "2000-01-01", "--format", "html", "-o", "r.html"]).success();
    let html = std::fs::read_to_string(env.work().join("r.html")).unwrap();
    assert_eq!(html.matches("<body>").count(), 1);
    assert_eq!(html.matches("<h1>").count(), 2);

    env.run(["report"]).code(2).stderr(predicate::str::contains("--latest"));
    env.run(["report", "--scan", "ffffffff"]).code(2).stderr(predicate::str::contains("no saved scan"));
    env.run(["report", "--latest", "--sign"]).code(2);
    let log = stdout_json(&env.run(["audit", "log", "--action", "report.*", "--format", "json"]).success());
    // Every report run is recorded, failures included (usage errors caught by clap never run).
    let outcomes: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["success", "success", "success", "success", "success", "failure", "failure"], "{log}");
}

#[test]
fn signed_reports_verify_and_any_changed_byte_fails() {
    let env = Env::new();
    env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--format", "json"]).success();
    env.run(["report", "--latest", "--format", "markdown", "-o", "r.md", "--sign"])
        .code(2)
        .stderr(predicate::str::contains("keys generate"));

    let public = env.run(["keys", "generate"]).success().get_output().stdout.clone();
    let public = String::from_utf8(public).unwrap();
    assert!(public.starts_with("scorpius.local/reports/") && !public.contains("PRIVATE"), "{public}");
    env.write("key.pub", &public);
    env.run(["keys", "generate"]).code(2).stderr(predicate::str::contains("already exists"));
    env.run(["keys", "public"]).success().stdout(public);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key = env.user_config_path().with_file_name("report-signing.key");
        assert_eq!(std::fs::metadata(key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    env.run(["report", "--latest", "--format", "json", "-o", "r.json", "--sign"]).success();
    let sig = std::fs::read_to_string(env.work().join("r.json.sig")).unwrap();
    assert!(sig.starts_with("scorpius-report-signature/v1\nalgorithm: ed25519\n"), "{sig}");
    // The report itself is untouched: still plain JSON.
    let _: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.work().join("r.json")).unwrap()).unwrap();
    env.run(["report", "verify", "r.json", "--public-key", "key.pub"])
        .code(0)
        .stdout(predicate::str::starts_with("OK"));

    let path = env.work().join("r.json");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    env.run(["report", "verify", "r.json", "--public-key", "key.pub"])
        .code(1)
        .stdout(predicate::str::contains("the report was modified"));

    let other = Env::new();
    let other_key = other.run(["keys", "generate"]).success().get_output().stdout.clone();
    env.write("other.pub", other_key);
    env.run(["report", "verify", "r.json", "--sig", "r.json.sig", "--public-key", "other.pub"])
        .code(1)
        .stdout(predicate::str::contains("not by the given public key"));
    env.run(["report", "verify", "missing.json", "--public-key", "key.pub"]).code(2);
}
