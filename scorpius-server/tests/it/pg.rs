//! The same API on PostgreSQL (127.0.0.1:5432 with trust auth, or
//! `SCORPIUS_TEST_POSTGRES_URL`), each test in a database of its own: the role × tenant walk,
//! and two replicas on one database sharing keys, revocations and one audit log.

use reqwest::Method;
use scorpius_core::{
    api::keys::Role,
    audit::{checkpoint::NoteVerifier, event::parse_hash, merkle::verify_inclusion},
};
use serde_json::json;

use crate::common::{TestServer, test_config, tx_body};

fn server_url() -> String {
    std::env::var("SCORPIUS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh database, dropped at the end (the sync client runs on its own thread).
struct TestDb {
    name: String,
}

fn admin_sql(sql: String) {
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&format!("{}/postgres", server_url()), postgres::NoTls)
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is needed for this test at {} ({e}); start it or set SCORPIUS_TEST_POSTGRES_URL",
                    server_url()
                )
            });
        admin.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
}

impl TestDb {
    fn new() -> Self {
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).unwrap();
        let name = format!("scorpius_server_{}", hex::encode(id));
        admin_sql(format!("CREATE DATABASE {name}"));
        TestDb { name }
    }

    fn url(&self) -> String {
        format!("{}/{}", server_url(), self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(mut admin) = postgres::Client::connect(&format!("{}/postgres", server_url()), postgres::NoTls) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        })
        .join();
    }
}

