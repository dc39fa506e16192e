//! Scan a wallet on a `scorpius-server` (which reads the chain over its configured RPC
//! endpoint) and print its riskiest standing approvals, most severe first.
//!
//! ```sh
//! SCORPIUS_SERVER=http://127.0.0.1:8000 SCORPIUS_API_KEY=sk_live_… \
//!   cargo run -p scorpius-sdk --example wallet_approvals -- 0xWALLET [CHAIN]
//! ```

use scorpius_sdk::Client;
use scorpius_sdk::api::scan::{ChainSpec, WalletScan};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let wallet = args.next().ok_or("usage: wallet_approvals 0xWALLET [CHAIN]")?;
    let chain = args.next().unwrap_or_else(|| "ethereum".into());
    let client = Client::builder()
        .base_url(std::env::var("SCORPIUS_SERVER")?)
        .api_key(std::env::var("SCORPIUS_API_KEY")?)
        .build()?;
    let request = WalletScan { address: wallet, chain: Some(ChainSpec::Name(chain)), from_block: None };
    let report = client.scan_wallet(&request).await?;

    let mut approvals: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule_id.contains("approval") || f.rule_id.contains("permit") || f.rule_id.contains("operator"))
        .collect();
    approvals.sort_by_key(|f| std::cmp::Reverse(f.severity));
    println!("{}: risk {}/100, {} approvals flagged", report.target, report.risk.score, approvals.len());
    for f in approvals.iter().take(10) {
        println!("  [{:?}] {}: {}", f.severity, f.rule_id, f.message);
        println!("      → {}", f.recommendation);
    }
    Ok(())
}
