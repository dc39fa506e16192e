//! `GET /v1/intel/{value}`: what the threat intelligence says about an address (per chain) or
//! a domain — the bundled datasets, shared by every tenant, plus the caller's tenant's own;
//! `POST /v1/intel/import` adds or replaces a tenant dataset; `GET /v1/intel/datasets` lists
//! them.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use scorpius_core::{
    api::{
        intel::{IntelAnswer, IntelDataset, IntelImport, IntelQuery},
        scan::ChainSpec,
    },
    evm::parse,
};
use serde_json::json;

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
    extract::{JsonBody, Query},
    middleware::noted,
    store::sqlite::now_ms,
};

/// Look up an address or a domain.
#[utoipa::path(get, path = "/v1/intel/{value}", tag = "intel",
    params(("value" = String, Path, description = "An address (0x…) or a domain / URL"), IntelQuery),
    responses((status = 200, body = IntelAnswer),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn lookup(
    State(s): State<AppState>,
    who: Principal,
    Path(value): Path<String>,
    Query(q): Query<IntelQuery>,
) -> ApiResult<Response> {
    let env = s.env_for(&who.tenant).await?;
    let answer = if value.starts_with("0x") || value.starts_with("0X") {
        let address = parse::address("value", &value)?;
        let chain = ChainSpec::resolve(q.chain.map(ChainSpec::Name).as_ref())?;
        let index = env.intel.as_ref().ok_or_else(|| ApiError::Unavailable("no intel is loaded".into()))?;
        let records: Vec<_> = index
            .lookup(chain.id, &address)
            .map(|r| {
                let ds = index.dataset(&r);
                json!({
                    "labels": r.labels, "name": r.name, "dataset": ds.name, "dataset_version": ds.version,
                    "chain": r.chain, "first_seen": r.first_seen, "delisted_at": r.delisted_at,
                    "confidence": r.confidence, "reference": r.reference,
                })
            })
            .collect();
        IntelAnswer {
            kind: "address".to_owned(),
            value: address.to_checksum(None),
            result: json!({ "chain_id": chain.id, "records": records }),
        }
    } else {
        let domains = env.domains.as_ref().ok_or_else(|| ApiError::Unavailable("no domain lists are loaded".into()))?;
        let check = domains.check(&value)?;
        IntelAnswer {
            kind: "domain".to_owned(),
            value: check.host.clone(),
            result: serde_json::to_value(&check).map_err(ApiError::internal)?,
        }
    };
    Ok(axum::Json(answer).into_response())
}

/// Import a threat feed as a dataset of the caller's tenant (replacing one of the same name).
/// The tenant's scans and lookups consult it from then on (other replicas within 2 s).
#[utoipa::path(post, path = "/v1/intel/import", tag = "intel", request_body = IntelImport,
    responses((status = 201, description = "The stored dataset", body = IntelDataset),
              (status = "4XX", description = "Problem details (422 names the bad rows)", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn import(State(s): State<AppState>, who: Principal, body: JsonBody<IntelImport>) -> ApiResult<Response> {
    let now = now_ms();
    let imported_at = crate::routes::keys::rfc3339_ms(now);
    let request = body.value;
    let prepared = tokio::task::spawn_blocking(move || request.prepare(&imported_at))
        .await
        .map_err(|e| ApiError::internal(format!("import task failed: {e}")))??;
    let mut dataset = prepared.dataset.clone();
    let tsv = prepared.to_tsv();
    let (tenant, stored) = (who.tenant.clone(), dataset.clone());
    dataset.replaced = s.db(move |st| st.intel_put(&tenant, &stored, &tsv, now)).await?;
    s.forget_env(&who.tenant);
    let details = json!({"entries": dataset.entries, "addresses": dataset.addresses, "domains": dataset.domains,
        "sha256": dataset.sha256, "replaced": dataset.replaced});
    let name = dataset.dataset.clone();
    let resp = (StatusCode::CREATED, axum::Json(dataset)).into_response();
    Ok(noted(resp, "intel.import", name, details))
}

/// The caller's tenant's datasets.
#[utoipa::path(get, path = "/v1/intel/datasets", tag = "intel",
    responses((status = 200, body = Vec<IntelDataset>),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn datasets(State(s): State<AppState>, who: Principal) -> ApiResult<Response> {
    let tenant = who.tenant.clone();
    let list: Vec<IntelDataset> =
        s.db(move |st| st.intel_datasets(&tenant)).await?.into_iter().map(|(d, _)| d).collect();
    Ok(axum::Json(list).into_response())
}
