//! The `scorpius-server` binary: parses flags, sets up logging, and either serves or runs an
//! admin command. Everything else is in the library.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context as _, Result};
use clap::Parser;
use scorpius_core::api::keys::Role;
use scorpius_server::{
    Server,
    auth::valid_tenant,
    config::{Config, Flags},
    hooks::Hooks,
    routes::keys,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Scorpius as a service: scans, keys, audit trail over an authenticated HTTP API.
#[derive(Debug, Parser)]
#[command(name = "scorpius-server", version)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8000).
    #[arg(long, global = true, value_name = "ADDR")]
    bind: Option<String>,
    /// postgres://… to use PostgreSQL (default: SQLite in the data directory).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Data directory (SQLite files, audit signing key).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Host administration (run on the server host, against its storage).
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Debug, clap::Subcommand)]
enum Admin {
    /// Create an API key and print its secret once (on stdout).
    CreateKey {
        /// admin, security, auditor or viewer.
        #[arg(long)]
        role: Role,
        /// Tenant of the key (a-z, 0-9, - and _).
        #[arg(long, default_value = "default")]
        tenant: String,
        /// A label.
        #[arg(long)]
        name: Option<String>,
        /// Expiry (RFC 3339).
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
    },
}

/// Exports spans at exit when OpenTelemetry is on (feature `otel`).
#[cfg(feature = "otel")]
type Telemetry = Option<scorpius_server::otel::Telemetry>;
#[cfg(not(feature = "otel"))]
type Telemetry = ();

/// Logs on stderr (JSON or text, filtered by `SCORPIUS_LOG`), and with `otlp` set, request
/// spans exported over OTLP.
fn init_logging(format: &str, otlp: Option<&str>) -> Result<Telemetry> {
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCORPIUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt =
        if format == "text" { fmt.boxed() } else { fmt.json().flatten_event(true).with_current_span(true).boxed() };
    let registry = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otel")]
    {
        let (otel, telemetry) = match otlp {
            Some(endpoint) => {
                let (layer, t) = scorpius_server::otel::layer(endpoint)?;
                (Some(layer), Some(t))
            }
            None => (None, None),
        };
        registry.with(otel).init();
        Ok(telemetry)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = otlp;
        registry.init();
        Ok(())
    }
}

fn admin(cmd: Admin, config: &Config) -> Result<()> {
    match cmd {
        Admin::CreateKey { role, tenant, name, expires_at } => {
            if !valid_tenant(&tenant) {
                anyhow::bail!("--tenant: 1 to 64 of a-z, 0-9, - and _");
            }
            let expires_ms = expires_at.as_deref().map(keys::parse_expiry).transpose().map_err(anyhow::Error::msg)?;
            let store = scorpius_server::open_store(config)?;
            let created = keys::create(store.as_ref(), config.key_mode, &tenant, role, name, expires_ms)
                .context("creating the key")?;
            let event = scorpius_core::audit::Event::now(
                "host-admin",
                "key.create",
                created.key.id.clone(),
                scorpius_core::audit::Outcome::Success,
                serde_json::json!({ "tenant": tenant, "role": role.as_str(), "via": "admin create-key" }),
            );
            store.audit_append(vec![event]).context("recording the key in the audit log")?;
            // Subscribers hear of it as of a key made through the API.
            let data = serde_json::json!({ "key_id": created.key.id, "role": role.as_str(), "by": "host-admin" });
            let usage = scorpius_server::open_usage_store(config)?;
            let now = scorpius_server::store::sqlite::now_ms();
            usage
                .enqueue(Some(&tenant), scorpius_core::api::webhooks::EventType::KeyCreated, &data, now)
                .context("queueing the key.created webhook event")?;
            eprintln!(
                "created key {} ({} in tenant {tenant}); the secret is shown once:",
                created.key.id,
                role.as_str()
            );
            println!("{}", created.secret);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let flags =
        Flags { bind: cli.bind.clone(), database_url: cli.database_url.clone(), data_dir: cli.data_dir.clone() };
    let config = match Config::load(cli.config.as_deref(), &flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let serving = cli.command.is_none();
    let telemetry = match init_logging(&config.log_format, config.otlp_endpoint.as_deref().filter(|_| serving)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::Admin(cmd)) => admin(cmd, &config),
        None => serve(config),
    };
    #[cfg(feature = "otel")]
    if let Some(t) = telemetry {
        t.shutdown();
    }
    #[cfg(not(feature = "otel"))]
    let () = telemetry;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn serve(config: Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(config.blocking_threads)
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config, Hooks::default()).await?;
        tracing::info!(addr = %server.local_addr()?, backend = server.state.store.backend(), "listening");
        server.run(scorpius_server::shutdown_signal()).await
    })
}
