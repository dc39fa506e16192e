//! Where the CLI keeps and finds threat intelligence: the bundled datasets plus the user's
//! local store (`<data dir>/intel.sqlite`, or `$SCORPIUS_DATA_DIR/intel.sqlite`).

use std::{path::PathBuf, sync::Arc, time::Instant};

use anyhow::{Context as _, Result};
use scorpius_core::intel::{IntelIndex, bundled, store::IntelStore};

/// The data directory: `$SCORPIUS_DATA_DIR`, else the platform's (e.g. `~/.local/share/scorpius`).
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SCORPIUS_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "scorpius")
        .map(|d| d.data_dir().to_path_buf())
        .context("no home directory to keep data in: set SCORPIUS_DATA_DIR")
}

/// Path of the intel store.
pub fn store_path() -> Result<PathBuf> {
    Ok(data_dir()?.join("intel.sqlite"))
}

/// Opens the store, creating the data directory and database if needed.
pub fn open_store() -> Result<IntelStore> {
    let path = store_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    IntelStore::open(&path).with_context(|| format!("opening {}", path.display()))
}

/// Opens the store only if it exists (scans never create it).
pub fn existing_store() -> Result<Option<IntelStore>> {
    let path = store_path()?;
    if !path.is_file() {
        return Ok(None);
    }
    IntelStore::open(&path).with_context(|| format!("opening {}", path.display())).map(Some)
}

/// The full address index: bundled datasets plus user datasets.
pub fn load_index() -> Result<Arc<IntelIndex>> {
    let t = Instant::now();
    let mut index = bundled::address_index();
    if let Some(store) = existing_store()? {
        store.load_into(&mut index)?;
    }
    tracing::debug!(addresses = index.address_count(), elapsed_ms = t.elapsed().as_secs_f64() * 1e3, "intel loaded");
    Ok(Arc::new(index))
}

/// The phishing-domain index: bundled lists plus the user's imported domain datasets.
pub fn load_domains() -> Result<Arc<scorpius_core::intel::domain::DomainIndex>> {
    let t = Instant::now();
    let mut extra = Vec::new();
    if let Some(store) = existing_store()? {
        let entries = store.entries(None)?;
        for info in store.datasets()? {
            let mine: Vec<_> = entries
                .iter()
                .filter(|(d, e)| {
                    *d == info.name && e.kind == scorpius_core::intel::EntryKind::Domain && e.labels.any_malicious()
                })
                .map(|(_, e)| e)
                .collect();
            if !mine.is_empty() {
                extra.push((scorpius_core::intel::store::to_tsv(mine), info.as_ref()));
            }
        }
    }
    let index = bundled::domain_index(&extra)?;
    tracing::debug!(elapsed_ms = t.elapsed().as_secs_f64() * 1e3, "domain lists loaded");
    Ok(Arc::new(index))
}
