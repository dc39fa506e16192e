//! `scorpius snapshot wallet ADDRESS -o FILE`: collect a wallet's on-chain facts once, then
//! scan them offline any number of times (`scan wallet --snapshot FILE`).

use std::path::PathBuf;

use anyhow::Result;
use scorpius_core::evm::parse;

use crate::{cli::GlobalArgs, config, exit, output};

/// `scorpius snapshot …`
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Collect approvals, Permit2 allowances, transfers, token and account facts of a wallet
    /// into a versioned JSON file.
    Wallet(WalletArgs),
}

/// Arguments of `scorpius snapshot wallet`.
#[derive(Debug, clap::Args)]
pub struct WalletArgs {
    /// The wallet address.
    #[arg(value_name = "ADDRESS")]
    pub address: String,
    /// JSON-RPC endpoint (http or https); see `scan wallet --help` for the fallbacks.
    #[arg(long, value_name = "URL", env = "SCORPIUS_RPC_URL", hide_env_values = true)]
    pub rpc_url: Option<String>,
    /// Chain name or id the endpoint must serve.
    #[arg(long, value_name = "NAME|ID")]
    pub chain: Option<String>,
    /// First block to search for events (default 0).
    #[arg(long, value_name = "N")]
    pub from_block: Option<u64>,
    /// Where to write the snapshot (atomically); - for stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs the command.
pub fn run(cmd: SnapshotCommand, global: &GlobalArgs) -> Result<u8> {
    let SnapshotCommand::Wallet(args) = cmd;
    let address = parse::address("ADDRESS", &args.address)?;
    let flags = config::FlagOverrides { chain: args.chain.clone(), ..Default::default() };
    let resolved = config::Resolved::load(&config::Sources::discover(global.config.as_deref()), flags)?;
    let chain = resolved.chain()?;
    let loaded = crate::wallet::load(
        address,
        &crate::wallet::Source {
            rpc_url: args.rpc_url.as_deref(),
            snapshot: None,
            from_block: args.from_block,
            chain: &chain,
            chain_explicit: args.chain.is_some(),
            rpc_table: &resolved.config.rpc,
        },
    )?;
    let mut text = loaded.snapshot.to_json();
    text.push('\n');
    let target = (args.output.as_os_str() != "-").then_some(&args.output);
    output::emit(&text, target)?;
    if let Some(path) = target {
        let s = &loaded.snapshot;
        eprintln!(
            "snapshot of {} on chain {} (blocks {}-{}): {} permission events, {} transfers, {} gaps -> {}",
            s.wallet,
            s.chain_id,
            s.from_block,
            s.to_block,
            s.events.len(),
            s.transfers.len(),
            s.gaps.len(),
            path.display()
        );
    }
    Ok(exit::OK)
}
