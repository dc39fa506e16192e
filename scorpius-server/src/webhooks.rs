//! Webhooks (issue 9): the hook that turns scans, key changes and failed audit verifications
//! into events, and the delivery worker that drains the outbox.
//!
//! Every replica runs a worker: it claims due deliveries with a lease (see
//! [`crate::store::usage`]), POSTs the signed message (Standard Webhooks headers, signed with
//! `scorpius_core::webhooks::sign`), follows no redirects, treats any 2xx as delivered, and
//! otherwise schedules the next attempt with exponential backoff and ±20 % jitter (by default
//! 16 attempts over about 23 hours). Every attempt is logged. An endpoint failing for longer
//! than `disable_after_ms` is disabled and the audit log records it.

use std::{sync::Arc, time::Duration};

use scorpius_core::{
    api::webhooks::EventType,
    audit::{Event, Outcome},
    model::{ScanKind, ScanReport, Severity},
    webhooks::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, WebhookSecret, sign},
};
use serde::{Deserialize, Serialize};

use crate::{
    app::AppState,
    auth::Principal,
    hooks::{Hook, ServerEvent},
    metering::{Metering, PendingEvent, raise},
    store::usage::{AttemptResult, Claimed},
};

/// `[webhooks]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Run the delivery worker in this replica.
    pub deliver: bool,
    /// Per-attempt timeout (connect + response), ms.
    pub timeout_ms: u64,
    /// Delay after the first failed attempt, ms; doubled after each further one.
    pub initial_backoff_ms: u64,
    /// Longest delay between attempts, ms.
    pub max_backoff_ms: u64,
    /// Attempts per delivery before it is marked failed.
    pub max_attempts: u32,
    /// An endpoint whose deliveries have all failed for this long is disabled, ms.
    pub disable_after_ms: u64,
    /// How often the worker looks for due deliveries when not woken, ms.
    pub poll_interval_ms: u64,
    /// Deliveries attempted at once per replica.
    pub concurrency: u32,
    /// Allow `http://` endpoint URLs (otherwise only `https://`).
    pub allow_http: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            deliver: true,
            timeout_ms: 10_000,
            initial_backoff_ms: 5_000,
            max_backoff_ms: 6 * 3_600_000,
            max_attempts: 16,
            disable_after_ms: 24 * 3_600_000,
            poll_interval_ms: 1_000,
            concurrency: 8,
            allow_http: true,
        }
    }
}

impl WebhooksConfig {
    /// Sensible values.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 || self.max_attempts == 0 || self.concurrency == 0 || self.poll_interval_ms == 0 {
            return Err(
                "webhooks: timeout_ms, max_attempts, concurrency and poll_interval_ms must be at least 1".into()
            );
        }
        if self.initial_backoff_ms > self.max_backoff_ms {
            return Err("webhooks: initial_backoff_ms must not exceed max_backoff_ms".into());
        }
        Ok(())
    }

    /// The delay after the `attempts`-th failed attempt, without jitter.
    pub fn backoff_ms(&self, attempts: u32) -> u64 {
        let factor = 1u64.checked_shl(attempts.saturating_sub(1)).unwrap_or(u64::MAX);
        self.initial_backoff_ms.saturating_mul(factor).min(self.max_backoff_ms)
    }

    /// The whole retry schedule without jitter (sum of the delays), ms.
    pub fn schedule_ms(&self) -> u64 {
        (1..self.max_attempts).map(|a| self.backoff_ms(a)).sum()
    }
}

/// ±20 % jitter.
fn jitter(ms: u64) -> u64 {
    let mut b = [0u8; 2];
    let r = if getrandom::fill(&mut b).is_ok() { f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) } else { 0.5 };
    (ms as f64 * (0.8 + 0.4 * r)) as u64
}

/// The hook that raises webhook events.
pub struct WebhookHook(pub Arc<Metering>);

impl std::fmt::Debug for WebhookHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookHook")
    }
}

