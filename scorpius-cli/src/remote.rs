//! Talking to a `scorpius-server`: which server, which API key, and the SDK client for them.
//!
//! The server is `--server URL`, else `SCORPIUS_SERVER`, else the one of the last
//! `scorpius login`. The key is `SCORPIUS_API_KEY` when set, else the one `scorpius login`
//! stored for that server: in the OS keyring (service `scorpius`, account = the server URL),
//! or — where there is no keyring, such as headless Linux without a Secret Service — in
//! `<config dir>/scorpius/credentials.json`, readable only by the user (0600). Keys are never
//! printed or logged; `SCORPIUS_KEYRING=off` skips the keyring.

use std::{collections::BTreeMap, fs, io::Write as _, path::PathBuf, time::Duration};

use anyhow::{Context as _, Result};
use scorpius_sdk::{ApiKey, Client, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::exit;

/// The keyring service name.
const SERVICE: &str = "scorpius";

/// `<config dir>/scorpius`, where the credentials file lives.
pub fn config_dir() -> Result<PathBuf> {
    directories::ProjectDirs::from("", "", "scorpius")
        .map(|d| d.config_dir().to_path_buf())
        .context("no home directory to keep credentials in: set SCORPIUS_API_KEY instead")
}

/// Path of the credentials file.
pub fn credentials_path() -> Result<PathBuf> {
    Ok(config_dir()?.join("credentials.json"))
}

/// The credentials file: the default server, and keys of servers whose key is not in a
/// keyring.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// The server of the last login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_server: Option<String>,
    /// Per server URL: where its key is.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerEntry>,
}

/// One server's entry.
#[derive(Default, Serialize, Deserialize)]
pub struct ServerEntry {
    /// `keyring` or `file`.
    pub store: String,
    /// The key, when `store` is `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ServerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEntry").field("store", &self.store).finish_non_exhaustive()
    }
}

impl Credentials {
    /// Reads the file (absent: empty).
    pub fn load() -> Result<Self> {
        let path = credentials_path()?;
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| exit::usage(format!("{} is not a credentials file: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file atomically with mode 0600 (created that way, never readable by others).
    pub fn save(&self) -> Result<PathBuf> {
        let path = credentials_path()?;
        let dir = path.parent().context("credentials path has no directory")?;
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!(".credentials.json.{}", std::process::id()));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// A server URL as typed, normalised: scheme and host lower-case, no trailing slash.
pub fn normalize_server(raw: &str) -> Result<String> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| exit::usage(format!("--server: `{raw}` is not a URL ({e}); e.g. https://scorpius.example.com")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(exit::usage(format!("--server: `{raw}` must be an http or https URL with a host")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(exit::usage(
            "--server: put no credentials or query in the URL; the key goes through `scorpius login`",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn keyring_enabled() -> bool {
    !std::env::var("SCORPIUS_KEYRING").is_ok_and(|v| v.eq_ignore_ascii_case("off") || v == "0")
}

/// Stores `key` for `server` in the keyring, or says why it could not.
pub fn keyring_store(server: &str, key: &ApiKey) -> Result<(), String> {
    if !keyring_enabled() {
        return Err("the keyring is turned off (SCORPIUS_KEYRING=off)".into());
    }
    let entry = keyring::Entry::new(SERVICE, server).map_err(|e| e.to_string())?;
    entry.set_password(key.expose()).map_err(|e| e.to_string())?;
    // Some stores accept a write they cannot read back (no unlocked collection): check.
    match entry.get_password() {
        Ok(back) if back == key.expose() => Ok(()),
        Ok(_) => Err("the keyring returned another value than the one stored".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn keyring_get(server: &str) -> Option<ApiKey> {
    if !keyring_enabled() {
        return None;
    }
    let entry = keyring::Entry::new(SERVICE, server).ok()?;
    match entry.get_password() {
        Ok(k) => Some(ApiKey::new(k)),
        Err(keyring::Error::NoEntry) => None,
        Err(e) => {
            tracing::debug!("keyring unavailable: {e}");
            None
        }
    }
}

/// Deletes the keyring entry of `server`; whether there was one.
pub fn keyring_delete(server: &str) -> bool {
    if !keyring_enabled() {
        return false;
    }
    keyring::Entry::new(SERVICE, server).and_then(|e| e.delete_credential()).is_ok()
}

/// Where a key came from (for messages; never the key itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `SCORPIUS_API_KEY`.
    Env,
    /// The OS keyring.
    Keyring,
    /// The credentials file.
    File,
}

/// The server to use: the flag, else the last login's.
pub fn resolve_server(flag: Option<&str>) -> Result<String> {
    if let Some(s) = flag.filter(|s| !s.trim().is_empty()) {
        return normalize_server(s);
    }
    Credentials::load()?.default_server.ok_or_else(|| {
        exit::usage("no server: pass --server URL (or set SCORPIUS_SERVER), or run `scorpius login --server URL` first")
    })
}

/// The API key for `server`.
pub fn resolve_key(server: &str) -> Result<(ApiKey, KeySource)> {
    if let Some(k) = std::env::var("SCORPIUS_API_KEY").ok().filter(|k| !k.trim().is_empty()) {
        return Ok((ApiKey::new(k), KeySource::Env));
    }
    let creds = Credentials::load()?;
    if let Some(entry) = creds.servers.get(server) {
        if let Some(k) = &entry.api_key {
            return Ok((ApiKey::new(k.clone()), KeySource::File));
        }
        if let Some(k) = keyring_get(server) {
            return Ok((k, KeySource::Keyring));
        }
    } else if let Some(k) = keyring_get(server) {
        return Ok((k, KeySource::Keyring));
    }
    Err(exit::usage(format!("no API key for {server}: run `scorpius login --server {server}` or set SCORPIUS_API_KEY")))
}

/// An SDK client for `server` with `key`.
pub fn client(server: &str, key: Option<ApiKey>) -> Result<Client> {
    let mut b = Client::builder()
        .base_url(server)
        .timeout(Duration::from_secs(60))
        .retry(RetryPolicy::default())
        .user_agent(format!("scorpius-cli/{}", env!("CARGO_PKG_VERSION")));
    if let Some(k) = key {
        b = b.api_key(k);
    }
    b.build().map_err(|e| exit::usage(e.to_string()))
}

/// The client for `--server` (or the default) with its stored key.
pub fn connect(flag: Option<&str>) -> Result<Client> {
    let server = resolve_server(flag)?;
    let (key, _) = resolve_key(&server)?;
    client(&server, Some(key))
}

/// Runs a future to completion on a small runtime (the CLI is otherwise synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    Ok(rt.block_on(f))
}

/// An SDK error for the CLI: the server's refusals of the request (4xx but 429) are bad
/// input (exit 2); rate limits, server faults and the network are operational (exit 3).
pub fn error(e: scorpius_sdk::Error) -> anyhow::Error {
    match e.status() {
        Some(401) => exit::usage(format!("{e}: run `scorpius login` with a valid key, or set SCORPIUS_API_KEY")),
        Some(s) if (400..500).contains(&s) && s != 429 => exit::usage(e.to_string()),
        _ => anyhow::Error::new(e),
    }
}
