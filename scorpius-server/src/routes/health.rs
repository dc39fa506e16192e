//! `/health/live` (the process answers), `/health/ready` (not shutting down, storage reachable
//! and migrated, audit key loaded) and `/health/deep` (authenticated: a write-read probe and
//! a full audit log verification).

use std::{sync::atomic::Ordering, time::Instant};

use axum::{extract::State, response::IntoResponse};
use serde::Serialize;

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
};

/// Health status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
    /// Storage backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Health)))]
pub async fn live() -> impl IntoResponse {
    axum::Json(Health { status: "ok", backend: None })
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
    Ok(axum::Json(Health { status: "ready", backend: Some(s.store.backend()) }))
}

/// Deep check result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeepHealth {
    /// `ok` when everything passed.
    pub status: &'static str,
    /// Storage backend.
    pub backend: &'static str,
    /// Write-read probe time (ms).
    pub probe_ms: f64,
    /// Audit entries verified.
    pub audit_entries: u64,
    /// Audit verification time (ms).
    pub audit_verify_ms: f64,
}

/// Authenticated deep check: storage write-read probe and audit log verification.
#[utoipa::path(get, path = "/health/deep", tag = "health",
    responses((status = 200, body = DeepHealth), (status = 503, description = "A check failed", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
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
        let event = crate::hooks::ServerEvent::AuditVerificationFailed {
            problems: v.problems.len(),
            first_seq: v.problems[0].seq,
        };
        s.hooks.event(&who, &event);
        return Err(ApiError::Unavailable(format!(
            "the audit log does not verify: {} problem(s), first at seq {:?}",
            v.problems.len(),
            v.problems[0].seq
        )));
    }
    Ok(axum::Json(DeepHealth {
        status: "ok",
        backend: s.store.backend(),
        probe_ms,
        audit_entries: v.entries,
        audit_verify_ms: t.elapsed().as_secs_f64() * 1e3,
    }))
}
