//! Contracts as one scan sees them ([`ContractUnit`]: code plus how to name and locate it) and
//! the combination of their per-contract reports into one report ([`combine`]). Used by the
//! CLI's `scan contract` (files, artifacts, projects, addresses) and by the server's
//! deployed-contract scans.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{Value, json};

use crate::{
    chain::Chain,
    contract::ContractInput,
    model::{DatasetRef, ScanKind, ScanReport, ScanStatus, Subject},
};

/// One contract to analyse.
#[derive(Debug, Clone)]
pub struct ContractUnit {
    /// The engine's input.
    pub input: ContractInput,
    /// Identifies the contract in findings' locations: `src/A.sol:A`, a file, an address.
    pub id: String,
    /// How findings and the subject name this contract (`src/A.sol:A`, a file, an address).
    pub label: String,
    /// Its source file as shown, for findings without a pc.
    pub file: Option<String>,
    /// Things the user should know about how it was read (creation code, unlinked libraries).
    pub notes: Vec<String>,
    /// Why the scan of this contract is incomplete beyond what the engine says.
    pub incomplete: Option<String>,
}

impl ContractUnit {
    /// A unit named `label` (also its id).
    pub fn new(input: ContractInput, label: String) -> Self {
        ContractUnit { input, id: label.clone(), label, file: None, notes: Vec::new(), incomplete: None }
    }
}

/// A file or directory the scan passed over, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// As shown.
    pub path: String,
    /// Why.
    pub reason: &'static str,
}

/// Combines the per-contract reports: every finding located at its contract, the status
/// incomplete when any part is, the datasets of all.
pub fn combine(
    done: Vec<(ContractUnit, ScanReport)>,
    skipped: &[Skipped],
    targets: &[String],
    chain_state: &Value,
    chain: &Chain,
    started: time::OffsetDateTime,
    elapsed: Duration,
) -> ScanReport {
    let single = done.len() == 1;
    let mut findings = Vec::new();
    let mut incomplete = Vec::new();
    let mut datasets: Vec<DatasetRef> = Vec::new();
    let mut contracts = Vec::new();
    let mut target = format!("{} contracts ({})", done.len(), targets.join(", "));
    for (unit, report) in done {
        let mut reasons = Vec::new();
        if let ScanStatus::Incomplete { reason } = &report.status {
            reasons.push(reason.clone());
        }
        reasons.extend(unit.incomplete.clone());
        if !reasons.is_empty() {
            incomplete.push(if single {
                reasons.join("; ")
            } else {
                format!("{}: {}", unit.label, reasons.join("; "))
            });
        }
        for d in &report.datasets {
            if !datasets.contains(d) {
                datasets.push(d.clone());
            }
        }
        let mut subject = report.subject.to_value();
        if let Value::Object(m) = &mut subject {
            m.insert("label".into(), json!(unit.label));
            m.insert("target".into(), json!(report.target));
            m.insert("source_file".into(), json!(unit.file));
            m.insert("findings".into(), json!(report.findings.len()));
            m.insert(
                "status".into(),
                if reasons.is_empty() { json!("complete") } else { json!({"incomplete": reasons.join("; ")}) },
            );
            if !unit.notes.is_empty() {
                m.insert("notes".into(), json!(unit.notes));
            }
        }
        contracts.push(subject);
        if single {
            target.clone_from(&report.target);
        }
        for mut f in report.findings {
            // The contract, then what the engine pointed at inside it (a function).
            let loc = f.location.get_or_insert_with(Default::default);
            loc.path = Some(match loc.path.take() {
                Some(inner) => format!("{}.{inner}", unit.id),
                None => unit.id.clone(),
            });
            if loc.file.is_none() {
                loc.file.clone_from(&unit.file);
            }
            findings.push(f);
        }
    }
    let skipped_json: Vec<Value> = skipped.iter().map(|s| json!({"path": s.path, "reason": s.reason})).collect();
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for s in skipped {
        *by_reason.entry(s.reason).or_default() += 1;
    }
    let subject = json!({
        "type": "contracts",
        "contracts": contracts,
        "skipped": skipped_json,
        "skipped_counts": by_reason,
        "chain_state": chain_state,
    });
    let mut report = ScanReport::new(
        ScanKind::Contract,
        target,
        chain,
        findings,
        Subject::json(subject),
        started,
        elapsed,
        datasets,
    );
    if !incomplete.is_empty() {
        report.status = ScanStatus::Incomplete { reason: incomplete.join("; ") };
    }
    report
}
