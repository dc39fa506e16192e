//! The layers every request passes: request context (id, path) with metrics and problem
//! bodies for bare error statuses, security headers, and — on `/v1/*` and `/health/deep` —
//! authentication, rate limiting and the audit record of the call.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::clock::{Clock, DefaultClock};
use scorpius_core::audit::{Event, Outcome, log::MAX_FIELD};
use serde_json::json;

use crate::{
    app::{AppState, RequestMeta, with_request},
    auth::{Principal, Secret, hashes_match},
    error::ApiError,
    hooks::RequestRecord,
    store::{sqlite::now_ms, writer::settled},
};

/// What a handler wants the audit entry of its request to say (set as a response
/// extension); without it the entry reads `http.<method>` on the request path.
#[derive(Debug, Clone)]
pub struct AuditNote {
    /// Dotted action (`scan.transaction`, `key.create`).
    pub action: String,
    /// What it acted on (scan target, key id).
    pub resource: String,
    /// Extra details (scan id, risk).
    pub details: serde_json::Value,
}

/// Attaches an [`AuditNote`] to a response.
pub fn noted(mut resp: Response, action: &str, resource: impl Into<String>, details: serde_json::Value) -> Response {
    resp.extensions_mut().insert(AuditNote { action: action.to_owned(), resource: resource.into(), details });
    resp
}

fn route_of(req: &Request) -> String {
    req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned())
}

/// Outermost (after the request id is set): makes the id and path available to error
/// bodies, counts the request, turns bare error statuses (405, 408, 413, …) into problem
/// bodies, and adds security headers.
pub async fn context(req: Request, next: Next) -> Response {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let meta = RequestMeta { id, path: req.uri().path().to_owned() };
    let method = req.method().clone();
    let route = route_of(&req);
    let started = Instant::now();
    let resp = with_request(meta, async move {
        let resp = next.run(req).await;
        problemize(resp)
    })
    .await;
    crate::metrics::request(method.as_str(), &route, resp.status().as_u16(), started.elapsed().as_secs_f64());
    let mut resp = resp;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if route.starts_with("/v1/") || route == "unmatched" {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    resp
}

fn problemize(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || resp.headers().contains_key(header::CONTENT_TYPE) {
        return resp;
    }
    match ApiError::from_status(status) {
        Some(e) => {
            let (parts, _) = resp.into_parts();
            let mut new = e.into_response();
            // Keep headers such as `Allow` on a 405.
            for (k, v) in &parts.headers {
                if !new.headers().contains_key(k) {
                    new.headers_mut().insert(k.clone(), v.clone());
                }
            }
            new
        }
        None => resp,
    }
}

/// Reads the key from `X-API-Key` or `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok().map(str::trim);
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Authentication and everything after it, on protected routes: resolves the key (401 when
/// missing, malformed, unknown, revoked or expired), applies the per-key rate limit (429),
/// runs the handler, then records the call in the audit log and hands it to the hooks.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = route_of(&req);
    let path = req.uri().path().to_owned();
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let (principal, rate) = match resolve(&state, req.headers()).await {
        Ok(p) => p,
        Err((err, key_id)) => {
            let actor = key_id.unwrap_or_else(|| "anonymous".to_owned());
            let mut resp = err.into_response();
            record(&state, &actor, &method, &path, &request_id, Call::of(&mut resp)).await;
            return resp;
        }
    };
    req.extensions_mut().insert(principal.clone());
    let mut resp = match rate {
        RateOutcome::Limited { retry_after, headers } => {
            crate::metrics::rate_limited();
            let mut r = ApiError::RateLimited(retry_after).into_response();
            r.headers_mut().extend(headers);
            r
        }
        RateOutcome::Allowed(headers) => {
            let allowed = match crate::router::action_of(&method, &route) {
                Some(action) => principal.require(action).and_then(|()| match &state.policies {
                    Some(p) => p
                        .check(&crate::policy::Facts {
                            principal: &principal,
                            action,
                            method: method.as_str(),
                            route: &route,
                            ip: client_ip(&state, &req),
                            now: time::OffsetDateTime::now_utc(),
                        })
                        .map_err(ApiError::PolicyDenied),
                    None => Ok(()),
                }),
                None => Ok(()),
            };
            let mut r = match allowed {
                Ok(()) => crate::metering::around(&state, &principal, &route, req, next).await,
                Err(e) => e.into_response(),
            };
            r.headers_mut().extend(headers);
            r
        }
    };
    record(&state, &principal.actor(), &method, &path, &request_id, Call::of(&mut resp)).await;
    state.hooks.request(&RequestRecord {
        principal: &principal,
        method: method.as_str(),
        route: &route,
        status: resp.status().as_u16(),
    });
    resp
}

/// The client's address for policies: the configured header's first entry (behind a load
/// balancer), else the peer.
fn client_ip(state: &AppState, req: &Request) -> std::net::IpAddr {
    let from_header = state.config.client_ip_header.as_deref().and_then(|h| {
        let v = req.headers().get(h)?.to_str().ok()?;
        v.split(',').next()?.trim().parse().ok()
    });
    from_header
        .or_else(|| req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()))
        .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
}

