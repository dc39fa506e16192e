//! One module per subcommand, each with its `Args` and a `run()` returning the exit code.

pub mod admin;
pub mod audit;
pub mod completions;
pub mod config;
pub mod history;
pub mod intel;
pub mod keys;
pub mod login;
pub mod report;
pub mod revoke;
pub mod rules;
pub mod scan;
pub mod snapshot;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command line, recording scans and changes in the audit log.
pub fn run(cli: Cli) -> Result<u8> {
    let global = cli.global;
    let audited = audit_label(&cli.command);
    let result = match cli.command {
        Command::Scan(c) => scan::run(c, &global),
        Command::Rules(a) => rules::run(&a),
        Command::Config(c) => config::run(&c, &global),
        Command::Completions(a) => completions::run(&a),
        Command::Intel(c) => intel::run(c),
        Command::Audit(c) => audit::run(c),
        Command::History(c) => history::run(c),
        Command::Report(a) => report::run(a),
        Command::Keys(c) => keys::run(&c),
        Command::Snapshot(c) => snapshot::run(c, &global),
        Command::Revoke(c) => revoke::run(c, &global),
        Command::Login(a) => login::login(&a),
        Command::Logout(a) => login::logout(&a),
        Command::Admin(c) => admin::run(c),
    };
    if let Some((action, resource)) = audited {
        crate::audit::record(action, &resource, &result);
    }
    result
}

/// The audit action and default resource of a command that scans or changes state; `None`
/// for read-only commands.
fn audit_label(command: &Command) -> Option<(&'static str, String)> {
    use intel::IntelCommand;
    use scan::ScanCommand;
    match command {
        Command::Scan(s) => Some(match &s.command {
            Some(ScanCommand::Tx(_)) => ("scan.transaction", String::new()),
            Some(ScanCommand::Signature(_)) => ("scan.signature", String::new()),
            Some(ScanCommand::Address(a)) => ("scan.address", a.address.clone()),
            Some(ScanCommand::Domain(a)) => ("scan.domain", a.site.clone()),
            Some(ScanCommand::Contract(_)) => ("scan.contract", String::new()),
            Some(ScanCommand::Wallet(a)) => ("scan.wallet", a.address.clone()),
            None => ("scan.targets", String::new()),
        }),
        Command::Intel(IntelCommand::Import { source, .. }) => Some(("intel.import", source.clone())),
        Command::Intel(IntelCommand::Remove { source }) => Some(("intel.remove", source.clone())),
        Command::Audit(audit::AuditCommand::Export { output }) => Some(("audit.export", output.display().to_string())),
        Command::History(history::HistoryCommand::Delete { id }) => Some(("history.delete", id.clone())),
        Command::Report(a) if a.command.is_none() => {
            Some(("report.create", a.output.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "-".into())))
        }
        Command::Keys(keys::KeysCommand::Generate) => Some(("key.generate", "report-signing".to_owned())),
        Command::Login(a) => Some(("server.login", a.server.clone())),
        Command::Logout(_) => Some(("server.logout", String::new())),
        Command::Admin(admin::AdminCommand::Keys(k)) => match k {
            admin::KeysCommand::Create { role, .. } => Some(("server.key.create", role.to_string())),
            admin::KeysCommand::Rotate { id, .. } => Some(("server.key.rotate", id.clone())),
            admin::KeysCommand::Revoke { id, .. } => Some(("server.key.revoke", id.clone())),
            admin::KeysCommand::List { .. } => None,
        },
        _ => None,
    }
}
