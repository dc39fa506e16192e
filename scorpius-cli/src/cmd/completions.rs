//! `scorpius completions SHELL`.

use anyhow::Result;
use clap::CommandFactory as _;
use clap_complete::Shell;

/// Arguments of `scorpius completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for.
    pub shell: Shell,
}

/// Writes the completion script to stdout.
pub fn run(args: &Args) -> Result<u8> {
    let mut cmd = crate::cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "scorpius", &mut buf);
    crate::output::emit(&String::from_utf8_lossy(&buf), None)?;
    Ok(crate::exit::OK)
}
