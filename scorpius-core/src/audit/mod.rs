//! The tamper-evident audit trail: a hash-chained, Merkle-tree log of what Scorpius did, in
//! the style of Certificate Transparency (RFC 6962 / RFC 9162), with signed C2SP checkpoints
//! and offline verification. See `docs/audit.md` for the design and the formats.
//!
//! - [`event`]: events, entries and the canonical leaf encoding;
//! - [`merkle`]: tree hashes, inclusion and consistency proofs;
//! - [`checkpoint`]: signed checkpoints and keys (Ed25519 signed notes);
//! - [`verify`]: recomputing everything and pinpointing tampering;
//! - `log` (features `store`, `postgres`): what the stores share — errors, the key file, the
//!   append algorithm;
//! - `sqlite` (feature `store`): the append-only SQLite store with group commit;
//! - `postgres` (feature `postgres`): the same log in PostgreSQL, for server replicas.

pub mod checkpoint;
pub mod event;
#[cfg(any(feature = "store", feature = "postgres"))]
pub mod log;
pub mod merkle;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "store")]
pub mod sqlite;
pub mod verify;

pub use event::{Entry, Event, Outcome};
