//! `scorpius-server`: the Scorpius core behind an authenticated HTTP API (issue 8).
//!
//! - [`config`]: configuration layers; [`app`]: shared state; [`router`]: every route and
//!   layer; [`routes`]: handlers per resource; [`extract`]: request extractors;
//!   [`error`]: the status table and problem bodies; [`middleware`]: request context,
//!   authentication, rate limits, audit records; [`auth`]: keys and the role matrix;
//!   [`store`]: the storage interface and its SQLite / PostgreSQL backends; [`hooks`]:
//!   extension points for metering and webhooks; [`metrics`], [`openapi`].
//!
//! See `docs/server.md`.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod hooks;
pub mod metering;
pub mod metrics;
pub mod middleware;
pub mod openapi;
#[cfg(feature = "otel")]
pub mod otel;
pub mod policy;
pub mod ratelimit;
pub mod router;
pub mod routes;
pub mod store;
pub mod webhooks;

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use anyhow::{Context as _, Result};
use scorpius_core::{api::scan::ScanEnv, intel::bundled};

use crate::{app::AppState, config::Config, hooks::Hooks, store::Store};

/// Opens the configured store (applying migrations).
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    match &config.database_url {
        None => {
            let dir = config.data_dir()?;
            let store = store::sqlite::SqliteStore::open(&dir)
                .with_context(|| format!("opening the SQLite store in {}", dir.display()))?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "postgres")]
        Some(url) => {
            let key = match &config.audit_signing_key {
                Some(k) => k.clone(),
                None => config.data_dir()?.join("audit-signing.key"),
            };
            let store = store::postgres::PgStore::open(url, &key).context("opening the PostgreSQL store")?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => anyhow::bail!("this build has no PostgreSQL support (cargo feature `postgres`)"),
    }
}

/// Opens the metering and webhook store of the configured backend (issue 9).
pub fn open_usage_store(config: &Config) -> Result<Arc<dyn store::usage::UsageStore>> {
    match &config.database_url {
        None => {
            let dir = config.data_dir()?;
            Ok(Arc::new(store::sqlite_usage::SqliteUsage::open(&dir).context("opening the SQLite metering store")?))
        }
        #[cfg(feature = "postgres")]
        Some(url) => {
            Ok(Arc::new(store::postgres_usage::PgUsage::open(url).context("opening the PostgreSQL metering store")?))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => anyhow::bail!("this build has no PostgreSQL support (cargo feature `postgres`)"),
    }
}

/// The bundled intel and domain lists, loaded once.
pub fn load_scan_env() -> Result<ScanEnv> {
    let domains = bundled::domain_index(&[]).context("loading the bundled domain lists")?;
    Ok(ScanEnv { intel: Some(Arc::new(bundled::address_index())), domains: Some(Arc::new(domains)) })
}

/// A server ready to run: its state and listener.
#[derive(Debug)]
pub struct Server {
    /// The state (shared with handlers).
    pub state: AppState,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Opens storage, loads intel and binds the listener.
    pub async fn bind(config: Config, hooks: Hooks) -> Result<Self> {
        let store = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || open_store(&config)).await??
        };
        let env = tokio::task::spawn_blocking(load_scan_env).await??;
        let policies = match &config.policy_file {
            Some(path) => Some(Arc::new(policy::Policies::load(path)?)),
            None => None,
        };
        let usage = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || open_usage_store(&config)).await??
        };
        let metering = Arc::new(metering::Metering::new(usage, config.metering.clone()));
        let hooks = hooks.with(Arc::new(webhooks::WebhookHook(Arc::clone(&metering))));
        let listener =
            tokio::net::TcpListener::bind(&config.bind).await.with_context(|| format!("binding {}", config.bind))?;
        app::started();
        let mut state = AppState::new(store, env, config, hooks);
        state.policies = policies;
        state.metering = Some(metering);
        Ok(Server { state, listener })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes: then readiness turns 503, after the grace period the
    /// listener closes, and in-flight requests finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let state = self.state.clone();
        let grace = Duration::from_millis(state.config.shutdown_grace_ms);
        let limiter = Arc::clone(&state.limiter);
        let sweeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                limiter.retain_recent();
            }
        });
        let deliveries = match &state.metering {
            Some(m) if state.config.webhooks.deliver => {
                Some(tokio::spawn(webhooks::worker(state.clone(), Arc::clone(m))))
            }
            _ => None,
        };
        let flag = Arc::clone(&state.shutting_down);
        let signal = async move {
            shutdown.await;
            flag.store(true, Ordering::SeqCst);
            tracing::info!(grace_ms = grace.as_millis() as u64, "shutting down: readiness is 503, draining");
            tokio::time::sleep(grace).await;
        };
        let metering = state.metering.clone();
        let app = router::build(state);
        let result = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(signal)
            .await;
        sweeper.abort();
        if let Some(d) = deliveries {
            d.abort();
        }
        // In-flight requests are done: what this replica holds of the quotas goes back.
        if let Some(m) = metering {
            let released = tokio::task::spawn_blocking(move || m.store.release()).await;
            if let Ok(Err(e)) = released {
                tracing::warn!(error = %e, "metering: could not release this replica's quota leases");
            }
        }
        result.context("serving HTTP")
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
