//! `/v1/webhooks`: the tenant's subscriptions (create — the secret is shown once —, list, get,
//! update, delete), their deliveries with the attempt log, and manual redelivery. See
//! `docs/webhooks.md`.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use scorpius_core::{
    api::webhooks::{
        CreateWebhookRequest, CreatedWebhook, DeliveriesQuery, DeliveryList, EventType, Redelivery,
        UpdateWebhookRequest, WebhookInfo, WebhookList,
    },
    metering::rfc3339,
    webhooks::WebhookSecret,
};

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
    extract::{JsonBody, Query},
    metering::Metering,
    middleware::noted,
    store::usage::{EndpointRecord, new_id},
};

fn metering(s: &AppState) -> ApiResult<Arc<Metering>> {
    s.metering.clone().ok_or_else(|| ApiError::Unavailable("webhooks are not set up in this process".into()))
}

/// The listing form (never the secret).
pub fn info(e: &EndpointRecord) -> WebhookInfo {
    WebhookInfo {
        id: e.id.clone(),
        url: e.url.clone(),
        events: e.events.clone(),
        description: e.description.clone(),
        enabled: e.disabled_ms.is_none(),
        disabled_reason: e.disabled_reason.clone(),
        created_at: rfc3339(e.created_ms),
    }
}

/// An endpoint URL: absolute `https://` (or `http://` when allowed), with a host, without
/// credentials or a fragment, at most 2048 bytes; unless `allow_private`, not an address
/// literal outside the public internet, nor `localhost` (names are checked again at every
/// delivery, when they are resolved).
pub fn validate_url(text: &str, allow_http: bool, allow_private: bool) -> Result<String, String> {
    if text.len() > 2048 {
        return Err("url: at most 2048 bytes".into());
    }
    let url = url::Url::parse(text).map_err(|e| format!("url: `{text}` is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        other => return Err(format!("url: scheme `{other}` is not allowed (use https)")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("url: needs a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url: must not carry credentials (authenticate with the signature instead)".into());
    }
    if url.fragment().is_some() {
        return Err("url: must not have a fragment".into());
    }
    if !allow_private && let Some(host) = crate::webhooks::private_host(&url) {
        return Err(format!(
            "url: {host} is a loopback, private or otherwise non-public address; the server only calls public \
             endpoints (webhooks.allow_private is off)"
        ));
    }
    Ok(url.to_string())
}

fn validate_events(events: &[EventType]) -> Result<Vec<EventType>, String> {
    let mut v = events.to_vec();
    v.sort();
    v.dedup();
    if v.is_empty() {
        return Err("events: at least one event type".into());
    }
    Ok(v)
}

fn validate_description(d: Option<&String>) -> ApiResult<()> {
    if d.is_some_and(|d| d.len() > 200) {
        return Err(ApiError::Unprocessable("description: at most 200 bytes".into()));
    }
    Ok(())
}

/// Subscribe an endpoint.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhookRequest,
    responses((status = 201, description = "The subscription and its signing secret (shown once)", body = CreatedWebhook),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    who: Principal,
    body: JsonBody<CreateWebhookRequest>,
) -> ApiResult<Response> {
    let m = metering(&s)?;
    let req = body.value;
    let url = validate_url(&req.url, s.config.webhooks.allow_http, s.config.webhooks.allow_private)
        .map_err(ApiError::Unprocessable)?;
    let events = validate_events(&req.events).map_err(ApiError::Unprocessable)?;
    validate_description(req.description.as_ref())?;
    let secret = WebhookSecret::generate().map_err(ApiError::internal)?;
    let record = EndpointRecord {
        id: new_id("wh_")?,
        tenant: who.tenant.clone(),
        url,
        events,
        description: req.description,
        secret: secret.as_bytes().to_vec(),
        created_ms: crate::store::sqlite::now_ms(),
        disabled_ms: None,
        disabled_reason: None,
    };
    let store = Arc::clone(&m.store);
    let r2 = record.clone();
    s.db(move |_| store.create_endpoint(&r2)).await?;
    m.subscriptions_changed();
    let created = CreatedWebhook { webhook: info(&record), secret: secret.expose() };
    let details = serde_json::json!({ "url": record.url });
    Ok(noted((StatusCode::CREATED, axum::Json(created)).into_response(), "webhook.create", record.id, details))
}

/// The tenant's subscriptions (without secrets).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList)), security(("api_key" = []), ("bearer" = [])))]
pub async fn list(State(s): State<AppState>, who: Principal) -> ApiResult<Response> {
    let m = metering(&s)?;
    let (tenant, store) = (who.tenant.clone(), Arc::clone(&m.store));
    let all = s.db(move |_| store.endpoints(&tenant)).await?;
    Ok(axum::Json(WebhookList { webhooks: all.iter().map(info).collect() }).into_response())
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no webhook {id}"))
}

/// One subscription.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookInfo),
              (status = 404, description = "No such webhook in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get(State(s): State<AppState>, who: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    let m = metering(&s)?;
    let (tenant, store, i) = (who.tenant.clone(), Arc::clone(&m.store), id.clone());
    let e = s.db(move |_| store.endpoint(&tenant, &i)).await?.ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(info(&e)).into_response())
}

