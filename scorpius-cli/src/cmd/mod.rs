//! One module per subcommand, each with its `Args` and a `run()` returning the exit code.

pub mod completions;
pub mod config;
pub mod intel;
pub mod rules;
pub mod scan;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<u8> {
    let global = cli.global;
    match cli.command {
        Command::Scan(c) => scan::run(c, &global),
        Command::Rules(a) => rules::run(&a),
        Command::Config(c) => config::run(&c, &global),
        Command::Completions(a) => completions::run(&a),
        Command::Intel(c) => intel::run(c),
    }
}
