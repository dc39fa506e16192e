//! Check a transaction before asking the user to sign it: in-process with
//! `scorpius_sdk::local` (no server), and with a `scorpius-server` when `SCORPIUS_SERVER` and
//! `SCORPIUS_API_KEY` are set.
//!
//! ```sh
//! cargo run -p scorpius-sdk --example check_transaction -- 0xA0b8…eB48 0x095ea7b3…
//! SCORPIUS_SERVER=http://127.0.0.1:8000 SCORPIUS_API_KEY=sk_live_… cargo run -p scorpius-sdk --example check_transaction -- TO DATA
//! ```

use scorpius_sdk::{
    Client,
    local::{Analyzer, TransactionScan},
    model::{ScanReport, Severity},
};

fn verdict(source: &str, report: &ScanReport) {
    let worst = report.max_severity();
    let action = if worst >= Some(Severity::High) { "BLOCK" } else { "allow" };
    println!("{source}: {action} (risk {}/100, {} findings)", report.risk.score, report.findings.len());
    for f in &report.findings {
        println!("  [{:?}] {}: {}", f.severity, f.rule_id, f.message);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let to = args.next().unwrap_or_else(|| "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into());
    // approve(0x1111…1111, 2^256-1): an unlimited allowance.
    let data = args
        .next()
        .unwrap_or_else(|| format!("0x095ea7b3{:0>64}{}", "1111111111111111111111111111111111111111", "f".repeat(64)));
    let tx = TransactionScan { to: Some(to), data: Some(data), ..TransactionScan::default() };

    // In-process: the bundled intel, no network.
    let analyzer = Analyzer::bundled()?;
    verdict("local", &analyzer.scan_transaction(&tx)?);

    // The same request on a server.
    if let (Ok(server), Ok(key)) = (std::env::var("SCORPIUS_SERVER"), std::env::var("SCORPIUS_API_KEY")) {
        let client = Client::builder().base_url(server).api_key(key).build()?;
        verdict("server", &client.scan_transaction(&tx).await?);
    }
    Ok(())
}
