//! Layered configuration, resolved in one place: built-in defaults < user config file
//! (`~/.config/scorpius/config.toml`) < project `scorpius.toml` (found in the current directory
//! or its ancestors, or given with `--config`) < `SCORPIUS_*` environment variables < flags.
//! Every value remembers where it came from, for `scorpius config show`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use figment::{
    Figment, Metadata, Profile, Provider,
    providers::{Env, Format as _, Serialized, Toml},
    value::{Dict, Map},
};
use scorpius_core::{chain::Chain, model::Severity};
use serde::{Deserialize, Serialize};

use scorpius_core::policy::Policy;

use crate::output::Format;

/// Name of the project configuration file.
pub const PROJECT_FILE: &str = "scorpius.toml";

/// Keys read from the environment (as `SCORPIUS_<KEY>`).
const KEYS: &[&str] = &["chain", "format", "fail_on"];

/// The effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Chain name or id used when a command gets no `--chain`.
    #[serde(deserialize_with = "name_or_id")]
    pub chain: String,
    /// Output format when a command gets no `--format` (table on a terminal, JSON otherwise
    /// when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Exit with code 1 when a finding at or above this severity exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<Severity>,
    /// Severity overrides and ignores applied to every scan (`[policy]`; files only).
    #[serde(default, skip_serializing_if = "Policy::is_empty")]
    pub policy: Policy,
    /// JSON-RPC endpoints by chain name or id (`[rpc]`; files only): `base = "https://…"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rpc: BTreeMap<String, String>,
    /// What `scorpius scan` with no subcommand scans (`[[targets]]`; files only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
}

/// One `[[targets]]` entry: a wallet, or a contract (a deployed address, an artifact file or a
/// build/project directory, relative to the file that lists it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A wallet address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    /// A contract: deployed address or path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// Chain name or id (default: the configured chain).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_name_or_id")]
    pub chain: Option<String>,
    /// First block of a wallet's history to search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_block: Option<u64>,
}

fn opt_name_or_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    name_or_id(d).map(Some)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            chain: "ethereum".to_owned(),
            format: None,
            fail_on: None,
            policy: Policy::default(),
            rpc: BTreeMap::new(),
            targets: Vec::new(),
        }
    }
}

/// Accepts a chain as a string or as a bare integer id: `chain = 137` in TOML and
/// `SCORPIUS_CHAIN=137` (which figment parses as a number) mean the same as `--chain 137`.
fn name_or_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct NameOrId;
    impl serde::de::Visitor<'_> for NameOrId {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a chain name or id")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            // Negative ids reach the chain parser, which rejects them with the usual message.
            Ok(v.to_string())
        }
    }
    d.deserialize_any(NameOrId)
}

/// Values given as flags; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FlagOverrides {
    /// `--chain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// `--format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// `--fail-on`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<Severity>,
}

/// A serializable layer with a fixed, human-readable name for `config show`.
struct Named<T>(&'static str, T);

impl<T: Serialize> Provider for Named<T> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.0)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.1).data()
    }
}

const DEFAULT_SOURCE: &str = "default";
const FLAG_SOURCE: &str = "command-line flag";

/// Where the configuration files are looked for.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The user config file, if a config directory exists on this platform.
    pub user_file: Option<PathBuf>,
    /// The project file: `--config`, or the nearest `scorpius.toml`.
    pub project_file: Option<PathBuf>,
    /// Whether `project_file` was given explicitly (it must then exist).
    pub explicit_project: bool,
}

impl Sources {
    /// Default locations, from `--config` (if any) and the current directory.
    pub fn discover(explicit: Option<&Path>) -> Self {
        let user_file = directories::ProjectDirs::from("", "", "scorpius").map(|d| d.config_dir().join("config.toml"));
        let project_file = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => std::env::current_dir().ok().and_then(|cwd| find_upwards(&cwd, PROJECT_FILE)),
        };
        Sources { user_file, project_file, explicit_project: explicit.is_some() }
    }
}

