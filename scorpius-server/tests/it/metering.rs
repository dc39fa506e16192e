//! Usage metering over HTTP on SQLite: exact counts under concurrency, idempotent replays and
//! failed scans, atomic quotas with `quota-exceeded`, month rollover (shifted metering clock),
//! CSV export, billing tiers and the forecast on synthetic series.

use std::collections::BTreeMap;

use scorpius_core::{
    api::keys::Role,
    metering::{
        DAY_MS, Meter, Period,
        plan::{Money, Plan, Price, Tier},
        rfc3339,
    },
};
use scorpius_server::store::{sqlite::now_ms, usage::UsageEvent};
use serde_json::{Value, json};

use crate::common::TestServer;

/// `n` POSTs of `body` to `path` at once; their statuses.
pub async fn parallel(targets: &[&TestServer], key: &str, path: &str, body: &Value, n: usize) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let t = targets[i % targets.len()];
        let req = t
            .client
            .post(t.url(path))
            .header("x-api-key", key)
            .header("content-type", "application/json")
            .body(body.to_string());
        set.spawn(async move { req.send().await.unwrap().status().as_u16() });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

fn plan_with_quota(meter: Meter, quota: u64) -> Plan {
    Plan { quotas: BTreeMap::from([(meter, quota)]), ..Plan::default() }
}

