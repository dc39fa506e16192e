//! `scorpius scan signature`.

use anyhow::Result;
use scorpius_core::signature::{self, SignatureRequest};

use super::CommonArgs;
use crate::{cli::GlobalArgs, output};

/// Arguments of `scorpius scan signature`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// File with the request, or - for stdin: eth_signTypedData_v4 JSON by default, the
    /// message with --personal, the 32-byte hash with --eth-sign.
    #[arg(value_name = "FILE|-")]
    pub input: String,
    /// The input is a personal_sign message (text, or 0x-prefixed hex bytes).
    #[arg(long, conflicts_with = "eth_sign")]
    pub personal: bool,
    /// The input is a raw 32-byte hash for eth_sign.
    #[arg(long)]
    pub eth_sign: bool,
    /// The site asking for the signature (URL or host), compared with the message's domain.
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the scan.
pub fn run(args: &Args, global: &GlobalArgs) -> Result<u8> {
    let settings = args.common.settings(global, args.origin.clone())?;
    let text = output::read_input(&args.input, "signature request")?;
    let request = if args.eth_sign {
        SignatureRequest::eth_sign(&text)?
    } else if args.personal {
        SignatureRequest::personal(&text)?
    } else {
        SignatureRequest::typed_data(&text)?
    };
    let report = signature::analyze(&request, &settings.ctx);
    super::finish(&report, &settings, &args.common)
}
