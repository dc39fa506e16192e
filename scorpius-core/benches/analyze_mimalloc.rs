//! The `analyze` benchmarks with mimalloc as the global allocator, which is what the
//! `scorpius` binary uses: the analyzers allocate many small strings for evidence, and the
//! allocator is a large share of their time. Figures in docs/PERFORMANCE.md.
//!
//! Run: `cargo bench -p scorpius-core --bench analyze_mimalloc`

mod common;

use criterion::{criterion_group, criterion_main};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

criterion_group!(analyze, common::benches);
criterion_main!(analyze);
