//! Every authenticated route × every role × a foreign tenant, over real HTTP: the role matrix
//! documented in docs/server.md (written out again here, independently of the server's own
//! table) and tenant isolation.

use reqwest::Method;
use scorpius_core::api::keys::Role;
use serde_json::{Value, json};

use crate::common::{TestServer, tx_body};

/// Which roles may call each route (docs/server.md#roles).
fn allowed_roles(method: &str, route: &str) -> &'static [Role] {
    use Role::*;
    match (method, route) {
        ("POST", r) if r.starts_with("/v1/scan/") => &[Admin, Security],
        ("GET", r) if r.starts_with("/v1/scans") => &[Admin, Security, Auditor, Viewer],
        ("GET", r) if r.starts_with("/v1/intel/") => &[Admin, Security],
        ("POST", "/v1/intel/import") => &[Admin, Security],
        ("GET", "/v1/audit/export") => &[Admin, Auditor],
        ("GET", r) if r.starts_with("/v1/audit/") => &[Admin, Security, Auditor],
        (_, r) if r.starts_with("/v1/keys") => &[Admin],
        ("GET", "/health/deep") => &[Admin, Security, Auditor, Viewer],
        ("GET", "/v1/usage" | "/v1/usage/forecast" | "/v1/billing/preview") => &[Admin, Auditor],
        (_, r) if r.starts_with("/v1/webhooks") => &[Admin],
        other => panic!("route {other:?} is missing from the test's matrix"),
    }
}

struct Fixture {
    scan_id: String,
    seq: u64,
}

async fn victim_key(s: &TestServer) -> String {
    s.key_expiring("acme", Role::Viewer, None).await.key.id
}

/// A webhook of acme with one delivery: (webhook id, delivery id).
async fn victim_webhook(s: &TestServer) -> (String, String) {
    use scorpius_core::api::webhooks::EventType;
    use scorpius_server::store::usage::{EndpointRecord, new_id};
    let store = std::sync::Arc::clone(&s.state.metering.as_ref().unwrap().store);
    tokio::task::spawn_blocking(move || {
        let now = scorpius_server::store::sqlite::now_ms();
        let id = new_id("wh_").unwrap();
        let endpoint = EndpointRecord {
            id: id.clone(),
            tenant: "acme".into(),
            url: "http://127.0.0.1:9/hook".into(),
            events: vec![EventType::KeyCreated],
            description: None,
            secret: vec![7; 32],
            created_ms: now,
            disabled_ms: None,
            disabled_reason: None,
        };
        store.create_endpoint(&endpoint).unwrap();
        store.enqueue(Some("acme"), EventType::KeyCreated, &json!({ "key_id": "key_x" }), now).unwrap();
        let delivery = store.deliveries("acme", &id, 1).unwrap().remove(0).id;
        (id, delivery)
    })
    .await
    .unwrap()
}

/// The concrete request for a route template.
async fn request(s: &TestServer, f: &Fixture, method: &str, route: &str) -> (Method, String, Option<Value>) {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let body = match route {
        "/v1/scan/transaction" => Some(tx_body()),
        "/v1/scan/signature" => Some(json!({ "personal": "Sign in to example.org" })),
        "/v1/scan/address" => Some(json!({ "address": "0x8ba1f109551bd432803012645ac136ddd64dba72" })),
        "/v1/scan/domain" => Some(json!({ "site": "https://app.uniswap.org" })),
        "/v1/scan/contract" => Some(json!({ "bytecode": "0x6080604052348015600f57600080fd5b00" })),
        // This server has no RPC endpoint: an allowed caller gets 422 naming that.
        "/v1/scan/wallet" => Some(json!({ "address": "0x8ba1f109551bd432803012645ac136ddd64dba72" })),
        "/v1/intel/import" => Some(json!({ "dataset": "walk", "format": "txt", "content": "walk.example\n" })),
        "/v1/keys" if method == "POST" => Some(json!({ "role": "viewer" })),
        "/v1/webhooks" if method == "POST" => {
            Some(json!({ "url": "http://127.0.0.1:9/hook", "events": ["scan.completed"] }))
        }
        "/v1/webhooks/{id}" if method == "PATCH" => Some(json!({ "description": "renamed" })),
        _ => None,
    };
    let path = match route {
        "/v1/scans/{id}" => format!("/v1/scans/{}", f.scan_id),
        "/v1/scans/{id}/report" => format!("/v1/scans/{}/report?format=markdown", f.scan_id),
        "/v1/intel/{value}" => "/v1/intel/0x8ba1f109551bd432803012645ac136ddd64dba72".into(),
        "/v1/audit/proof/{seq}" => format!("/v1/audit/proof/{}", f.seq),
        "/v1/audit/consistency" => "/v1/audit/consistency?old=1".into(),
        "/v1/keys/{id}/rotate" => format!("/v1/keys/{}/rotate", victim_key(s).await),
        "/v1/keys/{id}" => format!("/v1/keys/{}", victim_key(s).await),
        "/v1/webhooks/{id}" => format!("/v1/webhooks/{}", victim_webhook(s).await.0),
        "/v1/webhooks/{id}/deliveries" => format!("/v1/webhooks/{}/deliveries", victim_webhook(s).await.0),
        "/v1/webhooks/{id}/deliveries/{delivery}/redeliver" => {
            let (id, delivery) = victim_webhook(s).await;
            format!("/v1/webhooks/{id}/deliveries/{delivery}/redeliver")
        }
        other => other.to_owned(),
    };
    (m, path, body)
}

