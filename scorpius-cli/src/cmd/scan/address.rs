//! `scorpius scan address ADDR`.

use anyhow::Result;
use scorpius_core::{evm::parse, intel::screen};

use super::CommonArgs;
use crate::cli::GlobalArgs;

/// Arguments of `scorpius scan address`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address (0x + 40 hex; mixed case must carry a valid EIP-55 checksum).
    pub address: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the scan.
pub fn run(args: &Args, global: &GlobalArgs) -> Result<u8> {
    if args.common.no_intel {
        return Err(crate::exit::usage("scan address needs threat intelligence: drop --no-intel"));
    }
    let address = parse::address("address", &args.address)?;
    let settings = args.common.settings(global, None)?;
    let report = screen::scan_address(&settings.ctx, address);
    super::finish(&report, &settings, &args.common)
}