enum RateOutcome {
    Allowed(HeaderMap),
    Limited { retry_after: u64, headers: HeaderMap },
}

async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Principal, RateOutcome), (ApiError, Option<String>)> {
    let presented = presented_key(headers).ok_or((ApiError::MissingKey, None))?;
    let secret = Secret::parse(presented).ok_or((ApiError::InvalidKey, None))?;
    let hash = secret.hash();
    let now = now_ms();
    let gcra = crate::ratelimit::Gcra::new(state.config.rate_limit_per_second, state.config.rate_limit_burst);
    // Shared limits (PostgreSQL): the key and its rate-limit step in one round trip.
    let (found, stepped) = if state.store.shares_rate_limits() {
        let t = now as f64;
        match state.db(move |s| s.key_and_rate_step(&hash, t, gcra.interval_ms, gcra.tau_ms)).await {
            Ok(Some(both)) => both,
            Ok(None) => (state.db(move |s| s.key_by_hash(&hash)).await.map_err(|e| (e, None))?, None),
            Err(e) => return Err((e, None)),
        }
    } else {
        match state.store.cached_key(&hash) {
            Some(k) => (Some(k), None),
            None => (state.db(move |s| s.key_by_hash(&hash)).await.map_err(|e| (e, None))?, None),
        }
    };
    let record = found.filter(|k| hashes_match(&k.secret_hash, &hash)).ok_or((ApiError::InvalidKey, None))?;
    let actor = || Some(format!("{}/{}", record.tenant, record.id));
    if record.revoked_ms.is_some() {
        return Err((ApiError::InvalidKey, actor()));
    }
    if let Some(exp) = record.expires_ms
        && exp <= now
    {
        return Err((ApiError::ExpiredKey(crate::routes::keys::rfc3339_ms(exp)), actor()));
    }
    if record.last_used_ms.is_none_or(|t| now - t > 60_000) {
        let id = record.id.clone();
        // Best effort, to the minute: a lost update only delays the next one.
        let store = std::sync::Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.touch_key(&id, now) {
                tracing::warn!(error = %e, "could not record the key's last use");
            }
        });
    }
    let principal = Principal { key_id: record.id, tenant: record.tenant, role: record.role };
    let rate = match stepped {
        Some(st) => shared_verdict(&gcra, st, now as f64),
        None => rate_check(state, &principal.key_id).await,
    };
    Ok((principal, rate))
}

/// The outcome of a shared GCRA step, with its headers.
fn shared_verdict(gcra: &crate::ratelimit::Gcra, st: crate::store::RateState, now: f64) -> RateOutcome {
    let v = gcra.verdict(st, now);
    let mut headers = HeaderMap::new();
    headers.insert("x-ratelimit-limit", HeaderValue::from(gcra.burst));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(v.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(v.reset_secs));
    if v.allowed { RateOutcome::Allowed(headers) } else { RateOutcome::Limited { retry_after: v.reset_secs, headers } }
}

