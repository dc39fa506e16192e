//! The local intel store: user-imported datasets in SQLite (in the user data directory),
//! with a datasets table (name, version, sha256 of the imported file, licence, row count,
//! imported-at). Imports are one transaction per file: all rows or none.
//!
//! Scans never query SQLite per address: [`IntelStore::load_into`] copies every entry into
//! the in-memory [`IntelIndex`] once.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{DatasetInfo, Entry, EntryKind, IntelIndex, Labels, tsv};

/// Storage failures (I/O, corruption, locking). These are operational, not bad input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("intel store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A dataset that does not exist.
    #[error("no user dataset named `{0}` (bundled datasets cannot be removed)")]
    UnknownDataset(String),
    /// Stored data that does not parse (the file was edited or corrupted).
    #[error("intel store: corrupt row in dataset `{dataset}`: {problem}")]
    Corrupt {
        /// The dataset.
        dataset: String,
        /// What is wrong.
        problem: String,
    },
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// A new dataset.
    Imported {
        /// Rows stored.
        rows: usize,
    },
    /// The same file (same sha256) was already imported under this name: nothing changed.
    Unchanged {
        /// Rows stored.
        rows: usize,
    },
    /// The dataset existed with other content and was replaced.
    Replaced {
        /// Rows before.
        previous_rows: usize,
        /// Rows now.
        rows: usize,
    },
}

/// Metadata given with an import.
#[derive(Debug, Clone)]
pub struct ImportMeta {
    /// Dataset name (`--source`).
    pub name: String,
    /// Version or date; defaults to the import date.
    pub version: String,
    /// Licence, if known.
    pub licence: String,
    /// Where the file came from (its path).
    pub source: String,
    /// sha256 of the file bytes, hex.
    pub sha256: String,
    /// RFC 3339 import time.
    pub imported_at: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS datasets (
    name        TEXT PRIMARY KEY,
    version     TEXT NOT NULL,
    source      TEXT NOT NULL,
    licence     TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    row_count   INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    dataset     TEXT NOT NULL REFERENCES datasets(name) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    chain       INTEGER,
    value       TEXT NOT NULL,
    labels      TEXT NOT NULL,
    confidence  REAL NOT NULL,
    first_seen  TEXT,
    last_seen   TEXT,
    delisted_at TEXT,
    name        TEXT NOT NULL,
    reference   TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_key ON entries(dataset, kind, ifnull(chain, -1), value);
CREATE INDEX IF NOT EXISTS entries_value ON entries(value);
";

/// The store.
#[derive(Debug)]
pub struct IntelStore {
    conn: Connection,
}

impl IntelStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// An in-memory store (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(IntelStore { conn })
    }

