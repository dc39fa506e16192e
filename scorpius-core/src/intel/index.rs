//! The in-memory address index used on the hot path: one hash lookup per address, no I/O.
//! It holds the bundled datasets (parsed zero-copy from the embedded TSVs) and any user
//! datasets the caller adds (loaded from the local intel store).

use std::{borrow::Cow, collections::HashMap};

use alloy_primitives::Address;
use serde::Serialize;

use super::{EntryKind, Labels, tsv};
use crate::{Error, model::DatasetRef};

/// Metadata of one dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetInfo {
    /// Dataset name (kebab-case), e.g. `ofac-sanctions`.
    pub name: String,
    /// Version or date of the source.
    pub version: String,
    /// Where it came from (repository or feed).
    pub source: String,
    /// SPDX licence id or a short description.
    pub licence: String,
    /// Number of entries.
    pub row_count: usize,
    /// sha256 of the imported file.
    pub sha256: String,
    /// Whether the dataset ships with Scorpius (as opposed to a user import).
    pub bundled: bool,
    /// When a user dataset was imported (RFC 3339); `None` for bundled data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<String>,
}

impl DatasetInfo {
    /// `{name, version}` for report evidence.
    pub fn as_ref(&self) -> DatasetRef {
        DatasetRef { name: self.name.clone(), version: self.version.clone() }
    }
}

/// One labelled record of an address (an address can have several, from several datasets).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Index into [`IntelIndex::datasets`].
    pub dataset: u16,
    /// Chain id the label applies to, `None` for every chain.
    pub chain: Option<u64>,
    /// Labels.
    pub labels: Labels,
    /// 0.0–1.0.
    pub confidence: f32,
    /// ISO date first seen or listed.
    pub first_seen: Option<Cow<'static, str>>,
    /// ISO date delisted, if delisted.
    pub delisted_at: Option<Cow<'static, str>>,
    /// Entity name.
    pub name: Cow<'static, str>,
    /// Source reference.
    pub reference: Cow<'static, str>,
}

/// The index. Cheap to query from many threads (`&self` only).
#[derive(Debug, Default)]
pub struct IntelIndex {
    datasets: Vec<DatasetInfo>,
    addresses: HashMap<Address, Vec<Record>, FastHash>,
}

/// Address bytes are already uniformly distributed (keccak output), so hashing needs no
/// mixing: take 8 bytes. This is what makes millions of lookups per second possible.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = AddressHasher;
    fn build_hasher(&self) -> AddressHasher {
        AddressHasher(0)
    }
}

/// See [`FastHash`].
#[derive(Debug)]
pub struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `Address` hashes as its 20 bytes; fold them so vanity prefixes (many leading zeros)
        // still spread.
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

impl IntelIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Datasets in the index, in the order they were added.
    pub fn datasets(&self) -> &[DatasetInfo] {
        &self.datasets
    }

    /// Number of distinct addresses.
    pub fn address_count(&self) -> usize {
        self.addresses.len()
    }

    /// Adds a dataset from intel TSV text (with header), keeping address rows. Strings borrow
    /// from `text`, so bundled (`'static`) data costs no copies.
    pub fn add_tsv(&mut self, mut info: DatasetInfo, text: &'static str) -> Result<(), Error> {
        let id = self.push_dataset(&info)?;
        let mut rows = 0;
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.is_empty() {
                continue;
            }
            // Only address rows live in this index; skip others without parsing them.
            if !line.starts_with("address\t") {
                rows += 1;
                continue;
            }
            let row = tsv::parse_line(line, i + 1).map_err(|e| Error::input(format!("dataset {}", info.name), e))?;
            self.insert_row(id, &row, Cow::Borrowed);
            rows += 1;
        }
        info.row_count = rows;
        self.datasets[id as usize] = info;
        Ok(())
    }

    /// Adds a dataset from owned rows (user imports).
    pub fn add_rows<'a>(
        &mut self,
        info: &DatasetInfo,
        rows: impl IntoIterator<Item = tsv::Row<'a>>,
    ) -> Result<(), Error> {
        let id = self.push_dataset(info)?;
        for row in rows {
            if row.kind == EntryKind::Address {
                self.insert_row(id, &row, |s| Cow::Owned(s.to_owned()));
            }
        }
        Ok(())
    }

    fn push_dataset(&mut self, info: &DatasetInfo) -> Result<u16, Error> {
        let id = u16::try_from(self.datasets.len()).map_err(|_| Error::input("intel", "too many datasets"))?;
        self.datasets.push(info.clone());
        Ok(id)
    }

    fn insert_row<'a>(&mut self, dataset: u16, row: &tsv::Row<'a>, own: impl Fn(&'a str) -> Cow<'static, str>) {
        let Ok(address) = row.value.parse::<Address>() else { return };
        let record = Record {
            dataset,
            chain: row.chain,
            labels: row.labels,
            confidence: row.confidence,
            first_seen: row.first_seen.map(&own),
            delisted_at: row.delisted_at.map(&own),
            name: own(row.name),
            reference: own(row.reference),
        };
        self.addresses.entry(address).or_default().push(record);
    }

    /// Every record for `address` that applies to `chain_id`.
    pub fn lookup(&self, chain_id: u64, address: &Address) -> impl Iterator<Item = &Record> {
        self.addresses.get(address).into_iter().flatten().filter(move |r| r.chain.is_none_or(|c| c == chain_id))
    }

    /// Whether the address has any record on this chain (the hot-path check).
    pub fn contains(&self, chain_id: u64, address: &Address) -> bool {
        self.lookup(chain_id, address).next().is_some()
    }

    /// The dataset a record came from.
    pub fn dataset(&self, record: &Record) -> &DatasetInfo {
        &self.datasets[record.dataset as usize]
    }
}