/// Change a subscription; `enabled: true` re-enables a disabled one.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", request_body = UpdateWebhookRequest,
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookInfo),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: JsonBody<UpdateWebhookRequest>,
) -> ApiResult<Response> {
    let m = metering(&s)?;
    let mut change = body.value;
    if let Some(u) = &change.url {
        change.url = Some(
            validate_url(u, s.config.webhooks.allow_http, s.config.webhooks.allow_private)
                .map_err(ApiError::Unprocessable)?,
        );
    }
    if let Some(e) = &change.events {
        change.events = Some(validate_events(e).map_err(ApiError::Unprocessable)?);
    }
    validate_description(change.description.as_ref())?;
    let (tenant, store, i) = (who.tenant.clone(), Arc::clone(&m.store), id.clone());
    let now = crate::store::sqlite::now_ms();
    let e = s.db(move |_| store.update_endpoint(&tenant, &i, &change, now)).await?.ok_or_else(|| not_found(&id))?;
    m.subscriptions_changed();
    if e.disabled_ms.is_none() {
        m.queued.notify_one();
    }
    Ok(noted(axum::Json(info(&e)).into_response(), "webhook.update", id, serde_json::json!({})))
}

/// Delete a subscription with its deliveries.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such webhook in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn remove(State(s): State<AppState>, who: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    let m = metering(&s)?;
    let (tenant, store, i) = (who.tenant.clone(), Arc::clone(&m.store), id.clone());
    if !s.db(move |_| store.delete_endpoint(&tenant, &i)).await? {
        return Err(not_found(&id));
    }
    m.subscriptions_changed();
    Ok(noted(StatusCode::NO_CONTENT.into_response(), "webhook.delete", id, serde_json::json!({})))
}

/// The subscription's deliveries with their attempt logs.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), DeliveriesQuery),
    responses((status = 200, body = DeliveryList),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn deliveries(
    State(s): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Response> {
    let m = metering(&s)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit: must be 1 to 100".into()));
    }
    let (tenant, store, i) = (who.tenant.clone(), Arc::clone(&m.store), id.clone());
    let list = s
        .db(move |_| {
            if store.endpoint(&tenant, &i)?.is_none() {
                return Ok(None);
            }
            store.deliveries(&tenant, &i, limit).map(Some)
        })
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(DeliveryList { deliveries: list }).into_response())
}

/// Queue a delivery's message again (a new delivery, due now, same `webhook-id`).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), ("delivery" = String, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued", body = Redelivery),
              (status = 404, description = "No such webhook or delivery in this tenant", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn redeliver(
    State(s): State<AppState>,
    who: Principal,
    Path((id, delivery)): Path<(String, String)>,
) -> ApiResult<Response> {
    let m = metering(&s)?;
    let (tenant, store, i, d) = (who.tenant.clone(), Arc::clone(&m.store), id.clone(), delivery.clone());
    let now = crate::store::sqlite::now_ms();
    let new = s
        .db(move |_| store.redeliver(&tenant, &i, &d, now))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no delivery {delivery} of webhook {id}")))?;
    m.queued.notify_one();
    let details = serde_json::json!({ "delivery_id": new, "of": delivery });
    Ok(noted(
        (StatusCode::ACCEPTED, axum::Json(Redelivery { delivery_id: new })).into_response(),
        "webhook.redeliver",
        id,
        details,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(validate_url("https://hooks.example.com/x?y=1", false, false).is_ok());
        assert!(validate_url("http://127.0.0.1:9/x", true, true).is_ok());
        assert!(validate_url("http://127.0.0.1:9/x", false, true).is_err());
        assert!(validate_url("ftp://example.com", true, true).is_err());
        assert!(validate_url("https://user:pw@example.com", true, true).is_err());
        assert!(validate_url("/relative", true, true).is_err());
        assert!(validate_url("https://example.com/#frag", true, true).is_err());
        // The SSRF guard: address literals outside the public internet, and localhost.
        for url in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://localhost:8443/",
            "https://api.localhost/",
            "https://2130706433/",
        ] {
            let e = validate_url(url, true, false).expect_err(url);
            assert!(e.contains("non-public"), "{url}: {e}");
            assert!(validate_url(url, true, true).is_ok(), "{url} with allow_private");
        }
        for url in ["https://93.184.215.14/", "https://[2606:4700::1111]/", "https://hooks.example.com/"] {
            assert!(validate_url(url, true, false).is_ok(), "{url}");
        }
    }
}
