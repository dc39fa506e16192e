//! The server's configuration, resolved in one place: built-in defaults < the file given with
//! `--config` (TOML) < `SCORPIUS_*` environment variables < flags.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use figment::{
    Figment,
    providers::{Env, Format as _, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::auth::KeyMode;

/// Keys read from the environment (as `SCORPIUS_<KEY>`).
const ENV_KEYS: &[&str] = &[
    "bind",
    "database_url",
    "data_dir",
    "key_mode",
    "max_body_bytes",
    "request_timeout_secs",
    "shutdown_grace_ms",
    "cors_origins",
    "rate_limit_per_second",
    "rate_limit_burst",
    "log_format",
    "audit_signing_key",
    "policy_file",
    "client_ip_header",
    "otlp_endpoint",
    "blocking_threads",
];

/// The effective configuration. Its `Debug` leaves out the database URL and the RPC URLs
/// (they may hold credentials).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: String,
    /// `postgres://…` for PostgreSQL; SQLite in `data_dir` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Where the SQLite databases and the audit signing key live (default: the platform data
    /// directory, e.g. `~/.local/share/scorpius/server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `live` or `test`: the prefix of new keys (`sk_live_` / `sk_test_`).
    pub key_mode: KeyMode,
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 503 `timeout`.
    pub request_timeout_secs: u64,
    /// On SIGTERM/SIGINT, how long readiness reports 503 before the listener closes (in-flight
    /// requests then finish).
    pub shutdown_grace_ms: u64,
    /// Origins allowed by CORS (`*` for any); none by default.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Sustained requests per second per key (GCRA).
    pub rate_limit_per_second: u32,
    /// Burst per key.
    pub rate_limit_burst: u32,
    /// `json` (default) or `text` logs on stderr.
    pub log_format: String,
    /// The audit signing key file for PostgreSQL (every replica must use the same one);
    /// default `<data dir>/audit-signing.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_signing_key: Option<PathBuf>,
    /// JSON-RPC endpoints for wallet and deployed-contract scans, by chain name or id
    /// (`[rpc]` table: `ethereum = "https://…"`; or `SCORPIUS_RPC_URL_<CHAIN>` in the
    /// environment). Only scheme, host and port are ever shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rpc: BTreeMap<String, String>,
    /// A Cedar policy file evaluated after the role check (see `docs/server.md#policies`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_file: Option<PathBuf>,
    /// Behind a load balancer: the header holding the client address (`x-forwarded-for`, first
    /// entry), for policies' `context.ip`. Unset: the peer address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip_header: Option<String>,
    /// Most threads for storage calls and other blocking work. Storage serialises writers
    /// anyway; beyond a few dozen threads, a burst only adds threads that wait on the same
    /// locks (and the CPU spent creating and switching them).
    pub blocking_threads: usize,
    /// OpenTelemetry: the OTLP/HTTP collector (`http://collector:4318`) request spans are
    /// exported to. Needs the `otel` build feature; unset, nothing is exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `[metering]`: plans, quotas, prices (issue 9; docs/metering.md).
    #[serde(default)]
    pub metering: crate::metering::MeteringConfig,
    /// `[webhooks]`: delivery timeout, retries (issue 9; docs/webhooks.md).
    #[serde(default)]
    pub webhooks: crate::webhooks::WebhooksConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database", &if self.database_url.is_some() { "postgres" } else { "sqlite" })
            .field("data_dir", &self.data_dir)
            .field("key_mode", &self.key_mode)
            .field("rpc_chains", &self.rpc.keys().collect::<Vec<_>>())
            .field("policy_file", &self.policy_file)
            .field("otlp", &self.otlp_endpoint.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8000".into(),
            database_url: None,
            data_dir: None,
            key_mode: KeyMode::Live,
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_ms: 1000,
            cors_origins: Vec::new(),
            rate_limit_per_second: 50,
            rate_limit_burst: 100,
            log_format: "json".into(),
            audit_signing_key: None,
            rpc: BTreeMap::new(),
            policy_file: None,
            client_ip_header: None,
            otlp_endpoint: None,
            blocking_threads: 16,
            metering: Default::default(),
            webhooks: Default::default(),
        }
    }
}

