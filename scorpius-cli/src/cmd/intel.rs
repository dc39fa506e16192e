//! `scorpius intel status|lookup|import|export|remove`.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use scorpius_core::{
    chain::Chain,
    intel::{
        DatasetInfo, EntryKind, Labels,
        import::{self, FeedFormat, ImportDefaults},
        store::{self, ImportMeta},
        tsv,
    },
};
use sha2::Digest as _;

use crate::{
    exit,
    output::{self, Format},
};

/// `scorpius intel …`
#[derive(Debug, clap::Subcommand)]
pub enum IntelCommand {
    /// List the datasets (bundled and imported), versions, counts and licences.
    Status {
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
    },
    /// Every label known for an address or a domain, with its dataset.
    Lookup {
        /// An address (0x…) or a domain.
        value: String,
        /// Only labels that apply to this chain (name or id).
        #[arg(long, default_value = "ethereum")]
        chain: String,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
    },
    /// Import a threat feed into the local store (all rows or none; re-importing is safe).
    Import {
        /// The feed file.
        file: PathBuf,
        /// Feed format: tsv, csv, json, txt, scamsniffer, eth-phishing-detect.
        #[arg(long)]
        format: FeedFormat,
        /// Dataset name to store it under (kebab-case, e.g. scamsniffer-addresses).
        #[arg(long)]
        source: String,
        /// Label for rows that carry none (repeatable), e.g. phishing, drainer.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Chain id for rows that carry none (default: any chain).
        #[arg(long)]
        chain: Option<String>,
        /// Dataset version (default: today's date).
        #[arg(long, value_name = "VERSION")]
        dataset_version: Option<String>,
        /// Licence of the feed, recorded with the dataset.
        #[arg(long, default_value = "unknown")]
        licence: String,
    },
    /// Write imported entries as intel TSV.
    Export {
        /// Only this dataset.
        #[arg(long)]
        source: Option<String>,
        /// Write to FILE instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Remove an imported dataset.
    Remove {
        /// The dataset name.
        #[arg(long)]
        source: String,
    },
}

/// Runs `intel` subcommands.
pub fn run(cmd: IntelCommand) -> Result<u8> {
    match cmd {
        IntelCommand::Status { format } => status(format),
        IntelCommand::Lookup { value, chain, format } => lookup(&value, &chain, format),
        IntelCommand::Import { file, format, source, labels, chain, dataset_version, licence } => {
            import(&file, format, &source, &labels, chain.as_deref(), dataset_version, licence)
        }
        IntelCommand::Export { source, output } => export(source.as_deref(), output.as_ref()),
        IntelCommand::Remove { source } => {
            let mut store = crate::intel::existing_store()?
                .ok_or_else(|| exit::usage(format!("no user dataset named `{source}` (nothing has been imported)")))?;
            let n = store.remove(&source).map_err(|e| match e {
                store::StoreError::UnknownDataset(_) => exit::usage(e.to_string()),
                other => anyhow::Error::new(other),
            })?;
            eprintln!("removed dataset `{source}` ({n} entries)");
            Ok(exit::OK)
        }
    }
}

fn all_datasets() -> Result<Vec<DatasetInfo>> {
    let mut all = scorpius_core::intel::bundled::datasets().to_vec();
    all.push(scorpius_core::intel::bundled::corrections_dataset());
    if let Some(store) = crate::intel::existing_store()? {
        all.extend(store.datasets()?);
    }
    Ok(all)
}

fn status(format: Option<Format>) -> Result<u8> {
    let datasets = all_datasets()?;
    let text = match output::resolve_format(format, None) {
        Format::Json => serde_json::to_string_pretty(&datasets)?,
        Format::Table => {
            let rows: Vec<Vec<String>> = datasets
                .iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        d.version.clone(),
                        d.row_count.to_string(),
                        d.licence.clone(),
                        if d.bundled {
                            "bundled".to_owned()
                        } else {
                            format!("imported {}", d.imported_at.as_deref().unwrap_or(""))
                        },
                        d.source.clone(),
                    ]
                })
                .collect();
            crate::render::rows(&["dataset", "version", "entries", "licence", "origin", "source"], rows)
        }
    };
    output::emit(&text, None)?;
    Ok(exit::OK)
}

