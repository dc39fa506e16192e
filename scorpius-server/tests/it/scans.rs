//! Scans over HTTP: every kind, listing with filters and cursors, reports in each format,
//! idempotency.

use scorpius_core::api::keys::Role;
use serde_json::json;

use crate::common::{TX, TYPED, TestServer, tx_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scan_kind_runs_and_is_saved() {
    let s = TestServer::start().await;
    let key = s.key("acme", Role::Security).await;
    let tx_request: serde_json::Value = serde_json::from_str(TX).unwrap();
    let cases = [
        ("transaction", json!({ "request": tx_request })),
        ("transaction", tx_body()),
        (
            "signature",
            json!({ "typed_data": serde_json::from_str::<serde_json::Value>(TYPED).unwrap(), "origin": "https://app.uniswap.org" }),
        ),
        ("signature", json!({ "personal": "hello" })),
        ("address", json!({ "address": "0x8ba1f109551bd432803012645ac136ddd64dba72", "chain": 1 })),
        ("domain", json!({ "site": "https://uniswap-claim.example.com/x" })),
        ("contract", json!({ "bytecode": "0x6080604052348015600f57600080fd5b00", "name": "Tiny", "chain": "base" })),
    ];
    let mut ids = Vec::new();
    for (kind, body) in &cases {
        let r = s.post(&format!("/v1/scan/{kind}"), &key, body).await;
        assert_eq!(r.status, 201, "{kind}: {}", r.text);
        let report = r.json();
        assert_eq!(report["kind"], *kind);
        let id = report["scan_id"].as_str().unwrap().to_owned();
        assert_eq!(r.header("location"), Some(format!("/v1/scans/{id}").as_str()));
        let again = s.get(&format!("/v1/scans/{id}"), &key).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.json(), report, "the stored report is the one returned");
        ids.push(id);
    }
    // Saved scans get time-ordered ids (UUID v7), one after another in time order.
    let parsed: Vec<uuid::Uuid> = ids.iter().map(|id| id.parse().unwrap()).collect();
    assert!(parsed.iter().all(|u| u.get_version() == Some(uuid::Version::SortRand)), "{ids:?}");
    let stamps: Vec<_> = parsed.iter().map(|u| u.get_timestamp().unwrap().to_unix()).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    // The drainer batch is a high-risk transaction.
    let first = s.get(&format!("/v1/scans/{}", ids[0]), &key).await.json();
    assert!(!first["findings"].as_array().unwrap().is_empty(), "{first}");

    // Listing: newest first, paginated by cursor, every scan exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/scans?limit=3&cursor={c}"),
            None => "/v1/scans?limit=3".to_owned(),
        };
        let page = s.get(&path, &key).await.json();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["scan_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    let only = s.get("/v1/scans?kind=signature", &key).await.json();
    assert_eq!(only["items"].as_array().unwrap().len(), 2);
    let high = s.get("/v1/scans?level=high", &key).await.json();
    assert!(
        high["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| ["high", "critical"].contains(&i["risk_level"].as_str().unwrap()))
    );
    assert!(!high["items"].as_array().unwrap().is_empty());
    let future = s.get("/v1/scans?since=2999-01-01", &key).await.json();
    assert!(future["items"].as_array().unwrap().is_empty());
    let target = s.get("/v1/scans?kind=address&target=0x8BA1F109551BD432803012645AC136DDD64DBA72", &key).await.json();
    assert_eq!(target["items"].as_array().unwrap().len(), 1, "{target}");
    s.get("/v1/scans?kind=history", &key).await.assert_problem(400, "bad-request");
    s.get("/v1/scans?cursor=nope", &key).await.assert_problem(400, "bad-request");
    s.get("/v1/scans?limit=0", &key).await.assert_problem(400, "bad-request");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_render_in_each_format() {
    let s = TestServer::start().await;
    let key = s.key("acme", Role::Admin).await;
    let id = s.post("/v1/scan/transaction", &key, &tx_body()).await.json()["scan_id"].as_str().unwrap().to_owned();
    for (format, ctype, needle) in [
        ("json", "application/json", "\"schema_version\""),
        ("markdown", "text/markdown; charset=utf-8", "# "),
        ("html", "text/html; charset=utf-8", "<!DOCTYPE html>"),
        ("csv", "text/csv; charset=utf-8", "rule_id"),
        ("sarif", "application/sarif+json", "\"ruleId\""),
        ("pdf", "application/pdf", "%PDF-"),
    ] {
        let r = s.get(&format!("/v1/scans/{id}/report?format={format}"), &key).await;
        assert_eq!(r.status, 200, "{format}: {}", r.text);
        assert_eq!(r.header("content-type"), Some(ctype));
        assert!(r.text.contains(needle), "{format}: {}", &r.text[..r.text.len().min(300)]);
    }
    s.get(&format!("/v1/scans/{id}/report?format=docx"), &key).await.assert_problem(400, "bad-request");
    s.get("/v1/scans/00000000-0000-4000-8000-000000000000/report", &key).await.assert_problem(404, "not-found");
    s.get("/v1/scans/not-a-uuid", &key).await.assert_problem(404, "not-found");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_stored_response() {
    let s = TestServer::start().await;
    let key = s.key("acme", Role::Security).await;
    let other_tenant = s.key("globex", Role::Security).await;
    let send = |k: &str, idem: &str, body: serde_json::Value| {
        s.client
            .post(s.url("/v1/scan/transaction"))
            .header("x-api-key", k.to_owned())
            .header("idempotency-key", idem.to_owned())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let a = crate::common::Reply::from(send(&key, "order-1", tx_body()).await.unwrap()).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert!(a.header("idempotent-replayed").is_none());
    let b = crate::common::Reply::from(send(&key, "order-1", tx_body()).await.unwrap()).await;
    assert_eq!(b.status, 201);
    assert_eq!(b.header("idempotent-replayed"), Some("true"));
    assert_eq!(a.text, b.text, "same key and body: the same stored response");
    // One scan stored, not two.
    let list = s.get("/v1/scans", &key).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // The same key with another body is a conflict.
    let mut other = tx_body();
    other["value"] = json!("0x1");
    let c = crate::common::Reply::from(send(&key, "order-1", other).await.unwrap()).await;
    c.assert_problem(409, "idempotency-conflict");
    // Keys are per tenant: another tenant's "order-1" is a new scan.
    let d = crate::common::Reply::from(send(&other_tenant, "order-1", tx_body()).await.unwrap()).await;
    assert_eq!(d.status, 201);
    assert!(d.header("idempotent-replayed").is_none());
    assert_ne!(d.json()["scan_id"], a.json()["scan_id"]);
    let bad = crate::common::Reply::from(send(&key, "", tx_body()).await.unwrap()).await;
    bad.assert_problem(400, "bad-request");
    s.stop().await;
}
