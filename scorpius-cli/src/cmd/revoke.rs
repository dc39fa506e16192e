//! `scorpius revoke plan ADDRESS`: the unsigned transactions that revoke a wallet's risky
//! permissions, as JSON for a wallet to show and sign. Nothing is signed or sent.

use std::path::PathBuf;

use anyhow::Result;
use scorpius_core::{evm::parse, model::Severity, wallet};

use crate::{cli::GlobalArgs, config, exit, output};

/// `scorpius revoke …`
#[derive(Debug, clap::Subcommand)]
pub enum RevokeCommand {
    /// Build the revoke transactions for a wallet (from the chain or a snapshot).
    Plan(PlanArgs),
}

/// Arguments of `scorpius revoke plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The wallet address.
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    /// JSON-RPC endpoint (http or https); see `scan wallet --help` for the fallbacks.
    #[arg(long, value_name = "URL", env = "SCORPIUS_RPC_URL", hide_env_values = true)]
    pub rpc_url: Option<String>,
    /// Plan from a snapshot file instead of the chain.
    #[arg(long, value_name = "FILE", conflicts_with = "rpc_url")]
    pub snapshot: Option<PathBuf>,
    /// Chain name or id.
    #[arg(long, value_name = "NAME|ID")]
    pub chain: Option<String>,
    /// First block to search for events (default 0).
    #[arg(long, value_name = "N")]
    pub from_block: Option<u64>,
    /// Revoke permissions whose risk is at least this severity (info revokes everything).
    #[arg(long, value_name = "SEVERITY", default_value = "medium")]
    pub min_severity: Severity,
    /// Do not consult threat intelligence.
    #[arg(long)]
    pub no_intel: bool,
    /// Write the plan to FILE (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs the command.
pub fn run(cmd: RevokeCommand, global: &GlobalArgs) -> Result<u8> {
    let RevokeCommand::Plan(args) = cmd;
    let address = parse::address("ADDRESS", &args.address)?;
    let flags = config::FlagOverrides { chain: args.chain.clone(), ..Default::default() };
    let resolved = config::Resolved::load(&config::Sources::discover(global.config.as_deref()), flags)?;
    let chain = resolved.chain()?;
    let loaded = crate::wallet::load(
        address,
        &crate::wallet::Source {
            rpc_url: args.rpc_url.as_deref(),
            snapshot: args.snapshot.as_deref(),
            from_block: args.from_block,
            chain: &chain,
            chain_explicit: args.chain.is_some(),
            rpc_table: &resolved.config.rpc,
        },
    )?;
    let snap = &loaded.snapshot;
    let mut ctx = scorpius_core::context::Context::new(scorpius_core::chain::Chain::from_id(snap.chain_id));
    if !args.no_intel {
        ctx.intel = Some(crate::intel::load_index()?);
    }
    let analysis = wallet::analyze_parts(snap, &ctx);
    let plan =
        wallet::revoke::plan(&analysis.permissions, snap.wallet, snap.chain_id, snap.to_block, args.min_severity);
    if !snap.gaps.is_empty() {
        eprintln!(
            "warning: {} part(s) of the wallet's data could not be collected; the plan may miss permissions",
            snap.gaps.len()
        );
    }
    let mut text = serde_json::to_string_pretty(&plan)?;
    text.push('\n');
    output::emit(&text, args.output.as_ref())?;
    Ok(exit::OK)
}
