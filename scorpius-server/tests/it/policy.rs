//! A real Cedar policy file on a running server: evaluated after the role check, seeing the
//! key, the action, the tenant and the client address (the peer, or the configured header).

use reqwest::Method;
use scorpius_core::api::keys::Role;

use crate::common::{TestServer, test_config, tx_body};

const POLICY: &str = r#"
// Everything the roles allow, except:
permit(principal, action, resource);

// audit exports only from the office network,
@id("exports-from-the-office")
forbid(principal, action == Scorpius::Action::"audit.export", resource)
unless { context.ip.isInRange(ip("10.0.0.0/8")) };

// and tenant globex may not import intel.
@id("globex-reads-only")
forbid(principal, action == Scorpius::Action::"intel.import", resource == Scorpius::Tenant::"globex");
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_file_restricts_what_the_roles_allow() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.cedar");
    std::fs::write(&file, POLICY).unwrap();
    let s = TestServer::start_with(|c| {
        c.policy_file = Some(file.clone());
        c.client_ip_header = Some("x-forwarded-for".into());
    })
    .await;
    let auditor = s.key("acme", Role::Auditor).await;

    // From the loopback: refused by the policy, naming it, and recorded as denied.
    let r = s.get("/v1/audit/export", &auditor).await;
    let p = r.assert_problem(403, "policy-denied");
    assert!(p["detail"].as_str().unwrap().contains("exports-from-the-office"), "{p}");
    // Through a proxy that says the client is in the office: allowed.
    let ok = s
        .client
        .get(s.url("/v1/audit/export"))
        .header("x-api-key", &auditor)
        .header("x-forwarded-for", "10.4.5.6, 127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Other actions are untouched; the role check still comes first.
    assert_eq!(s.get("/v1/audit/events", &auditor).await.status, 200);
    s.call(Method::POST, "/v1/scan/transaction", Some(&auditor), Some(&tx_body()))
        .await
        .assert_problem(403, "forbidden");

    let feed = serde_json::json!({"dataset": "x", "format": "txt", "content": "x.example"});
    let globex = s.key("globex", Role::Admin).await;
    let p = s.post("/v1/intel/import", &globex, &feed).await.assert_problem(403, "policy-denied");
    assert!(p["detail"].as_str().unwrap().contains("globex-reads-only"), "{p}");
    let acme_admin = s.key("acme", Role::Admin).await;
    assert_eq!(s.post("/v1/intel/import", &acme_admin, &feed).await.status, 201);

    let denied = s.get("/v1/audit/events?action=http.get", &acme_admin).await.json();
    assert!(
        denied["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "denied" && e["resource"] == "/v1/audit/export"),
        "{denied:#}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_broken_policy_file_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.cedar");
    std::fs::write(&file, "permit(principal, action, resource").unwrap();
    let mut config = test_config(dir.path());
    config.policy_file = Some(file);
    let e = format!(
        "{:#}",
        scorpius_server::Server::bind(config, scorpius_server::hooks::Hooks::default()).await.unwrap_err()
    );
    assert!(e.contains("broken.cedar"), "{e}");
}
