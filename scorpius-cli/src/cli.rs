//! The command-line interface: every subcommand and flag. Each subcommand's arguments live
//! with its implementation in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd;

/// Scorpius: find out what a transaction or signature really does before you sign it.
#[derive(Debug, Parser)]
#[command(name = "scorpius", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage or bad input, 3 operational failure."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Project configuration file to use instead of the nearest scorpius.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a transaction, signature request, address, site, contract or wallet for risk;
    /// without a subcommand, scan every `[[targets]]` of the project's scorpius.toml.
    Scan(cmd::scan::ScanArgs),
    /// List the detection rules, or show one in full.
    Rules(cmd::rules::Args),
    /// Show the effective configuration and where each value came from.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Threat intelligence: datasets, lookups, imports.
    #[command(subcommand)]
    Intel(cmd::intel::IntelCommand),
    /// Saved scans as a report (JSON, Markdown, HTML, CSV, table), optionally signed; `report
    /// verify` checks a signed report.
    Report(cmd::report::Args),
    /// The key that signs reports.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Saved scans: list, show again in any format, delete.
    #[command(subcommand)]
    History(cmd::history::HistoryCommand),
    /// The tamper-evident audit trail: list, verify, prove, export, redact.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Collect a wallet's on-chain facts into a snapshot file for offline scans.
    #[command(subcommand)]
    Snapshot(cmd::snapshot::SnapshotCommand),
    /// Unsigned transactions that revoke a wallet's risky permissions (never signed or sent).
    #[command(subcommand)]
    Revoke(cmd::revoke::RevokeCommand),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// Check an API key against a scorpius-server and store it (OS keyring, else a 0600
    /// credentials file) for `scan --server` and `admin`.
    Login(cmd::login::LoginArgs),
    /// Forget the stored API key of a server.
    Logout(cmd::login::LogoutArgs),
    /// Administer a scorpius-server: API keys, the audit trail, usage and bills, webhooks.
    #[command(subcommand)]
    Admin(cmd::admin::AdminCommand),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own consistency checks (duplicate flags, bad defaults) for every subcommand.
    #[test]
    fn command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
