//! Open-loop load at a fixed rate for docs/PERFORMANCE.md (issue 9): sends `POST
//! /v1/scan/transaction` at RATE requests per second for SECONDS (each request on its own
//! task, so a slow answer does not slow the offered load) and prints the latency percentiles.
//!
//! `cargo run --release -p scorpius-server --example rate_load -- URL KEY [RATE] [SECONDS]`

use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let (Some(base), Some(key)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: rate_load URL KEY [RATE] [SECONDS]");
        std::process::exit(2);
    };
    let rate: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10);
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let url = format!("{base}/v1/scan/transaction");
    let body = r#"{"to":"0x4d9e5a9b0c3dbe5d6a3f7c9df1d0bde1c3afb1a2","data":"0x4e71d92d","value":"0x16345785d8a0000"}"#;
    let total = rate * secs;
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for i in 0..total {
        let due = start + interval * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = match client
                .post(&url)
                .header("x-api-key", key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
            {
                Ok(r) => {
                    let ok = r.status().is_success();
                    let _ = r.bytes().await;
                    ok
                }
                Err(_) => false,
            };
            (ok, t.elapsed())
        }));
    }
    let sent_in = start.elapsed();
    let (mut ok, mut failed, mut lat) = (0usize, 0usize, Vec::new());
    for t in tasks {
        let (good, d) = t.await.unwrap();
        if good {
            ok += 1;
        } else {
            failed += 1;
        }
        lat.push(d);
    }
    lat.sort();
    println!(
        "offered {rate}/s for {secs} s (sent in {:.2} s): {ok} ok, {failed} failed, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sent_in.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
}
