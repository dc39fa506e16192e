//! Application state shared by every handler, and the per-request context (request id and
//! path) that error bodies quote.

use std::{
    num::NonZeroU32,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use governor::{DefaultKeyedRateLimiter, Quota, middleware::StateInformationMiddleware};
use metrics_exporter_prometheus::PrometheusHandle;
use scorpius_core::api::scan::ScanEnv;

use crate::{
    config::Config,
    error::{ApiError, ApiResult},
    hooks::Hooks,
    store::{Store, StoreError},
};

/// The per-key GCRA limiter, reporting its state for the `X-RateLimit-*` headers.
pub type Limiter = DefaultKeyedRateLimiter<String, StateInformationMiddleware>;

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Storage (keys, scans, idempotency, audit).
    pub store: Arc<dyn Store>,
    /// Intel and domain lists, loaded once.
    pub scan_env: Arc<ScanEnv>,
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// Set when a shutdown signal arrived: readiness turns 503.
    pub shutting_down: Arc<AtomicBool>,
    /// The Prometheus registry.
    pub metrics: PrometheusHandle,
    /// Per-key rate limiter (GCRA).
    pub limiter: Arc<Limiter>,
    /// Extension points for metering and webhooks.
    pub hooks: Hooks,
    /// Usage metering and webhooks (issue 9); set by [`crate::Server::bind`].
    pub metering: Option<Arc<crate::metering::Metering>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state around a store.
    pub fn new(store: Arc<dyn Store>, scan_env: ScanEnv, config: Config, hooks: Hooks) -> Self {
        BODY_LIMIT.store(config.max_body_bytes, Ordering::Relaxed);
        let per_second = NonZeroU32::new(config.rate_limit_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
        AppState {
            store,
            scan_env: Arc::new(scan_env),
            config: Arc::new(config),
            shutting_down: Arc::new(AtomicBool::new(false)),
            metrics: crate::metrics::handle(),
            limiter: Arc::new(
                governor::RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
                    .with_middleware::<StateInformationMiddleware>(),
            ),
            hooks,
            metering: None,
        }
    }

    /// Runs a storage call on the blocking pool.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::internal(format!("storage task failed: {e}")))?
            .map_err(ApiError::from)
    }
}

static BODY_LIMIT: AtomicUsize = AtomicUsize::new(1024 * 1024);

/// The configured body limit (for 413 messages produced outside the handlers).
pub fn body_limit() -> usize {
    BODY_LIMIT.load(Ordering::Relaxed)
}

/// The request being served: its id and path.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// `x-request-id`.
    pub id: String,
    /// Path without the query.
    pub path: String,
}

tokio::task_local! {
    static REQUEST: RequestMeta;
}

/// The current request's id and path, inside a request.
pub fn request_meta() -> Option<RequestMeta> {
    REQUEST.try_with(Clone::clone).ok()
}

/// Runs `fut` with `meta` as the current request.
pub async fn with_request<F: std::future::Future>(meta: RequestMeta, fut: F) -> F::Output {
    REQUEST.scope(meta, fut).await
}

/// When the process started serving (for `/health/live`).
pub fn started() -> &'static std::time::Instant {
    static STARTED: OnceLock<std::time::Instant> = OnceLock::new();
    STARTED.get_or_init(std::time::Instant::now)
}