async fn start_pg(db: &TestDb, key_dir: &std::path::Path) -> TestServer {
    let mut config = test_config(key_dir);
    config.database_url = Some(db.url());
    TestServer::start_config(config, tempfile::tempdir().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_walks_the_role_matrix() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let s = start_pg(&db, keys.path()).await;
    let ready = s.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.json()["backend"], "postgres", "{}", ready.text);
    crate::matrix::walk(&s).await;
    // Filters and pagination on PostgreSQL, in a tenant of its own.
    let admin = s.key("initech", Role::Admin).await;
    for _ in 0..3 {
        assert_eq!(s.post("/v1/scan/domain", &admin, &json!({ "site": "example.org" })).await.status, 201);
    }
    let page = s.get("/v1/scans?kind=domain&limit=2", &admin).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next =
        s.get(&format!("/v1/scans?kind=domain&limit=2&cursor={}", page["next_cursor"].as_str().unwrap()), &admin).await;
    assert_eq!(next.json()["items"].as_array().unwrap().len(), 1, "{}", next.text);
    let scans = s.get("/v1/audit/events?action=scan.*", &admin).await.json();
    assert!(scans["entries"].as_array().unwrap().iter().all(|e| e["action"].as_str().unwrap().starts_with("scan.")));
    let deep = s.get("/health/deep", &admin).await;
    assert_eq!(deep.status, 200, "{}", deep.text);
    assert_eq!(deep.json()["backend"], "postgres");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_keys_revocations_and_one_audit_log() {
    let db = TestDb::new();
    // One signing key file for both replicas.
    let keys = tempfile::tempdir().unwrap();
    let a = start_pg(&db, keys.path()).await;
    let b = start_pg(&db, keys.path()).await;
    let admin = a.key("acme", Role::Admin).await;

    // A key created through replica A works on replica B.
    let created = a.post("/v1/keys", &admin, &json!({ "role": "security" })).await.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["key"]["id"].as_str().unwrap().to_owned();
    let scan = b.post("/v1/scan/transaction", &secret, &tx_body()).await;
    assert_eq!(scan.status, 201, "{}", scan.text);
    let scan_id = scan.json()["scan_id"].as_str().unwrap().to_owned();
    // What B stored, A serves.
    assert_eq!(a.get(&format!("/v1/scans/{scan_id}"), &secret).await.status, 200);
    // Idempotency holds across replicas.
    let send = |s: &TestServer| {
        s.client
            .post(s.url("/v1/scan/transaction"))
            .header("x-api-key", secret.clone())
            .header("idempotency-key", "same")
            .header("content-type", "application/json")
            .body(tx_body().to_string())
            .send()
    };
    let first = crate::common::Reply::from(send(&a).await.unwrap()).await;
    let second = crate::common::Reply::from(send(&b).await.unwrap()).await;
    assert_eq!(first.text, second.text);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));

    // Revoked on A, refused by B at once.
    let del = a.call(Method::DELETE, &format!("/v1/keys/{id}"), Some(&admin), None).await;
    assert_eq!(del.status, 204);
    b.get("/v1/scans", &secret).await.assert_problem(401, "invalid-key");

    // Both replicas appended to one log: it verifies on either, and the checkpoint from A
    // proves an entry B wrote, with B's published key.
    for s in [&a, &b] {
        let deep = s.get("/health/deep", &admin).await;
        assert_eq!(deep.status, 200, "{}", deep.text);
    }
    let events = a.get("/v1/audit/events?action=scan.transaction", &admin).await.json();
    let entry = events["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["details"].as_str().unwrap().contains(&scan_id))
        .unwrap()
        .clone();
    let cp = a.get("/v1/audit/checkpoint", &admin).await.json();
    let b_key = b.get("/v1/audit/checkpoint", &admin).await.json()["public_key"].as_str().unwrap().to_owned();
    assert_eq!(cp["public_key"].as_str().unwrap(), b_key);
    let checkpoint = NoteVerifier::parse(&b_key).unwrap().verify(cp["checkpoint"]["note"].as_str().unwrap()).unwrap();
    let seq = entry["seq"].as_u64().unwrap();
    let proof = b.get(&format!("/v1/audit/proof/{seq}?size={}", checkpoint.size), &admin).await.json();
    let hashes: Vec<_> =
        proof["proof"].as_array().unwrap().iter().map(|h| parse_hash(h.as_str().unwrap()).unwrap()).collect();
    verify_inclusion(
        &parse_hash(entry["hash"].as_str().unwrap()).unwrap(),
        seq,
        checkpoint.size,
        &hashes,
        &checkpoint.root,
    )
    .unwrap();
    // Sequence numbers are dense across both replicas.
    let all = a.get("/v1/audit/events?limit=1000", &admin).await.json();
    let seqs: Vec<u64> = all["entries"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_rate_limit_and_tenant_intel() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    // 1 request per second per key, bursts of 4, counted in the database.
    let start = || async {
        let mut config = test_config(keys.path());
        config.database_url = Some(db.url());
        config.rate_limit_per_second = 1;
        config.rate_limit_burst = 4;
        TestServer::start_config(config, tempfile::tempdir().unwrap()).await
    };
    let a = start().await;
    let b = start().await;
    let key = a.key("acme", Role::Admin).await;
    // Alternating replicas: four pass between them, the fifth is refused, whichever it hits.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let s = if i % 2 == 0 { &a } else { &b };
        let r = s.get("/v1/scans", &key).await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().unwrap() >= 1), "{:?}", r.headers);
            assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
        } else {
            assert_eq!(r.header("x-ratelimit-limit"), Some("4"));
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "one budget for both replicas");
    // Another key has its own budget.
    let other = b.key("acme", Role::Viewer).await;
    assert_eq!(a.get("/v1/scans", &other).await.status, 200);

    // A feed imported through A changes B's verdicts (B refreshes within two seconds).
    let importer = a.key("globex", Role::Security).await;
    let feed = json!({"dataset": "shared", "format": "txt", "content": "0x2222222222222222222222222222222222222222\n", "labels": ["drainer"]});
    assert_eq!(a.post("/v1/intel/import", &importer, &feed).await.status, 201);
    let mut seen = false;
    for _ in 0..40 {
        let look = b.get("/v1/intel/0x2222222222222222222222222222222222222222", &importer).await;
        if look.status == 200 && look.json()["result"]["records"].as_array().is_some_and(|r| !r.is_empty()) {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(seen, "replica B never saw the dataset imported through A");
    a.stop().await;
    b.stop().await;
}

/// Two replicas with the same plans on one database (issue 9).
async fn start_pg_with(
    db: &TestDb,
    key_dir: &std::path::Path,
    tweak: impl Fn(&mut scorpius_server::config::Config),
) -> TestServer {
    let mut config = test_config(key_dir);
    config.database_url = Some(db.url());
    tweak(&mut config);
    TestServer::start_config(config, tempfile::tempdir().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_count_exactly_and_never_exceed_a_quota() {
    use scorpius_core::metering::{Meter, plan::Plan};
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let plans = |c: &mut scorpius_server::config::Config| {
        let plan = Plan { quotas: [(Meter::ScanDomain, 25)].into(), ..Plan::default() };
        c.metering.plans.insert("limited".into(), plan);
        c.metering.tenants.insert("acme".into(), "limited".into());
    };
    let a = start_pg_with(&db, keys.path(), plans).await;
    let b = start_pg_with(&db, keys.path(), plans).await;
    let acme = a.key_expiring("acme", Role::Security, None).await;
    let free = a.key_expiring("globex", Role::Security, None).await;
    let body = json!({ "site": "example.org" });
    // 80 requests over both replicas at once, for each tenant.
    let both = [&a, &b];
    let (limited, unlimited) = tokio::join!(
        crate::metering::parallel(&both, &acme.secret, "/v1/scan/domain", &body, 80),
        crate::metering::parallel(&both, &free.secret, "/v1/scan/domain", &body, 80),
    );
    assert_eq!(limited.iter().filter(|&&c| c == 201).count(), 25, "{limited:?}");
    assert_eq!(limited.iter().filter(|&&c| c == 429).count(), 55, "{limited:?}");
    assert!(unlimited.iter().all(|&c| c == 201), "{unlimited:?}");
    let acme_admin = a.key("acme", Role::Admin).await;
    let globex_admin = b.key("globex", Role::Admin).await;
    let acme_usage = crate::metering::usage_by_key(&b, &acme_admin).await;
    assert_eq!(acme_usage.get(&(acme.key.id.clone(), "scan.domain".into())), Some(&25));
    assert_eq!(acme_usage.get(&(acme.key.id.clone(), "api.requests".into())), Some(&25));
    let globex_usage = crate::metering::usage_by_key(&a, &globex_admin).await;
    assert_eq!(globex_usage.get(&(free.key.id.clone(), "scan.domain".into())), Some(&80));
    assert_eq!(globex_usage.get(&(free.key.id.clone(), "api.requests".into())), Some(&80));
    // The raw events agree with the rollups: nothing lost, nothing twice.
    let m = a.state.metering.clone().unwrap();
    let counts = tokio::task::spawn_blocking(move || {
        (m.store.event_count("acme").unwrap(), m.store.event_count("globex").unwrap())
    })
    .await
    .unwrap();
    assert_eq!(counts, (25 + 25 + 1, 80 + 80 + 1));
    // The replicas' folders move the pending rows into the rollups (one at a time), and the
    // answers stay the same.
    let m = a.state.metering.clone().unwrap();
    let mut pending = u64::MAX;
    for _ in 0..50 {
        let store = std::sync::Arc::clone(&m.store);
        pending = tokio::task::spawn_blocking(move || store.pending()).await.unwrap().unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "the pending rows were never folded");
    // (The admins' own usage requests are counted too; compare the scanning keys.)
    let scanned = |usage: &std::collections::BTreeMap<(String, String), u64>, id: &str| {
        usage.iter().filter(|((k, _), _)| k == id).map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
    };
    let acme_after = crate::metering::usage_by_key(&b, &acme_admin).await;
    assert_eq!(scanned(&acme_after, &acme.key.id), scanned(&acme_usage, &acme.key.id));
    let globex_after = crate::metering::usage_by_key(&a, &globex_admin).await;
    assert_eq!(scanned(&globex_after, &free.key.id), scanned(&globex_usage, &free.key.id));
    a.stop().await;
    b.stop().await;
}

/// Rows of `usage_leases` per holder (the sync client on its own thread).
fn lease_holders(db: &TestDb) -> Vec<(String, i64)> {
    let url = db.url();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query("SELECT holder, SUM(units)::int8 FROM usage_leases GROUP BY holder ORDER BY holder", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    })
    .join()
    .unwrap()
}

fn limited_plan(tenant: &'static str, quota: u64) -> impl Fn(&mut scorpius_server::config::Config) {
    use scorpius_core::metering::{Meter, plan::Plan};
    move |c: &mut scorpius_server::config::Config| {
        let plan = Plan { quotas: [(Meter::ScanDomain, quota)].into(), ..Plan::default() };
        c.metering.plans.insert("limited".into(), plan);
        c.metering.tenants.insert(tenant.into(), "limited".into());
    }
}

/// A quota large enough that both replicas lease units of it, and calls run ahead of their
/// reservations: still exactly the quota is counted, and a replica that stops gives back
/// what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_lease_quota_units_and_still_count_exactly() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let a = start_pg_with(&db, keys.path(), limited_plan("acme", 300)).await;
    let b = start_pg_with(&db, keys.path(), limited_plan("acme", 300)).await;
    let acme = a.key_expiring("acme", Role::Security, None).await;
    let body = json!({ "site": "example.org" });
    let both = [&a, &b];
    // In waves, so that leases granted during one are used by the next; which replicas hold
    // leases is looked at after each (an expired lease is deleted by the next grant).
    let mut statuses = Vec::new();
    let mut holders = std::collections::BTreeSet::new();
    for _ in 0..8 {
        statuses.extend(crate::metering::parallel(&both, &acme.secret, "/v1/scan/domain", &body, 50).await);
        holders.extend(lease_holders(&db).into_iter().map(|(h, _)| h));
        // Past the back-off of a refused grant.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(statuses.iter().filter(|&&c| c == 201).count(), 300, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&c| c == 429).count(), 100, "{statuses:?}");
    assert_eq!(holders.len(), 2, "both replicas held leases: {holders:?}");
    let admin = a.key("acme", Role::Admin).await;
    let usage = crate::metering::usage_by_key(&b, &admin).await;
    assert_eq!(usage.get(&(acme.key.id.clone(), "scan.domain".into())), Some(&300));
    assert_eq!(usage.get(&(acme.key.id.clone(), "api.requests".into())), Some(&300));
    let m = a.state.metering.clone().unwrap();
    let count = tokio::task::spawn_blocking(move || m.store.event_count("acme").unwrap()).await.unwrap();
    assert_eq!(count, 300 + 300 + 1);
    a.stop().await;
    b.stop().await;
    assert_eq!(lease_holders(&db), Vec::<(String, i64)>::new(), "stopped replicas release their leases");
}

/// Another replica's lease of `units` of acme's `scan.domain` this month, ending `ms` from
/// now by the database's clock.
fn lease_elsewhere(db: &TestDb, holder: &'static str, units: i64, ms: i64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let period = scorpius_core::metering::Period::containing(i64::try_from(now).unwrap()).start_ms();
    let url = db.url();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.execute(
            "INSERT INTO usage_leases (tenant, meter, period_ms, holder, units, expires_ms)
             VALUES ('acme', 'scan.domain', $1, $2, $3, (extract(epoch from clock_timestamp()) * 1000)::int8 + $4)",
            &[&period, &holder, &units, &ms],
        )
        .unwrap();
    })
    .join()
    .unwrap();
}

