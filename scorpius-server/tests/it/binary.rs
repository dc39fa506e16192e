//! The real `scorpius-server` binary: `admin create-key` prints a working secret once, the
//! server serves with flags and environment, and SIGTERM stops it cleanly.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Sends SIGTERM and waits (up to 20 s) for a clean exit.
pub async fn sigterm_and_wait(child: &mut std::process::Child) {
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_key_then_serve_then_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_scorpius-server");
    let out = Command::new(bin)
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "admin",
            "create-key",
            "--role",
            "admin",
            "--tenant",
            "acme",
        ])
        .env("SCORPIUS_LOG_FORMAT", "text")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("sk_live_") && secret.len() == 56, "{secret}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown once"));

    let bad = Command::new(bin)
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "admin",
            "create-key",
            "--role",
            "admin",
            "--tenant",
            "Bad Tenant",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let port = free_port();
    let mut child = Command::new(bin)
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .env("SCORPIUS_BIND", format!("127.0.0.1:{port}"))
        .env("SCORPIUS_SHUTDOWN_GRACE_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = crate::common::client();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let keys = client.get(format!("{base}/v1/keys")).header("x-api-key", &secret).send().await.unwrap();
    assert_eq!(keys.status(), 200);
    let body: serde_json::Value = keys.json().await.unwrap();
    assert_eq!(body["keys"][0]["tenant"], "acme");
    assert_eq!(body["keys"][0]["role"], "admin");

    sigterm_and_wait(&mut child).await;
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(&secret[8..]), "a secret reached the logs");
    // JSON logs by default, each line an object.
    assert!(logs.lines().filter(|l| !l.is_empty()).all(|l| l.starts_with('{')), "{logs}");
}
