//! Threat-intel hot path (figures in docs/PERFORMANCE.md): loading the bundled address index,
//! and address lookups against it (hits and misses).
//!
//! Run: `cargo bench -p scorpius-core --bench intel`

use std::hint::black_box;

use alloy_primitives::Address;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scorpius_core::intel::bundled;

fn benches(c: &mut Criterion) {
    c.bench_function("intel/load/bundled-address-index", |b| b.iter(bundled::address_index));

    let index = bundled::address_index();
    // Every bundled address (hits) and the same number of random ones (misses).
    let hits: Vec<Address> = bundled::FILES
        .iter()
        .flat_map(|(_, text)| text.lines().skip(1))
        .filter(|l| l.starts_with("address\t"))
        .filter_map(|l| l.split('\t').nth(2)?.parse().ok())
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let misses: Vec<Address> = (0..hits.len())
        .map(|_| {
            let mut bytes = [0u8; 20];
            for b in &mut bytes {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            Address::from(bytes)
        })
        .collect();
    eprintln!("intel bench: {} addresses indexed, {} hit probes", index.address_count(), hits.len());

    let mut g = c.benchmark_group("intel/lookup");
    g.throughput(Throughput::Elements(hits.len() as u64));
    g.bench_function("hits", |b| b.iter(|| hits.iter().filter(|a| index.contains(1, black_box(a))).count()));
    g.throughput(Throughput::Elements(misses.len() as u64));
    g.bench_function("misses", |b| b.iter(|| misses.iter().filter(|a| index.contains(1, black_box(a))).count()));
    g.finish();
}

criterion_group!(intel, benches);
criterion_main!(intel);