/// A replica that died holding a lease: its units count until the lease expires, then the
/// calls that waited for them are served; none is refused while the quota has room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_replicas_lease_delays_the_last_units_but_never_loses_them() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let a = start_pg_with(&db, keys.path(), limited_plan("acme", 10)).await;
    let acme = a.key_expiring("acme", Role::Security, None).await;
    lease_elsewhere(&db, "rep_dead", 8, 1500);
    let body = json!({ "site": "example.org" });
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(a.post("/v1/scan/domain", &acme.secret, &body).await.status);
    }
    assert_eq!(statuses, [[201; 10].as_slice(), &[429]].concat(), "the dead lease's units came back");
    a.post("/v1/scan/domain", &acme.secret, &body).await.assert_problem(429, "quota-exceeded");
    a.stop().await;
}

/// A live replica holding most of a quota: a call that fits the used units but not beside
/// that lease waits 3 s, then is refused with a Retry-After of seconds, not the month's reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_held_by_a_live_lease_elsewhere_are_refused_with_a_short_retry_after() {
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let a = start_pg_with(&db, keys.path(), limited_plan("acme", 10)).await;
    let acme = a.key_expiring("acme", Role::Security, None).await;
    // Another replica, alive, holds 8 of the 10 units for a minute.
    lease_elsewhere(&db, "rep_busy", 8, 60_000);
    let body = json!({ "site": "example.org" });
    for _ in 0..2 {
        assert_eq!(a.post("/v1/scan/domain", &acme.secret, &body).await.status, 201);
    }
    let started = std::time::Instant::now();
    let r = a.post("/v1/scan/domain", &acme.secret, &body).await;
    let problem = r.assert_problem(429, "quota-exceeded");
    assert!(started.elapsed() >= std::time::Duration::from_secs(3), "refused before the leases had time to end");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "Retry-After {retry}: the month's reset instead of the lease's");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("held by other replicas") && detail.contains("2 used"), "{detail}");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_each_message_once() {
    use crate::webhooks::{Behaviour, fast, receiver, subscribe, wait_until};
    let db = TestDb::new();
    let keys = tempfile::tempdir().unwrap();
    let (addr, inbox) = receiver(Behaviour::default()).await;
    let a = start_pg_with(&db, keys.path(), fast).await;
    let b = start_pg_with(&db, keys.path(), fast).await;
    let admin = a.key("acme", Role::Admin).await;
    subscribe(&a, &admin, &format!("http://{addr}/hook"), &["scan.completed"]).await;
    let statuses =
        crate::metering::parallel(&[&a, &b], &admin, "/v1/scan/domain", &json!({ "site": "example.org" }), 30).await;
    assert!(statuses.iter().all(|&c| c == 201), "{statuses:?}");
    assert!(wait_until(20, || inbox.lock().unwrap().requests.len() >= 30).await);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut ids: Vec<String> = inbox.lock().unwrap().requests.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 30);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30, "a message was delivered twice");
    a.stop().await;
    b.stop().await;
}

