//! Every SDK method against the real `scorpius-server` binary, error mapping, pagination and
//! idempotency.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use scorpius_core::audit::checkpoint::NoteSigner;
use scorpius_sdk::{
    Client, Error, RetryPolicy,
    api::{
        audit::EventsQuery,
        keys::{CreateKeyRequest, Role},
        scan::{AddressScan, ContractScan, DomainScan, ScanRequest, SignatureScan, TransactionScan},
        scans::{ListQuery, ReportFormat},
    },
    model::ScanKind,
};

use crate::server::TestServer;

const USDC: &str = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
const APPROVE_UNLIMITED: &str = "0x095ea7b30000000000000000000000001111111111111111111111111111111111111111\
ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
/// Tornado Cash router (OFAC-sanctioned, in the bundled intel).
const TORNADO: &str = "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b";
/// Runtime code: `CALLER SELFDESTRUCT`.
const SELFDESTRUCT_CODE: &str = "0x33ff";

fn client(s: &TestServer, key: &str) -> Client {
    Client::builder().base_url(&s.url).api_key(key).retry(RetryPolicy::none()).build().unwrap()
}

fn approve() -> TransactionScan {
    TransactionScan { to: Some(USDC.into()), data: Some(APPROVE_UNLIMITED.into()), ..TransactionScan::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_reports_and_pagination() {
    let s = TestServer::start();
    let c = client(&s, &s.admin_key);

    let tx = c.scan_transaction(&approve()).await.unwrap();
    assert_eq!(tx.kind, ScanKind::Transaction);
    assert!(tx.findings.iter().any(|f| f.rule_id == "approval-unlimited"), "{:?}", tx.findings);

    let sig = c
        .scan_signature(&SignatureScan {
            eth_sign: Some("0x7a1c2f3e4d5b6a798897a6b5c4d3e2f1a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5".into()),
            ..SignatureScan::default()
        })
        .await
        .unwrap();
    assert_eq!(sig.kind, ScanKind::Signature);
    assert!(!sig.findings.is_empty());

    let addr = c.scan_address(&AddressScan { address: TORNADO.into(), chain: None }).await.unwrap();
    assert_eq!(addr.kind, ScanKind::Address);
    assert!(addr.risk.score > 0, "{addr:?}");

    let dom = c.scan_domain(&DomainScan { site: "https://uniswap.org".into() }).await.unwrap();
    assert_eq!(dom.kind, ScanKind::Domain);

    let code = c
        .scan_contract(&ContractScan {
            bytecode: SELFDESTRUCT_CODE.into(),
            name: Some("t".into()),
            ..ContractScan::default()
        })
        .await
        .unwrap();
    assert_eq!(code.kind, ScanKind::Contract);

    // The saved copy is the same report.
    let id = tx.scan_id.to_string();
    assert_eq!(c.get_scan(&id).await.unwrap(), tx);

    // Reports: bytes with the server's content type; JSON and SARIF parse.
    for format in ReportFormat::ALL {
        let r = c.report(&id, format).await.unwrap();
        assert_eq!(r.format, format);
        assert!(r.content_type.starts_with(format.content_type().split(';').next().unwrap()), "{}", r.content_type);
        assert!(!r.bytes.is_empty());
    }
    let sarif = c.report_sarif(&id).await.unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let md = c.report(&id, ReportFormat::Markdown).await.unwrap();
    assert!(md.text().unwrap().contains("approval-unlimited"));

    // Five scans: pages of two, newest first, three pages, and the stream walks them all.
    let page = c.list_scans(&ListQuery { limit: Some(2), ..ListQuery::default() }).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].scan_id, code.scan_id.to_string());
    assert!(page.next_cursor.is_some());
    let all: Vec<_> = c.scans(ListQuery { limit: Some(2), ..ListQuery::default() }).try_collect().await.unwrap();
    assert_eq!(all.len(), 5);
    let mut ids: Vec<_> = all.iter().map(|s| s.scan_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5, "no scan twice");
    let txs: Vec<_> = c
        .scans(ListQuery { kind: Some("transaction".into()), limit: Some(1), ..ListQuery::default() })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(txs.len(), 1);
    // A bad filter ends the stream with the error.
    let bad: Result<Vec<_>, _> =
        c.scans(ListQuery { kind: Some("nope".into()), ..ListQuery::default() }).try_collect().await;
    assert_eq!(bad.unwrap_err().status(), Some(400));

    // Another tenant sees none of it.
    let other = client(&s, &s.other_key);
    assert_eq!(other.get_scan(&id).await.unwrap_err().status(), Some(404));
    assert!(other.list_scans(&ListQuery::default()).await.unwrap().items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_the_same_report() {
    let s = TestServer::start();
    let c = client(&s, &s.admin_key);
    let req = ScanRequest::Transaction(approve());
    let a = c.scan_with_key(&req, "order-42").await.unwrap();
    let b = c.scan_with_key(&req, "order-42").await.unwrap();
    assert_eq!(a.scan_id, b.scan_id);
    let other = ScanRequest::Domain(DomainScan { site: "example.org".into() });
    let e = c.scan_with_key(&other, "order-42").await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(409), Some("idempotency-conflict")));
    // Without a caller key every call is a new scan.
    let x = c.scan(&req).await.unwrap();
    let y = c.scan(&req).await.unwrap();
    assert_ne!(x.scan_id, y.scan_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_intel_health_and_meta() {
    let s = TestServer::start();
    let admin = client(&s, &s.admin_key);

    let created = admin
        .create_key(&CreateKeyRequest { role: Role::Security, name: Some("ci".into()), expires_at: None })
        .await
        .unwrap();
    assert!(created.secret.starts_with("sk_live_"));
    assert!(!format!("{created:?}").contains(&created.secret), "Debug hides the secret");
    let keys = admin.list_keys().await.unwrap();
    assert!(keys.iter().any(|k| k.id == created.key.id && k.name.as_deref() == Some("ci")));

    let security = client(&s, &created.secret);
    security.scan_transaction(&approve()).await.unwrap();
    let rotated = admin.rotate_key(&created.key.id).await.unwrap();
    assert_eq!(rotated.key.id, created.key.id);
    assert_ne!(rotated.secret, created.secret);
    assert_eq!(security.list_scans(&ListQuery::default()).await.unwrap_err().status(), Some(401));
    let security = client(&s, &rotated.secret);
    security.list_scans(&ListQuery::default()).await.unwrap();
    admin.revoke_key(&created.key.id).await.unwrap();
    let e = security.list_scans(&ListQuery::default()).await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(401), Some("invalid-key")));
    assert!(e.is_unauthorized() && !e.is_retryable());
    assert_eq!(admin.revoke_key(&created.key.id).await.unwrap_err().status(), Some(404));
    assert_eq!(admin.rotate_key("key_nope").await.unwrap_err().status(), Some(404));

    let a = admin.intel(TORNADO, Some("ethereum")).await.unwrap();
    assert_eq!(a.kind, "address");
    assert!(!a.result["records"].as_array().unwrap().is_empty(), "{a:?}");
    let d = admin.intel("example.org", None).await.unwrap();
    assert_eq!(d.kind, "domain");
    assert_eq!(admin.intel("0x12", None).await.unwrap_err().status(), Some(422));

    let anonymous = Client::builder().base_url(&s.url).build().unwrap();
    assert_eq!(anonymous.health_live().await.unwrap().status, "ok");
    assert_eq!(anonymous.health_ready().await.unwrap().status, "ready");
    let deep = admin.health_deep().await.unwrap();
    assert_eq!(deep.status, "ok");
    assert!(deep.audit_entries > 0);
    assert!(anonymous.metrics().await.unwrap().contains("scorpius_http_requests_total"));
    assert_eq!(anonymous.openapi().await.unwrap()["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let e = anonymous.list_keys().await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(401), Some("missing-key")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_pages_proofs_export_and_verification() {
    let s = TestServer::start();
    let c = client(&s, &s.admin_key);
    for _ in 0..3 {
        c.scan_transaction(&approve()).await.unwrap();
    }
    let first = c.audit_events(&EventsQuery { limit: Some(2), ..EventsQuery::default() }).await.unwrap();
    assert_eq!(first.entries.len(), 2);
    assert!(first.next_from_seq.is_some());
    assert!(first.entries.iter().all(|e| e.actor.starts_with("acme/")));
    let scans: Vec<_> = c
        .audit_entries(EventsQuery { action: Some("scan.*".into()), limit: Some(1), ..EventsQuery::default() })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(scans.len(), 3, "{scans:?}");

    // Wait for the group commit to sign a checkpoint covering the scans.
    let mut cp = c.audit_checkpoint().await.unwrap();
    for _ in 0..50 {
        if cp.checkpoint.tree_size > scans[2].seq {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        cp = c.audit_checkpoint().await.unwrap();
    }
    assert!(cp.checkpoint.tree_size > scans[2].seq);
    let proof = c.audit_proof(scans[0].seq, Some(cp.checkpoint.tree_size)).await.unwrap();
    assert_eq!(proof.leaf_hash, scans[0].hash);
    assert_eq!(c.audit_proof(10_000_000, None).await.unwrap_err().status(), Some(404));
    let cons = c.audit_consistency(1, Some(cp.checkpoint.tree_size)).await.unwrap();
    assert_eq!(cons.new_size, cp.checkpoint.tree_size);
    assert_eq!(c.audit_consistency(0, None).await.unwrap_err().status(), Some(422));

    let export = c.audit_export().await.unwrap();
    assert_eq!(export.format, scorpius_core::api::audit::EXPORT_FORMAT);
    assert_eq!(export.tenant, "acme");
    assert!(!export.entries.is_empty());

    // Verified with the key the server sends, and with that key as the trusted one.
    let v = c.verify_audit(None).await.unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert!(!v.key_trusted);
    // Its own export call was audited after the one above.
    assert!(v.entries >= export.entries.len() as u64, "{v:?}");
    let trusted = scorpius_core::audit::checkpoint::NoteVerifier::parse(&cp.public_key).unwrap();
    assert!(c.verify_audit(Some(&trusted)).await.unwrap().is_ok());
    // Another key does not verify the checkpoint.
    let stranger = NoteSigner::generate("someone.else/audit").unwrap().verifier();
    let bad = c.verify_audit(Some(&stranger)).await.unwrap();
    assert!(!bad.is_ok());
    assert!(bad.problems[0].message.contains("checkpoint"), "{bad:?}");

    // Viewers may not read the audit trail.
    let viewer = client(&s, &s.viewer_key);
    let e = viewer.audit_export().await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(403), Some("forbidden")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_mapping() {
    let s = TestServer::start_with(&[("SCORPIUS_MAX_BODY_BYTES", "4096")]);
    let c = client(&s, &s.admin_key);

    // 401: malformed key.
    let bad = client(&s, "sk_live_not_a_key");
    let e = bad.scan_transaction(&approve()).await.unwrap_err();
    assert!(matches!(&e, Error::Api { status: 401, .. }), "{e:?}");
    assert_eq!(e.slug(), Some("invalid-key"));
    assert!(e.problem().unwrap().request_id.is_some());

    // 403: a viewer may not scan or manage keys.
    let viewer = client(&s, &s.viewer_key);
    assert_eq!(viewer.scan_transaction(&approve()).await.unwrap_err().status(), Some(403));
    let e = viewer.create_key(&CreateKeyRequest { role: Role::Admin, name: None, expires_at: None }).await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(403), Some("forbidden")));

    // 404: no such scan.
    let e = c.get_scan("00000000-0000-4000-8000-000000000000").await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(404), Some("not-found")));

    // 422: the field that is wrong is named.
    let e = c
        .scan_transaction(&TransactionScan { to: Some("0x1234".into()), ..TransactionScan::default() })
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(422), Some("invalid-input")));
    assert!(e.to_string().contains("to"), "{e}");
    assert!(!e.is_retryable());

    // 413: a body over the server's limit.
    let big = format!("0x{}", "60".repeat(4096));
    let e = c.scan_contract(&ContractScan { bytecode: big, ..ContractScan::default() }).await.unwrap_err();
    assert_eq!((e.status(), e.slug()), (Some(413), Some("payload-too-large")));

    // Transport: nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gone =
        Client::builder().base_url(format!("http://127.0.0.1:{port}")).retry(RetryPolicy::none()).build().unwrap();
    let e = gone.health_live().await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_map_to_rate_limited_with_retry_after() {
    let s = TestServer::start_with(&[("SCORPIUS_RATE_LIMIT_PER_SECOND", "1"), ("SCORPIUS_RATE_LIMIT_BURST", "2")]);
    let c = client(&s, &s.admin_key);
    let mut limited = None;
    for _ in 0..10 {
        match c.list_scans(&ListQuery::default()).await {
            Ok(_) => {}
            Err(e) => {
                limited = Some(e);
                break;
            }
        }
    }
    match limited.expect("the burst of 2 was exceeded") {
        Error::RateLimited { retry_after, problem } => {
            assert!(retry_after.is_some_and(|d| d >= Duration::from_secs(1)), "{retry_after:?}");
            assert_eq!(problem.status, 429);
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // With retries the client waits out Retry-After and succeeds.
    let patient = Client::builder().base_url(&s.url).api_key(s.admin_key.as_str()).build().unwrap();
    let t = std::time::Instant::now();
    patient.list_scans(&ListQuery::default()).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(500), "{:?}", t.elapsed());
}

/// A server with a plan (a quota on domain scans, graduated prices on transaction scans) and
/// webhooks that may call this machine's receivers.
const METERED: &str = r#"
[metering]
default_plan = "pro"
[metering.plans.pro]
quotas = { "scan.domain" = 3 }
[metering.plans.pro.prices."scan.transaction"]
model = "graduated"
tiers = [ { up_to = 1, unit_price = "0" }, { unit_price = "0.25" } ]
[webhooks]
allow_private = true
poll_interval_ms = 50
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_forecast_and_billing() {
    use scorpius_sdk::api::usage::{GroupBy, UsageQuery};
    let s = TestServer::start_with_config(METERED);
    let c = client(&s, &s.admin_key);
    for _ in 0..3 {
        c.scan_transaction(&approve()).await.unwrap();
    }
    c.scan_domain(&DomainScan { site: "https://uniswap.org".into() }).await.unwrap();

    let usage = c.usage(&UsageQuery::default()).await.unwrap();
    let total = |m: &str| usage.totals.iter().find(|(k, _)| k.as_str() == m).map(|(_, v)| *v);
    assert_eq!(total("scan.transaction"), Some(3), "{usage:?}");
    assert_eq!(total("scan.domain"), Some(1));
    assert!(total("api.requests").is_some_and(|n| n >= 4), "{usage:?}");
    let by_key = c.usage(&UsageQuery { group_by: Some(GroupBy::Key), ..UsageQuery::default() }).await.unwrap();
    assert!(by_key.rows.iter().all(|r| r.key_id.as_deref().is_some_and(|k| k.starts_with("key_"))), "{by_key:?}");
    let csv = c.usage_csv(&UsageQuery::default()).await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("start,meter,key_id,units"));
    let tx_units: u64 = lines
        .filter(|l| l.split(',').nth(1) == Some("scan.transaction"))
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(tx_units, 3, "{csv}");
    let bad = c.usage(&UsageQuery { from: Some("yesterday".into()), ..UsageQuery::default() }).await.unwrap_err();
    assert_eq!(bad.status(), Some(400), "{bad:?}");
    assert!(bad.problem().unwrap().detail.as_deref().unwrap_or("").contains("from"), "{bad:?}");

    let forecast = c.usage_forecast().await.unwrap();
    assert!(!forecast.method.is_empty());
    let domain = forecast.meters.iter().find(|m| m.meter.as_str() == "scan.domain").expect("a meter with a quota");
    assert_eq!((domain.used, domain.quota), (1, Some(3)));

    // Graduated: the first unit free, the other two at 0.25.
    let bill = c.billing_preview(None).await.unwrap();
    assert_eq!(bill.plan, "pro");
    let line = bill.lines.iter().find(|l| l.meter.as_str() == "scan.transaction").expect("a priced line");
    assert_eq!((line.quantity, line.model.as_str(), line.amount.to_string().as_str()), (3, "graduated", "0.50"));
    assert_eq!(line.tiers.len(), 2, "{line:?}");
    let bad = c.billing_preview(Some("2026-13")).await.unwrap_err();
    assert_eq!(bad.status(), Some(400), "{bad:?}");
    let empty = c.billing_preview(Some("2020-01")).await.unwrap();
    assert!(empty.complete && empty.lines.iter().all(|l| l.quantity == 0), "{empty:?}");

    // Viewers see neither usage nor bills.
    let viewer = client(&s, &s.viewer_key);
    assert_eq!(viewer.usage(&UsageQuery::default()).await.unwrap_err().status(), Some(403));
    assert_eq!(viewer.billing_preview(None).await.unwrap_err().status(), Some(403));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_subscriptions_deliveries_and_redelivery() {
    use std::sync::{Arc, Mutex};

    use scorpius_sdk::api::webhooks::{CreateWebhookRequest, DeliveryState, EventType, UpdateWebhookRequest};

    // A receiver that records (webhook-id, body).
    type Seen = Arc<Mutex<Vec<(String, String)>>>;
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(|axum::extract::State(seen): axum::extract::State<Seen>, h: axum::http::HeaderMap, body: String| async move {
                let id = h.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                seen.lock().unwrap().push((id, body));
                "ok"
            }),
        )
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let s = TestServer::start_with_config(METERED);
    let c = client(&s, &s.admin_key);
    let created = c
        .create_webhook(&CreateWebhookRequest {
            url: format!("http://{addr}/hook"),
            events: vec![EventType::KeyCreated],
            description: Some("sdk test".into()),
        })
        .await
        .unwrap();
    assert!(created.secret.starts_with("whsec_"));
    let id = created.webhook.id.clone();
    let listed = c.list_webhooks().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(c.get_webhook(&id).await.unwrap().description.as_deref(), Some("sdk test"));
    let changed = c
        .update_webhook(
            &id,
            &UpdateWebhookRequest {
                events: Some(vec![EventType::KeyCreated, EventType::ScanCompleted]),
                ..UpdateWebhookRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.events, vec![EventType::ScanCompleted, EventType::KeyCreated]);

    c.scan_transaction(&approve()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let delivered = loop {
        let d = c.webhook_deliveries(&id, None).await.unwrap();
        if d.first().is_some_and(|d| d.state == DeliveryState::Delivered) || std::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].event_type, EventType::ScanCompleted);
    assert_eq!(delivered[0].log[0].status, Some(200));

    let again = c.redeliver(&id, &delivered[0].id).await.unwrap();
    assert_ne!(again.delivery_id, delivered[0].id);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while seen.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], seen[1], "a redelivery sends the same message with the same webhook-id");

    // Errors: bad input, another tenant, unknown ids; deletion.
    let bad = c
        .create_webhook(&CreateWebhookRequest {
            url: "ftp://x".into(),
            events: vec![EventType::KeyCreated],
            description: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(422), "{bad:?}");
    let other = client(&s, &s.other_key);
    assert_eq!(other.get_webhook(&id).await.unwrap_err().status(), Some(404));
    assert_eq!(other.webhook_deliveries(&id, None).await.unwrap_err().status(), Some(404));
    assert_eq!(c.redeliver(&id, "dlv_nope").await.unwrap_err().status(), Some(404));
    assert_eq!(c.webhook_deliveries(&id, Some(0)).await.unwrap_err().status(), Some(400));
    c.delete_webhook(&id).await.unwrap();
    assert_eq!(c.get_webhook(&id).await.unwrap_err().status(), Some(404));
    assert_eq!(c.delete_webhook(&id).await.unwrap_err().status(), Some(404));
    assert!(c.list_webhooks().await.unwrap().is_empty());
}
