//! Intel routes: `GET /v1/intel/{value}` (what the threat intelligence says about an address or
//! a domain) and `POST /v1/intel/import` (a tenant's own threat feed, in any format
//! `scorpius intel import` reads; the server keeps it per tenant, and that tenant's scans and
//! lookups then consult it beside the bundled datasets — no other tenant sees it).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::scan::{ChainSpec, ScanEnv};
use crate::{
    Error, Result,
    intel::{
        Entry, EntryKind, Labels, bundled,
        import::{self, FeedFormat, ImportDefaults},
        index::DatasetInfo,
        tsv,
    },
};

/// Query of `GET /v1/intel/{value}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct IntelQuery {
    /// Chain name or id for address lookups (default: ethereum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
}

/// What the intel knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntelAnswer {
    /// `address` or `domain`.
    pub kind: String,
    /// The value as normalised (checksummed address, host).
    pub value: String,
    /// Address records (labels, dataset, version, confidence) or the domain check.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub result: serde_json::Value,
}

/// The most bad rows quoted in an error.
const MAX_ROW_ERRORS: usize = 20;

/// An import request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IntelImport {
    /// Dataset name (lower-case letters, digits and `-`, 1–64 characters). Importing a name
    /// again replaces that dataset.
    pub dataset: String,
    /// `tsv`, `csv`, `json`, `txt`, `scamsniffer` or `eth-phishing-detect`.
    pub format: String,
    /// The feed's text.
    pub content: String,
    /// Labels for rows without labels (e.g. `["drainer"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Chain for rows without one (default: any chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSpec>,
    /// Version or date of the feed (default: the import time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A tenant dataset as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntelDataset {
    /// Name.
    pub dataset: String,
    /// Version.
    pub version: String,
    /// Entries (addresses and domains).
    pub entries: usize,
    /// Address entries.
    pub addresses: usize,
    /// Domain entries.
    pub domains: usize,
    /// sha256 of the imported text, hex.
    pub sha256: String,
    /// RFC 3339 import time.
    pub imported_at: String,
    /// Whether it replaced an earlier import of the same name (import responses only).
    #[serde(default)]
    pub replaced: bool,
}

/// A validated import: the dataset's description and its entries.
#[derive(Debug, Clone)]
pub struct PreparedImport {
    /// Its description.
    pub dataset: IntelDataset,
    /// The entries.
    pub entries: Vec<Entry>,
}

impl PreparedImport {
    /// The entries as intel TSV (how the server stores them).
    pub fn to_tsv(&self) -> String {
        let mut out = String::from(tsv::HEADER);
        out.push('\n');
        for e in &self.entries {
            out.push_str(&tsv::format_row(&e.as_row()));
            out.push('\n');
        }
        out
    }

    /// Reads back what [`PreparedImport::to_tsv`] wrote.
    ///
    /// # Errors
    /// A line that does not parse (the stored text was altered).
    pub fn from_tsv(dataset: IntelDataset, text: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            if !line.trim().is_empty() {
                entries.push(Entry::from_row(&tsv::parse_line(line, i + 1)?));
            }
        }
        Ok(PreparedImport { dataset, entries })
    }
}

impl IntelImport {
    /// Validates and parses the feed. A feed with any bad row is refused whole, naming the first
    /// bad rows by line.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn prepare(&self, imported_at: &str) -> Result<PreparedImport> {
        let name = self.dataset.trim();
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Error::input(
                "dataset",
                "a dataset name is 1–64 lower-case letters, digits and `-` (e.g. `team-blocklist`)",
            ));
        }
        let format: FeedFormat = self.format.parse().map_err(|_| {
            Error::input(
                "format",
                format!(
                    "`{}` is not a feed format: use tsv, csv, json, txt, scamsniffer or eth-phishing-detect",
                    self.format
                ),
            )
        })?;
        let labels = Labels::parse_list(&self.labels.join(",")).map_err(|e| Error::input("labels", e.to_string()))?;
        let chain = match &self.chain {
            None => None,
            Some(c) => Some(ChainSpec::resolve(Some(c))?.id),
        };
        let entries = import::parse(format, &self.content, &ImportDefaults { labels, chain }).map_err(|errors| {
            let shown: Vec<String> =
                errors.iter().take(MAX_ROW_ERRORS).map(|e| format!("line {}: {}", e.line, e.problem)).collect();
            let more = errors.len().saturating_sub(MAX_ROW_ERRORS);
            let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
            Error::input("content", format!("{} bad row(s): {}{tail}", errors.len(), shown.join("; ")))
        })?;
        if entries.is_empty() {
            return Err(Error::input("content", "the feed holds no entries"));
        }
        let addresses = entries.iter().filter(|e| e.kind == EntryKind::Address).count();
        let sha256 = hex::encode(Sha256::digest(self.content.as_bytes()));
        let version = self.version.clone().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| imported_at.to_owned());
        Ok(PreparedImport {
            dataset: IntelDataset {
                dataset: name.to_owned(),
                version,
                entries: entries.len(),
                addresses,
                domains: entries.len() - addresses,
                sha256,
                imported_at: imported_at.to_owned(),
                replaced: false,
            },
            entries,
        })
    }
}

