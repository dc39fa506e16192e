//! `POST /v1/scan/{kind}` (runs a scan, saves it for the tenant, honours `Idempotency-Key`),
//! `GET /v1/scans` (paginated, filtered), `GET /v1/scans/{id}` and its rendered report.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use scorpius_core::{
    api::{
        scan::{self, AddressScan, ContractScan, DomainScan, ScanRequest, SignatureScan, TransactionScan, WalletScan},
        scans::{ListQuery, ReportFormat, ReportQuery, ScanPage},
    },
    model::{RiskLevel, ScanReport},
};
use sha2::{Digest, Sha256};

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
    extract::{IdempotencyKey, JsonBody, Query},
    middleware::noted,
    store::{IdempotentResponse, ScanFilter, writer::settled},
};

/// Runs a scan for the caller, or replays the stored response of an earlier request with the
/// same `Idempotency-Key` (409 when that key came with another request).
async fn run(
    state: AppState,
    who: Principal,
    idem: IdempotencyKey,
    raw: Bytes,
    request: ScanRequest,
) -> ApiResult<Response> {
    let kind = request.kind().as_str();
    let mut h = Sha256::new();
    h.update(format!("POST /v1/scan/{kind}\n").as_bytes());
    h.update(&raw);
    let request_hash: [u8; 32] = h.finalize().into();
    if let Some(key) = idem.0.clone() {
        let tenant = who.tenant.clone();
        if let Some(stored) = state.db(move |s| s.idempotent(&tenant, &key)).await? {
            return replay(&stored, &request_hash);
        }
    }
    let env = state.env_for(&who.tenant).await?;
    let report = match request.chain_to_read()? {
        Some(chain) => {
            let rpc = state.rpc(&chain)?;
            scan::run_onchain(&request, &env, &rpc).await?
        }
        // Transactions, signatures, addresses and domains take microseconds, less than a
        // hand-off to the blocking pool; bytecode analysis can take a while.
        None if !matches!(request, ScanRequest::Contract(_) | ScanRequest::Wallet(_)) => scan::run(&request, &env)?,
        None => tokio::task::spawn_blocking(move || scan::run(&request, &env))
            .await
            .map_err(|e| ApiError::internal(format!("scan task failed: {e}")))??,
    };
    // Saved scans are indexed by id: a time-ordered id (UUID v7) keeps that index growing at
    // its right edge instead of touching a random page per insert.
    let mut report = report;
    report.scan_id = scorpius_core::model::time_ordered_id(report.started_at);
    let report = std::sync::Arc::new(report);
    match state.store.queue_scan(&who.tenant, &who.key_id, &report)? {
        Some(queued) => settled(queued).await?,
        None => {
            let (tenant, key_id, r) = (who.tenant.clone(), who.key_id.clone(), std::sync::Arc::clone(&report));
            state.db(move |s| s.insert_scan(&tenant, &key_id, &r)).await?;
        }
    }
    crate::metrics::scan(kind, report.risk.level.as_str());
    state.hooks.scan(&who, &report);
    let body = scorpius_core::report::to_json(&report);
    let mut status = StatusCode::CREATED;
    let mut body_out = body.clone();
    if let Some(key) = idem.0 {
        let tenant = who.tenant.clone();
        let resp = IdempotentResponse { request_hash, status: status.as_u16(), body };
        let stored = state.db(move |s| s.put_idempotent(&tenant, &key, &resp)).await?;
        // A concurrent request with the same key won: answer what it stored.
        if stored.request_hash != request_hash {
            return Err(conflict());
        }
        status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
        body_out = stored.body;
    }
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], body_out).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/scans/{}", report.scan_id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    let details = serde_json::json!({
        "scan_id": report.scan_id.to_string(),
        "chain_id": report.chain.id,
        "risk_score": report.risk.score,
        "risk_level": report.risk.level.as_str(),
        "findings": report.findings.len(),
    });
    Ok(noted(resp, &format!("scan.{kind}"), report.target.clone(), details))
}

fn conflict() -> ApiError {
    ApiError::IdempotencyConflict("this Idempotency-Key was already used with a different request".into())
}

fn replay(stored: &IdempotentResponse, request_hash: &[u8; 32]) -> ApiResult<Response> {
    if stored.request_hash != *request_hash {
        return Err(conflict());
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], stored.body.clone()).into_response();
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(resp)
}

