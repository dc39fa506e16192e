//! `scorpius scan tx`.

use anyhow::Result;
use scorpius_core::tx::{self, TxInput};

use super::CommonArgs;
use crate::{cli::GlobalArgs, output};

/// Arguments of `scorpius scan tx`. Give `--to` (and optionally `--data`, `--value`,
/// `--from`), `--data` alone for a contract creation, `--raw`, or `--json`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).multiple(true).args(["to", "data", "raw", "json"]))]
pub struct Args {
    /// Recipient address (omit with --data for a contract creation).
    #[arg(long, value_name = "ADDR")]
    pub to: Option<String>,
    /// Calldata as hex.
    #[arg(long, value_name = "HEX")]
    pub data: Option<String>,
    /// Native value in wei (decimal or 0x hex).
    #[arg(long, value_name = "WEI")]
    pub value: Option<String>,
    /// Sender address.
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// A signed raw transaction (legacy, EIP-2930, EIP-1559, EIP-4844 or EIP-7702) as hex.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["to", "data", "value", "from", "json"])]
    pub raw: Option<String>,
    /// An eth_sendTransaction params object (or the request holding it) from FILE, or - for stdin.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["to", "data", "value", "from"])]
    pub json: Option<String>,
    /// The site that asked for the transaction (URL or host), checked for phishing.
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,
    /// The wallet's transfer history (JSON, see docs/intel.md) to check recipients for address
    /// poisoning.
    #[arg(long, value_name = "FILE")]
    pub history: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the scan.
pub fn run(args: &Args, global: &GlobalArgs) -> Result<u8> {
    let mut settings = args.common.settings(global, args.origin.clone())?;
    if let Some(path) = &args.history {
        let history = scorpius_core::intel::poisoning::History::from_json(&output::read_input(path, "history")?)?;
        let known = scorpius_core::intel::bundled::known_tokens(settings.ctx.chain.id)?;
        settings.ctx.history = Some(std::sync::Arc::new((history, known)));
    }
    let input = if let Some(raw) = &args.raw {
        TxInput::from_raw(raw)?
    } else if let Some(path) = &args.json {
        TxInput::from_json(&output::read_input(path, "transaction JSON")?)?
    } else {
        TxInput::from_fields(args.from.as_deref(), args.to.as_deref(), args.data.as_deref(), args.value.as_deref())?
    };
    let report = tx::analyze(&input, &settings.ctx);
    super::finish(&report, &settings, &args.common)
}
