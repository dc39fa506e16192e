//! `scorpius login|logout`, `scan … --server` and `admin …` against the real
//! `scorpius-server` binary: remote scans give the same JSON and exit codes as local ones.

use std::process::Output;

use serde_json::Value;

use crate::common::*;

#[path = "../../../scorpius-sdk/tests/it/server.rs"]
mod server;

use server::TestServer;

/// Runs `scorpius ARGS` in `env` with the keyring off and `stdin`.
fn run(env: &Env, args: &[&str], stdin: &str) -> Output {
    let out = env
        .cmd()
        .env("SCORPIUS_KEYRING", "off")
        .args(args)
        .write_stdin(stdin.to_owned())
        .output()
        .expect("running scorpius");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    out
}

fn login(env: &Env, s: &TestServer, key: &str) -> Output {
    run(env, &["login", "--server", &s.url, "--api-key-stdin"], &format!("{key}\n"))
}

/// A report without what differs between two runs.
fn stable(mut r: Value) -> Value {
    for k in ["scan_id", "started_at", "duration_us"] {
        r.as_object_mut().expect("a report object").remove(k);
    }
    r
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn remote_scans_match_local_scans() {
    let s = TestServer::start();
    let env = Env::new();
    let out = login(&env, &s, &s.admin_key);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    // The keyring is off here: the key goes to the 0600 file, and the message says so.
    assert!(err.contains("credentials.json") && err.contains("0600"), "{err}");
    assert!(!err.contains(&s.admin_key), "the key is never printed");
    let creds = env.user_config_path().with_file_name("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&creds).expect("credentials file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    env.write("typed.json", PERMIT2_SINGLE_UNLIMITED);
    env.write("hash.txt", RAW_HASH);
    env.write("code.hex", "0x33ff");
    let cases: Vec<Vec<&str>> = vec![
        vec!["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--from", ANVIL_0],
        vec!["scan", "tx", "--raw", RAW_1559_APPROVE],
        vec!["scan", "signature", "typed.json"],
        vec!["scan", "signature", "--eth-sign", "hash.txt"],
        vec!["scan", "signature", "--personal", "-"],
        vec!["scan", "address", "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b"],
        vec!["scan", "domain", "https://uniswap.org.example-login.com"],
    ];
    for args in cases {
        let stdin = if args.contains(&"-") { SIWE_EXAMPLE_COM } else { "" };
        let mut a = args.clone();
        a.extend(["--format", "json", "--fail-on", "high"]);
        let local = run(&env, &a, stdin);
        a.extend(["--server", &s.url]);
        let remote = run(&env, &a, stdin);
        assert_eq!(code(&local), code(&remote), "{args:?}: {}", stderr(&remote));
        assert!(code(&remote) <= 1, "{args:?}: {}", stderr(&remote));
        assert_eq!(stable(json_of(&local)), stable(json_of(&remote)), "{args:?}");
    }
    // The unlimited approval is medium: --fail-on medium gates, remotely as locally.
    let gated = run(
        &env,
        &[
            "scan",
            "tx",
            "--to",
            USDC,
            "--data",
            APPROVE_UNLIMITED,
            "--fail-on",
            "medium",
            "--format",
            "json",
            "--server",
            &s.url,
        ],
        "",
    );
    assert_eq!(code(&gated), 1);

    // Contracts: the same findings from the same bytecode (the JSON shape differs, see docs/remote.md).
    let local = json_of(&run(&env, &["scan", "contract", "code.hex", "--format", "json"], ""));
    let remote = json_of(&run(&env, &["scan", "contract", "code.hex", "--format", "json", "--server", &s.url], ""));
    assert_eq!(rule_ids(&local), rule_ids(&remote));
    assert!(!rule_ids(&remote).is_empty());

    // Remote scans are in the local history like local ones.
    let hist = run(&env, &["history", "list", "--format", "json"], "");
    assert_eq!(code(&hist), 0, "{}", stderr(&hist));

    // Bad input the server refuses is exit 2 and names the field.
    let bad = run(&env, &["scan", "tx", "--to", "0x1234", "--server", &s.url], "");
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("to"), "{}", stderr(&bad));
    // Local-only options are refused with --server.
    let hist_opt = run(&env, &["scan", "tx", "--to", USDC, "--history", "h.json", "--server", &s.url], "");
    assert_eq!(code(&hist_opt), 2);
    // A server that is not there: exit 3.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gone = env
        .cmd()
        .env("SCORPIUS_KEYRING", "off")
        .env("SCORPIUS_API_KEY", &s.admin_key)
        .args(["scan", "domain", "example.org", "--server", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(code(&gone), 3, "{}", stderr(&gone));
}

#[test]
fn login_refuses_bad_keys_and_logout_forgets() {
    let s = TestServer::start();
    let env = Env::new();
    let bad = login(&env, &s, "sk_live_0000000000000000000000000000000000000000deadbeef");
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("refused"), "{}", stderr(&bad));
    // Nothing stored: a remote scan has no key.
    let none = run(&env, &["scan", "domain", "example.org", "--server", &s.url], "");
    assert_eq!(code(&none), 2);
    assert!(stderr(&none).contains("scorpius login"), "{}", stderr(&none));
    // No terminal and no --api-key-stdin: a clear usage error.
    let no_tty = run(&env, &["login", "--server", &s.url], "");
    assert_eq!(code(&no_tty), 2);
    assert!(stderr(&no_tty).contains("--api-key-stdin"));

    assert_eq!(code(&login(&env, &s, &s.viewer_key)), 0);
    // The default server is the last login's.
    let list = run(&env, &["admin", "keys", "list"], "");
    assert_eq!(code(&list), 2, "a viewer may not manage keys: {}", stderr(&list));
    assert!(stderr(&list).contains("403"), "{}", stderr(&list));
    let out = run(&env, &["logout"], "");
    assert_eq!(code(&out), 0);
    assert!(stderr(&out).contains("Logged out"), "{}", stderr(&out));
    let after = run(&env, &["admin", "keys", "list", "--server", &s.url], "");
    assert_eq!(code(&after), 2);
    // SCORPIUS_API_KEY works without a login.
    let env_key = env
        .cmd()
        .env("SCORPIUS_KEYRING", "off")
        .env("SCORPIUS_API_KEY", &s.admin_key)
        .args(["admin", "keys", "list", "--format", "json", "--server", &s.url])
        .output()
        .unwrap();
    assert_eq!(code(&env_key), 0, "{}", stderr(&env_key));
}

#[test]
fn admin_keys_and_audit() {
    let s = TestServer::start();
    let env = Env::new();
    assert_eq!(code(&login(&env, &s, &s.admin_key)), 0);

    let created = run(&env, &["admin", "keys", "create", "--role", "security", "--name", "ci"], "");
    assert_eq!(code(&created), 0, "{}", stderr(&created));
    let secret = String::from_utf8(created.stdout.clone()).unwrap().trim().to_owned();
    assert!(secret.starts_with("sk_live_") && secret.len() == 56, "{secret}");
    assert!(stderr(&created).contains("shown once"));

    let list = json_of(&run(&env, &["admin", "keys", "list", "--format", "json"], ""));
    let keys = list.as_array().unwrap();
    let ci = keys.iter().find(|k| k["name"] == "ci").expect("the new key is listed");
    let id = ci["id"].as_str().unwrap().to_owned();
    assert!(!list.to_string().contains(&secret), "listing never shows secrets");

    // Destructive commands need --yes without a terminal.
    let refused = run(&env, &["admin", "keys", "rotate", &id], "");
    assert_eq!(code(&refused), 2);
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    let rotated = run(&env, &["admin", "keys", "rotate", &id, "--yes", "--format", "json"], "");
    assert_eq!(code(&rotated), 0, "{}", stderr(&rotated));
    let rotated = json_of(&rotated);
    assert_eq!(rotated["key"]["id"], id.as_str());
    assert_ne!(rotated["secret"], secret.as_str());
    assert_eq!(code(&run(&env, &["admin", "keys", "revoke", &id], "")), 2);
    let revoked = run(&env, &["admin", "keys", "revoke", &id, "--yes"], "");
    assert_eq!(code(&revoked), 0, "{}", stderr(&revoked));
    let again = run(&env, &["admin", "keys", "revoke", &id, "--yes"], "");
    assert_eq!(code(&again), 2, "revoking twice: not found");

    // Audit: verify (exit 0) and export.
    let v = run(&env, &["admin", "audit", "verify", "--format", "json"], "");
    assert_eq!(code(&v), 0, "{}", stderr(&v));
    let v = json_of(&v);
    assert_eq!(v["tenant"], "acme");
    assert!(v["problems"].as_array().unwrap().is_empty());
    let path = env.work().join("export.json");
    let e = run(&env, &["admin", "audit", "export", "-o", path.to_str().unwrap()], "");
    assert_eq!(code(&e), 0, "{}", stderr(&e));
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(export["format"], "scorpius-audit-export/v1");
    // A key that is not the log's: the checkpoint does not verify, exit 1.
    let stranger = scorpius_core::audit::checkpoint::NoteSigner::generate("someone.else/audit").unwrap();
    env.write("other.vkey", format!("{}\n", stranger.verifier().encode()));
    let wrong = run(&env, &["admin", "audit", "verify", "--public-key", "other.vkey"], "");
    assert_eq!(code(&wrong), 1, "{}", stderr(&wrong));
    let problems = json_of(&wrong)["problems"].as_array().unwrap().clone();
    assert!(problems[0]["message"].as_str().unwrap().contains("checkpoint"), "{problems:?}");
    let garbage = env.write("garbage.vkey", "not a key");
    let g = run(&env, &["admin", "audit", "verify", "--public-key", garbage.to_str().unwrap()], "");
    assert_eq!(code(&g), 2, "{}", stderr(&g));
}

/// A plan with a quota and graduated prices; webhooks may call this machine.
const METERED: &str = r#"
[metering]
default_plan = "pro"
[metering.plans.pro]
quotas = { "scan.domain" = 10 }
[metering.plans.pro.prices."scan.domain"]
model = "graduated"
tiers = [ { up_to = 1, unit_price = "0" }, { unit_price = "0.25" } ]
[webhooks]
allow_private = true
poll_interval_ms = 50
"#;

/// A minimal HTTP receiver on a thread: answers 200 to everything, counts the requests and
/// keeps their `webhook-id`s.
fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&ids);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let (mut len, mut id) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("webhook-id:") {
                    id = line["webhook-id:".len()..].trim().to_owned();
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push(id);
            let _ = reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, ids)
}

