//! Keys over HTTP: create (secret once), list (no secrets), rotate, revoke, expiry, last use.

use reqwest::Method;
use scorpius_core::api::keys::Role;
use serde_json::json;

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lifecycle() {
    let s = TestServer::start().await;
    let admin = s.key("acme", Role::Admin).await;
    let r = s.post("/v1/keys", &admin, &json!({ "role": "security", "name": "ci" })).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["key"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_test_") && secret.len() == 56, "{secret}");
    assert_eq!(created["key"]["tenant"], "acme");
    assert_eq!(created["key"]["role"], "security");

    // The new key works (and the secret is never listed).
    assert_eq!(s.get("/v1/scans", &secret).await.status, 200);
    let list = s.get("/v1/keys", &admin).await;
    assert!(!list.text.contains(&secret[14..]), "a secret leaked into the listing");
    let listed = list.json();
    let mine = listed["keys"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
    assert_eq!(mine["name"], "ci");
    assert!(mine["last_used_at"].is_null() || mine["last_used_at"].is_string());
    // The last use is recorded in the background, to the minute.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let listed = s.get("/v1/keys", &admin).await.json();
    let mine = listed["keys"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
    assert!(mine["last_used_at"].is_string(), "{mine}");

    // Bearer works as well as X-API-Key.
    let bearer = s.client.get(s.url("/v1/scans")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(bearer.status(), 200);

    // Rotation: the old secret stops working, the new one works, same id.
    let rot = s.post(&format!("/v1/keys/{id}/rotate"), &admin, &json!({})).await;
    assert_eq!(rot.status, 200, "{}", rot.text);
    let new_secret = rot.json()["secret"].as_str().unwrap().to_owned();
    assert_eq!(rot.json()["key"]["id"], id.as_str());
    s.get("/v1/scans", &secret).await.assert_problem(401, "invalid-key");
    assert_eq!(s.get("/v1/scans", &new_secret).await.status, 200);

    // Revocation.
    let del = s.call(Method::DELETE, &format!("/v1/keys/{id}"), Some(&admin), None).await;
    assert_eq!(del.status, 204, "{}", del.text);
    s.get("/v1/scans", &new_secret).await.assert_problem(401, "invalid-key");
    s.call(Method::DELETE, &format!("/v1/keys/{id}"), Some(&admin), None).await.assert_problem(404, "not-found");
    s.post(&format!("/v1/keys/{id}/rotate"), &admin, &json!({})).await.assert_problem(404, "not-found");

    // Bad requests.
    s.post("/v1/keys", &admin, &json!({ "role": "root" })).await.assert_problem(422, "invalid-input");
    s.post("/v1/keys", &admin, &json!({ "role": "viewer", "expires_at": "2001-01-01T00:00:00Z" }))
        .await
        .assert_problem(422, "invalid-input");
    s.post("/v1/keys", &admin, &json!({ "role": "viewer", "tenant": "globex" }))
        .await
        .assert_problem(422, "invalid-input");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_refused() {
    let s = TestServer::start().await;
    let soon = scorpius_server::store::sqlite::now_ms() + 300;
    let key = s.key_expiring("acme", Role::Viewer, Some(soon)).await;
    assert_eq!(s.get("/v1/scans", &key.secret).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let r = s.get("/v1/scans", &key.secret).await;
    let p = r.assert_problem(401, "expired-key");
    assert!(r.header("www-authenticate").is_some());
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
    s.stop().await;
}
