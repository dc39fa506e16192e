//! Threat intelligence: labelled addresses and domains from versioned datasets, and the
//! detectors that use them (address screening, the domain check, address poisoning).
//!
//! Every hit carries the dataset name and version it came from, so a finding can always say
//! why an address or site was flagged.

pub mod bundled;
pub mod domain;
pub mod import;
pub mod index;
pub mod poisoning;
pub mod screen;
#[cfg(feature = "store")]
pub mod store;
pub mod tsv;

pub use index::{DatasetInfo, IntelIndex};

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Error;

/// What an intel entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A 20-byte account or contract address.
    Address,
    /// A website domain.
    Domain,
    /// keccak256 of runtime bytecode.
    BytecodeHash,
    /// A 4-byte function selector.
    Selector,
}

impl EntryKind {
    /// The snake_case name used in files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Address => "address",
            EntryKind::Domain => "domain",
            EntryKind::BytecodeHash => "bytecode_hash",
            EntryKind::Selector => "selector",
        }
    }
}

impl FromStr for EntryKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [EntryKind::Address, EntryKind::Domain, EntryKind::BytecodeHash, EntryKind::Selector]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::input("kind", format!("`{s}` is not one of address, domain, bytecode_hash, selector"))
            })
    }
}

macro_rules! labels {
    ($( $(#[$m:meta])* $variant:ident = ($name:literal, $malicious:literal) ),* $(,)?) => {
        /// A label on an intel entry. Malicious labels produce findings; benign ones give context
        /// (and known-good spenders lower the risk of approvals).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        #[repr(u8)]
        pub enum Label { $( $(#[$m])* $variant ),* }

        impl Label {
            /// Every label, in bit order.
            pub const ALL: &'static [Label] = &[$(Label::$variant),*];

            /// The kebab-case name used in files, flags and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(Label::$variant => $name),* }
            }

            /// The label with exactly this kebab-case name (the fast path for bundled data).
            pub fn from_name(name: &str) -> Option<Label> {
                match name { $($name => Some(Label::$variant),)* _ => None }
            }

            /// Whether the label marks a threat (as opposed to benign context).
            pub fn is_malicious(self) -> bool {
                match self { $(Label::$variant => $malicious),* }
            }
        }
    };
}

labels! {
    /// On a sanctions list.
    Sanctioned = ("sanctioned", true),
    /// Phishing site or address.
    Phishing = ("phishing", true),
    /// Drainer contract or wallet.
    Drainer = ("drainer", true),
    /// Exploiter or attack contract.
    Exploit = ("exploit", true),
    /// Legitimate spender that was exploited.
    ExploitedSpender = ("exploited-spender", true),
    /// Mixing service.
    Mixer = ("mixer", true),
    /// Scam or counterfeit token.
    ScamToken = ("scam-token", true),
    /// Address-poisoning sender.
    Poisoner = ("poisoner", true),
    /// Scam EIP-7702 delegate (sweeper).
    ScamDelegate = ("scam-delegate", true),
    /// Spender deprecated by its project.
    DeprecatedSpender = ("deprecated-spender", true),
    /// Centralised exchange.
    Exchange = ("exchange", false),
    /// Bridge.
    Bridge = ("bridge", false),
    /// Decentralised exchange.
    Dex = ("dex", false),
    /// Known-good approval spender.
    KnownSpender = ("known-spender", false),
    /// Legitimate EIP-7702 wallet delegate.
    WalletDelegate = ("wallet-delegate", false),
    /// Known-good token contract.
    Token = ("token", false),
    /// DeFi protocol contract.
    Defi = ("defi", false),
    /// MEV bot.
    MevBot = ("mev-bot", false),
    /// A curated correction: the address was wrongly labelled malicious before (Forta's
    /// scam-detector false-positive list). Suppresses heuristic (confidence < 1) malicious labels.
    FalsePositive = ("false-positive", false),
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some(l) = Label::from_name(t) {
            return Ok(l);
        }
        Label::ALL.iter().copied().find(|l| l.as_str().eq_ignore_ascii_case(t)).ok_or_else(|| {
            let names: Vec<_> = Label::ALL.iter().map(|l| l.as_str()).collect();
            Error::input("label", format!("`{s}` is not a label; use one of {}", names.join(", ")))
        })
    }
}

/// A set of labels as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Labels(pub u32);

impl Labels {
    /// Whether `label` is in the set.
    pub fn contains(self, label: Label) -> bool {
        self.0 & (1 << label as u8) != 0
    }

    /// Adds a label.
    pub fn insert(&mut self, label: Label) {
        self.0 |= 1 << label as u8;
    }

    /// The labels in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Label> {
        Label::ALL.iter().copied().filter(move |l| self.contains(*l))
    }

    /// Whether any label is malicious.
    pub fn any_malicious(self) -> bool {
        self.iter().any(Label::is_malicious)
    }

    /// Parses a comma-separated list (empty means no labels).
    pub fn parse_list(s: &str) -> Result<Self, Error> {
        let mut out = Labels::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            out.insert(part.parse()?);
        }
        Ok(out)
    }
}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// An owned intel entry (user imports, the local store, exports).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// What the value is.
    pub kind: EntryKind,
    /// Chain id, `None` for any chain.
    pub chain: Option<u64>,
    /// Normalised value.
    pub value: String,
    /// Labels.
    pub labels: Labels,
    /// 0.0–1.0.
    pub confidence: f32,
    /// ISO date first seen.
    pub first_seen: Option<String>,
    /// ISO date last seen.
    pub last_seen: Option<String>,
    /// ISO date delisted.
    pub delisted_at: Option<String>,
    /// Entity name.
    pub name: String,
    /// Source reference.
    pub reference: String,
}

impl Entry {
    /// Copies a parsed row.
    pub fn from_row(r: &tsv::Row<'_>) -> Self {
        Entry {
            kind: r.kind,
            chain: r.chain,
            value: r.value.to_string(),
            labels: r.labels,
            confidence: r.confidence,
            first_seen: r.first_seen.map(str::to_owned),
            last_seen: r.last_seen.map(str::to_owned),
            delisted_at: r.delisted_at.map(str::to_owned),
            name: r.name.to_owned(),
            reference: r.reference.to_owned(),
        }
    }

    /// Borrows as a row (for the index and TSV export).
    pub fn as_row(&self) -> tsv::Row<'_> {
        tsv::Row {
            kind: self.kind,
            chain: self.chain,
            value: std::borrow::Cow::Borrowed(&self.value),
            labels: self.labels,
            confidence: self.confidence,
            first_seen: self.first_seen.as_deref(),
            last_seen: self.last_seen.as_deref(),
            delisted_at: self.delisted_at.as_deref(),
            name: &self.name,
            reference: &self.reference,
        }
    }
}