/// Calls admitted against this replica's lease are written by one statement that commits on
/// its own. A retried call (its events already stored), a lease that ended in the database,
/// and a call that crosses a usage threshold make that statement fail and keep nothing; the
/// first two are then counted exactly by the checking path, the last is taken again in a
/// transaction that records the crossing and queues its webhook message. Counter and live
/// leases never exceed the quota, and the folded rollups agree with the counters.
#[test]
fn leased_calls_count_retries_once_and_record_their_threshold_crossings() {
    use scorpius_core::{
        api::webhooks::EventType,
        metering::{Meter, Period},
    };
    use scorpius_server::store::{
        postgres_usage::PgUsage,
        usage::{EndpointRecord, RecordOutcome, UsageEvent, UsageStore},
    };

    let db = TestDb::new();
    let store = PgUsage::open(&db.url()).unwrap();
    let now = scorpius_server::store::sqlite::now_ms();
    store
        .create_endpoint(&EndpointRecord {
            id: "wh_1".into(),
            tenant: "acme".into(),
            url: "https://hooks.example/usage".into(),
            events: vec![EventType::UsageThresholdReached],
            description: None,
            secret: vec![7; 32],
            created_ms: now,
            disabled_ms: None,
            disabled_reason: None,
        })
        .unwrap();
    let quota = |m: Meter| (m == Meter::ScanDomain).then_some(1000u64);
    let call = |i: usize| -> Vec<UsageEvent> {
        [(Meter::ApiRequests, 1), (Meter::ScanDomain, 10)]
            .into_iter()
            .map(|(meter, units)| UsageEvent {
                tenant: "acme".into(),
                key_id: "k1".into(),
                meter,
                units,
                ts_ms: now,
                idem_id: format!("req:{i}:{meter}"),
            })
            .collect()
    };
    // Against this replica's lease when it holds one (a grant is asked for in the background:
    // wait for it up to `patience` × 10 ms), else checked; `Contended` is tried again, as the
    // server does.
    let reserve = |events: &[UsageEvent], patience: usize| -> (bool, RecordOutcome) {
        for _ in 0..patience.max(1) {
            if let Some(q) = store.reserve_ahead(events, &quota) {
                return (true, q.blocking_recv().unwrap().unwrap());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        for _ in 0..30 {
            match store.record(events, &quota).unwrap() {
                RecordOutcome::Contended { retry_after_ms, .. } => {
                    std::thread::sleep(std::time::Duration::from_millis(retry_after_ms))
                }
                outcome => return (false, outcome),
            }
        }
        panic!("still contended after 30 tries");
    };
    let sql = |q: &'static str| -> Vec<postgres::Row> {
        let url = db.url();
        std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls).unwrap().query(q, &[]).unwrap())
            .join()
            .unwrap()
    };
    // 99 calls here and one more at i = 60: 100 calls of 10 units, the quota.
    let mut leased = Vec::new();
    for i in 0..99 {
        // Far from the quota a lease comes (up to 3 s on a busy machine); near it none does.
        let (ahead, outcome) = reserve(&call(i), if i < 95 { 300 } else { 30 });
        assert!(
            matches!(outcome, RecordOutcome::Recorded { duplicates: 0, ref counted } if counted.len() == 2),
            "call {i}: {outcome:?}"
        );
        leased.push(ahead);
        if i == 50 {
            // A retry of call 10 through the lease: counted once, nothing added.
            let (ahead, outcome) = reserve(&call(10), 300);
            assert!(ahead, "the retry went through the lease");
            assert_eq!(outcome, RecordOutcome::Recorded { counted: vec![], duplicates: 2 });
        }
        if i == 60 {
            // The lease ends in the database while this replica still counts on it: the
            // statement finds it short and the checked path counts the call, exactly.
            sql("UPDATE usage_leases SET expires_ms = 0");
            let (ahead, outcome) = reserve(&call(1000), 300);
            assert!(ahead, "admitted against the lease the replica still counts on");
            assert!(matches!(outcome, RecordOutcome::Recorded { duplicates: 0, ref counted } if counted.len() == 2));
            // And a retry of it: counted once.
            assert_eq!(reserve(&call(1000), 300).1, RecordOutcome::Recorded { counted: vec![], duplicates: 2 });
        }
        // Never over the quota: the counter and every live lease together.
        let held: i64 = sql("SELECT COALESCE(SUM(units), 0)::int8 FROM usage_counters WHERE meter = 'scan.domain'
             UNION ALL SELECT COALESCE(SUM(units), 0)::int8 FROM usage_leases
             WHERE meter = 'scan.domain' AND expires_ms > (extract(epoch FROM clock_timestamp()) * 1000)::int8")
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .sum();
        assert!(held <= 1000, "call {i}: counter and leases hold {held} of 1000");
    }
    // Call 78 took the counter from 790 to 800 units, crossing 80 %, through the lease (leases
    // shrink as the quota nears and stop before it: call 98, which reaches 100 %, is checked).
    assert!(leased[78], "the call that crossed 80 % was leased: {leased:?}");
    assert!(!leased[98]);
    assert!(matches!(reserve(&call(99), 30).1, RecordOutcome::QuotaExceeded { used: 1000, .. }));

    let totals = store.month_totals("acme", Period::containing(now)).unwrap();
    assert_eq!(totals.get(&Meter::ScanDomain), Some(&1000));
    assert_eq!(totals.get(&Meter::ApiRequests), Some(&100));
    assert_eq!(store.event_count("acme").unwrap(), 200);
    // Nothing a failed statement wrote is left: the rollups, once folded, say the same.
    while store.fold().unwrap() > 0 {}
    let rollups: Vec<(String, i64)> =
        sql("SELECT meter, SUM(units)::int8 FROM usage_rollups WHERE tenant = 'acme' AND gran = 'm'
         GROUP BY meter ORDER BY meter")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rollups, [("api.requests".to_owned(), 100), ("scan.domain".to_owned(), 1000)]);
    let crossed: Vec<i64> = sql("SELECT threshold FROM usage_thresholds WHERE tenant = 'acme' ORDER BY threshold")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let messages: Vec<String> =
        sql("SELECT payload FROM webhook_messages WHERE event_type = 'usage.threshold_reached'")
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert_eq!(crossed, [80, 100]);
    let mut seen: Vec<(u64, u64)> = messages
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            (v["data"]["threshold_percent"].as_u64().unwrap(), v["data"]["used"].as_u64().unwrap())
        })
        .collect();
    seen.sort();
    assert_eq!(seen, [(80, 800), (100, 1000)]);
}