#[test]
fn admin_usage_billing_and_webhooks() {
    let s = TestServer::start_with_config(METERED);
    let env = Env::new();
    assert_eq!(code(&login(&env, &s, &s.admin_key)), 0);
    for _ in 0..3 {
        let scan = run(&env, &["scan", "domain", "https://uniswap.org", "--server", &s.url, "--format", "json"], "");
        assert!(code(&scan) <= 1, "{}", stderr(&scan));
    }

    // Usage: JSON, CSV, a table; bad values are exit 2 naming the option.
    let usage = run(&env, &["admin", "usage", "--format", "json"], "");
    assert_eq!(code(&usage), 0, "{}", stderr(&usage));
    let usage = json_of(&usage);
    assert_eq!(usage["totals"]["scan.domain"], 3, "{usage}");
    assert_eq!(usage["granularity"], "day");
    let by_key =
        json_of(&run(&env, &["admin", "usage", "--group-by", "key", "--granularity", "month", "--format", "json"], ""));
    assert!(by_key["rows"].as_array().unwrap().iter().all(|r| r["key_id"].as_str().is_some()), "{by_key}");
    let csv = run(&env, &["admin", "usage", "--format", "csv"], "");
    assert_eq!(code(&csv), 0, "{}", stderr(&csv));
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("start,meter,key_id,units\n") && csv.contains(",scan.domain,,3\n"), "{csv}");
    let table = run(&env, &["admin", "usage", "--format", "table"], "");
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("scan.domain") && table.contains("Totals"), "{table}");
    let bad = run(&env, &["admin", "usage", "--granularity", "week"], "");
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("granularity"), "{}", stderr(&bad));
    let bad = run(&env, &["admin", "usage", "--from", "yesterday"], "");
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("from"), "{}", stderr(&bad));

    // Forecast and bill: 3 domain scans, the first free, two at 0.25.
    let f = json_of(&run(&env, &["admin", "usage", "forecast", "--format", "json"], ""));
    let domain = f["meters"].as_array().unwrap().iter().find(|m| m["meter"] == "scan.domain").cloned().unwrap();
    assert_eq!((domain["used"].as_u64(), domain["quota"].as_u64()), (Some(3), Some(10)), "{f}");
    let bill = json_of(&run(&env, &["admin", "billing", "preview", "--format", "json"], ""));
    assert_eq!(bill["plan"], "pro");
    assert_eq!(bill["total"], "0.50", "{bill}");
    let bill = run(&env, &["admin", "billing", "preview", "--format", "table"], "");
    let bill = String::from_utf8(bill.stdout).unwrap();
    assert!(bill.contains("graduated") && bill.contains("Total: 0.50 USD"), "{bill}");
    let bad = run(&env, &["admin", "billing", "preview", "--month", "2026-13"], "");
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));

    // Webhooks: add (the secret once, on stdout), list, deliveries, redeliver, disable,
    // enable, remove (needs --yes without a terminal).
    let (url, ids) = receiver();
    let add = run(&env, &["admin", "webhooks", "add", &url, "--event", "scan.completed", "--description", "cli"], "");
    assert_eq!(code(&add), 0, "{}", stderr(&add));
    let secret = String::from_utf8(add.stdout.clone()).unwrap().trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(stderr(&add).contains("shown once"));
    let list = json_of(&run(&env, &["admin", "webhooks", "list", "--format", "json"], ""));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret[6..]), "listing never shows the secret");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let bad = run(&env, &["admin", "webhooks", "add", &url, "--event", "scan.nope"], "");
    assert_eq!(code(&bad), 2);

    run(&env, &["scan", "domain", "https://uniswap.org", "--server", &s.url, "--format", "json"], "");
    let mut deliveries = Value::Null;
    for _ in 0..150 {
        deliveries = json_of(&run(&env, &["admin", "webhooks", "deliveries", &id, "--format", "json"], ""));
        if deliveries[0]["state"] == "delivered" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(deliveries[0]["state"], "delivered", "{deliveries}");
    let delivery = deliveries[0]["id"].as_str().unwrap().to_owned();
    let table = run(&env, &["admin", "webhooks", "deliveries", &id, "--format", "table"], "");
    assert!(String::from_utf8(table.stdout).unwrap().contains(&delivery));
    let again = run(&env, &["admin", "webhooks", "redeliver", &id, &delivery], "");
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    for _ in 0..150 {
        if ids.lock().unwrap().len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let seen = ids.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], seen[1], "the redelivery has the same webhook-id");
    assert_eq!(code(&run(&env, &["admin", "webhooks", "redeliver", &id, "dlv_nope"], "")), 2);

    assert_eq!(code(&run(&env, &["admin", "webhooks", "disable", &id], "")), 0);
    let list = json_of(&run(&env, &["admin", "webhooks", "list", "--format", "json"], ""));
    assert_eq!(list[0]["enabled"], false, "{list}");
    assert_eq!(code(&run(&env, &["admin", "webhooks", "enable", &id], "")), 0);
    let list = json_of(&run(&env, &["admin", "webhooks", "list", "--format", "json"], ""));
    assert_eq!(list[0]["enabled"], true, "{list}");

    let refused = run(&env, &["admin", "webhooks", "remove", &id], "");
    assert_eq!(code(&refused), 2);
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert_eq!(code(&run(&env, &["admin", "webhooks", "remove", &id, "--yes"], "")), 0);
    assert_eq!(code(&run(&env, &["admin", "webhooks", "remove", &id, "--yes"], "")), 2, "removing twice: not found");
    let list = json_of(&run(&env, &["admin", "webhooks", "list", "--format", "json"], ""));
    assert!(list.as_array().unwrap().is_empty());

    // A viewer may not see usage: 403 is exit 2 with the server's reason.
    let viewer_env = Env::new();
    assert_eq!(code(&login(&viewer_env, &s, &s.viewer_key)), 0);
    let denied = run(&viewer_env, &["admin", "usage"], "");
    assert_eq!(code(&denied), 2, "{}", stderr(&denied));
}

