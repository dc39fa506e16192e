//! Wallet scans over JSON-RPC: checks the endpoint's chain, collects a
//! [`WalletSnapshot`] with the chain's Multicall3 and Permit2, and notes in a report where the
//! data came from. Shared by `scorpius scan wallet` and the server's `POST /v1/scan/wallet`.

use alloy_primitives::Address;
use serde_json::json;

use super::{Result, Rpc, RpcError};
use crate::{
    chain::Chain,
    model::{ScanReport, Subject},
    wallet::{
        collect::{self, CollectError, CollectOptions, Progress},
        snapshot::WalletSnapshot,
    },
};

/// Collects the wallet's snapshot from `rpc`. With `expected` set, the endpoint must serve that
/// chain ([`RpcError::Input`] otherwise); the chain the node serves decides which well-known
/// contracts are used.
///
/// # Errors
/// [`RpcError::Input`] for a chain mismatch or a start block past the head; the endpoint's
/// errors otherwise.
pub async fn collect_wallet(
    rpc: &Rpc,
    wallet: Address,
    expected: Option<&Chain>,
    from_block: u64,
    progress: Progress<'_>,
) -> Result<WalletSnapshot> {
    let node_chain = rpc.chain_id().await?;
    if let Some(chain) = expected.filter(|c| c.id != node_chain) {
        return Err(RpcError::Input(format!(
            "the chain asked for is {} ({}) but the RPC endpoint {} serves chain {node_chain}: use the endpoint of \
             that chain or ask for chain {node_chain}",
            chain.name,
            chain.id,
            rpc.endpoint()
        )));
    }
    let chain = Chain::from_id(node_chain);
    let opts = CollectOptions {
        from_block,
        multicall3: chain.multicall3(),
        permit2: chain.permit2(),
        collected_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        ..CollectOptions::default()
    };
    collect::collect(rpc, wallet, &opts, progress).await.map_err(|e| match e {
        CollectError::FromAfterHead { from, head } => {
            RpcError::Input(format!("the start block {from} is after the latest block {head}"))
        }
        CollectError::Read(e) => {
            RpcError::Unreachable(format!("collecting wallet data from {}: {}", rpc.endpoint(), e.message))
        }
    })
}

/// Records in the report's coverage which endpoint the data came from (as shown: see
/// [`super::redact`]) and how many HTTP requests it took for logs and for state reads
/// ([`Rpc::request_counts`]).
pub fn note_source(report: &mut ScanReport, endpoint: &str, (logs, state): (u64, u64)) {
    let mut subject = report.subject.to_value();
    subject["coverage"]["endpoint"] = endpoint.into();
    subject["coverage"]["rpc_requests"] = json!({"logs": logs, "state": state});
    report.subject = Subject::json(subject);
}
