//! Starting a server and talking to it.

use std::net::SocketAddr;

use reqwest::{Method, StatusCode, header::HeaderMap};
use scorpius_core::api::keys::{CreatedKey, Role};
use scorpius_server::{Server, auth::KeyMode, config::Config, hooks::Hooks, routes::keys};
use serde_json::Value;
use tokio::sync::oneshot;

/// The whole suite runs on PostgreSQL when `SCORPIUS_TEST_DATABASE_URL` is set
/// (`postgres://postgres@127.0.0.1:5432/test` in `./scripts/test-all.sh`): every server gets a
/// schema of its own there, dropped with it. Unset: SQLite in the server's data directory.
pub fn backend() -> &'static str {
    if std::env::var_os("SCORPIUS_TEST_DATABASE_URL").is_some() { "postgres" } else { "sqlite" }
}

/// A schema of its own on the suite's PostgreSQL, dropped on drop.
#[cfg(feature = "postgres")]
pub struct TestSchema {
    base: String,
    name: String,
}

#[cfg(feature = "postgres")]
impl TestSchema {
    fn create(base: &str) -> Self {
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).unwrap();
        let name = format!("it_{}", hex::encode(id));
        let (b, n) = (base.to_owned(), name.clone());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&b, postgres::NoTls)
                .unwrap_or_else(|e| panic!("SCORPIUS_TEST_DATABASE_URL is set but PostgreSQL is not reachable: {e}"));
            c.batch_execute(&format!("CREATE SCHEMA {n}")).unwrap();
        })
        .join()
        .unwrap();
        TestSchema { base: base.to_owned(), name }
    }

    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }
}

#[cfg(feature = "postgres")]
impl Drop for TestSchema {
    fn drop(&mut self) {
        let (b, n) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&b, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {n} CASCADE"));
            }
        })
        .join();
    }
}

/// A running server with its own data directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: scorpius_server::app::AppState,
    pub _dir: tempfile::TempDir,
    #[cfg(feature = "postgres")]
    _schema: Option<TestSchema>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        bind: "127.0.0.1:0".into(),
        data_dir: Some(dir.to_path_buf()),
        key_mode: KeyMode::Test,
        shutdown_grace_ms: 0,
        log_format: "text".into(),
        rate_limit_per_second: 1000,
        rate_limit_burst: 1000,
        // The tests' webhook receivers listen on 127.0.0.1; `private_endpoints_are_refused`
        // turns the guard back on.
        webhooks: scorpius_server::webhooks::WebhooksConfig { allow_private: true, ..Default::default() },
        ..Config::default()
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        Self::start_config(config, dir).await
    }

    pub async fn start_config(mut config: Config, dir: tempfile::TempDir) -> Self {
        #[cfg(feature = "postgres")]
        let schema = match std::env::var("SCORPIUS_TEST_DATABASE_URL") {
            Ok(base) if config.database_url.is_none() => {
                let schema = tokio::task::spawn_blocking(move || TestSchema::create(&base)).await.unwrap();
                config.database_url = Some(schema.url());
                Some(schema)
            }
            _ => None,
        };
        let server = Server::bind(config, Hooks::default()).await.unwrap();
        let addr = server.local_addr().unwrap();
        let state = server.state.clone();
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            client: client(),
            state,
            _dir: dir,
            #[cfg(feature = "postgres")]
            _schema: schema,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates a key directly in storage (as `admin create-key` does).
    pub async fn key(&self, tenant: &str, role: Role) -> String {
        self.key_expiring(tenant, role, None).await.secret
    }

    pub async fn key_expiring(&self, tenant: &str, role: Role, expires_ms: Option<i64>) -> CreatedKey {
        let store = std::sync::Arc::clone(&self.state.store);
        let tenant = tenant.to_owned();
        tokio::task::spawn_blocking(move || {
            keys::create(store.as_ref(), KeyMode::Test, &tenant, role, None, expires_ms)
        })
        .await
        .unwrap()
        .unwrap()
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<&Value>) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        Reply::from(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Signals shutdown without waiting.
    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.take().unwrap()
    }
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        Reply { status, headers, text }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem body with this status and slug.
    pub fn assert_problem(&self, status: u16, slug: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text);
        let p = self.json();
        assert_eq!(p["status"], status, "{p}");
        let t = p["type"].as_str().unwrap();
        assert!(t.ends_with(&format!("#{slug}")), "expected {slug}, got {t}");
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
        assert!(p["request_id"].as_str().is_some_and(|t| t.len() > 8), "{p}");
        p
    }
}

pub const TX: &str = include_str!("../../../examples/tx/drainer-batch.json");
pub const TYPED: &str = include_str!("../../../examples/signatures/permit2-single.json");

pub fn tx_body() -> Value {
    serde_json::json!({ "to": "0x4d9e5a9b0c3dbe5d6a3f7c9df1d0bde1c3afb1a2", "data": "0x4e71d92d", "value": "0x16345785d8a0000" })
}
