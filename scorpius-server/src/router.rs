//! Every route in one place, with the action each one is for (the role matrix applies to
//! actions; see [`crate::auth::allowed`]), and the layers around them.

use std::time::Duration;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, StatusCode},
    middleware::{from_fn, from_fn_with_state},
    routing::{delete, get, post},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    app::AppState,
    auth::Action,
    routes::{audit, health, intel, keys, meta, scans, usage, webhooks},
};

/// Authenticated routes: method, path template, action.
pub const PROTECTED: &[(&str, &str, Action)] = &[
    ("POST", "/v1/scan/transaction", Action::ScanRun),
    ("POST", "/v1/scan/signature", Action::ScanRun),
    ("POST", "/v1/scan/address", Action::ScanRun),
    ("POST", "/v1/scan/domain", Action::ScanRun),
    ("POST", "/v1/scan/contract", Action::ScanRun),
    ("POST", "/v1/scan/wallet", Action::ScanRun),
    ("GET", "/v1/scans", Action::ScanRead),
    ("GET", "/v1/scans/{id}", Action::ScanRead),
    ("GET", "/v1/scans/{id}/report", Action::ScanRead),
    ("GET", "/v1/intel/datasets", Action::IntelRead),
    ("GET", "/v1/intel/{value}", Action::IntelRead),
    ("POST", "/v1/intel/import", Action::IntelImport),
    ("GET", "/v1/audit/events", Action::AuditRead),
    ("GET", "/v1/audit/checkpoint", Action::AuditRead),
    ("GET", "/v1/audit/proof/{seq}", Action::AuditRead),
    ("GET", "/v1/audit/consistency", Action::AuditRead),
    ("GET", "/v1/audit/export", Action::AuditExport),
    ("POST", "/v1/keys", Action::KeysManage),
    ("GET", "/v1/keys", Action::KeysManage),
    ("POST", "/v1/keys/{id}/rotate", Action::KeysManage),
    ("DELETE", "/v1/keys/{id}", Action::KeysManage),
    ("GET", "/health/deep", Action::HealthDeep),
    // issue 9: metering and webhooks
    ("GET", "/v1/usage", Action::UsageRead),
    ("GET", "/v1/usage/forecast", Action::UsageRead),
    ("GET", "/v1/billing/preview", Action::BillingRead),
    ("POST", "/v1/webhooks", Action::WebhooksManage),
    ("GET", "/v1/webhooks", Action::WebhooksManage),
    ("GET", "/v1/webhooks/{id}", Action::WebhooksManage),
    ("PATCH", "/v1/webhooks/{id}", Action::WebhooksManage),
    ("DELETE", "/v1/webhooks/{id}", Action::WebhooksManage),
    ("GET", "/v1/webhooks/{id}/deliveries", Action::WebhooksManage),
    ("POST", "/v1/webhooks/{id}/deliveries/{delivery}/redeliver", Action::WebhooksManage),
];

/// The action of an authenticated route.
pub fn action_of(method: &Method, route: &str) -> Option<Action> {
    PROTECTED.iter().find(|(m, r, _)| *m == method.as_str() && *r == route).map(|(_, _, a)| *a)
}

/// Unauthenticated routes (besides `/docs`).
const PUBLIC: &[&str] = &["/health/live", "/health/ready", "/metrics", "/openapi.json"];

/// The route template a request will match (`/v1/scans/{id}`), known before routing, for
/// span names that do not grow with ids; `None` for paths no route serves.
pub fn template_of(method: &Method, path: &str) -> Option<&'static str> {
    let matches = |template: &str| {
        let (mut t, mut p) = (template.split('/'), path.split('/'));
        loop {
            match (t.next(), p.next()) {
                (None, None) => return true,
                (Some(ts), Some(ps)) if ts == ps || (ts.starts_with('{') && !ps.is_empty()) => {}
                _ => return false,
            }
        }
    };
    // Static routes come before parameterised ones in PROTECTED (`/v1/intel/datasets`
    // before `/v1/intel/{value}`), so the first match is axum's match.
    PROTECTED
        .iter()
        .find(|(m, r, _)| *m == method.as_str() && matches(r))
        .map(|(_, r, _)| *r)
        .or_else(|| PUBLIC.iter().copied().find(|r| *r == path))
        .or_else(|| path.starts_with("/docs").then_some("/docs"))
}

