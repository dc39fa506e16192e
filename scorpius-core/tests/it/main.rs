//! The scorpius-core integration test binary (one per crate, DESIGN.md convention 9).
//!
//! - `tx_rules`, `sig_rules`: one table per rule in the registry, positive and negative cases;
//! - `decoding`: the decoded call tree of every batch format;
//! - `raw_tx`, `send_json`: the transaction input formats;
//! - `bad_input`: every parser's errors name the field and the problem;
//! - `props`: property tests (no panics, deterministic decoding);
//! - `report_snapshots`: JSON snapshots of representative reports.

mod abi;
mod bad_input;
mod common;
mod decoding;
mod fixtures;
mod props;
mod raw_tx;
mod report_snapshots;
mod send_json;
mod sig_rules;
mod tx_rules;

use std::collections::BTreeSet;

use scorpius_core::{model::ScanKind, rules};

/// Rules that need threat-intel datasets or wallet history rather than the transaction or
/// signature alone; they are tested with those datasets, not in the tables here.
const INTEL_RULES: &[&str] = &[
    "address-sanctioned",
    "address-formerly-sanctioned",
    "address-malicious",
    "spender-exploited",
    "address-mixer",
    "domain-phishing",
    "domain-lookalike",
    "poisoning-lookalike",
    "poisoning-zero-transfer",
    "poisoning-dust",
    "token-counterfeit",
];

/// Every transaction and signature rule in the registry has a table for each of those scan
/// kinds that can report it, and no table tests a rule in a scope the registry does not give it.
#[test]
fn every_rule_has_a_table_per_scope() {
    let tables: BTreeSet<(&str, &str)> =
        tx_rules::TABLES.iter().chain(sig_rules::TABLES).map(|(rule, kind, _)| (rule.id, kind.as_str())).collect();
    let wanted: BTreeSet<(&str, &str)> = rules::ALL
        .iter()
        .filter(|r| !INTEL_RULES.contains(&r.id))
        .flat_map(|r| {
            r.scopes
                .iter()
                .filter(|s| matches!(s, ScanKind::Transaction | ScanKind::Signature))
                .map(move |s| (r.id, s.as_str()))
        })
        .collect();
    let missing: Vec<_> = wanted.difference(&tables).collect();
    let extra: Vec<_> = tables.difference(&wanted).collect();
    assert!(missing.is_empty(), "rules without a table: {missing:?}");
    assert!(extra.is_empty(), "tables for rules or scopes not in the registry: {extra:?}");
    for (rule, kind, cases) in tx_rules::TABLES.iter().chain(sig_rules::TABLES) {
        let cases = cases();
        assert!(
            cases.iter().all(|c| c.kind() == *kind),
            "{}: a {} table with cases of another kind",
            rule.id,
            kind.as_str()
        );
        assert!(rules::find(rule.id).is_some());
    }
    for id in INTEL_RULES {
        assert!(rules::find(id).is_some(), "{id} is listed as an intel rule but is not in the registry");
    }
}