/// Past authorisation: a success, or for the wallet scan (no RPC endpoint configured here) the
/// 422 that says so.
fn assert_passed(r: &crate::common::Reply, what: &str) {
    if what.ends_with("/v1/scan/wallet") {
        let p = r.assert_problem(422, "invalid-input");
        assert!(p["detail"].as_str().unwrap().contains("no RPC endpoint"), "{what}: {p}");
    } else {
        assert!(r.status.is_success(), "{what}: expected success, got {} {}", r.status, r.text);
    }
}

/// Routes that name one resource of the tenant: a foreign tenant gets 404.
fn names_a_resource(route: &str) -> bool {
    route.contains('{') && route != "/v1/intel/{value}"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_every_role_and_a_foreign_tenant() {
    let s = TestServer::start().await;
    walk(&s).await;
    s.stop().await;
}

/// The walk itself, on any backend.
pub async fn walk(s: &TestServer) {
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, s.key("acme", role).await));
    }
    let admin = &keys[0].1;
    let scan = s.post("/v1/scan/transaction", admin, &tx_body()).await;
    assert_eq!(scan.status, 201, "{}", scan.text);
    let scan_id = scan.json()["scan_id"].as_str().unwrap().to_owned();
    let events = s.get("/v1/audit/events", admin).await.json();
    let seq = events["entries"][0]["seq"].as_u64().unwrap();
    let f = Fixture { scan_id: scan_id.clone(), seq };

    let mut checked = 0;
    for (method, route, _) in scorpius_server::router::PROTECTED {
        let allowed = allowed_roles(method, route);
        for (role, key) in &keys {
            let (m, path, body) = request(s, &f, method, route).await;
            let r = s.call(m, &path, Some(key), body.as_ref()).await;
            if allowed.contains(role) {
                assert_passed(&r, &format!("{role} {method} {path}"));
            } else {
                let p = r.assert_problem(403, "forbidden");
                assert!(p["detail"].as_str().unwrap().contains(role.as_str()), "{p}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, scorpius_server::router::PROTECTED.len() * 4);

    // A foreign tenant's admin: may call everything, but sees nothing of acme.
    let foreign = s.key("globex", Role::Admin).await;
    for (method, route, _) in scorpius_server::router::PROTECTED {
        let (m, path, body) = request(s, &f, method, route).await;
        let r = s.call(m, &path, Some(&foreign), body.as_ref()).await;
        if names_a_resource(route) {
            r.assert_problem(404, "not-found");
        } else {
            assert_passed(&r, &format!("globex {method} {path}"));
            // (globex's own audit entries name the paths it tried, acme's scan id among them.)
            if !route.starts_with("/v1/audit/") {
                assert!(!r.text.contains(&scan_id), "globex sees acme's scan at {path}");
            }
            assert!(!r.text.contains("acme/"), "globex sees acme's audit entries at {path}");
            assert!(!r.text.contains("\"tenant\":\"acme\""), "globex sees acme's keys at {path}");
        }
    }
    // And acme's own list does show its scan: the isolation check above can fail.
    let mine = s.get("/v1/scans?limit=100", admin).await;
    assert!(mine.text.contains(&scan_id));
}
