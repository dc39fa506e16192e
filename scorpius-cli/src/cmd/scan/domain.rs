//! `scorpius scan domain URL|DOMAIN`.

use std::time::Instant;

use anyhow::Result;
use scorpius_core::model::{ScanKind, ScanReport, Subject};

use super::CommonArgs;
use crate::cli::GlobalArgs;

/// Arguments of `scorpius scan domain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A URL (https://app.example.org/path) or a bare domain.
    pub site: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the check.
pub fn run(args: &Args, global: &GlobalArgs) -> Result<u8> {
    let mut settings = args.common.settings_with(global, None, false)?;
    let domains = crate::intel::load_domains()?;
    let started = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let check = domains.check(&args.site).map_err(|e| crate::exit::usage(e.to_string()))?;
    let findings = domains.findings(&check);
    settings.ctx.domains = Some(domains.clone());
    settings.ctx.origin = Some(args.site.clone());
    let report = ScanReport::new(
        ScanKind::Domain,
        check.host_unicode.clone(),
        &settings.ctx.chain,
        findings,
        Subject::json(serde_json::to_value(&check)?),
        started,
        clock.elapsed(),
        domains.datasets().to_vec(),
    );
    super::finish(&report, &settings, &args.common)
}
