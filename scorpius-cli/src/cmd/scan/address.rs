//! `scorpius scan address ADDR`.

use std::time::Instant;

use anyhow::Result;
use scorpius_core::{
    evm::parse,
    intel::screen,
    model::{ScanKind, ScanReport, Subject},
};
use serde_json::json;

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
    let started = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let ctx = &settings.ctx;
    let findings = screen::screen_all(ctx, [(address, "address", "address".to_owned())]);
    let mut labels = Vec::new();
    if let Some(index) = &ctx.intel {
        for r in index.lookup(ctx.chain.id, &address) {
            let ds = index.dataset(&r);
            labels.push(json!({
                "labels": r.labels, "name": r.name, "dataset": ds.name, "dataset_version": ds.version,
                "chain": r.chain, "delisted_at": r.delisted_at, "confidence": r.confidence,
            }));
        }
    }
    let subject = json!({
        "type": "address",
        "address": address.to_checksum(None),
        "labels": labels,
        "note": if labels.is_empty() { "no dataset knows this address: unknown, which is not the same as safe" } else { "" },
    });
    let report = ScanReport::new(
        ScanKind::Address,
        address.to_checksum(None),
        &ctx.chain,
        findings,
        Subject::json(subject),
        started,
        clock.elapsed(),
        screen::datasets_used(ctx),
    );
    super::finish(&report, &settings, &args.common)
}
