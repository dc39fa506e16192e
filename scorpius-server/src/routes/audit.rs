//! The audit trail over HTTP: the caller's tenant's entries, the log's signed checkpoint and
//! public key, inclusion proofs for the tenant's entries, consistency proofs, and an export.
//! The log is one Merkle tree for the whole server; entries are scoped to a tenant by their
//! actor (`tenant/key_id`), and a tenant only ever sees its own entries.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use scorpius_core::api::audit::{
    CheckpointResponse, ConsistencyProof, ConsistencyQuery, EXPORT_FORMAT, EventsPage, EventsQuery, Export,
    InclusionProof, ProofQuery,
};

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
    extract::Query,
    middleware::noted,
    store::AuditFilter,
};

fn tenant_prefix(who: &Principal) -> String {
    format!("{}/", who.tenant)
}

/// The tenant's audit entries.
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", params(EventsQuery),
    responses((status = 200, body = EventsPage)), security(("api_key" = []), ("bearer" = [])))]
pub async fn events(State(s): State<AppState>, who: Principal, Query(q): Query<EventsQuery>) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit: must be 1 to 1000".into()));
    }
    let filter = AuditFilter {
        actor_prefix: Some(tenant_prefix(&who)),
        from_seq: q.from_seq,
        since_ms: q.since_ms,
        action: q.action,
        limit,
    };
    let entries = s.db(move |st| st.audit_entries(&filter)).await?;
    let next_from_seq = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.seq + 1)).flatten();
    Ok(axum::Json(EventsPage { entries, next_from_seq }).into_response())
}

/// The log's newest signed checkpoint.
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, body = CheckpointResponse)), security(("api_key" = []), ("bearer" = [])))]
pub async fn checkpoint(State(s): State<AppState>, _who: Principal) -> ApiResult<Response> {
    let checkpoint = s.db(|st| st.audit_checkpoint()).await?;
    Ok(axum::Json(CheckpointResponse { checkpoint, public_key: s.store.audit_public_key() }).into_response())
}

/// Inclusion proof of one of the tenant's entries.
#[utoipa::path(get, path = "/v1/audit/proof/{seq}", tag = "audit",
    params(("seq" = u64, Path, description = "Sequence number"), ProofQuery),
    responses((status = 200, description = "Leaf hash, sibling hashes, root and signed checkpoint", body = Object),
              (status = 404, description = "No such entry in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn proof(
    State(s): State<AppState>,
    who: Principal,
    Path(seq): Path<u64>,
    Query(q): Query<ProofQuery>,
) -> ApiResult<Response> {
    let prefix = tenant_prefix(&who);
    let proof: InclusionProof = s
        .db(move |st| {
            match st.audit_entry(seq)? {
                Some(e) if e.actor.starts_with(&prefix) => {}
                _ => return Ok(None),
            }
            st.audit_proof(seq, q.size).map(Some)
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no audit entry {seq} in this tenant")))?;
    Ok(axum::Json(proof).into_response())
}

/// Consistency proof between two tree sizes (hashes only).
#[utoipa::path(get, path = "/v1/audit/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, description = "Both roots and the proof hashes", body = Object),
              (status = 422, description = "Sizes out of range", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn consistency(
    State(s): State<AppState>,
    _who: Principal,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Response> {
    let p: ConsistencyProof = s.db(move |st| st.audit_consistency(q.old, q.new)).await?;
    Ok(axum::Json(p).into_response())
}

/// Export the tenant's audit entries.
#[utoipa::path(get, path = "/v1/audit/export", tag = "audit",
    responses((status = 200, body = Export)), security(("api_key" = []), ("bearer" = [])))]
pub async fn export(State(s): State<AppState>, who: Principal) -> ApiResult<Response> {
    let prefix = tenant_prefix(&who);
    let (checkpoint, entries) = s
        .db(move |st| {
            let checkpoint = st.audit_checkpoint()?;
            let mut entries = Vec::new();
            let mut from = 0;
            loop {
                let page = st.audit_entries(&AuditFilter {
                    actor_prefix: Some(prefix.clone()),
                    from_seq: Some(from),
                    limit: 1000,
                    ..AuditFilter::default()
                })?;
                let done = page.len() < 1000;
                if let Some(last) = page.last() {
                    from = last.seq + 1;
                }
                // Only what the checkpoint covers.
                entries.extend(page.into_iter().filter(|e| e.seq < checkpoint.tree_size));
                if done {
                    break;
                }
            }
            Ok((checkpoint, entries))
        })
        .await?;
    let n = entries.len();
    let body = Export {
        format: EXPORT_FORMAT.to_owned(),
        tenant: who.tenant.clone(),
        public_key: s.store.audit_public_key(),
        checkpoint,
        entries,
    };
    Ok(noted(
        axum::Json(body).into_response(),
        "audit.export",
        format!("tenant:{}", who.tenant),
        serde_json::json!({ "entries": n }),
    ))
}