/// Calls admitted without a write (the usage inbox): a replica that dies after answering
/// them — its inbox rows written, never applied — loses none of them, and the quota holds
/// throughout. Replica C admits 20 calls of a quota of 60 through its leases, one of them
/// twice (a retry), writes their rows and stops without applying them or releasing its
/// leases. Replica A then takes calls until it is refused: its grants and checks count C's
/// rows while C's lease holds them and after it has ended, until one replica applies them,
/// counting the retry once. A serves exactly 40, and counter + live leases + rows outside
/// them never exceed 60.
#[test]
fn inbox_rows_of_a_dead_replica_are_counted_once_within_the_quota() {
    use scorpius_core::metering::{Meter, Period};
    use scorpius_server::store::{
        postgres_usage::PgUsage,
        usage::{Admission, RecordOutcome, UsageEvent, UsageStore},
    };

    let db = TestDb::new();
    let a = PgUsage::open(&db.url()).unwrap();
    let c = PgUsage::open(&db.url()).unwrap();
    let now = scorpius_server::store::sqlite::now_ms();
    let quota = |m: Meter| (m == Meter::ScanDomain).then_some(60u64);
    let call = |i: usize| -> Vec<UsageEvent> {
        [Meter::ApiRequests, Meter::ScanDomain]
            .into_iter()
            .map(|meter| UsageEvent {
                tenant: "acme".into(),
                key_id: "k1".into(),
                meter,
                units: 1,
                ts_ms: now,
                idem_id: format!("req:{i}:{meter}"),
            })
            .collect()
    };
    let sql = |q: &'static str| -> i64 {
        let url = db.url();
        std::thread::spawn(move || {
            postgres::Client::connect(&url, postgres::NoTls).unwrap().query_one(q, &[]).unwrap().get::<_, i64>(0)
        })
        .join()
        .unwrap()
    };
    // What the quota counts: the counter, every live lease, and inbox rows outside them.
    let held = || {
        sql("SELECT ((SELECT COALESCE(SUM(units), 0) FROM usage_counters WHERE meter = 'scan.domain')
              + (SELECT COALESCE(SUM(units), 0) FROM usage_leases WHERE meter = 'scan.domain'
                   AND expires_ms > (extract(epoch FROM clock_timestamp()) * 1000)::int8)
              + (SELECT COALESCE(SUM(units), 0) FROM usage_inbox i WHERE meter = 'scan.domain'
                   AND NOT (leased AND EXISTS (SELECT 1 FROM usage_leases l
                       WHERE l.tenant = i.tenant AND l.meter = i.meter AND l.period_ms = i.period_ms
                         AND l.holder = i.holder
                         AND l.expires_ms > (extract(epoch FROM clock_timestamp()) * 1000)::int8))))::int8")
    };
    // Admitted through a replica's lease (granted in the background: wait up to 3 s).
    let admit = |s: &PgUsage, events: &[UsageEvent]| -> Option<Admission> {
        for _ in 0..300 {
            if let Some(a) = s.admit(events, &quota) {
                return Some(a);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        None
    };

    for i in (0..20).chain([0]) {
        let adm = admit(&c, &call(i)).expect("C holds a lease");
        assert!(adm.leased);
        c.write_inbox(&adm.rows(|_| true)).unwrap();
        assert!(held() <= 60);
    }
    assert_eq!(sql("SELECT COUNT(*) FROM usage_inbox"), 42);
    // C dies: nothing applied, nothing released (its threads idle until the process ends).
    std::mem::forget(c);

    let (mut served, mut i) = (0, 100);
    let start = std::time::Instant::now();
    loop {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "A was never refused");
        let h = held();
        assert!(h <= 60, "after {served} calls served by A, the quota counts {h} of 60");
        if let Some(adm) = a.admit(&call(i), &quota) {
            a.write_inbox(&adm.rows(|_| true)).unwrap();
            a.admitted(&adm);
            served += 1;
        } else {
            match a.record(&call(i), &quota).unwrap() {
                RecordOutcome::Recorded { .. } => served += 1,
                RecordOutcome::Contended { retry_after_ms, .. } => {
                    std::thread::sleep(std::time::Duration::from_millis(retry_after_ms));
                    continue;
                }
                RecordOutcome::QuotaExceeded { used, .. } => {
                    assert_eq!(used, 60);
                    break;
                }
            }
        }
        i += 1;
    }
    assert_eq!(served, 40);
    let totals = a.month_totals("acme", Period::containing(now)).unwrap();
    assert_eq!(totals.get(&Meter::ScanDomain), Some(&60));
    assert_eq!(totals.get(&Meter::ApiRequests), Some(&60));
    assert_eq!(a.event_count("acme").unwrap(), 120);
    assert_eq!(sql("SELECT COUNT(*) FROM usage_inbox"), 0);
    // The folded rollups agree.
    while a.fold().unwrap() > 0 {}
    assert_eq!(
        sql(
            "SELECT SUM(units)::int8 FROM usage_rollups WHERE tenant = 'acme' AND gran = 'm' AND meter = 'scan.domain'"
        ),
        60
    );
}

