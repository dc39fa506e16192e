//! Domain check benchmarks (figures in docs/PERFORMANCE.md; target ≤ 20 µs per check).
//!
//! The index is built once from the bundled TSVs (polkadot-js and MetaMask deny lists, the
//! MetaMask allow list and fuzzylist, plus the built-in protected sites); the build time is
//! printed to stderr and also measured by `domain/build-index`. The checks cover denied,
//! allowed, look-alike and unknown hosts, bare and as URLs; `domain/check/mix` runs all of
//! them per iteration, so its time divided by the element count is the time per check.
//!
//! Run: `cargo bench -p scorpius-core --bench domain`

use std::{hint::black_box, time::Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scorpius_core::{
    intel::domain::{DomainIndex, TsvList},
    model::DatasetRef,
};

const POLKADOT: &str = include_str!("../data/intel/polkadot-phishing.tsv");
const MM_DENY: &str = include_str!("../data/intel/metamask-phishing-deny.tsv");
const MM_ALLOW: &str = include_str!("../data/intel/metamask-phishing-allow.tsv");
const MM_FUZZY: &str = include_str!("../data/intel/metamask-fuzzylist.tsv");

/// `(category, input)`.
const MIX: &[(&str, &str)] = &[
    ("denied", "0-chain.com"),
    ("denied", "https://wallet.0army.io/connect?x=1"),
    ("denied", "a.b.000000000000000000000deadburn.pages.dev"),
    ("allowed", "metmask.com"),
    ("allowed", "https://app.uniswap.org/swap"),
    ("allowed", "etherscan.io"),
    ("lookalike", "unіswap.org"),
    ("lookalike", "xn--pensea-h0e.io"),
    ("lookalike", "opensae.io"),
    ("lookalike", "https://app.uniswap.org.claim-rewards.xyz/"),
    ("unknown", "example.com"),
    ("unknown", "https://docs.some-project.co.uk:8443/guide#intro"),
    ("unknown", "my-app.vercel.app"),
];

fn dataset(name: &str, version: &str) -> DatasetRef {
    DatasetRef { name: name.into(), version: version.into() }
}

fn build(pd: &DatasetRef, md: &DatasetRef, ma: &DatasetRef, mf: &DatasetRef) -> DomainIndex {
    DomainIndex::from_tsv(
        &[TsvList { text: POLKADOT, dataset: pd }, TsvList { text: MM_DENY, dataset: md }],
        &[TsvList { text: MM_ALLOW, dataset: ma }],
        &[TsvList { text: MM_FUZZY, dataset: mf }],
    )
    .expect("bundled lists build")
}

fn benches(c: &mut Criterion) {
    let (pd, md, ma, mf) = (
        dataset("polkadot-phishing", "undated snapshot"),
        dataset("metamask-phishing-deny", "1.2.0"),
        dataset("metamask-phishing-allow", "1.2.0"),
        dataset("metamask-fuzzylist", "1.2.0"),
    );
    let start = Instant::now();
    let index = build(&pd, &md, &ma, &mf);
    eprintln!("domain index built in {:.1} ms: {:?}", start.elapsed().as_secs_f64() * 1e3, index.stats());
    for (category, input) in MIX {
        let verdict = index.check(input).expect("valid input").verdict;
        assert_eq!(verdict.as_str(), *category, "{input}");
    }

    let mut g = c.benchmark_group("domain");
    g.sample_size(10);
    g.bench_function("build-index", |b| b.iter(|| build(&pd, &md, &ma, &mf)));
    g.finish();

    let mut g = c.benchmark_group("domain/check");
    for category in ["denied", "allowed", "lookalike", "unknown"] {
        let inputs: Vec<&str> = MIX.iter().filter(|(c, _)| *c == category).map(|(_, i)| *i).collect();
        g.throughput(Throughput::Elements(inputs.len() as u64));
        g.bench_function(category, |b| {
            b.iter(|| {
                for i in &inputs {
                    black_box(index.check(black_box(i)).map(|c| c.verdict)).ok();
                }
            })
        });
    }
    g.throughput(Throughput::Elements(MIX.len() as u64));
    g.bench_function("mix", |b| {
        b.iter(|| {
            for (_, i) in MIX {
                black_box(index.check(black_box(i)).map(|c| c.verdict)).ok();
            }
        })
    });
    g.finish();

    let check = index.check("unіswap.org").expect("valid input");
    c.bench_function("domain/findings/lookalike", |b| b.iter(|| black_box(&check).findings()));
}

criterion_group!(domain, benches);
criterion_main!(domain);
