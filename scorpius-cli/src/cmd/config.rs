//! `scorpius config show`.

use anyhow::Result;

use crate::{
    cli::GlobalArgs,
    config::{FlagOverrides, Resolved, Sources},
    exit,
    output::{self, Format},
    render,
};

/// `scorpius config …`
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print every setting, its effective value and the layer it came from.
    Show {
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
    },
}

/// Runs `config` subcommands.
pub fn run(cmd: &ConfigCommand, global: &GlobalArgs) -> Result<u8> {
    let ConfigCommand::Show { format } = *cmd;
    let sources = Sources::discover(global.config.as_deref());
    let resolved = Resolved::load(&sources, FlagOverrides::default())?;
    let entries = resolved.entries();
    let text = match output::resolve_format(format, None) {
        Format::Table => {
            let mut t = render::config(&entries);
            t.push_str(&format!(
                "\nuser config file: {}\nproject config file: {}\n",
                sources.user_file.as_ref().map_or("(none)".to_owned(), |p| p.display().to_string()),
                sources.project_file.as_ref().map_or("(none found)".to_owned(), |p| p.display().to_string()),
            ));
            t
        }
        Format::Json => {
            let map: serde_json::Map<_, _> =
                entries.into_iter().map(|(k, v, s)| (k, serde_json::json!({ "value": v, "source": s }))).collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "settings": map,
                "user_config_file": sources.user_file,
                "project_config_file": sources.project_file,
            }))?
        }
    };
    output::emit(&text, None)?;
    Ok(exit::OK)
}
