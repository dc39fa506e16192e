//! Getting a wallet snapshot for the wallet commands (`scan wallet`, `snapshot wallet`,
//! `revoke plan`): from a snapshot file, or collected over JSON-RPC with a progress bar.
//!
//! The RPC URL is the first of: `--rpc-url` (or `SCORPIUS_RPC_URL`), the per-chain environment
//! variable `SCORPIUS_RPC_URL_<NAME>` / `SCORPIUS_RPC_URL_<ID>` (e.g. `SCORPIUS_RPC_URL_BASE`,
//! `SCORPIUS_RPC_URL_8453`), the `[rpc]` table of the configuration (`base = "https://…"`).

use std::{collections::BTreeMap, path::Path, time::Duration};

use alloy_primitives::Address;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scorpius_core::{chain::Chain, rpc::wallet as rpc_wallet, wallet::WalletSnapshot};

use crate::{
    exit::usage,
    output,
    rpc::{self, Rpc, RpcOptions},
};

/// Where a wallet's facts come from.
#[derive(Debug)]
pub struct Source<'a> {
    /// `--rpc-url` / `SCORPIUS_RPC_URL`.
    pub rpc_url: Option<&'a str>,
    /// `--snapshot FILE`.
    pub snapshot: Option<&'a Path>,
    /// `--from-block`.
    pub from_block: Option<u64>,
    /// The chain from configuration and flags.
    pub chain: &'a Chain,
    /// Whether `--chain` was given (a node on another chain is then an error).
    pub chain_explicit: bool,
    /// The `[rpc]` table of the configuration.
    pub rpc_table: &'a BTreeMap<String, String>,
}

/// The snapshot and, for online scans, the HTTP request counts (logs, state).
#[derive(Debug)]
pub struct Loaded {
    /// The facts.
    pub snapshot: WalletSnapshot,
    /// `(log requests, state requests)` for an online scan.
    pub requests: Option<(u64, u64)>,
    /// The endpoint as shown (no secrets).
    pub endpoint: Option<String>,
}

/// Reads the snapshot file or collects one from the RPC endpoint.
pub fn load(wallet: Address, src: &Source<'_>) -> Result<Loaded> {
    if let Some(path) = src.snapshot {
        if src.rpc_url.is_some() || src.from_block.is_some() {
            return Err(usage(
                "--snapshot cannot be combined with --rpc-url or --from-block: the snapshot holds the chain data",
            ));
        }
        let text = output::read_input(&path.display().to_string(), "snapshot")?;
        let snapshot = WalletSnapshot::from_json(&text)?;
        if snapshot.wallet != wallet {
            return Err(usage(format!(
                "the snapshot {} is of wallet {}, not {}",
                path.display(),
                snapshot.wallet,
                wallet.to_checksum(None)
            )));
        }
        if src.chain_explicit && snapshot.chain_id != src.chain.id {
            return Err(usage(format!(
                "--chain is {} ({}) but the snapshot is of chain {}",
                src.chain.name, src.chain.id, snapshot.chain_id
            )));
        }
        return Ok(Loaded { snapshot, requests: None, endpoint: None });
    }
    let url = resolve_url(src)?;
    let rpc = Rpc::connect(&url, RpcOptions::default())?;
    let runtime = rpc::runtime()?;
    let snapshot = runtime.block_on(collect_with_progress(&rpc, wallet, src))?;
    let requests = rpc.request_counts();
    tracing::info!(
        endpoint = rpc.endpoint(),
        log_requests = requests.0,
        state_requests = requests.1,
        "wallet data collected"
    );
    Ok(Loaded { snapshot, requests: Some(requests), endpoint: Some(rpc.endpoint().to_owned()) })
}

/// The RPC URL by precedence: flag/`SCORPIUS_RPC_URL`, per-chain environment, `[rpc]` table.
pub fn resolve_url(src: &Source<'_>) -> Result<String> {
    if let Some(u) = src.rpc_url.filter(|u| !u.trim().is_empty()) {
        return Ok(u.to_owned());
    }
    let env_name = |n: &str| format!("SCORPIUS_RPC_URL_{}", n.to_ascii_uppercase().replace('-', "_"));
    for var in [env_name(&src.chain.name), env_name(&src.chain.id.to_string())] {
        if let Ok(v) = std::env::var(&var)
            && !v.trim().is_empty()
        {
            return Ok(v);
        }
    }
    for (key, url) in src.rpc_table {
        if key.parse::<Chain>().is_ok_and(|c| c.id == src.chain.id) {
            return Ok(url.clone());
        }
    }
    Err(usage(format!(
        "no RPC endpoint for chain {}: pass --rpc-url URL, set SCORPIUS_RPC_URL or {}, add `{} = \"URL\"` under [rpc] in \
         scorpius.toml, or scan a snapshot with --snapshot FILE",
        src.chain,
        env_name(&src.chain.name),
        src.chain.name
    )))
}

async fn collect_with_progress(rpc: &Rpc, wallet: Address, src: &Source<'_>) -> Result<WalletSnapshot> {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} scanning logs {bar:30} {pos}/{len} blocks ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let expected = src.chain_explicit.then_some(src.chain);
    let result = rpc_wallet::collect_wallet(rpc, wallet, expected, src.from_block.unwrap_or(0), &progress).await;
    bar.finish_and_clear();
    Ok(result?)
}