/// The whole application.
pub fn build(state: AppState) -> Router {
    let protected = Router::new()
        .route("/v1/scan/transaction", post(scans::transaction))
        .route("/v1/scan/signature", post(scans::signature))
        .route("/v1/scan/address", post(scans::address))
        .route("/v1/scan/domain", post(scans::domain))
        .route("/v1/scan/contract", post(scans::contract))
        .route("/v1/scan/wallet", post(scans::wallet))
        .route("/v1/scans", get(scans::list))
        .route("/v1/scans/{id}", get(scans::get))
        .route("/v1/scans/{id}/report", get(scans::report))
        .route("/v1/intel/datasets", get(intel::datasets))
        .route("/v1/intel/{value}", get(intel::lookup))
        .route("/v1/intel/import", post(intel::import))
        .route("/v1/audit/events", get(audit::events))
        .route("/v1/audit/checkpoint", get(audit::checkpoint))
        .route("/v1/audit/proof/{seq}", get(audit::proof))
        .route("/v1/audit/consistency", get(audit::consistency))
        .route("/v1/audit/export", get(audit::export))
        .route("/v1/keys", post(keys::create_key).get(keys::list_keys))
        .route("/v1/keys/{id}/rotate", post(keys::rotate_key))
        .route("/v1/keys/{id}", delete(keys::revoke_key))
        .route("/health/deep", get(health::deep))
        .route("/v1/usage", get(usage::usage))
        .route("/v1/usage/forecast", get(usage::forecast))
        .route("/v1/billing/preview", get(usage::billing_preview))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/{id}", get(webhooks::get).patch(webhooks::update).delete(webhooks::remove))
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/v1/webhooks/{id}/deliveries/{delivery}/redeliver", post(webhooks::redeliver))
        .route_layer(from_fn_with_state(state.clone(), crate::middleware::authenticate));
    let public = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(meta::openapi));
    #[cfg(feature = "swagger-ui")]
    // The page loads the document from our own /openapi.json route.
    let public = public
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")));
    let cors = cors_layer(&state.config.cors_origins);
    let timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
    let x_request_id = HeaderName::from_static("x-request-id");
    let mut app = protected
        .merge(public)
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout));
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    app.layer(
        TraceLayer::new_for_http()
            .make_span_with(|req: &axum::http::Request<_>| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                // The route and status are recorded only when the span is on (not at
                // SCORPIUS_LOG=warn); the status when the response is ready.
                let span = tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id = %id,
                    otel.name = tracing::field::Empty,
                    otel.kind = "server",
                    http.request.method = %req.method(),
                    http.route = tracing::field::Empty,
                    http.response.status_code = tracing::field::Empty,
                );
                if !span.is_disabled() {
                    let route = template_of(req.method(), req.uri().path());
                    // Before the parent is adopted: the exporter fixes the name then.
                    span.record("otel.name", format_args!("{} {}", req.method(), route.unwrap_or("unmatched")));
                    span.record("http.route", route);
                }
                #[cfg(feature = "otel")]
                crate::otel::adopt_parent(&span, req.headers());
                span
            })
            .on_response(|resp: &axum::http::Response<_>, _: Duration, span: &tracing::Span| {
                span.record("http.response.status_code", resp.status().as_u16());
            }),
    )
    .layer(from_fn(crate::middleware::context))
    .layer(SetSensitiveRequestHeadersLayer::new([
        axum::http::header::AUTHORIZATION,
        HeaderName::from_static("x-api-key"),
    ]))
    .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
    .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
    .with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            axum::http::header::CONTENT_TYPE,
            axum::http::header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
        ]);
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        layer.allow_origin(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect::<Vec<_>>())
    })
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::template_of;

    #[test]
    fn requests_map_to_their_route_template() {
        assert_eq!(template_of(&Method::GET, "/v1/scans/5f0c"), Some("/v1/scans/{id}"));
        assert_eq!(template_of(&Method::GET, "/v1/scans/5f0c/report"), Some("/v1/scans/{id}/report"));
        assert_eq!(template_of(&Method::GET, "/v1/intel/datasets"), Some("/v1/intel/datasets"));
        assert_eq!(template_of(&Method::GET, "/v1/intel/0xabc"), Some("/v1/intel/{value}"));
        assert_eq!(template_of(&Method::POST, "/v1/scan/transaction"), Some("/v1/scan/transaction"));
        assert_eq!(template_of(&Method::GET, "/v1/scan/transaction"), None);
        assert_eq!(template_of(&Method::GET, "/health/ready"), Some("/health/ready"));
        assert_eq!(template_of(&Method::GET, "/v1/scans/"), None);
        assert_eq!(template_of(&Method::GET, "/nope"), None);
    }
}