fn rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

impl Hook for WebhookHook {
    fn on_scan(&self, who: &Principal, report: &ScanReport) {
        let base = serde_json::json!({
            "scan_id": report.scan_id.to_string(),
            "kind": report.kind,
            "target": report.target,
            "chain_id": report.chain.id,
            "risk_score": report.risk.score,
            "risk_level": report.risk.level.as_str(),
            "findings": report.findings.len(),
            "key_id": who.key_id,
        });
        let tenant = Some(who.tenant.clone());
        raise(&self.0, PendingEvent { tenant: tenant.clone(), event: EventType::ScanCompleted, data: base.clone() });
        let summary = |min: Severity| -> Vec<serde_json::Value> {
            report
                .findings
                .iter()
                .filter(|f| rank(f.severity) >= rank(min))
                .map(|f| serde_json::json!({ "rule_id": f.rule_id, "severity": f.severity, "title": f.title }))
                .collect()
        };
        let critical = summary(Severity::Critical);
        if !critical.is_empty() {
            let mut data = base.clone();
            data["critical_findings"] = critical.into();
            raise(&self.0, PendingEvent { tenant: tenant.clone(), event: EventType::FindingCritical, data });
        }
        let threats = summary(Severity::High);
        if report.kind == ScanKind::Wallet && !threats.is_empty() {
            let mut data = base;
            data["threats"] = threats.into();
            raise(&self.0, PendingEvent { tenant, event: EventType::WalletThreatDetected, data });
        }
    }

    fn on_event(&self, who: &Principal, event: &ServerEvent) {
        let (tenant, kind, data) = match event {
            ServerEvent::KeyCreated { key_id, role } => (
                Some(who.tenant.clone()),
                EventType::KeyCreated,
                serde_json::json!({ "key_id": key_id, "role": role.as_str(), "by": who.key_id }),
            ),
            ServerEvent::KeyRevoked { key_id } => (
                Some(who.tenant.clone()),
                EventType::KeyRevoked,
                serde_json::json!({ "key_id": key_id, "by": who.key_id }),
            ),
            // The audit log is the server's: every tenant subscribed hears of it.
            ServerEvent::AuditVerificationFailed { problems, first_seq } => (
                None,
                EventType::AuditVerificationFailed,
                serde_json::json!({ "problems": problems, "first_seq": first_seq }),
            ),
        };
        raise(&self.0, PendingEvent { tenant, event: kind, data });
    }
}

const SNIPPET: usize = 1024;

/// One attempt: POST the signed message; never follows redirects.
async fn attempt(client: &reqwest::Client, c: &Claimed) -> (Option<u16>, Option<String>, Option<String>, bool) {
    let ts = crate::store::sqlite::now_ms() / 1000;
    let secret = WebhookSecret::from_bytes(c.secret.clone());
    let signature = sign(&secret, &c.message_id, ts, c.payload.as_bytes());
    let sent = client
        .post(&c.url)
        .header("content-type", "application/json")
        .header(HEADER_ID, &c.message_id)
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(HEADER_SIGNATURE, signature)
        .body(c.payload.clone())
        .send()
        .await;
    match sent {
        Err(e) => (None, Some(describe(e)), None, false),
        Ok(mut resp) => {
            let status = resp.status();
            let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let mut body = Vec::new();
            while body.len() < SNIPPET {
                match resp.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => break,
                }
            }
            body.truncate(SNIPPET);
            let snippet = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
            let error = if status.is_redirection() {
                Some(format!("redirect not followed (Location: {})", location.as_deref().unwrap_or("none")))
            } else if !status.is_success() {
                Some(format!("HTTP {}", status.as_u16()))
            } else {
                None
            };
            (Some(status.as_u16()), error, snippet, status.is_success())
        }
    }
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        // Without the URL (the endpoint is shown next to it anyway).
        let mut text = e.without_url().to_string();
        text.truncate(300);
        text
    }
}

