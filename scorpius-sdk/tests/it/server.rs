//! The real `scorpius-server` binary on a free port, with its own data directory, for the
//! SDK's and the CLI's integration tests (the CLI's include this file).
//!
//! The binary belongs to another package, so Cargo does not hand its path to these tests:
//! `SCORPIUS_SERVER_BIN` names one explicitly; otherwise it is built (a no-op when current)
//! with the `cargo` running the tests, into the same target directory, and its path read from
//! Cargo's JSON messages.

#![allow(dead_code)]

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The server executable.
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("SCORPIUS_SERVER_BIN") {
            return PathBuf::from(p);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
        let out = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "-p", "scorpius-server", "--bin", "scorpius-server", "--message-format=json"])
            .stderr(Stdio::inherit())
            .output()
            .expect("running cargo build -p scorpius-server");
        assert!(out.status.success(), "building scorpius-server failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "scorpius-server")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported no scorpius-server executable")
    })
}

/// A running server; killed (by its own handle) when dropped.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// An admin key of tenant `acme`.
    pub admin_key: String,
    /// A viewer key of tenant `acme`.
    pub viewer_key: String,
    /// An admin key of tenant `other`.
    pub other_key: String,
    dir: tempfile::TempDir,
}

impl TestServer {
    /// A server with default settings.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server with extra `SCORPIUS_*` settings.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_full(env, None)
    }

    /// A server with a configuration file holding `toml`.
    pub fn start_with_config(toml: &str) -> Self {
        Self::start_full(&[], Some(toml))
    }

    fn start_full(env: &[(&str, &str)], toml: Option<&str>) -> Self {
        let dir = tempfile::Builder::new().prefix("scorpius-sdk-it-").tempdir().unwrap();
        // Keys are made before the server starts: the audit log has one writer at a time.
        let admin_key = Self::create_key_in(dir.path(), "admin", "acme");
        let viewer_key = Self::create_key_in(dir.path(), "viewer", "acme");
        let other_key = Self::create_key_in(dir.path(), "admin", "other");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(server_bin());
        if let Some(toml) = toml {
            let file = dir.path().join("server.toml");
            std::fs::write(&file, toml).unwrap();
            cmd.args(["--config", file.to_str().unwrap()]);
        }
        cmd.args(["--data-dir", dir.path().to_str().unwrap(), "--bind", &format!("127.0.0.1:{port}")])
            .env("SCORPIUS_LOG_FORMAT", "text")
            .env("SCORPIUS_LOG", "warn")
            .env("SCORPIUS_SHUTDOWN_GRACE_MS", "0")
            .env_remove("SCORPIUS_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starting scorpius-server");
        let server =
            TestServer { child, url: format!("http://127.0.0.1:{port}"), admin_key, viewer_key, other_key, dir };
        server.wait_ready(port);
        server
    }

    fn create_key_in(dir: &Path, role: &str, tenant: &str) -> String {
        let out = Command::new(server_bin())
            .args(["--data-dir", dir.to_str().unwrap(), "admin", "create-key", "--role", role, "--tenant", tenant])
            .env("SCORPIUS_LOG_FORMAT", "text")
            .output()
            .expect("running scorpius-server admin create-key");
        assert!(out.status.success(), "create-key: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn wait_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read as _, Write as _};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("scorpius-server did not become ready on port {port}");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
