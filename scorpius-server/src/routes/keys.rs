//! `POST /v1/keys`, `GET /v1/keys`, `POST /v1/keys/{id}/rotate`, `DELETE /v1/keys/{id}`:
//! keys of the caller's tenant. Secrets are returned once and only their hash is stored.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use scorpius_core::api::keys::{CreateKeyRequest, CreatedKey, KeyInfo, KeyList, Role};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    app::AppState,
    auth::{KeyMode, Principal, Secret, new_key_id},
    error::{ApiError, ApiResult},
    extract::JsonBody,
    middleware::noted,
    store::{KeyRecord, Store, StoreError, sqlite::now_ms},
};

/// Unix ms as RFC 3339.
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The listing form of a stored key.
pub fn info(k: &KeyRecord) -> KeyInfo {
    KeyInfo {
        id: k.id.clone(),
        tenant: k.tenant.clone(),
        role: k.role,
        name: k.name.clone(),
        prefix: format!("{}…", k.prefix),
        created_at: rfc3339_ms(k.created_ms),
        expires_at: k.expires_ms.map(rfc3339_ms),
        last_used_at: k.last_used_ms.map(rfc3339_ms),
        revoked_at: k.revoked_ms.map(rfc3339_ms),
    }
}

/// Parses an expiry that must lie in the future.
pub fn parse_expiry(s: &str) -> Result<i64, String> {
    let t =
        OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("expires_at: `{s}` is not an RFC 3339 time ({e})"))?;
    let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    if ms <= now_ms() {
        return Err("expires_at: must be in the future".into());
    }
    Ok(ms)
}

/// Creates and stores a key; returns it with its secret (used by the API and by
/// `scorpius-server admin create-key`).
pub fn create(
    store: &dyn Store,
    mode: KeyMode,
    tenant: &str,
    role: Role,
    name: Option<String>,
    expires_ms: Option<i64>,
) -> Result<CreatedKey, StoreError> {
    let rand_err = |e: getrandom::Error| StoreError::Db(format!("no randomness: {e}"));
    let secret = Secret::generate(mode).map_err(rand_err)?;
    let record = KeyRecord {
        id: new_key_id().map_err(rand_err)?,
        tenant: tenant.to_owned(),
        role,
        name,
        prefix: secret.display_prefix(),
        secret_hash: secret.hash(),
        created_ms: now_ms(),
        expires_ms,
        last_used_ms: None,
        revoked_ms: None,
    };
    store.insert_key(&record)?;
    Ok(CreatedKey { key: info(&record), secret: secret.expose().to_owned() })
}

/// Create a key in the caller's tenant.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKeyRequest,
    responses((status = 201, description = "The key and its secret (shown once)", body = CreatedKey),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create_key(
    State(s): State<AppState>,
    who: Principal,
    body: JsonBody<CreateKeyRequest>,
) -> ApiResult<Response> {
    let req = body.value;
    let expires_ms = req.expires_at.as_deref().map(parse_expiry).transpose().map_err(ApiError::Unprocessable)?;
    if req.name.as_ref().is_some_and(|n| n.len() > 200) {
        return Err(ApiError::Unprocessable("name: at most 200 bytes".into()));
    }
    let (tenant, mode) = (who.tenant.clone(), s.config.key_mode);
    let created = s.db(move |st| create(st, mode, &tenant, req.role, req.name, expires_ms)).await?;
    let details = serde_json::json!({ "role": created.key.role.as_str() });
    let id = created.key.id.clone();
    s.hooks.event(&who, &crate::hooks::ServerEvent::KeyCreated { key_id: id.clone(), role: created.key.role });
    Ok(noted((StatusCode::CREATED, axum::Json(created)).into_response(), "key.create", id, details))
}

/// List the tenant's keys (without secrets).
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, body = KeyList)), security(("api_key" = []), ("bearer" = [])))]
pub async fn list_keys(State(s): State<AppState>, who: Principal) -> ApiResult<Response> {
    let tenant = who.tenant.clone();
    let keys = s.db(move |st| st.keys(&tenant)).await?;
    Ok(axum::Json(KeyList { keys: keys.iter().map(info).collect() }).into_response())
}

/// Replace a key's secret (the old one stops working at once).
#[utoipa::path(post, path = "/v1/keys/{id}/rotate", tag = "keys", params(("id" = String, Path, description = "Key id")),
    responses((status = 200, description = "The key and its new secret (shown once)", body = CreatedKey),
              (status = 404, description = "No such active key in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn rotate_key(State(s): State<AppState>, who: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    let secret = Secret::generate(s.config.key_mode).map_err(ApiError::internal)?;
    let (tenant, kid, hash, prefix) = (who.tenant.clone(), id.clone(), secret.hash(), secret.display_prefix());
    let record = s
        .db(move |st| {
            if !st.rotate_key(&tenant, &kid, &hash, &prefix)? {
                return Ok(None);
            }
            st.key(&tenant, &kid)
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no active key {id}")))?;
    let created = CreatedKey { key: info(&record), secret: secret.expose().to_owned() };
    Ok(noted(axum::Json(created).into_response(), "key.rotate", id, serde_json::json!({})))
}

/// Revoke a key.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", params(("id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked"),
              (status = 404, description = "No such active key in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn revoke_key(State(s): State<AppState>, who: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    let (tenant, kid) = (who.tenant.clone(), id.clone());
    if !s.db(move |st| st.revoke_key(&tenant, &kid, now_ms())).await? {
        return Err(ApiError::NotFound(format!("no active key {id}")));
    }
    s.hooks.event(&who, &crate::hooks::ServerEvent::KeyRevoked { key_id: id.clone() });
    Ok(noted(StatusCode::NO_CONTENT.into_response(), "key.revoke", id, serde_json::json!({})))
}