    /// User datasets, by name.
    pub fn datasets(&self) -> Result<Vec<DatasetInfo>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT name, version, source, licence, sha256, row_count, imported_at FROM datasets ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DatasetInfo {
                name: r.get(0)?,
                version: r.get(1)?,
                source: r.get(2)?,
                licence: r.get(3)?,
                sha256: r.get(4)?,
                row_count: r.get::<_, i64>(5)? as usize,
                bundled: false,
                imported_at: Some(r.get(6)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Imports `entries` as dataset `meta.name`, replacing its previous content, in one
    /// transaction. Importing the same file again changes nothing.
    pub fn import(&mut self, meta: &ImportMeta, entries: &[Entry]) -> Result<ImportOutcome, StoreError> {
        let tx = self.conn.transaction()?;
        let previous: Option<(String, i64)> = tx
            .query_row("SELECT sha256, row_count FROM datasets WHERE name = ?1", [&meta.name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((sha, rows)) = &previous
            && *sha == meta.sha256
        {
            return Ok(ImportOutcome::Unchanged { rows: *rows as usize });
        }
        tx.execute("DELETE FROM entries WHERE dataset = ?1", [&meta.name])?;
        tx.execute("DELETE FROM datasets WHERE name = ?1", [&meta.name])?;
        tx.execute(
            "INSERT INTO datasets (name, version, source, licence, sha256, row_count, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            params![meta.name, meta.version, meta.source, meta.licence, meta.sha256, meta.imported_at],
        )?;
        {
            // Duplicate rows in one file merge their labels (the unique key is per value).
            let mut insert = tx.prepare(
                "INSERT INTO entries (dataset, kind, chain, value, labels, confidence, first_seen, last_seen, delisted_at, name, reference)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT DO UPDATE SET labels = labels || ',' || excluded.labels",
            )?;
            for e in entries {
                let labels: Vec<_> = e.labels.iter().map(|l| l.as_str()).collect();
                insert.execute(params![
                    meta.name,
                    e.kind.as_str(),
                    e.chain.map(|c| c as i64),
                    e.value,
                    labels.join(","),
                    e.confidence as f64,
                    e.first_seen,
                    e.last_seen,
                    e.delisted_at,
                    e.name,
                    e.reference
                ])?;
            }
        }
        let rows: i64 = tx.query_row("SELECT count(*) FROM entries WHERE dataset = ?1", [&meta.name], |r| r.get(0))?;
        tx.execute("UPDATE datasets SET row_count = ?1 WHERE name = ?2", params![rows, meta.name])?;
        tx.commit()?;
        Ok(match previous {
            None => ImportOutcome::Imported { rows: rows as usize },
            Some((_, prev)) => ImportOutcome::Replaced { previous_rows: prev as usize, rows: rows as usize },
        })
    }

    /// Removes a user dataset and its entries. Returns the number of entries removed.
    pub fn remove(&mut self, name: &str) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute("DELETE FROM entries WHERE dataset = ?1", [name])?;
        if tx.execute("DELETE FROM datasets WHERE name = ?1", [name])? == 0 {
            return Err(StoreError::UnknownDataset(name.to_owned()));
        }
        tx.commit()?;
        Ok(n)
    }

    /// Entries of one dataset (or all user datasets), as `(dataset, entry)`.
    pub fn entries(&self, dataset: Option<&str>) -> Result<Vec<(String, Entry)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT dataset, kind, chain, value, labels, confidence, first_seen, last_seen, delisted_at, name, reference
             FROM entries WHERE ?1 IS NULL OR dataset = ?1 ORDER BY dataset, kind, value",
        )?;
        let mut out = Vec::new();
        let mut rows = stmt.query([dataset])?;
        while let Some(r) = rows.next()? {
            let ds: String = r.get(0)?;
            let corrupt = |problem: String| StoreError::Corrupt { dataset: ds.clone(), problem };
            let kind: String = r.get(1)?;
            let kind: EntryKind = kind.parse().map_err(|e: crate::Error| corrupt(e.to_string()))?;
            let labels: String = r.get(4)?;
            let labels = Labels::parse_list(&labels).map_err(|e| corrupt(e.to_string()))?;
            let entry = Entry {
                kind,
                chain: r.get::<_, Option<i64>>(2)?.map(|c| c as u64),
                value: r.get(3)?,
                labels,
                confidence: r.get::<_, f64>(5)? as f32,
                first_seen: r.get(6)?,
                last_seen: r.get(7)?,
                delisted_at: r.get(8)?,
                name: r.get(9)?,
                reference: r.get(10)?,
            };
            out.push((ds, entry));
        }
        Ok(out)
    }

    /// Adds every user dataset to `index`.
    pub fn load_into(&self, index: &mut IntelIndex) -> Result<(), StoreError> {
        let entries = self.entries(None)?;
        for info in self.datasets()? {
            let rows = entries.iter().filter(|(d, _)| *d == info.name).map(|(_, e)| e.as_row());
            index
                .add_rows(&info, rows)
                .map_err(|e| StoreError::Corrupt { dataset: info.name.clone(), problem: e.to_string() })?;
        }
        Ok(())
    }
}

/// Formats entries as intel TSV (header included), for `scorpius intel export`.
pub fn to_tsv<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> String {
    let mut out = String::from(tsv::HEADER);
    out.push('\n');
    for e in entries {
        out.push_str(&tsv::format_row(&e.as_row()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::{
        Label,
        import::{FeedFormat, ImportDefaults, parse},
    };

    fn meta(name: &str, sha: &str) -> ImportMeta {
        ImportMeta {
            name: name.into(),
            version: "2026-11-25".into(),
            licence: "GPL-3.0".into(),
            source: "address.json".into(),
            sha256: sha.into(),
            imported_at: "2026-11-25T00:00:00Z".into(),
        }
    }

    fn entries(json: &str) -> Vec<Entry> {
        let mut labels = Labels::default();
        labels.insert(Label::Drainer);
        parse(FeedFormat::Scamsniffer, json, &ImportDefaults { labels, chain: None }).unwrap()
    }

    #[test]
    fn import_is_idempotent_replaces_and_removes() {
        let mut s = IntelStore::open_in_memory().unwrap();
        let a = entries(r#"["0x0000db5c8b030ae20308ac975898e09741e70000", "evil.xyz", "evil.xyz"]"#);
        assert_eq!(s.import(&meta("scamsniffer", "aa"), &a).unwrap(), ImportOutcome::Imported { rows: 2 });
        assert_eq!(s.import(&meta("scamsniffer", "aa"), &a).unwrap(), ImportOutcome::Unchanged { rows: 2 });
        let b = entries(r#"["evil.xyz", "worse.xyz", "0x1111111111111111111111111111111111111111"]"#);
        assert_eq!(
            s.import(&meta("scamsniffer", "bb"), &b).unwrap(),
            ImportOutcome::Replaced { previous_rows: 2, rows: 3 }
        );
        assert_eq!(s.datasets().unwrap()[0].row_count, 3);
        let mut index = IntelIndex::new();
        s.load_into(&mut index).unwrap();
        let addr: alloy_primitives::Address = "0x1111111111111111111111111111111111111111".parse().unwrap();
        assert!(index.contains(1, &addr));
        assert_eq!(s.remove("scamsniffer").unwrap(), 3);
        assert!(s.datasets().unwrap().is_empty());
        assert!(matches!(s.remove("scamsniffer"), Err(StoreError::UnknownDataset(_))));
    }

    #[test]
    fn export_round_trips_through_import() {
        let mut s = IntelStore::open_in_memory().unwrap();
        let a = entries(r#"["0x0000db5c8b030ae20308ac975898e09741e70000", "evil.xyz"]"#);
        s.import(&meta("feed", "aa"), &a).unwrap();
        let stored: Vec<Entry> = s.entries(Some("feed")).unwrap().into_iter().map(|(_, e)| e).collect();
        let text = to_tsv(&stored);
        let back = parse(FeedFormat::Tsv, &text, &ImportDefaults::default()).unwrap();
        assert_eq!(back, stored);
    }
}
