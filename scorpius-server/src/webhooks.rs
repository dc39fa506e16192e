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
    /// Allow endpoints on loopback, private, link-local and other non-public addresses
    /// (off by default: a tenant must not make the server call into its own network).
    pub allow_private: bool,
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
            allow_private: false,
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

/// One attempt: POST the signed message; never follows redirects, and unless
/// `allow_private` never calls a non-public address literal (an endpoint stored before the
/// setting changed).
async fn attempt(
    client: &reqwest::Client,
    c: &Claimed,
    allow_private: bool,
) -> (Option<u16>, Option<String>, Option<String>, bool) {
    if !allow_private && let Some(host) = url::Url::parse(&c.url).ok().as_ref().and_then(private_host) {
        return (None, Some(format!("{host} is not a public address (webhooks.allow_private is off)")), None, false);
    }
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
        // The guard's refusal is worth showing; other connect errors carry OS noise.
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if text.contains("non-public") {
                return text;
            }
            source = s.source();
        }
        "could not connect".into()
    } else {
        // Without the URL (the endpoint is shown next to it anyway).
        let mut text = e.without_url().to_string();
        text.truncate(300);
        text
    }
}

/// Whether an address is one a webhook may reach without `allow_private`: not loopback,
/// private (RFC 1918, unique local), link-local, shared (CGNAT), unspecified, broadcast,
/// multicast, documentation, benchmarking or reserved; IPv4 inside IPv6 (mapped, NAT64) is
/// judged as IPv4.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    fn v4(ip: Ipv4Addr) -> bool {
        let [a, b, c, _] = ip.octets();
        !(ip.is_private()
            || ip.is_loopback()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_documentation()
            || a == 0
            || (a == 100 && (64..128).contains(&b))
            || (a == 192 && b == 0 && c == 0)
            || (a == 198 && (b == 18 || b == 19))
            || a >= 240)
    }
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => {
            if let Some(m) = ip.to_ipv4_mapped() {
                return v4(m);
            }
            let seg = ip.segments();
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let o = ip.octets();
                return v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || seg[..6] == [0, 0, 0, 0, 0, 0])
        }
    }
}

/// Why a URL's host may not be called without `allow_private`, when it is an address
/// literal or `localhost` (names are checked when they are resolved, see [`PublicOnly`]).
pub fn private_host(url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Ipv4(ip) if !is_public(ip.into()) => Some(ip.to_string()),
        url::Host::Ipv6(ip) if !is_public(ip.into()) => Some(ip.to_string()),
        url::Host::Domain(d)
            if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost") =>
        {
            Some(d.to_owned())
        }
        _ => None,
    }
}

/// A resolver that keeps only public addresses, so a name that resolves into a private
/// network (or is re-pointed there later: DNS rebinding) is never connected to.
#[derive(Debug)]
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> = all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() && !all.is_empty() {
                return Err(
                    format!("{host} resolves only to non-public addresses (webhooks.allow_private is off)").into()
                );
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of deliveries: rustls (ring), no redirects, the attempt timeout, and
/// unless `allow_private`, only public addresses.
pub fn client(config: &WebhooksConfig) -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder();
    let builder = if config.allow_private { builder } else { builder.dns_resolver(Arc::new(PublicOnly)) };
    builder
        .no_proxy()
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
    let (status, error, response, success) = attempt(client, &c, config.allow_private).await;
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
