//! `POST /v1/intel/import`: a tenant's own feed changes that tenant's lookups and scans, and
//! no other tenant's; re-imports replace; bad feeds are refused naming the rows.

use scorpius_core::api::keys::Role;
use serde_json::json;

use crate::common::TestServer;

const FLAGGED: &str = "0x1111111111111111111111111111111111111111";

fn rule_ids(r: &serde_json::Value) -> Vec<String> {
    r["findings"].as_array().unwrap().iter().map(|f| f["rule_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_feed_changes_that_tenants_verdicts_only() {
    let s = TestServer::start().await;
    let acme = s.key("acme", Role::Security).await;
    let globex = s.key("globex", Role::Security).await;

    // Before: nothing known.
    let before = s.post("/v1/scan/address", &acme, &json!({"address": FLAGGED})).await.json();
    assert!(!rule_ids(&before).contains(&"address-malicious".to_owned()), "{before}");

    let feed = format!("{FLAGGED}\n# a comment\nacme-phish-only.example\n");
    let body = json!({"dataset": "acme-blocklist", "format": "txt", "content": feed, "labels": ["drainer"], "version": "2026-11"});
    let r = s.post("/v1/intel/import", &acme, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = r.json();
    assert_eq!((d["entries"].as_u64(), d["addresses"].as_u64(), d["domains"].as_u64()), (Some(2), Some(1), Some(1)));
    assert_eq!(d["replaced"], false);
    assert_eq!(d["version"], "2026-11");

    // acme's lookups and scans see it.
    let look = s.get(&format!("/v1/intel/{FLAGGED}"), &acme).await.json();
    assert_eq!(look["result"]["records"][0]["dataset"], "acme-blocklist", "{look}");
    let after = s.post("/v1/scan/address", &acme, &json!({"address": FLAGGED})).await.json();
    assert!(rule_ids(&after).contains(&"address-malicious".to_owned()), "{:?}", rule_ids(&after));
    let site = s.post("/v1/scan/domain", &acme, &json!({"site": "https://acme-phish-only.example/claim"})).await.json();
    assert!(rule_ids(&site).contains(&"domain-phishing".to_owned()), "{:?}", rule_ids(&site));
    let tx = json!({"to": FLAGGED, "value": "0x1"});
    let tx_report = s.post("/v1/scan/transaction", &acme, &tx).await.json();
    assert!(!tx_report["findings"].as_array().unwrap().is_empty(), "{tx_report}");

    // globex's do not.
    let look = s.get(&format!("/v1/intel/{FLAGGED}"), &globex).await.json();
    assert_eq!(look["result"]["records"], json!([]), "{look}");
    let other = s.post("/v1/scan/address", &globex, &json!({"address": FLAGGED})).await.json();
    assert!(!rule_ids(&other).contains(&"address-malicious".to_owned()));
    let site =
        s.post("/v1/scan/domain", &globex, &json!({"site": "https://acme-phish-only.example/claim"})).await.json();
    assert!(!rule_ids(&site).contains(&"domain-phishing".to_owned()), "{:?}", rule_ids(&site));
    assert_eq!(s.get("/v1/intel/datasets", &globex).await.json(), json!([]));

    // Listing, and a re-import replacing the dataset.
    let list = s.get("/v1/intel/datasets", &acme).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["dataset"], "acme-blocklist");
    let again =
        json!({"dataset": "acme-blocklist", "format": "txt", "content": "only-this.example\n", "labels": ["phishing"]});
    let r = s.post("/v1/intel/import", &acme, &again).await;
    assert_eq!(r.json()["replaced"], true, "{}", r.text);
    let look = s.get(&format!("/v1/intel/{FLAGGED}"), &acme).await.json();
    assert_eq!(look["result"]["records"], json!([]), "the replaced entries are gone: {look}");

    // Recorded in the audit log.
    let events = s.get("/v1/audit/events?action=intel.import", &acme).await.json();
    assert_eq!(events["entries"].as_array().unwrap().len(), 2, "{events}");
    s.stop().await;
}

#[tokio::test]
async fn bad_feeds_are_refused_naming_the_problem() {
    let s = TestServer::start().await;
    let key = s.key("acme", Role::Admin).await;
    let cases = [
        (json!({"dataset": "Bad Name", "format": "txt", "content": "x.example"}), "dataset"),
        (json!({"dataset": "d", "format": "yaml", "content": "x.example"}), "yaml"),
        (json!({"dataset": "d", "format": "csv", "content": "value,confidence\nx.example,seven\n"}), "line 2"),
        (json!({"dataset": "d", "format": "txt", "content": "\n# nothing\n"}), "no entries"),
        (json!({"dataset": "d", "format": "txt", "content": "x.example", "labels": ["nonsense"]}), "labels"),
        (json!({"dataset": "d", "format": "txt"}), "content"),
    ];
    for (body, needle) in cases {
        let r = s.post("/v1/intel/import", &key, &body).await;
        let p = r.assert_problem(422, "invalid-input");
        assert!(p["detail"].as_str().unwrap().contains(needle), "{body}: {p}");
    }
    assert_eq!(s.get("/v1/intel/datasets", &key).await.json(), json!([]), "nothing was stored");
    s.stop().await;
}
