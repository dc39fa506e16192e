//! The in-memory address index used on the hot path: one hash lookup per address, no I/O.
//! It holds the bundled datasets (parsed zero-copy from the embedded TSVs) and any user
//! datasets the caller adds (loaded from the local intel store).

use std::collections::HashMap;

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
/// Strings borrow from the embedded dataset text or from the index's owned entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Index into [`IntelIndex::datasets`].
    pub dataset: u16,
    /// Chain id the label applies to, `None` for every chain.
    pub chain: Option<u64>,
    /// Labels.
    pub labels: Labels,
    /// 0.0–1.0.
    pub confidence: f32,
    /// ISO date first seen or listed.
    pub first_seen: Option<&'a str>,
    /// ISO date delisted, if delisted.
    pub delisted_at: Option<&'a str>,
    /// Entity name.
    pub name: &'a str,
    /// Source reference.
    pub reference: &'a str,
}

/// Where a record's data is: a line of embedded (`'static`) TSV, parsed only when the address
/// is looked up, or an owned entry (user imports).
#[derive(Debug, Clone, Copy)]
enum Source {
    Line(&'static str),
    Owned(u32),
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    dataset: u16,
    chain: Option<u64>,
    source: Source,
}

/// The index. Cheap to query from many threads (`&self` only).
///
/// Loading only hashes addresses (and reads their chain column); the rest of a row is parsed
/// when that address is looked up, which on the hot path is rare.
#[derive(Debug, Default, Clone)]
pub struct IntelIndex {
    datasets: Vec<DatasetInfo>,
    addresses: HashMap<Address, SmallSlots, FastHash>,
    owned: Vec<super::Entry>,
}

/// Most addresses have one record; keep that one inline.
#[derive(Debug, Clone)]
enum SmallSlots {
    One(Slot),
    Many(Vec<Slot>),
}

impl SmallSlots {
    fn push(&mut self, slot: Slot) {
        match self {
            SmallSlots::One(first) => *self = SmallSlots::Many(vec![*first, slot]),
            SmallSlots::Many(v) => v.push(slot),
        }
    }

    fn as_slice(&self) -> &[Slot] {
        match self {
            SmallSlots::One(s) => std::slice::from_ref(s),
            SmallSlots::Many(v) => v,
        }
    }
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

    /// Adds a dataset from intel TSV text (with header), keeping address rows. Rows are
    /// parsed lazily (see [`IntelIndex`]); `text` must be `'static` (embedded data).
    pub fn add_tsv(&mut self, mut info: DatasetInfo, text: &'static str) -> Result<(), Error> {
        let id = self.push_dataset(&info)?;
        // About one row per 120 bytes: reserve once instead of rehashing as the map grows.
        self.addresses.reserve(text.len() / 120);
        let mut rows = 0;
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.is_empty() {
                continue;
            }
            rows += 1;
            let Some(rest) = line.strip_prefix("address\t") else { continue };
            let bad = || Error::input(format!("dataset {} line {}", info.name, i + 1), "malformed address row");
            let (chain, rest) = rest.split_once('\t').ok_or_else(bad)?;
            let value = rest.get(..42).ok_or_else(bad)?;
            let address: Address = value.parse().map_err(|_| bad())?;
            let chain = match chain {
                "*" | "" => None,
                c => Some(c.parse::<u64>().map_err(|_| bad())?),
            };
            self.insert(address, Slot { dataset: id, chain, source: Source::Line(line) });
        }
        info.row_count = rows;
        self.datasets[id as usize] = info;
        Ok(())
    }

    /// Adds a dataset from rows (user imports); the index keeps its own copy.
    pub fn add_rows<'a>(
        &mut self,
        info: &DatasetInfo,
        rows: impl IntoIterator<Item = tsv::Row<'a>>,
    ) -> Result<(), Error> {
        let id = self.push_dataset(info)?;
        for row in rows {
            if row.kind != EntryKind::Address {
                continue;
            }
            let Ok(address) = row.value.parse::<Address>() else { continue };
            let idx = u32::try_from(self.owned.len()).map_err(|_| Error::input("intel", "too many entries"))?;
            self.owned.push(super::Entry::from_row(&row));
            self.insert(address, Slot { dataset: id, chain: row.chain, source: Source::Owned(idx) });
        }
        Ok(())
    }

    fn insert(&mut self, address: Address, slot: Slot) {
        match self.addresses.get_mut(&address) {
            Some(slots) => slots.push(slot),
            None => {
                self.addresses.insert(address, SmallSlots::One(slot));
            }
        }
    }

    fn push_dataset(&mut self, info: &DatasetInfo) -> Result<u16, Error> {
        let id = u16::try_from(self.datasets.len()).map_err(|_| Error::input("intel", "too many datasets"))?;
        self.datasets.push(info.clone());
        Ok(id)
    }

    /// Every record for `address` that applies to `chain_id`.
    pub fn lookup(&self, chain_id: u64, address: &Address) -> impl Iterator<Item = Record<'_>> {
        self.slots(chain_id, address).filter_map(move |slot| self.record(slot))
    }

    fn slots(&self, chain_id: u64, address: &Address) -> impl Iterator<Item = &Slot> {
        self.addresses
            .get(address)
            .map(SmallSlots::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(move |s| s.chain.is_none_or(|c| c == chain_id))
    }

    fn record(&self, slot: &Slot) -> Option<Record<'_>> {
        let row = match slot.source {
            // Embedded rows are validated by a test; a bad one is skipped, never a panic.
            Source::Line(line) => tsv::parse_line(line, 0).ok()?,
            Source::Owned(i) => self.owned.get(i as usize)?.as_row(),
        };
        Some(Record {
            dataset: slot.dataset,
            chain: slot.chain,
            labels: row.labels,
            confidence: row.confidence,
            first_seen: row.first_seen,
            delisted_at: row.delisted_at,
            name: row.name,
            reference: row.reference,
        })
    }

    /// Whether the address has any record on this chain (the hot-path check: one hash probe).
    pub fn contains(&self, chain_id: u64, address: &Address) -> bool {
        self.slots(chain_id, address).next().is_some()
    }

    /// The dataset a record came from.
    pub fn dataset(&self, record: &Record<'_>) -> &DatasetInfo {
        &self.datasets[record.dataset as usize]
    }
}