/// An inbox row that lands after its lease ended in the database stays outside every lease:
/// the grant that deletes the ended lease marks it so, and the drain then adds it to the
/// counter without drawing it from the holder's next lease (which never counted it).
#[test]
fn an_inbox_row_of_an_ended_lease_is_not_drawn_from_the_next_one() {
    use scorpius_core::metering::{Meter, Period};
    use scorpius_server::store::{
        postgres_usage::PgUsage,
        usage::{Admission, UsageEvent, UsageStore},
    };

    let db = TestDb::new();
    let a = PgUsage::open(&db.url()).unwrap();
    let now = scorpius_server::store::sqlite::now_ms();
    let quota = |m: Meter| (m == Meter::ScanDomain).then_some(1000u64);
    let call = |i: usize| -> Vec<UsageEvent> {
        vec![UsageEvent {
            tenant: "acme".into(),
            key_id: "k1".into(),
            meter: Meter::ScanDomain,
            units: 1,
            ts_ms: now,
            idem_id: format!("req:{i}"),
        }]
    };
    let sql = |q: &'static str| -> Vec<postgres::Row> {
        let url = db.url();
        std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls).unwrap().query(q, &[]).unwrap())
            .join()
            .unwrap()
    };
    let admit = |events: &[UsageEvent]| -> Admission {
        for _ in 0..300 {
            if let Some(adm) = a.admit(events, &quota) {
                return adm;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no lease was granted");
    };
    let live = "SELECT units FROM usage_leases WHERE expires_ms > (extract(epoch FROM clock_timestamp()) * 1000)::int8";

    let first = admit(&call(0));
    assert!(first.leased);
    // The lease ends in the database; the call's row lands after that, not yet applied.
    sql("UPDATE usage_leases SET expires_ms = 0");
    a.write_inbox(&first.rows(|_| true)).unwrap();
    // Half the lease's life later the replica asks for another (a call admitted meanwhile,
    // never written, is the reason to ask).
    std::thread::sleep(std::time::Duration::from_millis(600));
    let _second = admit(&call(1));
    let mut granted = Vec::new();
    for _ in 0..300 {
        granted = sql(live);
        if !granted.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(granted.len(), 1, "a new lease was granted");
    let leased: Vec<bool> = sql("SELECT leased FROM usage_inbox").iter().map(|r| r.get(0)).collect();
    assert_eq!(leased, [false], "the row of the ended lease is outside the new one");
    let before: i64 = granted[0].get(0);
    // Applied: counted once, and the new lease keeps every unit it was granted.
    let totals = a.month_totals("acme", Period::containing(now)).unwrap();
    assert_eq!(totals.get(&Meter::ScanDomain), Some(&1));
    let after: Vec<i64> = sql(live).iter().map(|r| r.get(0)).collect();
    assert_eq!(after, [before]);
    a.admitted(&first);
}
