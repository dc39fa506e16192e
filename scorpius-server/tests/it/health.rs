//! Health, readiness during shutdown, metrics, OpenAPI, docs page, request ids, headers.

use std::time::Duration;

use reqwest::Method;
use scorpius_core::api::keys::Role;

use crate::common::{TestServer, tx_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_openapi_and_docs() {
    let s = TestServer::start().await;
    let live = s.call(Method::GET, "/health/live", None, None).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.json()["status"], "ok");
    let ready = s.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json()["backend"], crate::common::backend());
    // Deep needs a key, and then probes storage and verifies the audit log.
    s.call(Method::GET, "/health/deep", None, None).await.assert_problem(401, "missing-key");
    let key = s.key("acme", Role::Viewer).await;
    let deep = s.get("/health/deep", &key).await;
    assert_eq!(deep.status, 200, "{}", deep.text);
    assert_eq!(deep.json()["status"], "ok");
    assert!(deep.json()["audit_entries"].as_u64().unwrap() >= 1);

    // Request ids: generated, returned, and quoted in problem bodies; a client's id is kept.
    let r = s.call(Method::GET, "/health/live", None, None).await;
    assert!(r.header("x-request-id").is_some_and(|v| v.len() >= 32));
    let mine = s.client.get(s.url("/v1/nope")).header("x-request-id", "req-abc-123").send().await.unwrap();
    assert_eq!(mine.headers()["x-request-id"], "req-abc-123");
    let body: serde_json::Value = mine.json().await.unwrap();
    assert_eq!(body["request_id"], "req-abc-123");
    assert_eq!(body["instance"], "/v1/nope");
    // Security headers.
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));

    // Metrics count requests by route template and status, with no key or tenant labels.
    let admin = s.key("acme", Role::Admin).await;
    assert_eq!(s.post("/v1/scan/transaction", &admin, &tx_body()).await.status, 201);
    let m = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(m.status, 200);
    assert!(m.text.contains("scorpius_http_requests_total"), "{}", m.text);
    assert!(m.text.contains("route=\"/v1/scan/transaction\""), "{}", m.text);
    assert!(m.text.contains("scorpius_scans_total"), "{}", m.text);
    assert!(m.text.contains("scorpius_http_request_duration_seconds_bucket"), "{}", m.text);
    assert!(m.text.contains("scorpius_audit_appends_total"), "{}", m.text);
    assert!(!m.text.contains("acme") && !m.text.contains("key_"), "metrics must not carry tenants or keys");

    // OpenAPI lists every route; the docs page is served from the binary.
    let doc = s.call(Method::GET, "/openapi.json", None, None).await.json();
    for (_, route, _) in scorpius_server::router::PROTECTED {
        assert!(doc["paths"][route].is_object(), "{route} missing from /openapi.json");
    }
    #[cfg(feature = "swagger-ui")]
    {
        let page = s.call(Method::GET, "/docs/", None, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("swagger"), "{}", page.text);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_readiness_503_then_drains() {
    let mut s = TestServer::start_with(|c| c.shutdown_grace_ms = 1500).await;
    assert_eq!(s.call(Method::GET, "/health/ready", None, None).await.status, 200);
    let task = s.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // During the grace period the listener still answers, and readiness says 503.
    let r = s.call(Method::GET, "/health/ready", None, None).await;
    r.assert_problem(503, "unavailable");
    assert_eq!(s.call(Method::GET, "/health/live", None, None).await.status, 200);
    task.await.unwrap().unwrap();
    // Then it stops accepting.
    assert!(s.client.get(s.url("/health/live")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_key() {
    let s = TestServer::start_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
    })
    .await;
    let a = s.key("acme", Role::Viewer).await;
    let b = s.key("acme", Role::Viewer).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = s.get("/v1/scans", &a).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
        remaining.push(r.header("x-ratelimit-remaining").unwrap().to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = s.get("/v1/scans", &a).await;
    r.assert_problem(429, "rate-limited");
    assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().unwrap() >= 1));
    // Another key has its own budget.
    assert_eq!(s.get("/v1/scans", &b).await.status, 200);
    let m = s.call(Method::GET, "/metrics", None, None).await;
    assert!(m.text.contains("scorpius_rate_limited_total"));
    s.stop().await;
}
