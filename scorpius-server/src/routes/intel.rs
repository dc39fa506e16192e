//! `GET /v1/intel/{value}`: what the loaded threat intelligence says about an address (per
//! chain) or a domain. The datasets are the bundled ones, shared by every tenant.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use scorpius_core::{
    api::{
        intel::{IntelAnswer, IntelQuery},
        scan::ChainSpec,
    },
    evm::parse,
};
use serde_json::json;

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
    extract::Query,
};

/// Look up an address or a domain.
#[utoipa::path(get, path = "/v1/intel/{value}", tag = "intel",
    params(("value" = String, Path, description = "An address (0x…) or a domain / URL"), IntelQuery),
    responses((status = 200, body = IntelAnswer),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn lookup(
    State(s): State<AppState>,
    _who: Principal,
    Path(value): Path<String>,
    Query(q): Query<IntelQuery>,
) -> ApiResult<Response> {
    let answer = if value.starts_with("0x") || value.starts_with("0X") {
        let address = parse::address("value", &value)?;
        let chain = ChainSpec::resolve(q.chain.map(ChainSpec::Name).as_ref())?;
        let index = s.scan_env.intel.as_ref().ok_or_else(|| ApiError::Unavailable("no intel is loaded".into()))?;
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
        let domains =
            s.scan_env.domains.as_ref().ok_or_else(|| ApiError::Unavailable("no domain lists are loaded".into()))?;
        let check = domains.check(&value)?;
        IntelAnswer {
            kind: "domain".to_owned(),
            value: check.host.clone(),
            result: serde_json::to_value(&check).map_err(ApiError::internal)?,
        }
    };
    Ok(axum::Json(answer).into_response())
}
