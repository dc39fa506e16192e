//! `scorpius admin …`: a server's API keys, audit trail, usage and bills, and webhooks,
//! through the SDK. Destructive commands (rotating and revoking keys, removing webhooks) ask
//! for confirmation on a terminal and need `--yes` otherwise. A new secret is printed once,
//! on stdout; nothing else ever prints a secret.

mod usage;
mod webhooks;

use std::{io::IsTerminal as _, path::PathBuf};

use anyhow::Result;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use scorpius_core::audit::checkpoint::NoteVerifier;
use scorpius_sdk::api::keys::{CreateKeyRequest, CreatedKey, Role};

use crate::{
    exit,
    output::{self, Format},
    remote,
};

/// `scorpius admin …`
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// The server's API keys (of your tenant).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The server's audit trail (your tenant's entries).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Your tenant's metered usage (by hour, day or month; by meter or key), or with
    /// `forecast`, the expected usage at the end of the month.
    Usage(usage::UsageArgs),
    /// Your tenant's bill under its plan.
    #[command(subcommand)]
    Billing(usage::BillingCommand),
    /// Your tenant's webhook subscriptions and their deliveries.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
}

/// Flags every admin command takes.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The server (default: SCORPIUS_SERVER, else the one of the last `scorpius login`).
    #[arg(long, value_name = "URL", env = "SCORPIUS_SERVER")]
    pub server: Option<String>,
}

