//! A small load generator for docs/PERFORMANCE.md: N concurrent clients POST the same
//! transaction scan (authenticated, rate limited, audited) for a fixed time, then GET
//! `/health/ready`; prints requests/s and latency percentiles.
//!
//! `cargo run --release -p scorpius-server --example load -- URL KEY [CONCURRENCY] [SECONDS]`
//! (give the key a rate limit above the offered load: `SCORPIUS_RATE_LIMIT_PER_SECOND`).

use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

async fn run(
    client: reqwest::Client,
    url: String,
    key: String,
    body: Option<String>,
    concurrency: usize,
    secs: u64,
) -> (usize, usize, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, key, body) = (client.clone(), url.clone(), key.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut lat) = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let t = Instant::now();
                let req = match &body {
                    Some(b) => client.post(&url).header("content-type", "application/json").body(b.clone()),
                    None => client.get(&url),
                };
                let res = req.header("x-api-key", &key).send().await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1;
                    }
                    _ => failed += 1,
                }
                lat.push(t.elapsed());
            }
            (ok, failed, lat)
        }));
    }
    let (mut ok, mut failed, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (o, f, l) = t.await.unwrap();
        ok += o;
        failed += f;
        lat.extend(l);
    }
    lat.sort();
    (ok, failed, lat)
}

fn report(name: &str, secs: u64, (ok, failed, lat): &(usize, usize, Vec<Duration>)) {
    println!(
        "{name}: {ok} ok, {failed} failed, {:.0} req/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        *ok as f64 / secs as f64,
        percentile(lat, 0.5),
        percentile(lat, 0.9),
        percentile(lat, 0.99),
        percentile(lat, 1.0)
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let (Some(base), Some(key)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: load URL KEY [CONCURRENCY] [SECONDS]");
        std::process::exit(2);
    };
    let concurrency = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let secs = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10);
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
    let body = r#"{"to":"0x4d9e5a9b0c3dbe5d6a3f7c9df1d0bde1c3afb1a2","data":"0x4e71d92d","value":"0x16345785d8a0000"}"#;
    let scan =
        run(client.clone(), format!("{base}/v1/scan/transaction"), key.clone(), Some(body.into()), concurrency, secs)
            .await;
    report("POST /v1/scan/transaction", secs, &scan);
    let ready = run(client, format!("{base}/health/ready"), key.clone(), None, concurrency, secs.min(5)).await;
    report("GET /health/ready", secs.min(5), &ready);
}
