//! Contract-analysis benchmarks on the OpenZeppelin 5.7.0 fixture set (81 runtime bytecodes,
//! `tests/fixtures/openzeppelin-contracts-5.7.0/`):
//!
//! - `contract/analyze/oz81`: full analysis to a report (throughput in contracts per second);
//! - `contract/selectors/{scorpius,evmole}/oz81`: selector extraction alone, ours and
//!   `evmole::contract_info(...with_selectors())` on the same inputs.
//!
//! After the criterion groups, a small fixed loop times both extractors (median of rounds) and
//! prints the ratio ours/evmole and each one's accuracy against the ABI.
//!
//! Run: `cargo bench -p scorpius-core --bench contract`

use std::{
    collections::{BTreeMap, BTreeSet},
    hint::black_box,
    path::PathBuf,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput};
use scorpius_core::{
    chain::Chain,
    context::Context,
    contract::{self, ContractInput},
};

struct Row {
    runtime: Vec<u8>,
    expected: BTreeSet<[u8; 4]>,
}

fn rows() -> Vec<Row> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/openzeppelin-contracts-5.7.0/artifacts_bytecode.csv");
    let mut reader = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot read the OpenZeppelin fixture set at {}: {e}", path.display()));
    reader
        .deserialize::<BTreeMap<String, String>>()
        .map(|rec| {
            let rec = rec.expect("CSV row");
            let expected = rec["expected_function_selectors"]
                .split(';')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let b = hex::decode(s.trim().trim_start_matches("0x")).expect("selector hex");
                    [b[0], b[1], b[2], b[3]]
                })
                .collect();
            Row { runtime: hex::decode(rec["runtime_bytecode"].trim_start_matches("0x")).expect("hex"), expected }
        })
        .collect()
}

fn ours(code: &[u8]) -> Vec<[u8; 4]> {
    contract::selectors::extract(code).into_iter().map(|f| f.selector).collect()
}

fn theirs(code: &[u8]) -> Vec<[u8; 4]> {
    let info = evmole::contract_info(evmole::ContractInfoArgs::new(code).with_selectors());
    info.functions.unwrap_or_default().into_iter().map(|f| f.selector).collect()
}

fn benches(c: &mut Criterion, rows: &[Row]) {
    let ctx = Context::new(Chain::ethereum());
    let inputs: Vec<ContractInput> = rows.iter().map(|r| ContractInput::new(r.runtime.clone())).collect();
    let n = rows.len() as u64;

    let mut g = c.benchmark_group("contract");
    g.throughput(Throughput::Elements(n));
    g.bench_function("analyze/oz81", |b| {
        b.iter(|| {
            for input in &inputs {
                black_box(contract::analyze_contract(black_box(input), &ctx));
            }
        })
    });
    g.bench_function("selectors/scorpius/oz81", |b| {
        b.iter(|| {
            for r in rows {
                black_box(ours(black_box(&r.runtime)));
            }
        })
    });
    g.bench_function("selectors/evmole/oz81", |b| {
        b.iter(|| {
            for r in rows {
                black_box(theirs(black_box(&r.runtime)));
            }
        })
    });
    g.finish();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_round(rows: &[Row], f: fn(&[u8]) -> Vec<[u8; 4]>) -> Duration {
    let t = Instant::now();
    for r in rows {
        black_box(f(black_box(&r.runtime)));
    }
    t.elapsed()
}

/// Accuracy against the ABI: (false positives, false negatives).
fn accuracy(rows: &[Row], f: fn(&[u8]) -> Vec<[u8; 4]>) -> (usize, usize) {
    let mut fp = 0;
    let mut fneg = 0;
    for r in rows {
        let got: BTreeSet<[u8; 4]> = f(&r.runtime).into_iter().collect();
        fp += got.difference(&r.expected).count();
        fneg += r.expected.difference(&got).count();
    }
    (fp, fneg)
}

fn compare(rows: &[Row], rounds: usize) {
    let ctx = Context::new(Chain::ethereum());
    let inputs: Vec<ContractInput> = rows.iter().map(|r| ContractInput::new(r.runtime.clone())).collect();
    let mut ours_t = Vec::new();
    let mut theirs_t = Vec::new();
    let mut full_t = Vec::new();
    for _ in 0..rounds {
        ours_t.push(time_round(rows, ours));
        theirs_t.push(time_round(rows, theirs));
        let t = Instant::now();
        for input in &inputs {
            black_box(contract::analyze_contract(black_box(input), &ctx));
        }
        full_t.push(t.elapsed());
    }
    let (o, t, full) = (median(ours_t), median(theirs_t), median(full_t));
    let expected: usize = rows.iter().map(|r| r.expected.len()).sum();
    let (ofp, ofn) = accuracy(rows, ours);
    let (tfp, tfn) = accuracy(rows, theirs);
    println!();
    println!("contract analysis on {} OpenZeppelin 5.7.0 runtimes (median of {rounds} rounds)", rows.len());
    println!(
        "  full analysis:            {:>10.3} ms per set  = {:>8.0} contracts/s (one core)",
        full.as_secs_f64() * 1e3,
        rows.len() as f64 / full.as_secs_f64()
    );
    println!("  selectors (scorpius):     {:>10.3} ms per set", o.as_secs_f64() * 1e3);
    println!("  selectors (evmole 0.9):   {:>10.3} ms per set", t.as_secs_f64() * 1e3);
    println!("  ratio scorpius/evmole:    {:>10.3}  (target <= 1.5)", o.as_secs_f64() / t.as_secs_f64());
    println!("  accuracy vs ABI ({expected} selectors): scorpius {ofp} FP / {ofn} FN, evmole {tfp} FP / {tfn} FN");
}

fn main() {
    let rows = rows();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &rows);
    c.final_summary();
    // `cargo test --benches` runs benches once in test mode: keep the comparison short there.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    compare(&rows, if bench_mode { 50 } else { 1 });
}
