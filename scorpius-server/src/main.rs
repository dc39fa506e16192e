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

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCORPIUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "text" {
        builder.init();
    } else {
        builder.json().flatten_event(true).with_current_span(true).init();
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
    init_logging(&config.log_format);
    let result = match cli.command {
        Some(Command::Admin(cmd)) => admin(cmd, &config),
        None => serve(config),
    };
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let server = Server::bind(config, Hooks::default()).await?;
        tracing::info!(addr = %server.local_addr()?, backend = server.state.store.backend(), "listening");
        server.run(scorpius_server::shutdown_signal()).await
    })
}
