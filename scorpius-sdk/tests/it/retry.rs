//! Retries and backoff against a small local server whose answers each test scripts: 429 with
//! `Retry-After`, 503, a connection closed mid-request, a slow answer past the timeout; and
//! requests that change state without an idempotency key are never sent twice.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use scorpius_sdk::{
    Client, Error, RetryPolicy,
    api::{
        keys::{CreateKeyRequest, Role},
        scan::DomainScan,
    },
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const HEALTH: &str = r#"{"status":"ok"}"#;
const PROBLEM_503: &str = r#"{"type":"https://github.com/scorpius-security/scorpius/blob/main/docs/server.md#unavailable","title":"Service unavailable","status":503,"detail":"busy"}"#;

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..RetryPolicy::default()
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}")
}

fn client(url: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(url)
        .api_key("sk_test_x")
        .retry(retry)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

fn problem(status: StatusCode, body: &'static str) -> Response {
    (status, [("content-type", "application/problem+json")], body).into_response()
}

/// A route that fails `failures` times with `fail`, then answers `HEALTH`.
fn flaky(hits: Arc<AtomicUsize>, failures: usize, fail: fn() -> Response) -> Router {
    Router::new().route(
        "/health/live",
        get(move || {
            let hits = Arc::clone(&hits);
            async move {
                if hits.fetch_add(1, Ordering::SeqCst) < failures {
                    fail()
                } else {
                    ([("content-type", "application/json")], HEALTH).into_response()
                }
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_waits_retry_after() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(Arc::clone(&hits), 1, || {
        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response()
    }))
    .await;
    let t = Instant::now();
    assert_eq!(client(&url, fast()).health_live().await.unwrap().status, "ok");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(t.elapsed() >= Duration::from_millis(950), "Retry-After honoured: {:?}", t.elapsed());

    // Without retries the caller gets the wait.
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(Arc::clone(&hits), 1, || {
        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "slow down").into_response()
    }))
    .await;
    match client(&url, RetryPolicy::none()).health_live().await.unwrap_err() {
        Error::RateLimited { retry_after, .. } => assert_eq!(retry_after, Some(Duration::from_secs(7))),
        other => panic!("{other:?}"),
    }
    // A Retry-After beyond the policy's limit is returned rather than slept through.
    let patient_until = RetryPolicy { max_retry_after: Duration::from_secs(2), ..fast() };
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(Arc::clone(&hits), 5, || {
        (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3600")], "").into_response()
    }))
    .await;
    let t = Instant::now();
    assert!(matches!(client(&url, patient_until).health_live().await, Err(Error::RateLimited { .. })));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_is_retried_with_backoff_until_the_policy_is_spent() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(Arc::clone(&hits), 2, || problem(StatusCode::SERVICE_UNAVAILABLE, PROBLEM_503))).await;
    assert_eq!(client(&url, fast()).health_live().await.unwrap().status, "ok");
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(Arc::clone(&hits), 100, || problem(StatusCode::SERVICE_UNAVAILABLE, PROBLEM_503))).await;
    let e = client(&url, fast()).health_live().await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(503), Some("unavailable")));
    assert_eq!(hits.load(Ordering::SeqCst), 4, "one attempt and three retries");

    // 4xx answers are final.
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(flaky(Arc::clone(&hits), 100, || StatusCode::NOT_FOUND.into_response())).await;
    assert_eq!(client(&url, fast()).health_live().await.unwrap_err().status(), Some(404));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// A raw listener that closes the first `resets` connections as soon as the request
/// arrives, then answers `HEALTH`; returns its URL and the connection count.
async fn resetting(resets: usize) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let conns = Arc::new(AtomicUsize::new(0));
    let c2 = Arc::clone(&conns);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let n = c2.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                if n >= resets {
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{HEALTH}",
                        HEALTH.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                }
                // Dropping the socket closes the connection, before any answer for the first ones.
            });
        }
    });
    (url, conns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_are_retried() {
    let (url, conns) = resetting(2).await;
    assert_eq!(client(&url, fast()).health_live().await.unwrap().status, "ok");
    assert_eq!(conns.load(Ordering::SeqCst), 3);

    let (url, conns) = resetting(usize::MAX).await;
    let e = client(&url, RetryPolicy::none()).health_live().await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_retried_and_reported() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let app = Router::new().route(
        "/health/live",
        get(move || {
            let h = Arc::clone(&h);
            async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                ([("content-type", "application/json")], HEALTH).into_response()
            }
        }),
    );
    let url = serve(app).await;
    assert_eq!(client(&url, fast()).health_live().await.unwrap().status, "ok");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    let slow = Router::new().route(
        "/health/live",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HEALTH
        }),
    );
    let url = serve(slow).await;
    let e = client(&url, RetryPolicy::none()).health_live().await.unwrap_err();
    assert!(matches!(e, Error::Timeout(d) if d == Duration::from_millis(500)), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_without_idempotency_key_are_sent_once_and_scans_reuse_their_key() {
    let hits = Arc::new(AtomicUsize::new(0));
    let keys_seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let (h, k) = (Arc::clone(&hits), Arc::clone(&keys_seen));
    let app = Router::new().route(
        "/{*path}",
        any(move |headers: HeaderMap| {
            let (h, k) = (Arc::clone(&h), Arc::clone(&k));
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                k.lock().unwrap().push(headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned));
                problem(StatusCode::SERVICE_UNAVAILABLE, PROBLEM_503)
            }
        }),
    );
    let url = serve(app).await;
    let c = client(&url, fast());

    let req = CreateKeyRequest { role: Role::Viewer, name: None, expires_at: None };
    assert_eq!(c.create_key(&req).await.unwrap_err().status(), Some(503));
    assert_eq!(hits.swap(0, Ordering::SeqCst), 1, "create_key is not retried");
    assert_eq!(c.rotate_key("key_1").await.unwrap_err().status(), Some(503));
    assert_eq!(hits.swap(0, Ordering::SeqCst), 1, "rotate_key is not retried");
    assert_eq!(c.revoke_key("key_1").await.unwrap_err().status(), Some(503));
    assert_eq!(hits.swap(0, Ordering::SeqCst), 1, "revoke_key is not retried");
    keys_seen.lock().unwrap().clear();

    // A scan is retried, every attempt with the same Idempotency-Key.
    assert_eq!(c.scan_domain(&DomainScan { site: "example.org".into() }).await.unwrap_err().status(), Some(503));
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    let seen = keys_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    let first = seen[0].clone().expect("scans carry an Idempotency-Key");
    assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");
    assert!(seen.iter().all(|s| s.as_deref() == Some(first.as_str())), "{seen:?}");
    // The next call gets a new key.
    keys_seen.lock().unwrap().clear();
    let _ = c.scan_domain(&DomainScan { site: "example.org".into() }).await;
    assert_ne!(keys_seen.lock().unwrap()[0].as_deref(), Some(first.as_str()));
}