fn lookup(value: &str, chain: &str, format: Option<Format>) -> Result<u8> {
    let chain: Chain = chain.parse()?;
    let v = value.trim();
    let is_address = v.len() > 2 && v.starts_with("0x") && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let mut hits = Vec::new();
    if is_address {
        let address = scorpius_core::evm::parse::address("value", v)?;
        let index = crate::intel::load_index()?;
        for r in index.lookup(chain.id, &address) {
            let ds = index.dataset(&r);
            hits.push(serde_json::json!({
                "value": address.to_checksum(None),
                "kind": "address",
                "chain": r.chain,
                "labels": r.labels,
                "name": r.name,
                "reference": r.reference,
                "confidence": r.confidence,
                "first_seen": r.first_seen,
                "delisted_at": r.delisted_at,
                "dataset": ds.name,
                "dataset_version": ds.version,
            }));
        }
    } else {
        let domain = tsv::normalise_value(EntryKind::Domain, v).map_err(|p| exit::usage(format!("value: {p}")))?;
        let domain = domain.trim_start_matches("www.");
        let datasets = all_datasets()?;
        for (name, text) in scorpius_core::intel::bundled::FILES {
            for line in text.lines().skip(1).filter(|l| l.starts_with("domain\t")) {
                let mut cols = line.split('\t');
                if cols.nth(2) == Some(domain) {
                    let row = tsv::parse_line(line, 0)?;
                    hits.push(domain_hit(&datasets, name, &row));
                }
            }
        }
        if let Some(store) = crate::intel::existing_store()? {
            for (ds, e) in store.entries(None)? {
                if e.kind == EntryKind::Domain && e.value == domain {
                    hits.push(domain_hit(&datasets, &ds, &e.as_row()));
                }
            }
        }
    }
    let text = match output::resolve_format(format, None) {
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({ "value": v, "chain": chain.id, "hits": hits }))?
        }
        Format::Table if hits.is_empty() => {
            format!("{v}: no labels in any dataset (unknown, which is not the same as safe)\n")
        }
        Format::Table => {
            let rows = hits
                .iter()
                .map(|h| {
                    let labels: Vec<String> = h["labels"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l.as_str().map(str::to_owned))
                        .collect();
                    vec![
                        if labels.is_empty() { "(listed, no label)".to_owned() } else { labels.join(", ") },
                        h["name"].as_str().unwrap_or("").to_owned(),
                        format!(
                            "{} {}",
                            h["dataset"].as_str().unwrap_or(""),
                            h["dataset_version"].as_str().unwrap_or("")
                        ),
                        h["chain"].as_u64().map_or("any".to_owned(), |c| c.to_string()),
                        h["delisted_at"].as_str().map_or(String::new(), |d| format!("delisted {d}")),
                    ]
                })
                .collect();
            crate::render::rows(&["labels", "name", "dataset", "chain", "note"], rows)
        }
    };
    output::emit(&text, None)?;
    Ok(exit::OK)
}

fn domain_hit(datasets: &[DatasetInfo], dataset: &str, row: &tsv::Row<'_>) -> serde_json::Value {
    let version = datasets.iter().find(|x| x.name == dataset).map(|d| d.version.clone()).unwrap_or_default();
    serde_json::json!({
        "value": row.value,
        "kind": "domain",
        "chain": row.chain,
        "labels": row.labels,
        "name": row.name,
        "reference": row.reference,
        "confidence": row.confidence,
        "dataset": dataset,
        "dataset_version": version,
    })
}

fn import(
    file: &PathBuf,
    format: FeedFormat,
    source: &str,
    labels: &[String],
    chain: Option<&str>,
    version: Option<String>,
    licence: String,
) -> Result<u8> {
    if source.is_empty()
        || !source.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return Err(exit::usage(format!("--source `{source}`: use lowercase letters, digits, `-` and `.`")));
    }
    if all_datasets()?.iter().any(|d| d.bundled && d.name == source) {
        return Err(exit::usage(format!("--source `{source}` is a bundled dataset; pick another name")));
    }
    let bytes = std::fs::read(file).map_err(|e| exit::usage(format!("{}: {e}", file.display())))?;
    let text =
        String::from_utf8(bytes.clone()).map_err(|_| exit::usage(format!("{}: not UTF-8 text", file.display())))?;
    let mut default_labels = Labels::default();
    for l in labels {
        default_labels.insert(l.parse()?);
    }
    if default_labels.0 == 0 && matches!(format, FeedFormat::Scamsniffer | FeedFormat::EthPhishingDetect) {
        default_labels.insert(scorpius_core::intel::Label::Phishing);
    }
    let chain = chain.map(|c| c.parse::<Chain>()).transpose()?.map(|c| c.id);
    let entries =
        import::parse(format, &text, &ImportDefaults { labels: default_labels, chain }).map_err(|errors| {
            let mut msg = format!("{}: {} bad row(s), nothing imported", file.display(), errors.len());
            for e in errors.iter().take(20) {
                msg.push_str(&format!("\n  {}:{}: {}", file.display(), e.line, e.problem));
            }
            if errors.len() > 20 {
                msg.push_str(&format!("\n  … and {} more", errors.len() - 20));
            }
            exit::usage(msg)
        })?;
    if entries.iter().any(|e| e.labels.0 == 0) {
        return Err(exit::usage(format!(
            "{}: some rows carry no label; pass --label (e.g. --label phishing) to say what the feed lists",
            file.display()
        )));
    }
    let now = time::OffsetDateTime::now_utc();
    let meta = ImportMeta {
        name: source.to_owned(),
        version: version.unwrap_or_else(|| now.date().to_string()),
        licence,
        source: file.display().to_string(),
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        imported_at: now.format(&time::format_description::well_known::Rfc3339).context("formatting time")?,
    };
    let outcome = crate::intel::open_store()?.import(&meta, &entries)?;
    output::emit(&serde_json::to_string_pretty(&serde_json::json!({ "dataset": source, "result": outcome }))?, None)?;
    Ok(exit::OK)
}

fn export(source: Option<&str>, out: Option<&PathBuf>) -> Result<u8> {
    let store = crate::intel::open_store()?;
    if let Some(s) = source
        && !store.datasets()?.iter().any(|d| d.name == s)
    {
        return Err(exit::usage(format!("--source `{s}`: no such imported dataset")));
    }
    let entries: Vec<_> = store.entries(source)?.into_iter().map(|(_, e)| e).collect();
    output::emit(&store::to_tsv(&entries), out)?;
    Ok(exit::OK)
}