/// Scan a transaction.
#[utoipa::path(post, path = "/v1/scan/transaction", tag = "scans", request_body = TransactionScan,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response for the same key and body")),
    responses((status = 201, description = "The scan report (docs/scan-report.schema.json)", body = Object),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn transaction(
    State(s): State<AppState>,
    who: Principal,
    idem: IdempotencyKey,
    body: JsonBody<TransactionScan>,
) -> ApiResult<Response> {
    run(s, who, idem, body.raw, ScanRequest::Transaction(body.value)).await
}

/// Scan a signature request.
#[utoipa::path(post, path = "/v1/scan/signature", tag = "scans", request_body = SignatureScan,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response for the same key and body")),
    responses((status = 201, description = "The scan report", body = Object),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn signature(
    State(s): State<AppState>,
    who: Principal,
    idem: IdempotencyKey,
    body: JsonBody<SignatureScan>,
) -> ApiResult<Response> {
    run(s, who, idem, body.raw, ScanRequest::Signature(body.value)).await
}

/// Screen an address against threat intelligence.
#[utoipa::path(post, path = "/v1/scan/address", tag = "scans", request_body = AddressScan,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response for the same key and body")),
    responses((status = 201, description = "The scan report", body = Object),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn address(
    State(s): State<AppState>,
    who: Principal,
    idem: IdempotencyKey,
    body: JsonBody<AddressScan>,
) -> ApiResult<Response> {
    run(s, who, idem, body.raw, ScanRequest::Address(body.value)).await
}

/// Check a site for phishing.
#[utoipa::path(post, path = "/v1/scan/domain", tag = "scans", request_body = DomainScan,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response for the same key and body")),
    responses((status = 201, description = "The scan report", body = Object),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn domain(
    State(s): State<AppState>,
    who: Principal,
    idem: IdempotencyKey,
    body: JsonBody<DomainScan>,
) -> ApiResult<Response> {
    run(s, who, idem, body.raw, ScanRequest::Domain(body.value)).await
}

/// Analyse contract bytecode, or the contract deployed at an address (read over the server's
/// RPC endpoint for the chain; proxies and EIP-7702 delegates resolved).
#[utoipa::path(post, path = "/v1/scan/contract", tag = "scans", request_body = ContractScan,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response for the same key and body")),
    responses((status = 201, description = "The scan report", body = Object),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json"),
              (status = 502, description = "The chain's RPC endpoint failed", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn contract(
    State(s): State<AppState>,
    who: Principal,
    idem: IdempotencyKey,
    body: JsonBody<ContractScan>,
) -> ApiResult<Response> {
    run(s, who, idem, body.raw, ScanRequest::Contract(body.value)).await
}

/// Scan a wallet: approvals, NFT operators, Permit2 allowances, EIP-7702 delegation and
/// transfers, read over the server's RPC endpoint for the chain.
#[utoipa::path(post, path = "/v1/scan/wallet", tag = "scans", request_body = WalletScan,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored response for the same key and body")),
    responses((status = 201, description = "The scan report, with the approval inventory in `subject.approvals`", body = Object),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json"),
              (status = 502, description = "The chain's RPC endpoint failed", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn wallet(
    State(s): State<AppState>,
    who: Principal,
    idem: IdempotencyKey,
    body: JsonBody<WalletScan>,
) -> ApiResult<Response> {
    run(s, who, idem, body.raw, ScanRequest::Wallet(body.value)).await
}

const KINDS: [&str; 6] = ["transaction", "signature", "address", "domain", "contract", "wallet"];

fn parse_since(s: &str) -> ApiResult<i64> {
    use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};
    let t = OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
        time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok().map(|d| d.midnight().assume_utc())
    });
    t.map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
        .ok_or_else(|| ApiError::BadRequest(format!("since: `{s}` is not an RFC 3339 time or YYYY-MM-DD date")))
}

fn parse_level(s: &str) -> ApiResult<RiskLevel> {
    [RiskLevel::None, RiskLevel::Low, RiskLevel::Medium, RiskLevel::High, RiskLevel::Critical]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| ApiError::BadRequest(format!("level: `{s}` is not one of none, low, medium, high, critical")))
}

fn encode_cursor(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("scans:{seq}"))
}

fn decode_cursor(c: &str) -> ApiResult<i64> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("scans:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::BadRequest("cursor: not a cursor from this API".into()))
}

/// List the tenant's scans, newest first.
#[utoipa::path(get, path = "/v1/scans", tag = "scans", params(ListQuery),
    responses((status = 200, body = ScanPage),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(State(s): State<AppState>, who: Principal, Query(q): Query<ListQuery>) -> ApiResult<Response> {
    if let Some(k) = &q.kind
        && !KINDS.contains(&k.as_str())
    {
        return Err(ApiError::BadRequest(format!("kind: `{k}` is not one of {}", KINDS.join(", "))));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit: must be 1 to 100".into()));
    }
    let filter = ScanFilter {
        kind: q.kind,
        target: q.target,
        since_ms: q.since.as_deref().map(parse_since).transpose()?,
        min_level: q.level.as_deref().map(parse_level).transpose()?,
        before: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let tenant = who.tenant.clone();
    let (items, last) = s.db(move |st| st.scans(&tenant, &filter)).await?;
    let next_cursor = if items.len() == limit as usize { last.map(encode_cursor) } else { None };
    Ok(axum::Json(ScanPage { items, next_cursor }).into_response())
}

async fn load(s: &AppState, who: &Principal, id: String) -> ApiResult<ScanReport> {
    let tenant = who.tenant.clone();
    let not_found = ApiError::NotFound(format!("no scan {id}"));
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(not_found);
    }
    s.db(move |st| st.scan(&tenant, &id)).await?.ok_or(not_found)
}

/// One saved scan report.
#[utoipa::path(get, path = "/v1/scans/{id}", tag = "scans", params(("id" = String, Path, description = "Scan id")),
    responses((status = 200, description = "The scan report", body = Object),
              (status = 404, description = "No such scan in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get(State(s): State<AppState>, who: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    let report = load(&s, &who, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], scorpius_core::report::to_json(&report)).into_response())
}

/// A saved scan rendered as a report.
#[utoipa::path(get, path = "/v1/scans/{id}/report", tag = "scans",
    params(("id" = String, Path, description = "Scan id"), ReportQuery),
    responses((status = 200, description = "The rendered report (content type by format)"),
              (status = 404, description = "No such scan in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn report(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let format: ReportFormat = match q.format.as_deref() {
        None => ReportFormat::Json,
        Some(f) => f.parse().map_err(|e: scorpius_core::Error| ApiError::BadRequest(e.to_string()))?,
    };
    let report = load(&s, &who, id).await?;
    // PDF layout takes milliseconds per page: off the async workers.
    let body = tokio::task::spawn_blocking(move || format.render(&report))
        .await
        .map_err(|e| ApiError::internal(format!("render task failed: {e}")))?
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}
