//! A CI gate: scan contract bytecode files and fail the pipeline (exit 1) when any finding is
//! high or critical. With `SCORPIUS_SERVER` and `SCORPIUS_API_KEY` the scans run on the server
//! (and are kept there); otherwise in-process.
//!
//! ```sh
//! cargo run -p scorpius-sdk --example ci_gate -- out/Token.bin out/Vault.bin
//! ```

use std::process::ExitCode;

use scorpius_sdk::{
    Client,
    local::{Analyzer, ContractScan},
    model::{ScanReport, Severity},
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: ci_gate BYTECODE_FILE...");
        return Ok(ExitCode::from(2));
    }
    let remote = match (std::env::var("SCORPIUS_SERVER"), std::env::var("SCORPIUS_API_KEY")) {
        (Ok(server), Ok(key)) => Some(Client::builder().base_url(server).api_key(key).build()?),
        _ => None,
    };
    let local = if remote.is_none() { Some(Analyzer::bundled()?) } else { None };
    let mut blocking = 0;
    for file in &files {
        let bytecode = std::fs::read_to_string(file)?.trim().to_owned();
        let req = ContractScan { bytecode, name: Some(file.clone()), ..ContractScan::default() };
        let report: ScanReport = match (&remote, &local) {
            (Some(client), _) => client.scan_contract(&req).await?,
            (None, Some(analyzer)) => analyzer.scan_contract(&req)?,
            (None, None) => return Err("no analyzer".into()),
        };
        for f in report.findings.iter().filter(|f| f.severity >= Severity::High) {
            blocking += 1;
            // GitHub Actions annotation; plain text elsewhere.
            println!("::error title={}::{file}: {}", f.rule_id, f.message);
        }
    }
    if blocking > 0 {
        eprintln!("{blocking} high or critical finding(s): failing the build");
        return Ok(ExitCode::from(1));
    }
    eprintln!("no high or critical findings in {} file(s)", files.len());
    Ok(ExitCode::SUCCESS)
}
