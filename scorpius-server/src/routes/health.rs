//! `/health/live` (the process answers), `/health/ready` (not shutting down, storage reachable
//! and migrated, audit key loaded) and `/health/deep` (authenticated: a write-read probe and
//! a full audit log verification).

use std::{sync::atomic::Ordering, time::Instant};

use axum::{extract::State, http::StatusCode, response::IntoResponse};
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
    /// `ok` when everything passed; `degraded` (with status 503) when an RPC endpoint failed.
    pub status: &'static str,
    /// Storage backend.
    pub backend: &'static str,
    /// Write-read probe time (ms).
    pub probe_ms: f64,
    /// Audit entries verified.
    pub audit_entries: u64,
    /// Audit verification time (ms).
    pub audit_verify_ms: f64,
    /// The configured RPC endpoints.
    pub rpc: Vec<RpcHealth>,
}

/// One RPC endpoint's check: `eth_chainId`, which must be the chain it is configured for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RpcHealth {
    /// The chain it is configured for.
    pub chain_id: u64,
    /// The endpoint as shown (scheme, host and port).
    pub endpoint: String,
    /// Reachable and serving the right chain.
    pub ok: bool,
    /// Round trip (ms).
    pub latency_ms: f64,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
pub async fn deep(State(s): State<AppState>, _who: Principal) -> ApiResult<impl IntoResponse> {
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
        return Err(ApiError::Unavailable(format!(
            "the audit log does not verify: {} problem(s), first at seq {:?}",
            v.problems.len(),
            v.problems[0].seq
        )));
    }
    let audit_verify_ms = t.elapsed().as_secs_f64() * 1e3;
    let rpc = futures_util::future::join_all(s.rpc_endpoints.iter().map(|(id, url)| check_rpc(*id, url))).await;
    let all_ok = rpc.iter().all(|r| r.ok);
    let body = DeepHealth {
        status: if all_ok { "ok" } else { "degraded" },
        backend: s.store.backend(),
        probe_ms,
        audit_entries: v.entries,
        audit_verify_ms,
        rpc,
    };
    let status = if all_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, axum::Json(body)))
}
