//! `scorpius`: parse arguments, set up logging and configuration, dispatch to a command, and
//! map the outcome to an exit code (see [`exit`]). All analysis lives in `scorpius-core`.

mod audit;
mod cli;
mod cmd;
mod config;
mod exit;
mod intel;
mod output;
mod remote;
mod render;
mod rpc;
mod wallet;

use std::process::ExitCode;

use clap::Parser as _;

/// Scans allocate many small strings (evidence, checksummed addresses); mimalloc serves them
/// faster than the system allocator (figures in docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    match cmd::run(cli) {
        Ok(code) => exit::exit(code),
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: "reading x: No such file".
            eprintln!("error: {err:#}");
            exit::exit(exit::code_for(&err))
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    // RUST_LOG wins when set; -v/-q pick the default otherwise.
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The HTTP transport's debug spans carry the full RPC URL, which may hold an API key:
    // never below info for it, whatever RUST_LOG says.
    for cap in ["alloy_transport_http=info", "reqwest=info", "scorpius_sdk=info"] {
        if let Ok(d) = cap.parse() {
            filter = filter.add_directive(d);
        }
    }
    // Colour only on a terminal (and not with NO_COLOR): escape codes would litter CI logs and
    // files that stderr is redirected to.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .init();
}
