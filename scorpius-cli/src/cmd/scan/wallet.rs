//! `scorpius scan wallet ADDRESS`: standing permissions, EIP-7702 delegation, counterparties and
//! address poisoning, over JSON-RPC or from a snapshot file.

use std::path::PathBuf;

use anyhow::Result;
use scorpius_core::{evm::parse, wallet};

use super::CommonArgs;
use crate::cli::GlobalArgs;

/// Arguments of `scorpius scan wallet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The wallet address (0x + 40 hex digits).
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    /// JSON-RPC endpoint (http or https). Falls back to SCORPIUS_RPC_URL_<CHAIN> and the [rpc]
    /// table of the configuration. Only scheme, host and port are ever shown.
    #[arg(long, value_name = "URL", env = "SCORPIUS_RPC_URL", hide_env_values = true)]
    pub rpc_url: Option<String>,
    /// First block to search for events (default 0: the whole history).
    #[arg(long, value_name = "N")]
    pub from_block: Option<u64>,
    /// Analyse a snapshot file (`scorpius snapshot wallet`) instead of reading the chain: no
    /// network.
    #[arg(long, value_name = "FILE", conflicts_with = "rpc_url")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the scan.
pub fn run(args: &Args, global: &GlobalArgs) -> Result<u8> {
    let address = parse::address("ADDRESS", &args.address)?;
    let mut settings = args.common.settings(global, None)?;
    let source = crate::wallet::Source {
        rpc_url: args.rpc_url.as_deref(),
        snapshot: args.snapshot.as_deref(),
        from_block: args.from_block,
        chain: &settings.ctx.chain.clone(),
        chain_explicit: args.common.chain.is_some(),
        rpc_table: &settings.rpc.clone(),
    };
    let report = scan(address, &source, &mut settings.ctx)?;
    super::finish(&report, &settings, &args.common)
}

/// Loads or collects the wallet's facts and analyses them; `ctx.chain` becomes the chain the
/// data is from.
pub fn scan(
    address: alloy_primitives::Address,
    source: &crate::wallet::Source<'_>,
    ctx: &mut scorpius_core::context::Context,
) -> Result<scorpius_core::model::ScanReport> {
    let loaded = crate::wallet::load(address, source)?;
    ctx.chain = scorpius_core::chain::Chain::from_id(loaded.snapshot.chain_id);
    let mut report = wallet::analyze(&loaded.snapshot, ctx);
    if let (Some((logs, state)), Some(endpoint)) = (loaded.requests, &loaded.endpoint) {
        tracing::info!("RPC requests: {logs} for logs, {state} for state reads");
        scorpius_core::rpc::wallet::note_source(&mut report, endpoint, (logs, state));
    }
    Ok(report)
}
