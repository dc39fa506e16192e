//! The audit trail over HTTP: every authenticated and every denied request is recorded;
//! proofs and checkpoints verify with the published key; tenants see only their entries.

use reqwest::Method;
use scorpius_core::{
    api::keys::Role,
    audit::{checkpoint::NoteVerifier, event::parse_hash, merkle::verify_inclusion},
};

use crate::common::{TestServer, tx_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_recorded_and_provable() {
    let s = TestServer::start().await;
    let admin = s.key("acme", Role::Admin).await;
    let viewer = s.key("acme", Role::Viewer).await;
    let auditor = s.key("acme", Role::Auditor).await;
    let scan = s.post("/v1/scan/transaction", &admin, &tx_body()).await.json();
    assert_eq!(s.post("/v1/scan/transaction", &viewer, &tx_body()).await.status, 403);
    assert_eq!(s.call(Method::GET, "/v1/scans", Some("sk_test_nope"), None).await.status, 401);

    let events = s.get("/v1/audit/events", &auditor).await;
    assert_eq!(events.status, 200, "{}", events.text);
    let entries = events.json()["entries"].as_array().unwrap().clone();
    let scan_entry = entries.iter().find(|e| e["action"] == "scan.transaction" && e["outcome"] == "success").unwrap();
    assert!(scan_entry["actor"].as_str().unwrap().starts_with("acme/key_"));
    let details: serde_json::Value = serde_json::from_str(scan_entry["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["scan_id"], scan["scan_id"]);
    assert!(entries.iter().any(|e| e["outcome"] == "denied" && e["details"].as_str().unwrap().contains("403")));
    // Secrets never reach the log.
    assert!(!events.text.contains(&admin[8..]) && !events.text.contains(&viewer[8..]));

    // The checkpoint verifies with the published key, and the entry is included in it.
    let cp = s.get("/v1/audit/checkpoint", &auditor).await.json();
    let key = NoteVerifier::parse(cp["public_key"].as_str().unwrap()).unwrap();
    let checkpoint = key.verify(cp["checkpoint"]["note"].as_str().unwrap()).unwrap();
    let seq = scan_entry["seq"].as_u64().unwrap();
    let proof = s.get(&format!("/v1/audit/proof/{seq}?size={}", checkpoint.size), &auditor).await.json();
    let hashes: Vec<_> =
        proof["proof"].as_array().unwrap().iter().map(|h| parse_hash(h.as_str().unwrap()).unwrap()).collect();
    let leaf = parse_hash(proof["leaf_hash"].as_str().unwrap()).unwrap();
    assert_eq!(proof["leaf_hash"], scan_entry["hash"]);
    verify_inclusion(&leaf, seq, checkpoint.size, &hashes, &checkpoint.root).unwrap();
    // Consistency between an older size and now.
    let c = s.get(&format!("/v1/audit/consistency?old=1&new={}", checkpoint.size), &auditor).await;
    assert_eq!(c.status, 200, "{}", c.text);
    s.get("/v1/audit/consistency?old=0", &auditor).await.assert_problem(422, "invalid-input");
    s.get("/v1/audit/proof/999999", &auditor).await.assert_problem(404, "not-found");

    // Export: the tenant's entries only, with what verifies them.
    let other = s.key("globex", Role::Admin).await;
    assert_eq!(s.post("/v1/scan/domain", &other, &serde_json::json!({"site": "example.org"})).await.status, 201);
    let export = s.get("/v1/audit/export", &auditor).await.json();
    assert_eq!(export["tenant"], "acme");
    let exported = export["entries"].as_array().unwrap();
    assert!(!exported.is_empty());
    assert!(exported.iter().all(|e| e["actor"].as_str().unwrap().starts_with("acme/")));
    let theirs = s.get("/v1/audit/events", &other).await.json();
    assert!(theirs["entries"].as_array().unwrap().iter().all(|e| e["actor"].as_str().unwrap().starts_with("globex/")));
    // The whole log still verifies.
    let deep = s.get("/health/deep", &auditor).await;
    assert_eq!(deep.status, 200, "{}", deep.text);
    s.stop().await;
}

/// A request path longer than the log's field limit is recorded with the path cut (the log
/// would refuse the event, and the batch it was committed in, otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_path_is_recorded_cut_to_the_field_limit() {
    let s = TestServer::start().await;
    let viewer = s.key("acme", Role::Viewer).await;
    let auditor = s.key("acme", Role::Auditor).await;
    let long = format!("/v1/scans/{}", "é".repeat(3000));
    let r = s.get(&long, &viewer).await;
    assert!(r.status == 400 || r.status == 404, "{} {}", r.status, r.text);
    let events = s.get("/v1/audit/events?limit=100", &auditor).await.json();
    let entries = events["entries"].as_array().unwrap();
    let cut = entries
        .iter()
        .find(|e| e["resource"].as_str().unwrap().starts_with("/v1/scans/%C3%A9"))
        .unwrap_or_else(|| panic!("no entry for the long path: {events}"));
    let resource = cut["resource"].as_str().unwrap();
    assert!(resource.len() <= scorpius_core::audit::log::MAX_FIELD && resource.ends_with('…'), "{resource}");
    // The entry after it is recorded as usual.
    assert_eq!(s.get("/v1/scans", &viewer).await.status, 200);
    let events = s.get("/v1/audit/events?limit=100", &auditor).await.json();
    assert!(events["entries"].as_array().unwrap().iter().any(|e| e["resource"] == "/v1/scans"), "{events}");
}
