//! `scorpius scan domain URL|DOMAIN`.

use anyhow::Result;

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
    let report = domains.scan(&args.site, &settings.ctx.chain).map_err(|e| crate::exit::usage(e.to_string()))?;
    settings.ctx.domains = Some(domains);
    settings.ctx.origin = Some(args.site.clone());
    super::finish(&report, &settings, &args.common)
}
