//! Hot-path benchmarks for the pre-flight checks (figures in docs/PERFORMANCE.md):
//! decode and analyse an ERC-20 `approve`, and a Multicall3 `aggregate3` of 20 calls. Decoded
//! arguments are rendered to JSON only when a report is serialised, so `…/analyze+json`
//! measures what a `--json` scan pays end to end.
//!
//! Run: `cargo bench -p scorpius-core --bench analyze` (the system allocator, as a library user
//! gets by default) and `--bench analyze_mimalloc` (mimalloc, as the `scorpius` binary runs).

mod common;

use criterion::{criterion_group, criterion_main};

criterion_group!(analyze, common::benches);
criterion_main!(analyze);
