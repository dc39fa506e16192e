//! `scorpius history list|show|delete`: the scans saved in `<data dir>/history.sqlite`
//! (every scan is saved unless `--no-save`).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use scorpius_core::{
    model::RiskLevel,
    report::history::{History, HistoryFilter},
};

use crate::{
    exit,
    output::{self, Format, ReportFormat},
};

/// `scorpius history …`
#[derive(Debug, clap::Subcommand)]
pub enum HistoryCommand {
    /// Saved scans, newest first.
    List {
        /// Only this kind: transaction, signature, address, domain, contract, wallet.
        #[arg(long)]
        kind: Option<String>,
        /// Only this target (an address, a domain, …; case-insensitive).
        #[arg(long)]
        target: Option<String>,
        /// Only scans since this time: RFC 3339 or YYYY-MM-DD (UTC).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only scans whose risk level is at least this: low, medium, high, critical.
        #[arg(long)]
        level: Option<String>,
        /// At most N scans.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
    },
    /// Show a saved scan again, in any report format.
    Show {
        /// The scan id (or a unique prefix of it).
        id: String,
        /// table, json, markdown, html, csv, sarif or pdf (default: table on a terminal, JSON
        /// otherwise; PDF on a terminal needs -o FILE).
        #[arg(long, short)]
        format: Option<ReportFormat>,
        /// Write to FILE (atomically) instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Delete a saved scan.
    Delete {
        /// The scan id (or a unique prefix of it).
        id: String,
    },
}

/// Path of the history database.
pub fn path() -> Result<PathBuf> {
    Ok(crate::intel::data_dir()?.join("history.sqlite"))
}

/// Opens the history, creating the data directory if needed.
pub fn open() -> Result<History> {
    let p = path()?;
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    History::open(&p).with_context(|| format!("opening the scan history {}", p.display()))
}

fn parse_level(s: &str) -> Result<RiskLevel> {
    match s.to_ascii_lowercase().as_str() {
        "none" => Ok(RiskLevel::None),
        "low" => Ok(RiskLevel::Low),
        "medium" => Ok(RiskLevel::Medium),
        "high" => Ok(RiskLevel::High),
        "critical" => Ok(RiskLevel::Critical),
        _ => Err(exit::usage(format!("--level: `{s}` is not a risk level (none, low, medium, high, critical)"))),
    }
}

/// Runs a history subcommand.
pub fn run(cmd: HistoryCommand) -> Result<u8> {
    match cmd {
        HistoryCommand::List { kind, target, since, level, limit, format } => {
            let kinds = scorpius_core::model::ScanKind::ALL.map(scorpius_core::model::ScanKind::as_str);
            if let Some(k) = &kind
                && !kinds.contains(&k.as_str())
            {
                return Err(exit::usage(format!("--kind: `{k}` is not a scan kind ({})", kinds.join(", "))));
            }
            let filter = HistoryFilter {
                kind,
                target,
                since_ms: since.as_deref().map(super::audit::parse_since).transpose()?,
                min_level: level.as_deref().map(parse_level).transpose()?,
                limit,
            };
            let entries = if path()?.exists() { open()?.list(&filter)? } else { Vec::new() };
            let text = match output::resolve_format(format, None) {
                Format::Json => serde_json::to_string_pretty(&entries)? + "\n",
                Format::Table if entries.is_empty() => "No saved scans.\n".to_owned(),
                Format::Table => {
                    let mut t = Table::new();
                    t.load_preset(UTF8_FULL_CONDENSED);
                    t.set_header(["scan id", "started (UTC)", "kind", "target", "chain", "risk", "findings"]);
                    for e in &entries {
                        t.add_row([
                            e.scan_id.clone(),
                            e.started_at.clone(),
                            e.kind.clone(),
                            e.target.clone(),
                            e.chain_id.to_string(),
                            format!(
                                "{} ({}){}",
                                e.risk_score,
                                e.risk_level,
                                if e.complete { "" } else { ", incomplete" }
                            ),
                            e.findings.to_string(),
                        ]);
                    }
                    format!("{t}\n")
                }
            };
            output::emit(&text, None)?;
            Ok(exit::OK)
        }
        HistoryCommand::Show { id, format, output: out } => {
            let report = if path()?.exists() { open()?.get(&id)? } else { None };
            let Some(report) = report else {
                return Err(exit::usage(format!("no saved scan with id {id} (see `scorpius history list`)")));
            };
            let format = format.unwrap_or_else(|| output::resolve_format(None, out.as_deref()).into());
            super::report::render_all(std::slice::from_ref(&report), format)?.emit(out.as_ref())?;
            Ok(exit::OK)
        }
        HistoryCommand::Delete { id } => {
            let deleted = if path()?.exists() { open()?.delete(&id)? } else { None };
            let Some(full) = deleted else {
                return Err(exit::usage(format!("no saved scan with id {id} (see `scorpius history list`)")));
            };
            crate::audit::note(Some(&full), serde_json::json!({}));
            eprintln!("Deleted scan {full}.");
            Ok(exit::OK)
        }
    }
}