/// Units per (key, meter) over the whole current month, from `GET /v1/usage`.
pub async fn usage_by_key(s: &TestServer, key: &str) -> BTreeMap<(String, String), u64> {
    let r = s.get("/v1/usage?granularity=month&group_by=key", key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut out = BTreeMap::new();
    for row in r.json()["rows"].as_array().unwrap() {
        let k = (row["key_id"].as_str().unwrap().to_owned(), row["meter"].as_str().unwrap().to_owned());
        *out.entry(k).or_insert(0) += row["units"].as_u64().unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_requests_are_counted_exactly_once() {
    let s = TestServer::start().await;
    let scanner = s.key_expiring("acme", Role::Security, None).await;
    let auditor = s.key("acme", Role::Auditor).await;
    let statuses = parallel(&[&s], &scanner.secret, "/v1/scan/domain", &json!({ "site": "example.org" }), 40).await;
    assert!(statuses.iter().all(|&c| c == 201), "{statuses:?}");
    // Three times the same Idempotency-Key: one scan billed, three requests.
    for _ in 0..3 {
        let r = s
            .client
            .post(s.url("/v1/scan/domain"))
            .header("x-api-key", &scanner.secret)
            .header("idempotency-key", "once")
            .header("content-type", "application/json")
            .body(json!({ "site": "example.com" }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    // A scan that fails validation is a request, not a scan.
    s.post("/v1/scan/domain", &scanner.secret, &json!({ "site": "" })).await.assert_problem(422, "invalid-input");
    let usage = usage_by_key(&s, &auditor).await;
    let id = scanner.key.id.clone();
    assert_eq!(usage.get(&(id.clone(), "scan.domain".into())), Some(&41));
    assert_eq!(usage.get(&(id.clone(), "api.requests".into())), Some(&44));
    // What the rollups say, the raw events say too: 41 scans + 44 requests of this key, plus
    // the auditor's one usage request.
    let m = s.state.metering.clone().unwrap();
    let events = tokio::task::spawn_blocking(move || m.store.event_count("acme")).await.unwrap().unwrap();
    assert_eq!(events, 41 + 44 + 1);
    // Viewers and security keys may not read usage; another tenant sees none of it.
    let viewer = s.key("acme", Role::Viewer).await;
    s.get("/v1/usage", &viewer).await.assert_problem(403, "forbidden");
    s.get("/v1/usage", &scanner.secret).await.assert_problem(403, "forbidden");
    let foreign = s.key("globex", Role::Admin).await;
    let theirs = s.get("/v1/usage?group_by=key", &foreign).await.json();
    assert!(!theirs.to_string().contains(&id), "{theirs}");
    assert_eq!(theirs["totals"].get("scan.domain"), None);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_is_never_exceeded_and_names_its_reset() {
    let s = TestServer::start_with(|c| {
        c.metering.plans.insert("small".into(), plan_with_quota(Meter::ScanDomain, 5));
        c.metering.tenants.insert("acme".into(), "small".into());
    })
    .await;
    let key = s.key("acme", Role::Admin).await;
    let statuses = parallel(&[&s], &key, "/v1/scan/domain", &json!({ "site": "example.org" }), 16).await;
    assert_eq!(statuses.iter().filter(|&&c| c == 201).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&c| c == 429).count(), 11, "{statuses:?}");
    let r = s.post("/v1/scan/domain", &key, &json!({ "site": "example.org" })).await;
    let p = r.assert_problem(429, "quota-exceeded");
    let reset = rfc3339(Period::containing(now_ms()).end_ms());
    assert!(p["detail"].as_str().unwrap().contains(&reset), "{p}");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 31 * 86_400, "{retry}");
    // Other meters are unlimited; the refused scans were not counted.
    assert_eq!(
        s.post("/v1/scan/address", &key, &json!({ "address": "0x8ba1f109551bd432803012645ac136ddd64dba72" }))
            .await
            .status,
        201
    );
    let month = s.get("/v1/usage?granularity=month", &key).await.json();
    assert_eq!(month["totals"]["scan.domain"], 5, "{month}");
    assert_eq!(month["totals"]["scan.address"], 1, "{month}");
    // A call refused for its quota records nothing, not even the API request.
    assert_eq!(month["totals"]["api.requests"], 5 + 1 + 1, "{month}");
    // The other tenant has no plan: no quota.
    let other = s.key("globex", Role::Admin).await;
    let statuses = parallel(&[&s], &other, "/v1/scan/domain", &json!({ "site": "example.org" }), 8).await;
    assert!(statuses.iter().all(|&c| c == 201), "{statuses:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_reset_on_the_first_of_the_month() {
    let s = TestServer::start_with(|c| {
        c.metering.plans.insert("tiny".into(), plan_with_quota(Meter::ScanDomain, 2));
        c.metering.default_plan = Some("tiny".into());
    })
    .await;
    let m = s.state.metering.clone().unwrap();
    let key = s.key("acme", Role::Admin).await;
    let june: Period = "2026-06".parse().unwrap();
    // One minute before July: the quota of 2 runs out.
    m.set_clock_offset_ms(june.end_ms() - 60_000 - now_ms());
    let body = json!({ "site": "example.org" });
    assert_eq!(s.post("/v1/scan/domain", &key, &body).await.status, 201);
    assert_eq!(s.post("/v1/scan/domain", &key, &body).await.status, 201);
    let p = s.post("/v1/scan/domain", &key, &body).await.assert_problem(429, "quota-exceeded");
    assert!(p["detail"].as_str().unwrap().contains("2026-07-01T00:00:00Z"), "{p}");
    // One second into July: a fresh quota.
    m.set_clock_offset_ms(june.end_ms() + 1_000 - now_ms());
    assert_eq!(s.post("/v1/scan/domain", &key, &body).await.status, 201);
    let r = s.get("/v1/usage?granularity=month&from=2026-06-01&to=2026-08-01", &key).await.json();
    let domain: Vec<(String, u64)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["meter"] == "scan.domain")
        .map(|row| (row["start"].as_str().unwrap().to_owned(), row["units"].as_u64().unwrap()))
        .collect();
    assert_eq!(domain, vec![("2026-06-01T00:00:00Z".into(), 2), ("2026-07-01T00:00:00Z".into(), 1)]);
    let june_bill = s.get("/v1/billing/preview?month=2026-06", &key).await.json();
    let line = june_bill["lines"].as_array().unwrap().iter().find(|l| l["meter"] == "scan.domain").unwrap().clone();
    assert_eq!(line["quantity"], 2);
    assert_eq!(june_bill["complete"], true);
    assert_eq!(s.get("/v1/billing/preview?month=2026-07", &key).await.json()["complete"], false);
    m.set_clock_offset_ms(0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_exports_as_csv_by_key_and_hour() {
    let s = TestServer::start().await;
    let a = s.key_expiring("acme", Role::Security, None).await;
    let b = s.key_expiring("acme", Role::Security, None).await;
    let admin = s.key("acme", Role::Admin).await;
    let m = s.state.metering.clone().unwrap();
    // Fixed times through the storage API: 2026-03-04 10:15 and 10:45 (key a), 11:05 (key b).
    let at =
        |h: i64, min: i64| Period::containing(1_772_323_200_000).start_ms() + 3 * DAY_MS + h * 3_600_000 + min * 60_000;
    let events: Vec<UsageEvent> = [(&a, at(10, 15), 3), (&a, at(10, 45), 2), (&b, at(11, 5), 7)]
        .into_iter()
        .enumerate()
        .map(|(i, (k, ts, units))| UsageEvent {
            tenant: "acme".into(),
            key_id: k.key.id.clone(),
            meter: Meter::ScanTransaction,
            units,
            ts_ms: ts,
            idem_id: format!("csv-{i}"),
        })
        .collect();
    let store = std::sync::Arc::clone(&m.store);
    tokio::task::spawn_blocking(move || store.record(&events, &|_| None)).await.unwrap().unwrap();
    let r = s.get("/v1/usage?from=2026-03-04&to=2026-03-05&granularity=hour&group_by=key&format=csv", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let expected = format!(
        "start,meter,key_id,units\n2026-03-04T10:00:00Z,scan.transaction,{},5\n2026-03-04T11:00:00Z,scan.transaction,{},7\n",
        a.key.id, b.key.id
    );
    assert_eq!(r.text, expected);
    let by_meter = s.get("/v1/usage?from=2026-03-01&to=2026-04-01&format=csv", &admin).await;
    assert_eq!(by_meter.text, "start,meter,key_id,units\n2026-03-04T00:00:00Z,scan.transaction,,12\n");
    // Bad parameters are 400 problems naming the parameter.
    for (q, what) in [
        ("granularity=week", "granularity"),
        ("group_by=tenant", "group_by"),
        ("format=xml", "format"),
        ("from=yesterday", "from"),
        ("from=2026-03-05&to=2026-03-04", "to"),
        ("granularity=hour&from=2026-01-01&to=2026-03-01", "from/to"),
        ("nope=1", "nope"),
    ] {
        let p = s.get(&format!("/v1/usage?{q}"), &admin).await.assert_problem(400, "bad-request");
        assert!(p["detail"].as_str().unwrap().contains(what), "{q}: {p}");
    }
    s.stop().await;
}

fn tiers() -> Vec<Tier> {
    let m = |s: &str| s.parse::<Money>().unwrap();
    vec![
        Tier { up_to: Some(1_000), unit_price: m("0"), flat_price: Money::ZERO },
        Tier { up_to: Some(10_000), unit_price: m("0.002"), flat_price: Money::ZERO },
        Tier { up_to: None, unit_price: m("0.001"), flat_price: Money::ZERO },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_preview_prices_graduated_and_volume_tiers() {
    let s = TestServer::start_with(|c| {
        let mut plan = Plan::default();
        plan.prices.insert(Meter::ScanTransaction, Price::Graduated { tiers: tiers() });
        plan.prices.insert(Meter::ScanSignature, Price::Volume { tiers: tiers() });
        plan.prices.insert(Meter::ApiRequests, Price::Flat { unit_price: "0.0001".parse().unwrap() });
        c.metering.plans.insert("pro".into(), plan);
        c.metering.tenants.insert("acme".into(), "pro".into());
    })
    .await;
    let auditor = s.key("acme", Role::Auditor).await;
    let m = s.state.metering.clone().unwrap();
    let march = Period { year: 2026, month: 3 };
    let ev = |meter, units, id: &str| UsageEvent {
        tenant: "acme".into(),
        key_id: "key_test".into(),
        meter,
        units,
        ts_ms: march.start_ms() + DAY_MS,
        idem_id: id.into(),
    };
    let events = vec![
        ev(Meter::ScanTransaction, 12_000, "t"),
        ev(Meter::ScanSignature, 12_000, "s"),
        ev(Meter::ApiRequests, 20_000, "a"),
    ];
    let store = std::sync::Arc::clone(&m.store);
    tokio::task::spawn_blocking(move || {
        store.record(&events, &|_| None).unwrap();
        // Recording the same ids again counts nothing.
        store.record(&events, &|_| None).unwrap()
    })
    .await
    .unwrap();
    let bill = s.get("/v1/billing/preview?month=2026-03", &auditor).await;
    assert_eq!(bill.status, 200, "{}", bill.text);
    let bill = bill.json();
    let line = |meter: &str| bill["lines"].as_array().unwrap().iter().find(|l| l["meter"] == meter).unwrap().clone();
    let graduated = line("scan.transaction");
    assert_eq!((graduated["model"].as_str(), graduated["amount"].as_str()), (Some("graduated"), Some("20.00")));
    let applied: Vec<(u64, u64, String)> = graduated["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (t["from"].as_u64().unwrap(), t["quantity"].as_u64().unwrap(), t["amount"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        applied,
        vec![(1, 1_000, "0.00".into()), (1_001, 9_000, "18.00".into()), (10_001, 2_000, "2.00".into())]
    );
    let volume = line("scan.signature");
    assert_eq!((volume["model"].as_str(), volume["amount"].as_str()), (Some("volume"), Some("12.00")));
    assert_eq!(volume["tiers"][0]["tier"], 3);
    assert_eq!(line("api.requests")["amount"], "2.00");
    assert_eq!(bill["total"], "34.00");
    assert_eq!((bill["plan"].as_str(), bill["currency"].as_str()), (Some("pro"), Some("USD")));
    for bad in ["2026-13", "March", "2026-3"] {
        s.get(&format!("/v1/billing/preview?month={bad}"), &auditor).await.assert_problem(400, "bad-request");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_extrapolates_synthetic_series() {
    let s = TestServer::start_with(|c| {
        c.metering.plans.insert("q".into(), plan_with_quota(Meter::ScanContract, 4_000));
        c.metering.default_plan = Some("q".into());
    })
    .await;
    let admin = s.key("acme", Role::Admin).await;
    let m = s.state.metering.clone().unwrap();
    let june = Period { year: 2026, month: 6 };
    // At midnight starting June 11: ten complete days.
    m.set_clock_offset_ms(june.start_ms() + 10 * DAY_MS - now_ms());
    let mut events = Vec::new();
    for day in 0..10i64 {
        let ts = june.start_ms() + day * DAY_MS + 3_600_000;
        let base = UsageEvent {
            tenant: "acme".into(),
            key_id: "key_x".into(),
            meter: Meter::ScanContract,
            units: 10 * u64::try_from(day + 1).unwrap(),
            ts_ms: ts,
            idem_id: format!("lin-{day}"),
        };
        events.push(base.clone());
        events.push(UsageEvent { meter: Meter::ScanAddress, units: 100, idem_id: format!("const-{day}"), ..base });
    }
    let store = std::sync::Arc::clone(&m.store);
    tokio::task::spawn_blocking(move || store.record(&events, &|_| None)).await.unwrap().unwrap();
    let f = s.get("/v1/usage/forecast", &admin).await;
    assert_eq!(f.status, 200, "{}", f.text);
    let f = f.json();
    assert_eq!(f["period"], "2026-06");
    assert_eq!(f["resets_at"], "2026-07-01T00:00:00Z");
    assert!(f["method"].as_str().unwrap().contains("least squares"), "{f}");
    let meter = |name: &str| f["meters"].as_array().unwrap().iter().find(|x| x["meter"] == name).unwrap().clone();
    // 10·day over 30 days: 10 · 465; constant 100 a day: 3 000.
    let linear = meter("scan.contract");
    assert_eq!((linear["used"].as_u64(), linear["forecast"].as_u64()), (Some(550), Some(4_650)));
    assert_eq!((linear["quota"].as_u64(), linear["exceeds_quota"].as_bool()), (Some(4_000), Some(true)));
    let constant = meter("scan.address");
    assert_eq!((constant["used"].as_u64(), constant["forecast"].as_u64()), (Some(1_000), Some(3_000)));
    assert_eq!(constant["exceeds_quota"], false);
    m.set_clock_offset_ms(0);
    s.stop().await;
}