/// The HTTP client of deliveries: rustls (ring), no redirects, the attempt timeout.
pub fn client(config: &WebhooksConfig) -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(config.timeout_ms))
        .connect_timeout(Duration::from_millis(config.timeout_ms))
        .user_agent(concat!("scorpius-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Runs the delivery worker until the task is aborted.
pub async fn worker(state: AppState, metering: Arc<Metering>) {
    let config = state.config.webhooks.clone();
    let client = match client(&config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: no HTTP client; deliveries stop");
            return;
        }
    };
    let lease = i64::try_from(config.timeout_ms.saturating_mul(2) + 30_000).unwrap_or(i64::MAX);
    loop {
        let store = Arc::clone(&metering.store);
        let now = crate::store::sqlite::now_ms();
        let claimed = tokio::task::spawn_blocking(move || store.claim(now, lease, config.concurrency)).await;
        let claimed = match claimed {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "webhooks: could not claim deliveries");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        if claimed.is_empty() {
            let _ =
                tokio::time::timeout(Duration::from_millis(config.poll_interval_ms), metering.queued.notified()).await;
            continue;
        }
        let mut set = tokio::task::JoinSet::new();
        for c in claimed {
            let (client, state, metering, config) =
                (client.clone(), state.clone(), Arc::clone(&metering), config.clone());
            set.spawn(async move { deliver(&client, &state, &metering, &config, c).await });
        }
        while set.join_next().await.is_some() {}
    }
}

async fn deliver(
    client: &reqwest::Client,
    state: &AppState,
    metering: &Arc<Metering>,
    config: &WebhooksConfig,
    c: Claimed,
) {
    let started_ms = crate::store::sqlite::now_ms();
    let t = std::time::Instant::now();
    let (status, error, response, success) = attempt(client, &c).await;
    let latency_ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
    let made = c.attempts + 1;
    let retry_at_ms = (!success && made < config.max_attempts).then(|| {
        started_ms
            + i64::try_from(jitter(config.backoff_ms(made))).unwrap_or(i64::MAX)
            + i64::try_from(latency_ms).unwrap_or(0)
    });
    crate::metrics::webhook_attempt(success);
    let result = AttemptResult {
        delivery_id: c.delivery_id.clone(),
        endpoint_id: c.endpoint_id.clone(),
        ts_ms: started_ms,
        status,
        latency_ms,
        error,
        response,
        success,
        retry_at_ms,
        disable_after_ms: i64::try_from(config.disable_after_ms).unwrap_or(i64::MAX),
    };
    let store = Arc::clone(&metering.store);
    let disabled = match tokio::task::spawn_blocking(move || store.finish(&result)).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            tracing::error!(error = %e, delivery = c.delivery_id, "webhooks: could not record an attempt");
            false
        }
        Err(_) => false,
    };
    if disabled {
        tracing::warn!(
            endpoint = c.endpoint_id,
            tenant = c.tenant,
            "webhooks: endpoint disabled after sustained failure"
        );
        let event = Event::now(
            "system",
            "webhook.disable",
            c.endpoint_id.clone(),
            Outcome::Success,
            serde_json::json!({ "tenant": c.tenant, "reason": "sustained delivery failure", "delivery_id": c.delivery_id }),
        );
        if let Err(e) = state.db(move |s| s.audit_append(vec![event])).await {
            tracing::error!(error = %e, "webhooks: could not record the disabled endpoint in the audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_about_a_day() {
        let c = WebhooksConfig::default();
        assert_eq!(c.backoff_ms(1), 5_000);
        assert_eq!(c.backoff_ms(2), 10_000);
        assert_eq!(c.backoff_ms(40), c.max_backoff_ms);
        let hours = c.schedule_ms() as f64 / 3_600_000.0;
        assert!((20.0..28.0).contains(&hours), "{hours} h");
        for _ in 0..100 {
            let j = jitter(10_000);
            assert!((8_000..=12_000).contains(&j), "{j}");
        }
    }
}
