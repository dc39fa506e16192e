//! Report rendering benchmarks (targets from issue 6):
//!
//! - `report/sarif/10000`: SARIF for one contract report with 10,000 findings, each with a
//!   source line and evidence, including GitHub's line hash over a 2,000-line source file
//!   (target ≤ 300 ms);
//! - `report/pdf/1000` (feature `pdf`): the PDF of a report with 1,000 findings (target ≤ 2 s).
//!
//! Run: `cargo bench -p scorpius-core --features pdf --bench report`

use std::{borrow::Cow, hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use scorpius_core::{
    chain::Chain,
    context::Context,
    model::{Location, ScanKind, ScanReport},
    report::sarif::{self, Sources},
    rules, tx,
};

/// A report with `n` findings spread over the contract rules, with locations and evidence.
fn report(n: usize) -> ScanReport {
    let input = tx::TxInput::from_fields(
        None,
        Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
        Some(
            "0x095ea7b30000000000000000000000001111111111111111111111111111111111111111\
             ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ),
        None,
    )
    .expect("valid transaction");
    let mut r = tx::analyze(&input, &Context::new(Chain::ethereum()));
    r.kind = ScanKind::Contract;
    let contract_rules: Vec<_> = rules::ALL.iter().filter(|r| r.scopes.contains(&ScanKind::Contract)).collect();
    r.findings = (0..n)
        .map(|i| {
            let rule = contract_rules[i % contract_rules.len()];
            let mut f = scorpius_core::model::Finding::new(rule, format!("Finding {i}: {}", rule.title))
                .with("pc", i)
                .with("selector", format!("0x{:08x}", i * 2_654_435_761 % (1 << 32)))
                .with("function", format!("withdraw{i}(address,uint256)"))
                .with("target", format!("0x{:040x}", i * 7919));
            f.location = Some(Location {
                path: Some(format!("src/C{}.sol:C{}", i % 50, i % 50)),
                address: None,
                file: Some(format!("src/C{}.sol", i % 50)),
                start_line: Some(1 + (i % 1_900) as u32),
                end_line: Some(2 + (i % 1_900) as u32),
            });
            f.evidence.insert(Cow::Borrowed("note"), "tx.origin compared with the stored owner".into());
            f
        })
        .collect();
    scorpius_core::model::sort_findings(&mut r.findings);
    r
}

/// 50 source files of 2,000 lines each, as read from a checkout.
struct Checkout(String);

impl Sources for Checkout {
    fn text(&self, _path: &str) -> Option<String> {
        Some(self.0.clone())
    }
}

fn source() -> String {
    (0..2_000).map(|i| format!("    require(tx.origin == owner, \"not owner {i}\");\n")).collect()
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("report");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let big = report(10_000);
    let sources = Checkout(source());
    g.bench_function("sarif/10000", |b| {
        b.iter(|| black_box(sarif::to_sarif(black_box(std::slice::from_ref(&big)), &sources)))
    });
    #[cfg(feature = "pdf")]
    {
        let thousand = report(1_000);
        g.bench_function("pdf/1000", |b| {
            b.iter(|| black_box(scorpius_core::report::pdf::to_pdf(std::slice::from_ref(&thousand)).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(report_benches, benches);
criterion_main!(report_benches);
