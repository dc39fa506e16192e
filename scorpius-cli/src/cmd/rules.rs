//! `scorpius rules [ID] [--format table|json|markdown]`.

use anyhow::Result;
use scorpius_core::rules;

use crate::{exit, output, render};

/// How to print rules.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RulesFormat {
    /// A table (the default on a terminal).
    Table,
    /// JSON.
    Json,
    /// The Markdown document committed as docs/rules.md.
    Markdown,
}

/// Arguments of `scorpius rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show this rule in full.
    pub id: Option<String>,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, short)]
    pub format: Option<RulesFormat>,
}

/// Prints the registry or one rule.
pub fn run(args: &Args) -> Result<u8> {
    let format = args.format.unwrap_or(match output::resolve_format(None, None) {
        output::Format::Table => RulesFormat::Table,
        output::Format::Json => RulesFormat::Json,
    });
    let selected: Vec<rules::Rule> = match &args.id {
        Some(id) => vec![
            *rules::find(id)
                .ok_or_else(|| exit::usage(format!("unknown rule id `{id}`; `scorpius rules` lists them")))?,
        ],
        None => rules::ALL.to_vec(),
    };
    let text = match (format, &args.id) {
        (RulesFormat::Json, Some(_)) => serde_json::to_string_pretty(&selected[0])?,
        (RulesFormat::Json, None) => serde_json::to_string_pretty(&selected)?,
        (RulesFormat::Markdown, None) => rules::render_markdown(),
        (RulesFormat::Markdown | RulesFormat::Table, Some(_)) => render::rule(&selected[0]),
        (RulesFormat::Table, None) => render::rules(&selected),
    };
    output::emit(&text, None)?;
    Ok(exit::OK)
}
