//! Application state shared by every handler, and the per-request context (request id and
//! path) that error bodies quote.

use std::{
    collections::{BTreeMap, HashMap},
    num::NonZeroU32,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
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
    /// JSON-RPC endpoints by chain id (wallet and deployed-contract scans).
    pub rpc_endpoints: Arc<BTreeMap<u64, String>>,
    /// Attribute-based policies (Cedar), evaluated after the role check.
    pub policies: Option<Arc<crate::policy::Policies>>,
    /// Scan environments of tenants with their own intel datasets.
    tenant_envs: Arc<Mutex<HashMap<String, TenantEnv>>>,
    /// Usage metering and webhooks (issue 9); set by [`crate::Server::bind`].
    pub metering: Option<Arc<crate::metering::Metering>>,
    /// The first failing seq of the last audit-verification failure this replica announced,
    /// so `/health/deep` raises `audit.verification_failed` once per failure rather than on
    /// every probe; cleared when the log verifies again.
    pub audit_alarm: Arc<Mutex<Option<Option<u64>>>>,
}

/// A tenant's scan environment and the storage stamp it was built from.
struct TenantEnv {
    stamp: (i64, i64),
    checked: Instant,
    env: Arc<ScanEnv>,
}

/// How long a replica trusts its copy of a tenant's datasets before asking storage whether
/// they changed (an import on another replica shows within this time).
const TENANT_ENV_TTL: Duration = Duration::from_secs(2);

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
        // Validated when the configuration was loaded.
        let rpc_endpoints = Arc::new(config.rpc_endpoints().unwrap_or_default());
        AppState {
            rpc_endpoints,
            tenant_envs: Arc::default(),
            policies: None,
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
            audit_alarm: Arc::default(),
        }
    }

    /// The scan environment of `tenant`: the bundled intel plus the tenant's own datasets
    /// (`POST /v1/intel/import`), rebuilt when storage says they changed.
    pub async fn env_for(&self, tenant: &str) -> ApiResult<Arc<ScanEnv>> {
        let cached = {
            let map = self.tenant_envs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            map.get(tenant).map(|t| (t.stamp, t.checked, Arc::clone(&t.env)))
        };
        if let Some((_, checked, env)) = &cached
            && checked.elapsed() < TENANT_ENV_TTL
        {
            return Ok(Arc::clone(env));
        }
        let owned = tenant.to_owned();
        let stamp = self.db(move |s| s.intel_stamp(&owned)).await?;
        let env = match cached {
            Some((old, _, env)) if old == stamp => env,
            _ if stamp.0 == 0 => Arc::clone(&self.scan_env),
            _ => {
                let owned = tenant.to_owned();
                let stored = self.db(move |s| s.intel_datasets(&owned)).await?;
                let base = Arc::clone(&self.scan_env);
                let env = tokio::task::spawn_blocking(move || {
                    let prepared = stored
                        .into_iter()
                        .map(|(d, text)| scorpius_core::api::intel::PreparedImport::from_tsv(d, &text))
                        .collect::<Result<Vec<_>, _>>()?;
                    scorpius_core::api::intel::tenant_env(&base, &prepared)
                })
                .await
                .map_err(|e| ApiError::internal(format!("intel task failed: {e}")))?
                .map_err(|e| ApiError::internal(format!("the tenant's stored intel does not load: {e}")))?;
                Arc::new(env)
            }
        };
        let mut map = self.tenant_envs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(tenant.to_owned(), TenantEnv { stamp, checked: Instant::now(), env: Arc::clone(&env) });
        Ok(env)
    }

    /// Forgets this replica's copy of the tenant's environment (after an import).
    pub fn forget_env(&self, tenant: &str) {
        self.tenant_envs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(tenant);
    }

    /// A client for the chain's configured RPC endpoint.
    pub fn rpc(&self, chain: &scorpius_core::chain::Chain) -> ApiResult<scorpius_core::rpc::Rpc> {
        let url = self.rpc_endpoints.get(&chain.id).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "this server has no RPC endpoint for chain {} ({}); the configured chains are: {}",
                chain.name,
                chain.id,
                if self.rpc_endpoints.is_empty() {
                    "none".to_owned()
                } else {
                    self.rpc_endpoints.keys().map(u64::to_string).collect::<Vec<_>>().join(", ")
                }
            ))
        })?;
        Ok(scorpius_core::rpc::Rpc::connect(url, scorpius_core::rpc::RpcOptions::default())?)
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