#[test]
fn every_remote_command_has_help() {
    let env = Env::new();
    for args in [
        vec!["login", "--help"],
        vec!["logout", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "keys", "--help"],
        vec!["admin", "keys", "create", "--help"],
        vec!["admin", "keys", "list", "--help"],
        vec!["admin", "keys", "rotate", "--help"],
        vec!["admin", "keys", "revoke", "--help"],
        vec!["admin", "audit", "--help"],
        vec!["admin", "audit", "verify", "--help"],
        vec!["admin", "audit", "export", "--help"],
        vec!["admin", "usage", "--help"],
        vec!["admin", "usage", "forecast", "--help"],
        vec!["admin", "billing", "--help"],
        vec!["admin", "billing", "preview", "--help"],
        vec!["admin", "webhooks", "--help"],
        vec!["admin", "webhooks", "add", "--help"],
        vec!["admin", "webhooks", "list", "--help"],
        vec!["admin", "webhooks", "remove", "--help"],
        vec!["admin", "webhooks", "enable", "--help"],
        vec!["admin", "webhooks", "disable", "--help"],
        vec!["admin", "webhooks", "deliveries", "--help"],
        vec!["admin", "webhooks", "redeliver", "--help"],
    ] {
        let out = run(&env, &args, "");
        assert_eq!(code(&out), 0, "{args:?}");
        assert!(!out.stdout.is_empty());
    }
}

/// On a machine without a Secret Service (no D-Bus session: headless Linux, CI) `login` says
/// that there is no keyring and falls back to the credentials file, which then works.
#[test]
fn login_without_a_keyring_falls_back_to_the_file() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() || cfg!(not(target_os = "linux")) {
        eprintln!("skipped: this machine may have an OS keyring, which the test must not write to");
        return;
    }
    let s = TestServer::start();
    let env = Env::new();
    let out = env
        .cmd()
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .args(["login", "--server", &s.url, "--api-key-stdin"])
        .write_stdin(format!("{}\n", s.admin_key))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("No OS keyring is available") && err.contains("SCORPIUS_API_KEY"), "{err}");
    let scan = env
        .cmd()
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .args(["scan", "domain", "example.org", "--server", &s.url, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&scan), 0, "{}", stderr(&scan));
    let out = env.cmd().env_remove("DBUS_SESSION_BUS_ADDRESS").args(["logout"]).output().unwrap();
    assert!(stderr(&out).contains("credentials.json"), "{}", stderr(&out));
}