fn find_upwards(start: &Path, name: &str) -> Option<PathBuf> {
    start.ancestors().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The resolved configuration plus the figment that remembers each value's source.
#[derive(Debug)]
pub struct Resolved {
    /// The effective values.
    pub config: Config,
    figment: Figment,
}

impl Resolved {
    /// Resolves every layer.
    pub fn load(sources: &Sources, flags: FlagOverrides) -> Result<Self> {
        let mut fig = Figment::from(Named(DEFAULT_SOURCE, Config::default()));
        if let Some(user) = sources.user_file.as_ref().filter(|p| p.is_file()) {
            fig = fig.merge(Toml::file_exact(user));
        }
        if let Some(project) = &sources.project_file {
            if sources.explicit_project && !project.is_file() {
                let problem = if project.is_dir() { "is a directory, not a file" } else { "file not found" };
                return Err(crate::exit::usage(format!("--config {}: {problem}", project.display())));
            }
            fig = fig.merge(Toml::file_exact(project));
        }
        fig = fig.merge(Env::prefixed("SCORPIUS_").only(KEYS)).merge(Named(FLAG_SOURCE, flags));
        let config: Config = fig
            .extract()
            // figment names keys with its profile ("default.chain"); users never see profiles.
            .map_err(|e| {
                crate::exit::usage(format!("invalid configuration: {e}").replace("key \"default.", "key \""))
            })?;
        let resolved = Resolved { config, figment: fig };
        // Validate values whose type the TOML layer cannot check.
        resolved
            .chain()
            .with_context(|| format!("chain = {:?} (from {})", resolved.config.chain, resolved.source_of("chain")))?;
        resolved.config.policy.validate().with_context(|| format!("[policy] in {}", resolved.source_of("policy")))?;
        for (i, t) in resolved.config.targets.iter().enumerate() {
            let at = || format!("targets[{i}] (in {})", resolved.source_of("targets"));
            match (&t.wallet, &t.contract) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => return Err(crate::exit::usage(format!("{}: give exactly one of `wallet` or `contract`", at()))),
            }
            if let Some(c) = &t.chain {
                c.parse::<Chain>().with_context(at)?;
            }
            if t.from_block.is_some() && t.wallet.is_none() {
                return Err(crate::exit::usage(format!("{}: `from_block` applies to wallets only", at())));
            }
        }
        for (key, url) in &resolved.config.rpc {
            key.parse::<Chain>().with_context(|| format!("[rpc] key `{key}` (in {})", resolved.source_of("rpc")))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(crate::exit::usage(format!(
                    "[rpc] {key} (in {}): the endpoint must be an http:// or https:// URL",
                    resolved.source_of("rpc")
                )));
            }
        }
        Ok(resolved)
    }

    /// The configured chain.
    pub fn chain(&self) -> Result<Chain> {
        Ok(self.config.chain.parse::<Chain>()?)
    }

    /// A human-readable description of where `key` got its value.
    pub fn source_of(&self, key: &str) -> String {
        let Some(md) = self.figment.find_metadata(key) else {
            return "default".to_owned();
        };
        match (&*md.name, &md.source) {
            (_, Some(figment::Source::File(path))) => format!("file {}", path.display()),
            (name, _) if name.contains("environment") => {
                format!("environment variable SCORPIUS_{}", key.to_uppercase())
            }
            (name, _) => name.to_owned(),
        }
    }

    /// `(key, value, source)` for every configuration key; `None` when unset.
    pub fn entries(&self) -> Vec<(String, Option<String>, String)> {
        let value = |k: &str| match k {
            "chain" => Some(self.config.chain.clone()),
            "format" => self.config.format.map(|f| f.to_string()),
            "fail_on" => self.config.fail_on.map(|s| s.to_string()),
            _ => None,
        };
        let mut out: Vec<_> = KEYS.iter().map(|k| (k.to_string(), value(k), self.source_of(k))).collect();
        let policy =
            (!self.config.policy.is_empty()).then(|| serde_json::to_string(&self.config.policy).unwrap_or_default());
        out.push(("policy".to_owned(), policy, self.source_of("policy")));
        // Endpoints often carry API keys: shown redacted, like everywhere else.
        let rpc = (!self.config.rpc.is_empty()).then(|| {
            self.config
                .rpc
                .iter()
                .map(|(k, u)| {
                    let shown =
                        url::Url::parse(u).map(|u| crate::rpc::redact(&u)).unwrap_or_else(|_| "(invalid URL)".into());
                    format!("{k}={shown}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        });
        out.push(("rpc".to_owned(), rpc, self.source_of("rpc")));
        out
    }
}
