//! `scorpius login --server URL` (check an API key against the server and store it) and
//! `scorpius logout`.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, Result};
use scorpius_sdk::{ApiKey, api::scans::ListQuery};

use crate::{
    exit,
    remote::{self, Credentials, ServerEntry},
};

/// Arguments of `scorpius login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server's base URL (e.g. https://scorpius.example.com).
    #[arg(long, value_name = "URL", env = "SCORPIUS_SERVER")]
    pub server: String,
    /// Read the API key from the first line of stdin instead of prompting for it.
    #[arg(long)]
    pub api_key_stdin: bool,
    /// Store the key in the 0600 credentials file, not the OS keyring.
    #[arg(long)]
    pub no_keyring: bool,
}

/// Arguments of `scorpius logout`.
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The server to forget (default: the one of the last login).
    #[arg(long, value_name = "URL", env = "SCORPIUS_SERVER")]
    pub server: Option<String>,
}

fn read_key(from_stdin: bool) -> Result<ApiKey> {
    let key = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the API key from stdin")?;
        line
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        dialoguer::Password::new().with_prompt("API key").interact().context("reading the API key")?
    } else {
        return Err(exit::usage("no terminal to ask for the API key on: pass --api-key-stdin and pipe it in"));
    };
    let key = ApiKey::new(key);
    if key.expose().is_empty() {
        return Err(exit::usage("the API key is empty"));
    }
    Ok(key)
}

/// Runs `scorpius login`.
pub fn login(args: &LoginArgs) -> Result<u8> {
    let server = remote::normalize_server(&args.server)?;
    let key = read_key(args.api_key_stdin)?;
    // Any role may list scans: a cheap check that the server knows the key.
    let client = remote::client(&server, Some(key.clone()))?;
    remote::block_on(client.list_scans(&ListQuery { limit: Some(1), ..ListQuery::default() }))?.map_err(|e| {
        if e.is_unauthorized() {
            exit::usage(format!("{server} refused this key: {e}"))
        } else {
            remote::error(e).context(format!("checking the key against {server}"))
        }
    })?;
    let mut creds = Credentials::load()?;
    let stored_in_keyring = if args.no_keyring {
        false
    } else {
        match remote::keyring_store(&server, &key) {
            Ok(()) => true,
            Err(why) => {
                eprintln!(
                    "No OS keyring is available ({why}).\nFalling back to the credentials file; on a headless \
                     machine you can instead set SCORPIUS_API_KEY in the environment."
                );
                false
            }
        }
    };
    let entry = if stored_in_keyring {
        ServerEntry { store: "keyring".into(), api_key: None }
    } else {
        ServerEntry { store: "file".into(), api_key: Some(key.expose().to_owned()) }
    };
    creds.servers.insert(server.clone(), entry);
    creds.default_server = Some(server.clone());
    let path = creds.save()?;
    if stored_in_keyring {
        eprintln!("Logged in to {server} as {}; the key is in the OS keyring.", key.hint());
    } else {
        eprintln!("Logged in to {server} as {}; the key is in {} (mode 0600).", key.hint(), path.display());
    }
    Ok(exit::OK)
}

/// Runs `scorpius logout`.
pub fn logout(args: &LogoutArgs) -> Result<u8> {
    let server = remote::resolve_server(args.server.as_deref())?;
    let mut creds = Credentials::load()?;
    let had_entry = creds.servers.remove(&server).is_some();
    let had_keyring = remote::keyring_delete(&server);
    if creds.default_server.as_deref() == Some(server.as_str()) {
        creds.default_server = None;
    }
    let path = creds.save()?;
    if had_entry || had_keyring {
        let from = if had_keyring { "the OS keyring".to_owned() } else { path.display().to_string() };
        eprintln!("Logged out of {server}: its key was removed from {from}.");
    } else {
        eprintln!("Not logged in to {server}: nothing to remove.");
    }
    if std::env::var_os("SCORPIUS_API_KEY").is_some() {
        eprintln!("Note: SCORPIUS_API_KEY is still set in this environment.");
    }
    Ok(exit::OK)
}
