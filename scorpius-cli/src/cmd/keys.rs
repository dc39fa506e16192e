//! `scorpius keys generate|public`: the Ed25519 key that signs reports (`--sign`), kept in
//! the user config directory (`report-signing.key`, mode 0600, never printed).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use scorpius_core::audit::{checkpoint::NoteSigner, log::load_or_create_key};

use crate::exit;

/// `scorpius keys …`
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create the report-signing key (once; an existing key is never replaced) and print its
    /// public key.
    Generate,
    /// Print the public key (verifier key) that checks signed reports.
    Public,
}

/// Path of the report-signing key.
pub fn key_path() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "scorpius")
        .map(|d| d.config_dir().join("report-signing.key"))
        .context("no home directory to keep the key in")
}

/// The report-signing key, which must exist.
pub fn signer() -> Result<NoteSigner> {
    let path = key_path()?;
    if !path.exists() {
        return Err(exit::usage(format!(
            "no report-signing key at {}: run `scorpius keys generate` first",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    NoteSigner::from_private_key(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Runs a keys subcommand.
pub fn run(cmd: &KeysCommand) -> Result<u8> {
    let path = key_path()?;
    match cmd {
        KeysCommand::Generate => {
            if path.exists() {
                return Err(exit::usage(format!(
                    "a report-signing key already exists at {} (it is never replaced; move it away first)",
                    path.display()
                )));
            }
            let signer = load_or_create_key(&path, || {
                let mut id = [0u8; 8];
                let _ = getrandom::fill(&mut id);
                format!("scorpius.local/reports/{}", hex::encode(id))
            })
            .with_context(|| format!("creating {}", path.display()))?;
            eprintln!("Created the report-signing key {} (mode 0600). Its public key:", path.display());
            println!("{}", signer.verifier().encode());
            Ok(exit::OK)
        }
        KeysCommand::Public => {
            println!("{}", signer()?.verifier().encode());
            Ok(exit::OK)
        }
    }
}
