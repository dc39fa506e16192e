//! `scorpius scan …`: shared output flags and the path from a core report to stdout and an
//! exit code.

pub mod address;
pub mod contract;
pub mod domain;
pub mod remote;
pub mod signature;
pub mod targets;
pub mod tx;
pub mod wallet;

use std::path::PathBuf;

use anyhow::Result;
use scorpius_core::{chain::Chain, context::Context, model::ScanReport, model::Severity};

use crate::{
    cli::GlobalArgs,
    config::{FlagOverrides, Resolved, Sources},
    exit,
    output::{self, ReportFormat},
};

/// `scorpius scan [KIND …]`
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ScanArgs {
    /// What to scan; without one, every `[[targets]]` entry of scorpius.toml (or --config FILE)
    /// is scanned into one report.
    #[command(subcommand)]
    pub command: Option<ScanCommand>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `scorpius scan <kind>`
#[derive(Debug, clap::Subcommand)]
pub enum ScanCommand {
    /// Check a transaction: from fields, a signed raw transaction, or eth_sendTransaction JSON.
    Tx(tx::Args),
    /// Check a signature request: EIP-712 typed data, personal_sign, or eth_sign.
    Signature(signature::Args),
    /// Screen one address against threat intelligence (sanctions, drainers, phishing, …).
    Address(address::Args),
    /// Check a website (URL or domain) for phishing and look-alikes of well-known sites.
    Domain(domain::Args),
    /// Analyse contracts: bytecode files, Foundry/Hardhat artifacts and build output, project
    /// directories, or deployed addresses (with --rpc-url; proxies are resolved).
    Contract(contract::Args),
    /// Scan a wallet: standing approvals (ERC-20, NFT, Permit2), EIP-7702 delegation, flagged
    /// counterparties and address poisoning, over JSON-RPC or from a snapshot.
    Wallet(wallet::Args),
}

/// Flags shared by every scan.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Chain the wallet is on: a name (ethereum, optimism, bsc, polygon, base, arbitrum,
    /// sepolia, local) or a chain id. Default from configuration: ethereum.
    #[arg(long, value_name = "NAME|ID")]
    pub chain: Option<String>,
    /// Output format: table, json, markdown, html, csv, sarif or pdf (default: table on a
    /// terminal, JSON otherwise). PDF is binary: on a terminal it needs -o FILE.
    #[arg(long, short)]
    pub format: Option<ReportFormat>,
    /// Write the result to FILE (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with code 1 when a finding at or above this severity exists
    /// (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Do not consult threat intelligence (bundled datasets and imported feeds).
    #[arg(long)]
    pub no_intel: bool,
    /// Do not save this scan in the local history (`scorpius history`).
    #[arg(long)]
    pub no_save: bool,
    /// Run the scan on this scorpius-server (the key of `scorpius login`, or SCORPIUS_API_KEY):
    /// same output and exit codes as a local scan.
    #[arg(long, value_name = "URL", env = "SCORPIUS_SERVER")]
    pub server: Option<String>,
}

/// Runs a scan subcommand, or the project's targets.
pub fn run(args: ScanArgs, global: &GlobalArgs) -> Result<u8> {
    let Some(cmd) = args.command else {
        if args.common.server.as_deref().is_some_and(|s| !s.trim().is_empty()) {
            tracing::warn!("--server / SCORPIUS_SERVER is not used here: project targets are scanned locally");
        }
        return targets::run(&args.common, global);
    };
    if let Some(server) = remote::server_of(&cmd) {
        return remote::run(&cmd, server, global);
    }
    match cmd {
        ScanCommand::Tx(a) => tx::run(&a, global),
        ScanCommand::Signature(a) => signature::run(&a, global),
        ScanCommand::Address(a) => address::run(&a, global),
        ScanCommand::Domain(a) => domain::run(&a, global),
        ScanCommand::Contract(a) => contract::run(&a, global),
        ScanCommand::Wallet(a) => wallet::run(&a, global),
    }
}

