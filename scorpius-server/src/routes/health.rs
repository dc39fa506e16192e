//! `/health/live` (the process answers), `/health/ready` (not shutting down, storage reachable
//! and migrated, audit key loaded) and `/health/deep` (authenticated: a write-read probe and
//! a full audit log verification).

use std::{sync::atomic::Ordering, time::Instant};

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use scorpius_core::api::health::{DeepHealth, Health, RpcHealth};

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
};

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Health)))]
pub async fn live() -> impl IntoResponse {
    axum::Json(Health { status: "ok".to_owned(), backend: None })
}

/// Ready to serve: not shutting down, storage reachable and migrated.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "Shutting down or storage unreachable", body = scorpius_core::api::Problem, content_type = "application/problem+json")))]
pub async fn ready(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    if s.shutting_down.load(Ordering::SeqCst) {
        return Err(ApiError::Unavailable("shutting down".into()));
    }
    s.db(|st| st.ping()).await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: storage unavailable");
        ApiError::Unavailable("storage unavailable".into())
    })?;
    Ok(axum::Json(Health { status: "ready".to_owned(), backend: Some(s.store.backend().to_owned()) }))
}

async fn check_rpc(chain_id: u64, url: &str) -> RpcHealth {
    use scorpius_core::rpc::{Rpc, RpcOptions};
    let opts = RpcOptions {
        timeout: std::time::Duration::from_secs(5),
        connect_timeout: std::time::Duration::from_secs(3),
        attempts: 1,
        ..RpcOptions::default()
    };
    let t = Instant::now();
    let (endpoint, result) = match Rpc::connect(url, opts) {
        Ok(rpc) => (rpc.endpoint().to_owned(), rpc.chain_id().await.map_err(|e| e.to_string())),
        Err(e) => ("(invalid)".to_owned(), Err(e.to_string())),
    };
    let error = match result {
        Ok(id) if id == chain_id => None,
        Ok(id) => Some(format!("the endpoint serves chain {id}, not {chain_id}")),
        Err(e) => Some(e),
    };
    RpcHealth { chain_id, endpoint, ok: error.is_none(), latency_ms: t.elapsed().as_secs_f64() * 1e3, error }
}

/// Authenticated deep check: storage write-read probe, audit log verification, RPC endpoints.
#[utoipa::path(get, path = "/health/deep", tag = "health",
    responses((status = 200, body = DeepHealth),
              (status = 503, description = "Storage or the audit log failed (a problem), or an RPC endpoint did (`degraded`, with the checks)", body = DeepHealth)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn deep(State(s): State<AppState>, who: Principal) -> ApiResult<impl IntoResponse> {
    let t = Instant::now();
    s.db(|st| st.probe()).await.map_err(|e| {
        tracing::error!(error = %e, "deep health: storage probe failed");
        ApiError::Unavailable("storage write-read probe failed".into())
    })?;
    let probe_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let v = s.db(|st| st.audit_verify()).await.map_err(|e| {
        tracing::error!(error = %e, "deep health: audit verification failed to run");
        ApiError::Unavailable("audit log verification could not run".into())
    })?;
    if !v.problems.is_empty() {
        tracing::error!(problems = v.problems.len(), "deep health: the audit log does not verify");
        // The first failing entry identifies the damage (the problem count grows as new
        // entries are appended over it): announce each damage once.
        let first_seq = v.problems[0].seq;
        let new = s.audit_alarm.lock().map(|mut last| last.replace(first_seq) != Some(first_seq)).unwrap_or(true);
        if new {
            let event = crate::hooks::ServerEvent::AuditVerificationFailed { problems: v.problems.len(), first_seq };
            s.hooks.event(&who, &event);
        }
        return Err(ApiError::Unavailable(format!(
            "the audit log does not verify: {} problem(s), first at seq {:?}",
            v.problems.len(),
            v.problems[0].seq
        )));
    }
    let audit_verify_ms = t.elapsed().as_secs_f64() * 1e3;
    if let Ok(mut last) = s.audit_alarm.lock() {
        *last = None;
    }
    let rpc = futures_util::future::join_all(s.rpc_endpoints.iter().map(|(id, url)| check_rpc(*id, url))).await;
    let all_ok = rpc.iter().all(|r| r.ok);
    let body = DeepHealth {
        status: if all_ok { "ok" } else { "degraded" }.to_owned(),
        backend: s.store.backend().to_owned(),
        probe_ms,
        audit_entries: v.entries,
        audit_verify_ms,
        rpc,
    };
    let status = if all_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, axum::Json(body)))
}
