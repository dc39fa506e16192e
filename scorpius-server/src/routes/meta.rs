//! `GET /metrics` (Prometheus text), `GET /openapi.json`, and the fallback for unknown routes.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};

use crate::{app::AppState, error::ApiError};

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "meta", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::json()).into_response()
}

/// Unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// A known route with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