/// Settings a scan needs, after configuration layering.
pub struct Settings {
    pub ctx: Context,
    pub format: ReportFormat,
    pub fail_on: Option<Severity>,
    /// Severity overrides and ignores from the configuration.
    pub policy: scorpius_core::policy::Policy,
    /// RPC endpoints by chain from the configuration (`[rpc]`).
    pub rpc: std::collections::BTreeMap<String, String>,
}

impl CommonArgs {
    /// Resolves configuration layers with these flags on top.
    pub fn settings(&self, global: &GlobalArgs, origin: Option<String>) -> Result<Settings> {
        self.settings_with(global, origin, !self.no_intel)
    }

    /// Like [`CommonArgs::settings`], choosing whether to load the address intel.
    pub fn settings_with(&self, global: &GlobalArgs, origin: Option<String>, load_intel: bool) -> Result<Settings> {
        let general = self.format.and_then(ReportFormat::general);
        let flags = FlagOverrides { chain: self.chain.clone(), format: general, fail_on: self.fail_on };
        let resolved = Resolved::load(&Sources::discover(global.config.as_deref()), flags)?;
        let chain: Chain = resolved.chain()?;
        let mut ctx = Context::new(chain);
        if load_intel {
            ctx.intel = Some(crate::intel::load_index()?);
        }
        if let Some(origin) = &origin {
            let domains = crate::intel::load_domains()?;
            // Validate the origin up front: a malformed --origin is bad input, not "unknown".
            domains.check(origin).map_err(|e| crate::exit::usage(format!("--origin: {e}")))?;
            ctx.domains = Some(domains);
        }
        ctx.origin = origin;
        Ok(Settings {
            ctx,
            format: match self.format {
                Some(f) if f.general().is_none() => f,
                _ => output::resolve_format(resolved.config.format, self.output.as_deref()).into(),
            },
            fail_on: resolved.config.fail_on,
            policy: resolved.config.policy,
            rpc: resolved.config.rpc,
        })
    }
}

/// Prints the report and returns the exit code for it.
pub fn finish(report: &ScanReport, settings: &Settings, common: &CommonArgs) -> Result<u8> {
    finish_all(std::slice::from_ref(report), settings, common)
}

/// Applies the policy to each report, prints them as one document, saves each in the history
/// and returns the exit code for the most severe finding.
pub fn finish_all(reports: &[ScanReport], settings: &Settings, common: &CommonArgs) -> Result<u8> {
    // The project policy (severity overrides, ignores) shapes what is reported and gated.
    let mut shaped = reports.to_vec();
    if !settings.policy.is_empty() {
        let today = time::OffsetDateTime::now_utc().date();
        for r in &mut shaped {
            for w in settings.policy.apply(r, today)? {
                tracing::warn!("{w}");
            }
        }
    }
    for report in &shaped {
        tracing::info!(scan_id = %report.scan_id, findings = report.findings.len(), risk = report.risk.score, "scan finished");
    }
    if let [report] = shaped.as_slice() {
        crate::audit::note(
            Some(&report.target),
            serde_json::json!({
                "scan_id": report.scan_id.to_string(),
                "chain_id": report.chain.id,
                "risk_score": report.risk.score,
                "risk_level": report.risk.level.as_str(),
                "findings": report.findings.len(),
            }),
        );
    } else {
        crate::audit::note(
            None,
            serde_json::json!({
                "scan_ids": shaped.iter().map(|r| r.scan_id.to_string()).collect::<Vec<_>>(),
                "findings": shaped.iter().map(|r| r.findings.len()).sum::<usize>(),
            }),
        );
    }
    super::report::render_all(&shaped, settings.format)?.emit(common.output.as_ref())?;
    if !common.no_save {
        // The result is already out; a history that cannot be written must not change it.
        match super::history::open() {
            Ok(mut h) => {
                for r in &shaped {
                    if let Err(e) = h.save(r) {
                        tracing::warn!("could not save this scan in the history: {e:#}");
                    }
                }
            }
            Err(e) => tracing::warn!("could not save this scan in the history: {e:#}"),
        }
    }
    let worst = shaped.iter().filter_map(ScanReport::max_severity).max();
    let failed = settings.fail_on.is_some_and(|t| worst.is_some_and(|m| m >= t));
    Ok(if failed { exit::FINDINGS } else { exit::OK })
}
