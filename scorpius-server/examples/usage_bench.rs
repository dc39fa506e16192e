//! A month of usage for one tenant with 1,000,000 events (docs/PERFORMANCE.md, issue 9):
//! records the events through the metering store, folds them into the rollups, starts the
//! server on the same storage and times `GET /v1/usage` for the month over HTTP (median of 21
//! runs).
//!
//! `cargo run --release -p scorpius-server --example usage_bench -- [EVENTS] [postgres://…]`
//! (SQLite in a temporary directory without a URL).

use std::{sync::Arc, time::Instant};

use scorpius_core::{
    api::keys::Role,
    metering::{Meter, Period},
};
use scorpius_server::{
    Server,
    auth::KeyMode,
    config::Config,
    hooks::Hooks,
    routes::keys,
    store::usage::{UsageEvent, UsageStore},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let events: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let config = Config {
        bind: "127.0.0.1:0".into(),
        data_dir: Some(dir.path().to_path_buf()),
        database_url: args.get(2).cloned(),
        key_mode: KeyMode::Test,
        log_format: "text".into(),
        rate_limit_per_second: 100_000,
        rate_limit_burst: 100_000,
        ..Config::default()
    };
    let server = Server::bind(config, Hooks::default()).await?;
    let state = server.state.clone();
    let addr = server.local_addr()?;
    let store: Arc<dyn UsageStore> = Arc::clone(&state.metering.as_ref().expect("metering").store);
    let key = {
        let s = Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || keys::create(s.as_ref(), KeyMode::Test, "bench", Role::Auditor, None, None))
            .await??
            .secret
    };
    // The events: the previous full month, 10 keys, 5 meters, spread evenly over the month.
    let now = scorpius_server::store::sqlite::now_ms();
    let month = Period::containing(Period::containing(now).start_ms() - 1);
    let span = month.end_ms() - month.start_ms();
    let meters =
        [Meter::ApiRequests, Meter::ScanTransaction, Meter::ScanSignature, Meter::ScanAddress, Meter::ScanDomain];
    let t = Instant::now();
    let batch = 5_000u64;
    let mut done = 0u64;
    while done < events {
        let n = batch.min(events - done);
        let chunk: Vec<UsageEvent> = (done..done + n)
            .map(|i| UsageEvent {
                tenant: "bench".into(),
                key_id: format!("key_{:016x}", i % 10),
                meter: meters[usize::try_from(i % 5).unwrap_or(0)],
                units: 1,
                ts_ms: month.start_ms() + i64::try_from(i).unwrap_or(0) * span / i64::try_from(events).unwrap_or(1),
                idem_id: format!("bench-{i}"),
            })
            .collect();
        let s = Arc::clone(&store);
        tokio::task::spawn_blocking(move || s.record(&chunk, &|_| None)).await??;
        done += n;
    }
    eprintln!("recorded {events} events in {:.1} s", t.elapsed().as_secs_f64());
    let s = Arc::clone(&store);
    let stored = tokio::task::spawn_blocking(move || s.event_count("bench")).await??;
    assert_eq!(stored, events);
    // Measured with every event folded into the rollups, as a month past is; the server's
    // folder may be folding too, so wait until nothing is pending.
    let t = Instant::now();
    loop {
        let s = Arc::clone(&store);
        let (moved, left) =
            tokio::task::spawn_blocking(move || Ok::<_, anyhow::Error>((s.fold()?, s.pending()?))).await??;
        if left == 0 {
            break;
        }
        if moved == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    eprintln!("folded into the rollups {:.1} s later", t.elapsed().as_secs_f64());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let from = scorpius_core::metering::rfc3339(month.start_ms());
    let to = scorpius_core::metering::rfc3339(month.end_ms());
    for (name, query) in [
        ("month, by meter", "granularity=month"),
        ("days, by meter", "granularity=day"),
        ("days, by key", "granularity=day&group_by=key"),
        ("hours, by meter", "granularity=hour"),
        ("hours, by key (CSV)", "granularity=hour&group_by=key&format=csv"),
    ] {
        let url = format!("http://{addr}/v1/usage?from={from}&to={to}&{query}");
        let mut times = Vec::new();
        let mut total_units = 0u64;
        for i in 0..21 {
            let t = Instant::now();
            let r = client.get(&url).header("x-api-key", &key).send().await?;
            assert!(r.status().is_success(), "{}", r.status());
            let body = r.text().await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if i == 0 && !query.contains("csv") {
                let v: serde_json::Value = serde_json::from_str(&body)?;
                total_units = v["totals"].as_object().map_or(0, |o| o.values().filter_map(|x| x.as_u64()).sum());
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name}: median {:.2} ms, min {:.2} ms, max {:.2} ms{}",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            if total_units > 0 { format!(" (totals {total_units} units)") } else { String::new() }
        );
    }
    let _ = stop.send(());
    task.await??;
    Ok(())
}
