//! `scorpius scan` with no subcommand: every `[[targets]]` entry of the project's
//! `scorpius.toml` (or `--config FILE`) — wallets and contracts — scanned into one document,
//! gated on the worst finding. Findings about a wallet or a deployed contract point at the line
//! of the file that declared the target, so SARIF and code-scanning tools can show them there.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use scorpius_core::{chain::Chain, evm::parse, model::ScanReport};

use super::CommonArgs;
use crate::{
    cli::GlobalArgs,
    config::{self, Sources},
    exit::usage,
};

/// Scans every target.
pub fn run(common: &CommonArgs, global: &GlobalArgs) -> Result<u8> {
    let sources = Sources::discover(global.config.as_deref());
    let mut settings = common.settings(global, None)?;
    let resolved = config::Resolved::load(&sources, config::FlagOverrides::default())?;
    let targets = resolved.config.targets;
    let file = sources.project_file.filter(|p| p.is_file());
    if targets.is_empty() {
        let where_ =
            file.as_ref().map_or_else(|| "no scorpius.toml found".to_owned(), |f| format!("{} has none", f.display()));
        return Err(usage(format!(
            "nothing to scan: give a kind (`scorpius scan wallet|contract|tx|… --help`) or list [[targets]] in \
             scorpius.toml ({where_})"
        )));
    }
    let base = file.as_ref().and_then(|f| f.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."));
    let text = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()).unwrap_or_default();
    let shown_file = file.as_ref().map(|f| display_path(f));
    let default_chain = settings.ctx.chain.clone();
    let mut reports = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let line = declaration_line(&text, i);
        let chain: Chain = match &t.chain {
            Some(c) => c.parse()?,
            None => default_chain.clone(),
        };
        let chain_explicit = t.chain.is_some() || common.chain.is_some();
        settings.ctx.chain = chain.clone();
        let label = t.wallet.as_deref().or(t.contract.as_deref()).unwrap_or_default();
        let what = || format!("targets[{i}] ({label})");
        let mut report: ScanReport = if let Some(w) = &t.wallet {
            let address = parse::address(&format!("targets[{i}].wallet"), w)?;
            let source = crate::wallet::Source {
                rpc_url: None,
                snapshot: None,
                from_block: t.from_block,
                chain: &chain,
                chain_explicit,
                rpc_table: &settings.rpc.clone(),
            };
            super::wallet::scan(address, &source, &mut settings.ctx).with_context(what)?
        } else {
            let c = t.contract.as_deref().unwrap_or_default();
            let is_address = c.len() == 42 && c.starts_with("0x");
            // Paths relative to the working directory where possible: findings name source
            // files by them, and code-scanning tools want repository-relative paths.
            let target = if is_address { c.to_owned() } else { display_path(&base.join(c)) };
            let rpc = if is_address {
                Some(crate::wallet::resolve_url(&crate::wallet::Source {
                    rpc_url: None,
                    snapshot: None,
                    from_block: None,
                    chain: &chain,
                    chain_explicit,
                    rpc_table: &settings.rpc,
                })?)
            } else {
                None
            };
            let r =
                super::contract::scan(&[target], rpc.as_deref(), chain_explicit, &mut settings).with_context(what)?;
            if !is_address {
                reports.push(r);
                continue;
            }
            r
        };
        // Wallet and deployed-contract findings point at the declaration.
        if let (Some(f), Some(line)) = (&shown_file, line) {
            for finding in &mut report.findings {
                let loc = finding.location.get_or_insert_with(Default::default);
                if loc.file.is_none() {
                    loc.file = Some(f.clone());
                    loc.start_line = Some(line);
                    loc.end_line = Some(line);
                }
            }
        }
        reports.push(report);
    }
    super::finish_all(&reports, &settings, common)
}

/// The 1-based line of the `i`-th `[[targets]]` header.
fn declaration_line(text: &str, i: usize) -> Option<u32> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[[targets]]"))
        .nth(i)
        .and_then(|(n, _)| u32::try_from(n + 1).ok())
}

/// The path relative to the current directory when it is below it (what code-scanning tools
/// expect), else as given.
fn display_path(p: &Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let cwd = std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok());
    match cwd.and_then(|c| abs.strip_prefix(&c).ok().map(Path::to_path_buf)) {
        Some(rel) => rel.display().to_string(),
        None => p.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_lines() {
        let text = "chain = \"local\"\n\n[[targets]]\nwallet = \"0x1\"\n  [[targets]]\ncontract = \"out\"\n";
        assert_eq!(declaration_line(text, 0), Some(3));
        assert_eq!(declaration_line(text, 1), Some(5));
        assert_eq!(declaration_line(text, 2), None);
    }
}