/// The scan environment of a tenant with its own datasets: the bundled address index plus the
/// tenant's addresses, the bundled domain lists plus the tenant's domains. With no datasets
/// it is `base` itself.
///
/// # Errors
/// When an entry cannot be indexed (too many datasets or entries).
pub fn tenant_env(base: &ScanEnv, datasets: &[PreparedImport]) -> Result<ScanEnv> {
    if datasets.is_empty() {
        return Ok(base.clone());
    }
    let mut index = base.intel.as_deref().cloned().unwrap_or_default();
    let mut domains = Vec::new();
    for d in datasets {
        let info = DatasetInfo {
            name: d.dataset.dataset.clone(),
            version: d.dataset.version.clone(),
            source: "tenant import (POST /v1/intel/import)".to_owned(),
            licence: String::new(),
            row_count: d.entries.len(),
            sha256: d.dataset.sha256.clone(),
            bundled: false,
            imported_at: Some(d.dataset.imported_at.clone()),
        };
        index.add_rows(&info, d.entries.iter().map(Entry::as_row))?;
        // Malicious domains join the deny lists (as `scorpius intel` does with local imports).
        let mut text = String::new();
        for e in d.entries.iter().filter(|e| e.kind == EntryKind::Domain && e.labels.any_malicious()) {
            text.push_str(&tsv::format_row(&e.as_row()));
            text.push('\n');
        }
        if !text.is_empty() {
            domains.push((format!("{}\n{text}", tsv::HEADER), info.as_ref()));
        }
    }
    let domain_index =
        if domains.is_empty() { base.domains.clone() } else { Some(Arc::new(bundled::domain_index(&domains)?)) };
    Ok(ScanEnv { intel: Some(Arc::new(index)), domains: domain_index })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(format: &str, content: &str) -> IntelImport {
        IntelImport {
            dataset: "team-list".into(),
            format: format.into(),
            content: content.into(),
            labels: vec!["drainer".into()],
            ..IntelImport::default()
        }
    }

    #[test]
    fn parses_a_feed_with_defaults() {
        let p = req("txt", "0x00000000000000000000000000000000000000aa\nevil.example # note\n")
            .prepare("2026-11-28T00:00:00Z")
            .unwrap();
        assert_eq!((p.dataset.entries, p.dataset.addresses, p.dataset.domains), (2, 1, 1));
        assert!(p.entries.iter().all(|e| e.labels.iter().any(|l| l.as_str() == "drainer")));
        assert_eq!(p.dataset.version, "2026-11-28T00:00:00Z");
    }

    #[test]
    fn stored_text_round_trips_and_feeds_a_tenant_env() {
        let p =
            req("txt", "0x00000000000000000000000000000000000000aa\nevil-tenant-only.example\n").prepare("t").unwrap();
        let back = PreparedImport::from_tsv(p.dataset.clone(), &p.to_tsv()).unwrap();
        assert_eq!(back.entries, p.entries);
        let base = ScanEnv {
            intel: Some(Arc::new(bundled::address_index())),
            domains: Some(Arc::new(bundled::domain_index(&[]).unwrap())),
        };
        let a: alloy_primitives::Address = "0x00000000000000000000000000000000000000aa".parse().unwrap();
        assert!(!base.intel.as_ref().unwrap().contains(1, &a));
        let env = tenant_env(&base, &[back]).unwrap();
        assert!(env.intel.as_ref().unwrap().contains(1, &a));
        let before = base.domains.as_ref().unwrap().check("evil-tenant-only.example").unwrap();
        let after = env.domains.as_ref().unwrap().check("evil-tenant-only.example").unwrap();
        assert_ne!(serde_json::to_value(&before).unwrap(), serde_json::to_value(&after).unwrap());
    }

    #[test]
    fn refuses_bad_input_naming_the_field() {
        let field = |r: IntelImport| match r.prepare("t") {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(IntelImport { dataset: "Bad Name".into(), ..req("txt", "x.example") }), "dataset");
        assert_eq!(field(req("yaml", "x.example")), "format");
        assert_eq!(field(IntelImport { labels: vec!["nonsense".into()], ..req("txt", "x.example") }), "labels");
        assert_eq!(field(req("txt", "# only a comment\n")), "content");
        assert_eq!(field(req("json", "{\"not\": \"an array\"}")), "content");
    }
}
