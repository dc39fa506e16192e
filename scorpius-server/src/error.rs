//! Every error the API returns, in one status table, rendered as RFC 9457 problem details
//! (`application/problem+json`). Internal errors are logged once here, with the request id,
//! and the client gets only "internal error" and that id.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use scorpius_core::api::{PROBLEM_BASE, Problem};

use crate::app::request_meta;

/// An API error. Each variant is one row of the status table (`docs/server.md#errors`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the body or a parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no API key.
    #[error("this endpoint needs an API key: send it in X-API-Key or Authorization: Bearer")]
    MissingKey,
    /// 401: not a key, unknown or revoked.
    #[error("the API key is not valid (malformed, unknown or revoked)")]
    InvalidKey,
    /// 401: the key's expiry has passed.
    #[error("the API key expired at {0}")]
    ExpiredKey(String),
    /// 403: the key's role does not allow this.
    #[error("role `{role}` may not {action}")]
    Forbidden {
        /// The caller's role.
        role: &'static str,
        /// What it tried.
        action: &'static str,
    },
    /// 403: a policy rule denied it.
    #[error("denied by policy: {0}")]
    PolicyDenied(String),
    /// 404: no such resource (in the caller's tenant) or route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists with other methods.
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// 409: the Idempotency-Key was used with a different request.
    #[error("{0}")]
    IdempotencyConflict(String),
    /// 413: the body is larger than the limit.
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// 415: the body is not JSON.
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: well-formed JSON that does not describe a valid request.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: over the key's rate limit.
    #[error("rate limit exceeded: retry after {0} s")]
    RateLimited(u64),
    /// 502: the chain's RPC endpoint failed (unreachable, or answered with an error).
    #[error("{0}")]
    Upstream(String),
    /// 429: a monthly quota of the tenant's plan is used up (issue 9).
    #[error("{detail}")]
    QuotaExceeded {
        /// What, how much, and when it resets.
        detail: String,
        /// Seconds until the reset (`Retry-After`).
        retry_after: u64,
    },
    /// 503: shutting down or storage unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 503: the request took longer than the configured timeout.
    #[error("the request took longer than the server's timeout")]
    Timeout,
    /// 500: something failed inside the server (logged, never sent).
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// An internal error from anything displayable; the text is logged, not sent.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    /// The status table: HTTP status, problem slug, title.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Malformed request"),
            ApiError::MissingKey => (StatusCode::UNAUTHORIZED, "missing-key", "API key required"),
            ApiError::InvalidKey => (StatusCode::UNAUTHORIZED, "invalid-key", "Invalid API key"),
            ApiError::ExpiredKey(_) => (StatusCode::UNAUTHORIZED, "expired-key", "API key expired"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Not allowed for this role"),
            ApiError::PolicyDenied(_) => (StatusCode::FORBIDDEN, "policy-denied", "Denied by policy"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            ApiError::IdempotencyConflict(_) => {
                (StatusCode::CONFLICT, "idempotency-conflict", "Idempotency key reused with another request")
            }
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Body too large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "JSON body required")
            }
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests"),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream-failed", "The chain's RPC endpoint failed"),
            ApiError::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota-exceeded", "Quota exceeded"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout", "Request timed out"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    /// The problem body for this error.
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let meta = request_meta();
        let detail = match self {
            ApiError::Internal(_) => {
                Some("the server could not complete the request; quote the request id when reporting it".to_owned())
            }
            other => Some(other.to_string()),
        };
        Problem {
            type_uri: format!("{PROBLEM_BASE}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            instance: meta.as_ref().map(|m| m.path.clone()),
            request_id: meta.map(|m| m.id),
        }
    }

    /// The problem response for a bare status produced outside the handlers (405 from the
    /// router, 413 from a length check, 408 from a timeout).
    pub fn from_status(status: StatusCode) -> Option<Self> {
        Some(match status {
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::NOT_FOUND => ApiError::NotFound("no such route".into()),
            StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(crate::app::body_limit()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            _ => return None,
        })
    }
}

impl From<scorpius_core::Error> for ApiError {
    fn from(e: scorpius_core::Error) -> Self {
        ApiError::Unprocessable(e.to_string())
    }
}

impl From<scorpius_core::rpc::RpcError> for ApiError {
    fn from(e: scorpius_core::rpc::RpcError) -> Self {
        // The texts hold the endpoint as shown (scheme, host, port), never its key.
        if e.is_input() { ApiError::Unprocessable(e.to_string()) } else { ApiError::Upstream(e.to_string()) }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Range(m) => ApiError::Unprocessable(m),
            crate::store::StoreError::NotFound(m) => ApiError::NotFound(m),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        match &self {
            ApiError::Internal(msg) => {
                tracing::error!(request_id = problem.request_id.as_deref().unwrap_or("-"), error = %msg, "internal error")
            }
            other => tracing::debug!(status = problem.status, "{other}"),
        }
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match &self {
            ApiError::MissingKey | ApiError::InvalidKey | ApiError::ExpiredKey(_) => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scorpius\""));
            }
            ApiError::RateLimited(secs) | ApiError::QuotaExceeded { retry_after: secs, .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            _ => {}
        }
        resp
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;