/// `scorpius admin keys …`
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        /// Its role: admin, security, auditor or viewer.
        #[arg(long)]
        role: Role,
        /// A label (which team or app uses it).
        #[arg(long)]
        name: Option<String>,
        /// When it stops working (RFC 3339, e.g. 2027-01-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        /// Output format: table (the secret alone on stdout) or json (the whole key).
        #[arg(long, short)]
        format: Option<Format>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the keys (never their secrets).
    List {
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Give a key a new secret (printed once); the old secret stops working at once.
    Rotate {
        /// The key id (key_…).
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Output format: table (the secret alone on stdout) or json.
        #[arg(long, short)]
        format: Option<Format>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a key: it stops working at once, for good.
    Revoke {
        /// The key id (key_…).
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `scorpius admin audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the tenant's audit entries against the server's signed log: each entry's hash
    /// and its inclusion in the signed tree. Exit 1 when something does not verify.
    Verify {
        /// The log's public key (verifier key file) you trust; without it the key the server
        /// sends is used, which only shows the server is consistent with itself.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Download the tenant's entries with the checkpoint and key that verify them (JSON).
    Export {
        /// Write to FILE (atomically) instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Asks before a destructive action: on a terminal with a prompt, otherwise only `--yes`.
pub(crate) fn confirm(yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(exit::usage(format!("{question} — not confirmed: pass --yes to do this without a terminal")));
    }
    let ok = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| exit::usage(format!("no confirmation: {e}")))?;
    if ok { Ok(()) } else { Err(exit::usage("cancelled")) }
}

fn print_secret(created: &CreatedKey, format: Option<Format>, verb: &str) -> Result<()> {
    match format.unwrap_or(Format::Table) {
        Format::Json => output::emit(&(serde_json::to_string_pretty(created)? + "\n"), None)?,
        Format::Table => {
            eprintln!(
                "{verb} key {} (role {}, tenant {}). The secret below is shown once: store it now.",
                created.key.id, created.key.role, created.key.tenant
            );
            output::emit(&format!("{}\n", created.secret), None)?;
        }
    }
    Ok(())
}

/// Runs an admin command.
pub fn run(cmd: AdminCommand) -> Result<u8> {
    match cmd {
        AdminCommand::Keys(k) => keys(k),
        AdminCommand::Audit(a) => audit(a),
        AdminCommand::Usage(u) => usage::usage(u),
        AdminCommand::Billing(b) => usage::billing(b),
        AdminCommand::Webhooks(w) => webhooks::run(w),
    }
}

fn keys(cmd: KeysCommand) -> Result<u8> {
    match cmd {
        KeysCommand::Create { role, name, expires_at, format, server } => {
            let client = remote::connect(server.server.as_deref())?;
            let req = CreateKeyRequest { role, name, expires_at };
            let created = remote::block_on(client.create_key(&req))?.map_err(remote::error)?;
            print_secret(&created, format, "Created")?;
        }
        KeysCommand::List { format, server } => {
            let client = remote::connect(server.server.as_deref())?;
            let keys = remote::block_on(client.list_keys())?.map_err(remote::error)?;
            let text = match output::resolve_format(format, None) {
                Format::Json => serde_json::to_string_pretty(&keys)? + "\n",
                Format::Table if keys.is_empty() => "No keys.\n".to_owned(),
                Format::Table => {
                    let mut t = Table::new();
                    t.load_preset(UTF8_FULL_CONDENSED);
                    t.set_header(["id", "role", "name", "prefix", "created", "expires", "last used", "revoked"]);
                    for k in &keys {
                        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
                        t.add_row([
                            k.id.clone(),
                            k.role.to_string(),
                            opt(&k.name),
                            k.prefix.clone(),
                            k.created_at.clone(),
                            opt(&k.expires_at),
                            opt(&k.last_used_at),
                            opt(&k.revoked_at),
                        ]);
                    }
                    format!("{t}\n")
                }
            };
            output::emit(&text, None)?;
        }
        KeysCommand::Rotate { id, yes, format, server } => {
            let client = remote::connect(server.server.as_deref())?;
            confirm(yes, &format!("Rotate key {id}? Its current secret stops working at once"))?;
            let created = remote::block_on(client.rotate_key(&id))?.map_err(remote::error)?;
            print_secret(&created, format, "Rotated")?;
        }
        KeysCommand::Revoke { id, yes, server } => {
            let client = remote::connect(server.server.as_deref())?;
            confirm(yes, &format!("Revoke key {id}? It stops working at once, for good"))?;
            remote::block_on(client.revoke_key(&id))?.map_err(remote::error)?;
            eprintln!("Revoked key {id}.");
        }
    }
    Ok(exit::OK)
}

fn audit(cmd: AuditCommand) -> Result<u8> {
    match cmd {
        AuditCommand::Verify { public_key, format, server } => {
            let trusted = public_key
                .as_deref()
                .map(|p| {
                    let text = std::fs::read_to_string(p)
                        .map_err(|e| exit::usage(format!("reading public key {}: {e}", p.display())))?;
                    NoteVerifier::parse(&text).map_err(|e| exit::usage(format!("{}: {e}", p.display())))
                })
                .transpose()?;
            let client = remote::connect(server.server.as_deref())?;
            let v = remote::block_on(client.verify_audit(trusted.as_ref()))?.map_err(remote::error)?;
            let text = match output::resolve_format(format, None) {
                Format::Json => serde_json::to_string_pretty(&v)? + "\n",
                Format::Table if v.is_ok() => format!(
                    "Audit trail of tenant {} verified: {} entries included in the signed tree of {} entries{}.\n",
                    v.tenant,
                    v.entries,
                    v.tree_size,
                    if v.key_trusted { "" } else { " (signature checked with the key the server sent)" }
                ),
                Format::Table => {
                    let mut s = format!("AUDIT TRAIL DOES NOT VERIFY: {} problem(s).\n", v.problems.len());
                    for p in &v.problems {
                        let at = p.seq.map(|s| format!("[{s}] ")).unwrap_or_default();
                        s.push_str(&format!("  - {at}{}\n", p.message));
                    }
                    s
                }
            };
            output::emit(&text, None)?;
            if !v.key_trusted {
                tracing::warn!("no --public-key: the checkpoint was checked with the key the server sent");
            }
            return Ok(if v.is_ok() { exit::OK } else { exit::FINDINGS });
        }
        AuditCommand::Export { output: path, server } => {
            let client = remote::connect(server.server.as_deref())?;
            let export = remote::block_on(client.audit_export())?.map_err(remote::error)?;
            output::emit(&(serde_json::to_string_pretty(&export)? + "\n"), path.as_ref())?;
            eprintln!(
                "Exported {} entries of tenant {} (checkpoint at {} entries).",
                export.entries.len(),
                export.tenant,
                export.checkpoint.tree_size
            );
        }
    }
    Ok(exit::OK)
}
