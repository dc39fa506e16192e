//! Bad input gets the documented status and problem body, every time.

use reqwest::Method;
use scorpius_core::api::keys::Role;
use serde_json::json;

use crate::common::{Reply, TestServer, tx_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_problem_details() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 4096).await;
    let key = s.key("acme", Role::Admin).await;
    let raw = |body: &'static str, ctype: Option<&'static str>| {
        let mut r = s.client.post(s.url("/v1/scan/transaction")).header("x-api-key", key.clone()).body(body);
        if let Some(c) = ctype {
            r = r.header("content-type", c);
        }
        r.send()
    };
    // Malformed JSON: 400.
    let r = Reply::from(raw("{\"to\": ", Some("application/json")).await.unwrap()).await;
    let p = r.assert_problem(400, "bad-request");
    assert!(p["detail"].as_str().unwrap().contains("malformed JSON"), "{p}");
    // Wrong type: 422 naming the field.
    let r = Reply::from(raw("{\"to\": 5}", Some("application/json")).await.unwrap()).await;
    let p = r.assert_problem(422, "invalid-input");
    assert!(p["detail"].as_str().unwrap().starts_with("to:"), "{p}");
    // Unknown field: 422.
    let r = Reply::from(raw("{\"too\": \"0x\"}", Some("application/json")).await.unwrap()).await;
    r.assert_problem(422, "invalid-input");
    // Valid JSON, invalid value: 422 naming the field.
    let r = s.post("/v1/scan/transaction", &key, &json!({ "to": "0x1234" })).await;
    let p = r.assert_problem(422, "invalid-input");
    assert!(p["detail"].as_str().unwrap().contains("to"), "{p}");
    s.post("/v1/scan/transaction", &key, &json!({})).await.assert_problem(422, "invalid-input");
    s.post("/v1/scan/transaction", &key, &json!({ "raw": "0x02", "to": "0x8ba1f109551bd432803012645ac136ddd64dba72" }))
        .await
        .assert_problem(422, "invalid-input");
    s.post(
        "/v1/scan/address",
        &key,
        &json!({ "address": "0x8ba1f109551bd432803012645ac136ddd64dba72", "chain": "etherum" }),
    )
    .await
    .assert_problem(422, "invalid-input");
    s.post("/v1/scan/domain", &key, &json!({ "site": "exa mple.com" })).await.assert_problem(422, "invalid-input");
    s.post("/v1/scan/contract", &key, &json!({ "bytecode": "0xzz" })).await.assert_problem(422, "invalid-input");
    s.post(
        "/v1/scan/transaction",
        &key,
        &json!({ "to": "0x8ba1f109551bd432803012645ac136ddd64dba72", "origin": "http://" }),
    )
    .await
    .assert_problem(422, "invalid-input");
    // Not JSON: 415.
    Reply::from(raw("to=0x", Some("application/x-www-form-urlencoded")).await.unwrap())
        .await
        .assert_problem(415, "unsupported-media-type");
    Reply::from(raw("{}", None).await.unwrap()).await.assert_problem(415, "unsupported-media-type");
    // Oversize: 413, with and without a content length.
    let big = json!({ "data": format!("0x{}", "ab".repeat(5000)), "to": "0x8ba1f109551bd432803012645ac136ddd64dba72" });
    s.post("/v1/scan/transaction", &key, &big).await.assert_problem(413, "payload-too-large");
    // Chunked, without a Content-Length: the limit still holds.
    let chunked = raw_http(
        &s,
        &format!(
            "POST /v1/scan/transaction HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}0\r\n\r\n",
            format!("3e8\r\n{}\r\n", "x".repeat(1000)).repeat(10)
        ),
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.contains("payload-too-large"), "{chunked}");
    // Unknown routes and methods.
    s.get("/v1/nope", &key).await.assert_problem(404, "not-found");
    s.call(Method::GET, "/nope", None, None).await.assert_problem(404, "not-found");
    let r = s.call(Method::PUT, "/v1/scans", Some(&key), None).await;
    r.assert_problem(405, "method-not-allowed");
    // Query strings.
    s.get("/v1/scans?limit=abc", &key).await.assert_problem(400, "bad-request");
    s.get("/v1/scans?unknown=1", &key).await.assert_problem(400, "bad-request");
    s.stop().await;
}

/// Sends raw bytes and reads the whole response.
async fn raw_http(s: &TestServer, request: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_wrong_keys_are_401() {
    let s = TestServer::start().await;
    let real = s.key("acme", Role::Admin).await;
    let r = s.call(Method::GET, "/v1/scans", None, None).await;
    r.assert_problem(401, "missing-key");
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"scorpius\""));
    // Not a key at all; a well-formed key with a bad checksum; a well-formed unknown key.
    let mut flipped = real.clone().into_bytes();
    let i = flipped.len() - 1;
    flipped[i] = if flipped[i] == b'0' { b'1' } else { b'0' };
    let unknown = scorpius_server::auth::Secret::generate(scorpius_server::auth::KeyMode::Test).unwrap();
    for bad in ["hello", std::str::from_utf8(&flipped).unwrap(), unknown.expose()] {
        s.get("/v1/scans", bad).await.assert_problem(401, "invalid-key");
    }
    let r = s.client.get(s.url("/v1/scans")).header("authorization", "Basic Zm9vOmJhcg==").send().await.unwrap();
    Reply::from(r).await.assert_problem(401, "missing-key");
    // Body errors come after authentication: no key, no parsing.
    s.call(Method::POST, "/v1/scan/transaction", None, Some(&tx_body())).await.assert_problem(401, "missing-key");
    s.stop().await;
}