/// The per-key limit: in storage when it is shared by replicas (PostgreSQL), else in memory.
async fn rate_check(state: &AppState, key_id: &str) -> RateOutcome {
    if state.store.shares_rate_limits() {
        let gcra = crate::ratelimit::Gcra::new(state.config.rate_limit_per_second, state.config.rate_limit_burst);
        let now = now_ms() as f64;
        let key = key_id.to_owned();
        match state.db(move |s| s.rate_step(&key, now, gcra.interval_ms, gcra.tau_ms)).await {
            Ok(Some(st)) => return shared_verdict(&gcra, st, now),
            Ok(None) => {}
            // Storage trouble shows in readiness; meanwhile this process limits on its own.
            Err(e) => tracing::warn!(error = %e, "shared rate limit unavailable; limiting in this process"),
        }
    }
    memory_rate_check(state, key_id)
}

fn memory_rate_check(state: &AppState, key_id: &str) -> RateOutcome {
    let burst = state.config.rate_limit_burst;
    let per_second = f64::from(state.config.rate_limit_per_second);
    let mut headers = HeaderMap::new();
    headers.insert("x-ratelimit-limit", HeaderValue::from(burst));
    match state.limiter.check_key(&key_id.to_owned()) {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let reset = (f64::from(burst - remaining.min(burst)) / per_second).ceil() as u64;
            headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
            headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
            RateOutcome::Allowed(headers)
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert("x-ratelimit-remaining", HeaderValue::from(0u32));
            headers.insert("x-ratelimit-reset", HeaderValue::from(retry_after));
            RateOutcome::Limited { retry_after, headers }
        }
    }
}

fn outcome_of(status: StatusCode) -> Outcome {
    match status.as_u16() {
        401 | 403 | 429 => Outcome::Denied,
        s if s >= 400 => Outcome::Failure,
        _ => Outcome::Success,
    }
}

/// `s` cut to the audit log's field limit (at a character boundary, ending in `…`). The log
/// refuses an event with a longer field, and with it the batch it was committed in, so a
/// request path of several kilobytes must not reach it whole (the details keep the path).
fn fit(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_owned();
    }
    let mut end = MAX_FIELD - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// What the audit entry of an answered call records, taken from its response: the status,
/// what the handler wants the entry to say, and the usage to write with it.
struct Call {
    status: StatusCode,
    note: Option<AuditNote>,
    usage: Option<crate::metering::DeferredUsage>,
}

impl Call {
    fn of(resp: &mut Response) -> Self {
        Call {
            status: resp.status(),
            note: resp.extensions_mut().remove::<AuditNote>(),
            usage: resp.extensions_mut().remove::<crate::metering::DeferredUsage>(),
        }
    }
}

async fn record(state: &AppState, actor: &str, method: &Method, path: &str, request_id: &str, call: Call) {
    let Call { status, note, usage } = call;
    let (action, resource, extra) = match note {
        Some(n) => (n.action, n.resource, n.details),
        None => (format!("http.{}", method.as_str().to_ascii_lowercase()), path.to_owned(), json!({})),
    };
    let mut details =
        json!({ "status": status.as_u16(), "request_id": request_id, "method": method.as_str(), "path": path });
    if let (Some(d), serde_json::Value::Object(extra)) = (details.as_object_mut(), extra) {
        d.extend(extra);
    }
    let event = Event::now(fit(actor), fit(&action), fit(&resource), outcome_of(status), details);
    // The usage of a call admitted without a write rides the entry's transaction.
    let mut carried = false;
    let queued = match &usage {
        Some(u) => state.store.queue_audit_with(event, u.carried()).map_err(|(event, _)| event),
        None => state.store.queue_audit(event),
    };
    let result = match queued {
        Ok(queued) => {
            let r = settled(queued).await.map(|_| ()).map_err(ApiError::from);
            carried = r.is_ok();
            r
        }
        Err(event) => state.db(move |s| s.audit_append(vec![*event])).await.map(|_| ()),
    };
    if let Some(u) = usage {
        u.settle(carried).await;
    }
    crate::metrics::audit_append(result.is_ok());
    if let Err(e) = result {
        tracing::error!(error = %e, request_id, "could not record the request in the audit log");
    }
}
