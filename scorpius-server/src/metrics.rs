//! Prometheus metrics: one recorder per process, rendered at `/metrics`, with upkeep run
//! periodically so histograms do not grow without bound. Labels are route templates, methods,
//! statuses, scan kinds and levels: never keys or tenants.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request latency buckets (seconds).
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The process's Prometheus handle (installing the recorder on first use).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); the handle still renders ours.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok();
            handle
        })
        .clone()
}

/// Counts a finished request and its latency.
pub fn request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    metrics::counter!("scorpius_http_requests_total", &labels).increment(1);
    metrics::histogram!("scorpius_http_request_duration_seconds", &labels[..2]).record(seconds);
}

/// Counts a finished scan.
pub fn scan(kind: &str, level: &str) {
    metrics::counter!("scorpius_scans_total", "kind" => kind.to_owned(), "level" => level.to_owned()).increment(1);
}

/// Counts audit appends by outcome of the append itself.
pub fn audit_append(ok: bool) {
    metrics::counter!("scorpius_audit_appends_total", "result" => if ok { "ok" } else { "error" }).increment(1);
}

/// Counts a rate-limit rejection.
pub fn rate_limited() {
    metrics::counter!("scorpius_rate_limited_total").increment(1);
}

/// A webhook delivery attempt (issue 9).
pub fn webhook_attempt(success: bool) {
    metrics::counter!("scorpius_webhook_attempts_total", "result" => if success { "success" } else { "failure" })
        .increment(1);
}