/// Values given as flags (highest precedence).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Flags {
    /// `--bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Resolves the layers: defaults < `file` < environment < `flags`.
    pub fn load(file: Option<&Path>, flags: &Flags) -> Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.is_file() {
                anyhow::bail!("configuration file {} does not exist", f.display());
            }
            fig = fig.merge(Toml::file(f));
        }
        fig = fig.merge(Env::prefixed("SCORPIUS_").only(ENV_KEYS)).merge(Serialized::defaults(flags));
        let mut config: Config = fig.extract().context("invalid configuration")?;
        // Per-chain endpoints from the environment, as in the CLI: SCORPIUS_RPC_URL_BASE.
        for (name, value) in std::env::vars() {
            if let Some(chain) = name.strip_prefix("SCORPIUS_RPC_URL_")
                && !chain.is_empty()
                && !value.trim().is_empty()
            {
                config.rpc.insert(chain.to_ascii_lowercase().replace('_', "-"), value);
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        if self.rate_limit_per_second == 0 || self.rate_limit_burst == 0 {
            anyhow::bail!("rate_limit_per_second and rate_limit_burst must be at least 1");
        }
        self.metering.validate().map_err(anyhow::Error::msg)?;
        self.webhooks.validate().map_err(anyhow::Error::msg)?;
        if self.blocking_threads == 0 {
            anyhow::bail!("blocking_threads must be at least 1");
        }
        if self.max_body_bytes == 0 {
            anyhow::bail!("max_body_bytes must be at least 1");
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            anyhow::bail!("database_url must be a postgres:// URL (leave it unset for SQLite)");
        }
        self.rpc_endpoints()?;
        if let Some(url) = &self.otlp_endpoint {
            if !cfg!(feature = "otel") {
                anyhow::bail!("otlp_endpoint: this scorpius-server was built without the `otel` feature");
            }
            let parsed =
                url::Url::parse(url).map_err(|e| anyhow::anyhow!("otlp_endpoint: not an absolute URL ({e})"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                anyhow::bail!("otlp_endpoint: use an http:// or https:// URL with a host");
            }
        }
        Ok(())
    }

    /// The `[rpc]` table by chain id. Errors name the entry, never the URL (it may hold a key).
    pub fn rpc_endpoints(&self) -> Result<BTreeMap<u64, String>> {
        let mut out = BTreeMap::new();
        for (key, url) in &self.rpc {
            let chain: scorpius_core::chain::Chain =
                key.parse().map_err(|e| anyhow::anyhow!("rpc.{key}: not a known chain name or id ({e})"))?;
            scorpius_core::rpc::check_url(url).map_err(|e| anyhow::anyhow!("rpc.{key}: {e}"))?;
            if out.insert(chain.id, url.clone()).is_some() {
                anyhow::bail!("rpc.{key}: chain {} has two endpoints", chain.id);
            }
        }
        Ok(out)
    }

    /// The data directory.
    pub fn data_dir(&self) -> Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        directories::ProjectDirs::from("", "", "scorpius")
            .map(|d| d.data_dir().join("server"))
            .context("no home directory to keep data in: set SCORPIUS_DATA_DIR or --data-dir")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's signature
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "server.toml",
                "bind = \"127.0.0.1:9000\"\nmax_body_bytes = 2048\nrate_limit_burst = 7\n",
            )?;
            let c = Config::load(Some(Path::new("server.toml")), &Flags::default()).unwrap();
            assert_eq!((c.bind.as_str(), c.max_body_bytes, c.rate_limit_burst), ("127.0.0.1:9000", 2048, 7));
            jail.set_env("SCORPIUS_MAX_BODY_BYTES", "4096");
            jail.set_env("SCORPIUS_BIND", "127.0.0.1:9100");
            let c = Config::load(Some(Path::new("server.toml")), &Flags::default()).unwrap();
            assert_eq!((c.bind.as_str(), c.max_body_bytes), ("127.0.0.1:9100", 4096));
            let flags = Flags { bind: Some("0.0.0.0:1".into()), ..Flags::default() };
            let c = Config::load(Some(Path::new("server.toml")), &flags).unwrap();
            assert_eq!(c.bind, "0.0.0.0:1");
            assert_eq!(c.rate_limit_burst, 7, "file value survives where nothing overrides it");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SCORPIUS_DATABASE_URL", "mysql://x");
            assert!(Config::load(None, &Flags::default()).is_err());
            jail.set_env("SCORPIUS_DATABASE_URL", "postgres://h/db");
            jail.create_file("bad.toml", "no_such_key = 1\n")?;
            assert!(Config::load(Some(Path::new("bad.toml")), &Flags::default()).is_err());
            assert!(Config::load(Some(Path::new("missing.toml")), &Flags::default()).is_err());
            Ok(())
        });
    }
}
