//! Webhook verification end to end: deliveries signed with the server's signing code
//! (`scorpius_core::webhooks::sign`, what the server's delivery worker calls) posted over HTTP
//! to an axum receiver that verifies them with the SDK.

use std::{sync::Arc, time::Duration};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use scorpius_core::webhooks::sign;
use scorpius_sdk::webhooks::{self, Verifier, VerifyError, WebhookSecret};

struct App {
    secret: WebhookSecret,
    verifier: Verifier,
}

async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    match app.verifier.verify(&headers, &body, &app.secret) {
        Ok(m) => (StatusCode::NO_CONTENT, m.id),
        Err(VerifyError::Replayed { id }) => (StatusCode::CONFLICT, id),
        Err(e) => (StatusCode::UNAUTHORIZED, e.to_string()),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn deliver(url: &str, id: &str, ts: i64, signature: &str, body: &'static [u8]) -> (u16, String) {
    // reqwest is built without a default crypto provider (see the SDK's `rustls` feature).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::new();
    let r = c
        .post(url)
        .header(webhooks::HEADER_ID, id)
        .header(webhooks::HEADER_TIMESTAMP, ts.to_string())
        .header(webhooks::HEADER_SIGNATURE, signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_accepts_authentic_deliveries_once() {
    let secret = WebhookSecret::generate().unwrap();
    let app = Arc::new(App {
        secret: WebhookSecret::parse(&secret.expose()).unwrap(),
        verifier: Verifier::new(Duration::from_secs(300)),
    });
    let router = Router::new().route("/hook", post(receive)).with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });

    let body: &'static [u8] = br#"{"type":"scan.completed","data":{"risk_level":"high"}}"#;
    let ts = now();
    let sig = sign(&secret, "msg_1", ts, body);
    assert_eq!(deliver(&url, "msg_1", ts, &sig, body).await, (204, String::new()));
    // The same delivery again: a replay.
    assert_eq!(deliver(&url, "msg_1", ts, &sig, body).await, (409, "msg_1".into()));
    // A changed body, another secret, a stale or a future timestamp: refused.
    let (status, why) = deliver(&url, "msg_2", ts, &sign(&secret, "msg_2", ts, body), br#"{"type":"forged"}"#).await;
    assert_eq!((status, why.as_str()), (401, "no signature matches"));
    let other = WebhookSecret::generate().unwrap();
    assert_eq!(deliver(&url, "msg_3", ts, &sign(&other, "msg_3", ts, body), body).await.0, 401);
    let old = ts - 301;
    let (status, why) = deliver(&url, "msg_4", old, &sign(&secret, "msg_4", old, body), body).await;
    assert_eq!(status, 401);
    assert!(why.contains("too old"), "{why}");
    // Measured from now, not from `ts`: seconds may have passed since (`ts + 301` was
    // accepted once the clock had moved on by one).
    let future = now() + 330;
    assert_eq!(deliver(&url, "msg_5", future, &sign(&secret, "msg_5", future, body), body).await.0, 401);
    // Rotation: the sender signs with the old and the new secret; either verifies.
    let both = format!("{} {}", sign(&other, "msg_6", ts, body), sign(&secret, "msg_6", ts, body));
    assert_eq!(deliver(&url, "msg_6", ts, &both, body).await.0, 204);
}
