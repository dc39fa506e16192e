//! OpenTelemetry export (feature `otel`): the real binary with `SCORPIUS_OTLP_ENDPOINT` set
//! sends its request spans over OTLP/HTTP to a local collector stand-in (an axum app that
//! keeps what it receives), continuing the caller's W3C trace, without secrets.

use std::{
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};

type Got = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

async fn traces(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> &'static str {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    got.lock().unwrap().push((ct, body.to_vec()));
    ""
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_reach_the_collector() {
    let got: Got = Arc::default();
    let app = Router::new().route("/v1/traces", post(traces)).with_state(Arc::clone(&got));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_scorpius-server");
    let out = Command::new(bin)
        .args(["--data-dir", dir.path().to_str().unwrap(), "admin", "create-key", "--role", "admin"])
        .env("SCORPIUS_LOG_FORMAT", "text")
        .env_remove("SCORPIUS_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(bin)
        .args(["--data-dir", dir.path().to_str().unwrap(), "--bind", &format!("127.0.0.1:{port}")])
        .env("SCORPIUS_OTLP_ENDPOINT", format!("http://{collector}"))
        .env("SCORPIUS_SHUTDOWN_GRACE_MS", "0")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("SCORPIUS_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = crate::common::client();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.get(format!("{base}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let scan = client
        .post(format!("{base}/v1/scan/domain"))
        .header("x-api-key", &secret)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&serde_json::json!({ "site": "https://example.org" }))
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 201);
    let scan: serde_json::Value = scan.json().await.unwrap();
    let id = scan["scan_id"].as_str().unwrap();
    let got_scan = client.get(format!("{base}/v1/scans/{id}")).header("x-api-key", &secret).send().await.unwrap();
    assert_eq!(got_scan.status(), 200);

    // Batches leave every 100 ms here; SIGTERM flushes what is left.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.lock().unwrap().iter().any(|(_, b)| contains(b, b"/v1/scan/domain")) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    crate::binary::sigterm_and_wait(&mut child).await;

    let got = got.lock().unwrap();
    assert!(!got.is_empty(), "nothing reached the collector");
    assert!(
        got.iter().all(|(ct, _)| ct == "application/x-protobuf"),
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    let all: Vec<u8> = got.iter().flat_map(|(_, b)| b.clone()).collect();
    assert!(contains(&all, b"scorpius-server"), "the service name");
    assert!(contains(&all, b"POST /v1/scan/domain"), "the span is named by method and route");
    assert!(contains(&all, b"GET /v1/scans/{id}"), "ids stay out of span names");
    assert!(contains(&all, b"http.response.status_code"));
    assert!(contains(&all, &hex(trace_id)), "the span continues the caller's trace");
    assert!(!contains(&all, secret.as_bytes()) && !contains(&all, &secret.as_bytes()[8..]), "a secret was exported");
}

#[test]
fn a_bad_endpoint_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scorpius-server"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "--bind", "127.0.0.1:0"])
        .env("SCORPIUS_OTLP_ENDPOINT", "ftp://collector")
        .env_remove("SCORPIUS_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("otlp_endpoint"), "{}", String::from_utf8_lossy(&out.stderr));
}
