//! Webhooks against a real local HTTP receiver (an axum app on 127.0.0.1:0): signatures
//! verified with the shown secret, retries after 500s, a receiver that is down, slow or
//! redirecting, disabling after sustained failure, manual redelivery, threshold events once
//! per period, and a server restart in the middle of the retries.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use reqwest::Method;
use scorpius_core::{
    api::keys::Role,
    metering::{Meter, plan::Plan},
    webhooks::{WebhookSecret, verify},
};
use scorpius_server::config::Config;
use serde_json::{Value, json};

use crate::common::{TestServer, test_config};

/// What a receiver does with each request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Answer 500 to this many requests first.
    pub fail_first: usize,
    /// Wait this long before answering.
    pub delay_ms: u64,
    /// Answer 307 to `/elsewhere`.
    pub redirect: bool,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct Inbox {
    pub behaviour: Behaviour,
    pub requests: Vec<Received>,
    pub elsewhere: usize,
}

pub type Shared = Arc<Mutex<Inbox>>;

async fn hook(State(inbox): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (behaviour, n) = {
        let i = inbox.lock().unwrap();
        (i.behaviour, i.requests.len())
    };
    if behaviour.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(behaviour.delay_ms)).await;
    }
    let status = if behaviour.redirect {
        307
    } else if n < behaviour.fail_first {
        500
    } else {
        200
    };
    inbox.lock().unwrap().requests.push(Received {
        id: get("webhook-id"),
        timestamp: get("webhook-timestamp"),
        signature: get("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    });
    match status {
        307 => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/elsewhere")], "moved").into_response(),
        500 => (StatusCode::INTERNAL_SERVER_ERROR, "boom: receiver failed").into_response(),
        _ => (StatusCode::OK, "thanks").into_response(),
    }
}

async fn elsewhere(State(inbox): State<Shared>) -> &'static str {
    inbox.lock().unwrap().elsewhere += 1;
    "followed"
}

/// A receiver on a free port.
pub async fn receiver(behaviour: Behaviour) -> (SocketAddr, Shared) {
    let inbox: Shared = Arc::new(Mutex::new(Inbox { behaviour, ..Inbox::default() }));
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/elsewhere", post(elsewhere).get(elsewhere))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, inbox)
}

/// Waits (up to `secs`) until `f` holds.
pub async fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

pub fn fast(c: &mut Config) {
    c.webhooks.poll_interval_ms = 50;
    c.webhooks.initial_backoff_ms = 200;
    c.webhooks.max_backoff_ms = 400;
    c.webhooks.timeout_ms = 2_000;
}

/// Subscribes `url` for `events`; returns (id, secret).
pub async fn subscribe(s: &TestServer, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let r = s.post("/v1/webhooks", admin, &json!({ "url": url, "events": events, "description": "test" })).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    (v["webhook"]["id"].as_str().unwrap().to_owned(), v["secret"].as_str().unwrap().to_owned())
}

fn types(inbox: &Shared) -> Vec<String> {
    inbox
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_and_verify_with_the_secret_shown_once() {
    let (addr, inbox) = receiver(Behaviour::default()).await;
    let s = TestServer::start_with(fast).await;
    let admin = s.key("acme", Role::Admin).await;
    let events = ["scan.completed", "finding.critical", "key.created", "key.revoked"];
    let (id, secret) = subscribe(&s, &admin, &format!("http://{addr}/hook"), &events).await;
    assert!(secret.starts_with("whsec_"));
    // The secret never appears again.
    for path in ["/v1/webhooks".to_owned(), format!("/v1/webhooks/{id}")] {
        let r = s.get(&path, &admin).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(!r.text.contains(&secret[6..]), "{path} shows the secret");
        assert!(!r.text.contains("secret"), "{path}: {}", r.text);
    }
    // A listed phishing domain: a critical finding.
    let scan = s.post("/v1/scan/domain", &admin, &json!({ "site": "https://wallet.0army.io/connect" })).await;
    assert_eq!(scan.status, 201, "{}", scan.text);
    let scan_id = scan.json()["scan_id"].as_str().unwrap().to_owned();
    let critical = scan.json()["findings"].as_array().unwrap().iter().any(|f| f["severity"] == "critical");
    assert!(critical, "a listed phishing domain is a critical finding: {}", scan.text);
    let created = s.post("/v1/keys", &admin, &json!({ "role": "viewer" })).await.json();
    let new_key = created["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.call(Method::DELETE, &format!("/v1/keys/{new_key}"), Some(&admin), None).await.status, 204);
    assert!(wait_until(10, || types(&inbox).len() >= 4).await, "{:?}", types(&inbox));
    let mut got = types(&inbox);
    got.sort();
    assert_eq!(got, vec!["finding.critical", "key.created", "key.revoked", "scan.completed"]);

    let key = WebhookSecret::parse(&secret).unwrap();
    let now = scorpius_server::store::sqlite::now_ms() / 1000;
    for r in inbox.lock().unwrap().requests.iter() {
        verify(&key, &r.id, &r.timestamp, &r.signature, r.body.as_bytes(), now, 300).unwrap();
        assert!(r.id.starts_with("msg_"));
        // A changed body or another secret does not verify.
        let tampered = r.body.replace("acme", "acmf");
        assert!(verify(&key, &r.id, &r.timestamp, &r.signature, tampered.as_bytes(), now, 300).is_err());
        let other = WebhookSecret::generate().unwrap();
        assert!(verify(&other, &r.id, &r.timestamp, &r.signature, r.body.as_bytes(), now, 300).is_err());
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["tenant"], "acme");
        match body["type"].as_str().unwrap() {
            "scan.completed" | "finding.critical" => assert_eq!(body["data"]["scan_id"], scan_id.as_str()),
            "key.created" | "key.revoked" => assert_eq!(body["data"]["key_id"], new_key.as_str()),
            other => panic!("unexpected {other}"),
        }
    }
    // The delivery log: one successful attempt each, with the receiver's answer (the worker
    // records a delivery just after the receiver answered it).
    let mut log = Value::Null;
    for _ in 0..100 {
        log = s.get(&format!("/v1/webhooks/{id}/deliveries"), &admin).await.json();
        let states = log["deliveries"].as_array().map(|d| d.iter().filter(|d| d["state"] == "delivered").count());
        if states == Some(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliveries = log["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 4, "{log}");
    for d in deliveries {
        assert_eq!(d["state"], "delivered", "{d}");
        assert_eq!(d["log"][0]["status"], 200);
        assert_eq!(d["log"][0]["response"], "thanks");
    }
    // Another tenant sees none of it.
    let other = s.key("globex", Role::Admin).await;
    s.get(&format!("/v1/webhooks/{id}"), &other).await.assert_problem(404, "not-found");
    s.get(&format!("/v1/webhooks/{id}/deliveries"), &other).await.assert_problem(404, "not-found");
    assert_eq!(s.get("/v1/webhooks", &other).await.json()["webhooks"].as_array().unwrap().len(), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_and_redelivery_resends_the_same_message() {
    let (addr, inbox) = receiver(Behaviour { fail_first: 2, ..Behaviour::default() }).await;
    let s = TestServer::start_with(fast).await;
    let admin = s.key("acme", Role::Admin).await;
    let (id, _) = subscribe(&s, &admin, &format!("http://{addr}/hook"), &["key.created"]).await;
    s.post("/v1/keys", &admin, &json!({ "role": "viewer" })).await;
    assert!(wait_until(10, || types(&inbox).len() == 1).await);
    // The receiver has it; the worker records the attempt just after.
    let mut d = serde_json::Value::Null;
    for _ in 0..50 {
        d = s.get(&format!("/v1/webhooks/{id}/deliveries"), &admin).await.json()["deliveries"][0].clone();
        if d["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let d = &d;
    assert_eq!(d["state"], "delivered", "{d}");
    let statuses: Vec<u64> = d["log"].as_array().unwrap().iter().map(|a| a["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![500, 500, 200]);
    assert_eq!(d["log"][0]["response"], "boom: receiver failed");
    assert_eq!(d["log"][0]["error"], "HTTP 500");
    // Backoff: the second retry waited longer than the first (200 ms, then 400 ms, ±20 %).
    let at: Vec<time::OffsetDateTime> = d["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            time::OffsetDateTime::parse(a["at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
                .unwrap()
        })
        .collect();
    assert!((at[1] - at[0]).whole_milliseconds() >= 150, "{at:?}");
    assert!((at[2] - at[1]).whole_milliseconds() >= 300, "{at:?}");
    // Manual redelivery: a new delivery of the same message id.
    let first = inbox.lock().unwrap().requests[2].id.clone();
    let delivery = d["id"].as_str().unwrap();
    let r = s.post(&format!("/v1/webhooks/{id}/deliveries/{delivery}/redeliver"), &admin, &json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(wait_until(10, || types(&inbox).len() == 2).await);
    assert_eq!(inbox.lock().unwrap().requests[3].id, first);
    s.post(&format!("/v1/webhooks/{id}/deliveries/dlv_0000/redeliver"), &admin, &json!({}))
        .await
        .assert_problem(404, "not-found");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_slow_and_redirecting_receivers_fail_without_following() {
    let (slow, _) = receiver(Behaviour { delay_ms: 3_000, ..Behaviour::default() }).await;
    let (redirecting, redirect_inbox) = receiver(Behaviour { redirect: true, ..Behaviour::default() }).await;
    // A port nobody listens on.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = TestServer::start_with(|c| {
        fast(c);
        c.webhooks.timeout_ms = 500;
        c.webhooks.max_attempts = 2;
    })
    .await;
    let admin = s.key("acme", Role::Admin).await;
    let mut ids = Vec::new();
    for addr in [down, slow, redirecting] {
        ids.push(subscribe(&s, &admin, &format!("http://{addr}/hook"), &["key.created"]).await.0);
    }
    s.post("/v1/keys", &admin, &json!({ "role": "viewer" })).await;
    let mut logs = Vec::new();
    for id in &ids {
        let mut last = Value::Null;
        let mut done = false;
        for _ in 0..300 {
            last = s.get(&format!("/v1/webhooks/{id}/deliveries"), &admin).await.json();
            if last["deliveries"][0]["state"] == "failed" {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(done, "{last}");
        logs.push(last["deliveries"][0].clone());
    }
    let attempts = |d: &Value| d["log"].as_array().unwrap().clone();
    assert_eq!(attempts(&logs[0]).len(), 2);
    assert_eq!(logs[0]["log"][0]["error"], "could not connect", "{}", logs[0]);
    assert_eq!(logs[1]["log"][0]["error"], "timed out", "{}", logs[1]);
    assert!(logs[1]["log"][0]["latency_ms"].as_u64().unwrap() < 2_500, "{}", logs[1]);
    assert_eq!(logs[2]["log"][0]["status"], 307);
    assert!(logs[2]["log"][0]["error"].as_str().unwrap().contains("redirect not followed"), "{}", logs[2]);
    assert_eq!(redirect_inbox.lock().unwrap().elsewhere, 0, "the redirect was followed");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_long_is_disabled_and_audited() {
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = TestServer::start_with(|c| {
        fast(c);
        c.webhooks.disable_after_ms = 600;
    })
    .await;
    let admin = s.key("acme", Role::Admin).await;
    let (id, _) = subscribe(&s, &admin, &format!("http://{down}/hook"), &["key.created"]).await;
    s.post("/v1/keys", &admin, &json!({ "role": "viewer" })).await;
    let mut info = Value::Null;
    for _ in 0..200 {
        info = s.get(&format!("/v1/webhooks/{id}"), &admin).await.json();
        if info["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(info["enabled"], false, "{info}");
    assert!(info["disabled_reason"].as_str().unwrap().contains("sustained failure"), "{info}");
    // The audit log records it (a server action, so the actor is `system`).
    let store = Arc::clone(&s.state.store);
    let entries = tokio::task::spawn_blocking(move || {
        store.audit_entries(&scorpius_server::store::AuditFilter {
            action: Some("webhook.disable".into()),
            limit: 10,
            ..Default::default()
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].actor.as_str(), entries[0].resource.as_str()), ("system", id.as_str()));
    // A disabled endpoint gets no new messages; re-enabling resumes.
    let r = s.call(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(&admin), Some(&json!({ "enabled": true }))).await;
    assert_eq!(r.json()["enabled"], true, "{}", r.text);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_the_retries_still_delivers() {
    // The restart reopens the same SQLite files; on the PostgreSQL pass every start gets a new
    // schema, so this runs on the SQLite pass (the outbox on PostgreSQL is covered by pg.rs).
    if crate::common::backend() == "postgres" {
        return;
    }
    let (addr, inbox) = receiver(Behaviour { fail_first: 1, ..Behaviour::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let config = |c: &mut Config| {
        fast(c);
        c.webhooks.initial_backoff_ms = 1_500;
        c.webhooks.max_backoff_ms = 1_500;
    };
    let mut c1 = test_config(dir.path());
    config(&mut c1);
    let s = TestServer::start_config(c1.clone(), tempfile::tempdir().unwrap()).await;
    let admin = s.key("acme", Role::Admin).await;
    let (id, secret) = subscribe(&s, &admin, &format!("http://{addr}/hook"), &["key.created"]).await;
    s.post("/v1/keys", &admin, &json!({ "role": "viewer" })).await;
    assert!(wait_until(5, || inbox.lock().unwrap().requests.len() == 1).await);
    // The first attempt failed and is logged; stop before the retry is due.
    let mut logged = false;
    for _ in 0..100 {
        let log = s.get(&format!("/v1/webhooks/{id}/deliveries"), &admin).await.json();
        if log["deliveries"][0]["attempts"] == 1 {
            logged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(logged);
    s.stop().await;
    assert_eq!(inbox.lock().unwrap().requests.len(), 1);
    let s = TestServer::start_config(c1, tempfile::tempdir().unwrap()).await;
    assert!(wait_until(10, || types(&inbox).len() == 1).await, "not delivered after the restart");
    let reqs = inbox.lock().unwrap().requests.clone();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].id, reqs[1].id, "the same message");
    let key = WebhookSecret::parse(&secret).unwrap();
    let now = scorpius_server::store::sqlite::now_ms() / 1000;
    verify(&key, &reqs[1].id, &reqs[1].timestamp, &reqs[1].signature, reqs[1].body.as_bytes(), now, 300).unwrap();
    let log = s.get(&format!("/v1/webhooks/{id}/deliveries"), &admin).await.json();
    assert_eq!(log["deliveries"][0]["attempts"], 2, "{log}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_thresholds_are_announced_once_per_period() {
    let (addr, inbox) = receiver(Behaviour::default()).await;
    let s = TestServer::start_with(|c| {
        fast(c);
        let plan = Plan { quotas: [(Meter::ScanDomain, 5)].into(), ..Plan::default() };
        c.metering.plans.insert("five".into(), plan);
        c.metering.default_plan = Some("five".into());
    })
    .await;
    let admin = s.key("acme", Role::Admin).await;
    subscribe(&s, &admin, &format!("http://{addr}/hook"), &["usage.threshold_reached"]).await;
    for i in 0..7 {
        let r = s.post("/v1/scan/domain", &admin, &json!({ "site": "example.org" })).await;
        assert_eq!(r.status.as_u16(), if i < 5 { 201 } else { 429 }, "{}", r.text);
    }
    assert!(wait_until(10, || types(&inbox).len() >= 2).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies: Vec<Value> =
        inbox.lock().unwrap().requests.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let mut seen: Vec<(u64, u64)> = bodies
        .iter()
        .map(|b| (b["data"]["threshold_percent"].as_u64().unwrap(), b["data"]["used"].as_u64().unwrap()))
        .collect();
    seen.sort();
    assert_eq!(seen, vec![(80, 4), (100, 5)]);
    assert_eq!(bodies[0]["data"]["meter"], "scan.domain");
    assert_eq!(bodies[0]["data"]["quota"], 5);
    s.stop().await;
}

/// The SSRF guard (the default): no endpoint on a loopback or private address, whether given
/// as a literal (refused at once, 422) or as a name that resolves there (each attempt fails
/// and says why; the receiver never hears from the server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_endpoints_are_refused() {
    let (addr, inbox) = receiver(Behaviour::default()).await;
    let s = TestServer::start_with(|c| {
        fast(c);
        c.webhooks.allow_private = false;
    })
    .await;
    let admin = s.key("acme", Role::Admin).await;
    for url in [
        format!("http://{addr}/hook"),
        format!("http://localhost:{}/hook", addr.port()),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://10.0.0.7/hook".to_owned(),
    ] {
        let p = s
            .post("/v1/webhooks", &admin, &json!({ "url": url, "events": ["scan.completed"] }))
            .await
            .assert_problem(422, "invalid-input");
        assert!(p["detail"].as_str().unwrap().contains("non-public"), "{url}: {p}");
    }
    // A name that resolves to 127.0.0.1 (this machine's host name, else a name that
    // /etc/hosts maps to loopback) passes the literal check and is refused on resolution.
    let Some(name) = loopback_name() else {
        eprintln!("skipped the resolution half: no host name here resolves to loopback only");
        s.stop().await;
        return;
    };
    let (id, _) = subscribe(&s, &admin, &format!("http://{name}:{}/hook", addr.port()), &["scan.completed"]).await;
    let scan = s.post("/v1/scan/domain", &admin, &json!({ "site": "https://example.org" })).await;
    assert_eq!(scan.status, 201, "{}", scan.text);
    let mut last = Value::Null;
    for _ in 0..100 {
        last = s.get(&format!("/v1/webhooks/{id}/deliveries"), &admin).await.json();
        if last["deliveries"][0]["log"].as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let error = last["deliveries"][0]["log"][0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("non-public"), "the attempt names the guard: {last}");
    assert!(inbox.lock().unwrap().requests.is_empty(), "the receiver was never called");
    s.stop().await;
}

/// A host name (not `localhost`) that resolves only to loopback addresses.
fn loopback_name() -> Option<String> {
    use std::net::ToSocketAddrs as _;
    let hostname = std::fs::read_to_string("/etc/hostname").ok()?.trim().to_owned();
    let addrs: Vec<_> = (hostname.as_str(), 80).to_socket_addrs().ok()?.collect();
    (!hostname.is_empty() && !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())).then_some(hostname)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_validated() {
    let s = TestServer::start_with(|c| c.webhooks.allow_http = false).await;
    let admin = s.key("acme", Role::Admin).await;
    for (body, what) in [
        (json!({ "url": "http://example.com/x", "events": ["scan.completed"] }), "scheme"),
        (json!({ "url": "not a url", "events": ["scan.completed"] }), "url"),
        (json!({ "url": "https://u:p@example.com/", "events": ["scan.completed"] }), "credentials"),
        (json!({ "url": "https://example.com/", "events": [] }), "events"),
    ] {
        let p = s.post("/v1/webhooks", &admin, &body).await.assert_problem(422, "invalid-input");
        assert!(p["detail"].as_str().unwrap().contains(what), "{p}");
    }
    s.post("/v1/webhooks", &admin, &json!({ "url": "https://example.com/", "events": ["scan.nope"] }))
        .await
        .assert_problem(422, "invalid-input");
    s.post("/v1/webhooks", &admin, &json!({ "url": "https://example.com/", "events": ["scan.completed"], "extra": 1 }))
        .await
        .assert_problem(422, "invalid-input");
    let (id, _) = subscribe(&s, &admin, "https://example.com/hook", &["scan.completed"]).await;
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(&admin),
            Some(&json!({ "events": ["key.created", "key.created"] })),
        )
        .await;
    assert_eq!(r.json()["events"], json!(["key.created"]), "{}", r.text);
    assert_eq!(s.call(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(&admin), None).await.status, 204);
    s.call(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(&admin), None).await.assert_problem(404, "not-found");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_audit_verification_is_announced_to_every_subscribed_tenant() {
    // It tampers with the SQLite audit file: the SQLite pass only.
    if crate::common::backend() == "postgres" {
        return;
    }
    let (addr, inbox) = receiver(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    fast(&mut config);
    let s = TestServer::start_config(config, tempfile::tempdir().unwrap()).await;
    let acme = s.key("acme", Role::Admin).await;
    let globex = s.key("globex", Role::Admin).await;
    subscribe(&s, &acme, &format!("http://{addr}/hook"), &["audit.verification_failed"]).await;
    subscribe(&s, &globex, &format!("http://{addr}/hook"), &["audit.verification_failed"]).await;
    assert_eq!(s.get("/health/deep", &acme).await.status, 200);
    // Someone with file access rewrites an entry behind the log's back.
    let db = dir.path().join("audit.sqlite");
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch(
            "DROP TRIGGER audit_entries_redact_only; UPDATE audit_entries SET resource = 'rewritten' WHERE seq = 1;",
        )
        .unwrap();
    })
    .await
    .unwrap();
    s.get("/health/deep", &acme).await.assert_problem(503, "unavailable");
    assert!(wait_until(10, || types(&inbox).len() >= 2).await, "{:?}", types(&inbox));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut tenants: Vec<String> = inbox
        .lock()
        .unwrap()
        .requests
        .iter()
        .map(|r| {
            let b: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(b["type"], "audit.verification_failed");
            assert!(b["data"]["problems"].as_u64().unwrap() >= 1, "{b}");
            b["tenant"].as_str().unwrap().to_owned()
        })
        .collect();
    tenants.sort();
    assert_eq!(tenants, vec!["acme", "globex"]);
    // The same failure found again is not announced again.
    s.get("/health/deep", &globex).await.assert_problem(503, "unavailable");
    s.get("/health/deep", &acme).await.assert_problem(503, "unavailable");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(types(&inbox).len(), 2, "announced once: {:?}", types(&inbox));
    s.stop().await;
}

/// `scorpius-server admin create-key` on the host raises `key.created` as the API does: the
/// running server's worker delivers it from the shared outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_on_the_host_is_announced() {
    let (addr, inbox) = receiver(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let mut config = test_config(dir.path());
    fast(&mut config);
    let s = TestServer::start_config(config, dir).await;
    let admin = s.key("acme", Role::Admin).await;
    subscribe(&s, &admin, &format!("http://{addr}/hook"), &["key.created"]).await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scorpius-server"));
    cmd.args(["--data-dir", data_dir.to_str().unwrap()]);
    if let Some(url) = &s.state.config.database_url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd
        .args(["admin", "create-key", "--role", "viewer", "--tenant", "acme"])
        .env("SCORPIUS_LOG_FORMAT", "text")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The worker polls the outbox (50 ms here): no notification crosses processes.
    assert!(wait_until(10, || types(&inbox) == ["key.created"]).await, "{:?}", types(&inbox));
    let body: Value = serde_json::from_str(&inbox.lock().unwrap().requests[0].body).unwrap();
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["data"]["role"], "viewer");
    assert_eq!(body["data"]["by"], "host-admin");
    assert!(body["data"]["key_id"].as_str().unwrap().starts_with("key_"), "{body}");
    s.stop().await;
}
