//! Address screening: turns index records for an address into findings whose evidence names
//! the label, the dataset and its version. Used by every scan that meets addresses.

use alloy_primitives::Address;
use serde_json::json;

use super::{Label, Labels, index::IntelIndex};
use crate::{model::Finding, rules};

/// Findings for `address` in its `role` (spender, operator, recipient, target, …).
pub fn screen(index: &IntelIndex, chain_id: u64, address: Address, role: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    // A curated false-positive correction outweighs heuristic labels (confidence < 1), never
    // sanctions.
    let corrected = index.lookup(chain_id, &address).any(|r| r.labels.contains(Label::FalsePositive));
    for record in index.lookup(chain_id, &address) {
        if corrected && record.confidence < 1.0 && !record.labels.contains(Label::Sanctioned) {
            continue;
        }
        let ds = index.dataset(&record);
        let labels = record.labels;
        let evidence = |f: Finding| {
            f.with("address", address.to_checksum(None))
                .with("role", role)
                .with("labels", labels.iter().map(|l| l.as_str()).collect::<Vec<_>>())
                .with("dataset", ds.name.clone())
                .with("dataset_version", ds.version.clone())
                .with("name", (!record.name.is_empty()).then(|| record.name.to_string()))
                .with("reference", (!record.reference.is_empty()).then(|| record.reference.to_string()))
                .with("confidence", json!((f64::from(record.confidence) * 100.0).round() / 100.0))
                .about(address)
        };
        let who = if record.name.is_empty() { String::new() } else { format!(" ({})", record.name) };
        if labels.contains(Label::Sanctioned) {
            match &record.delisted_at {
                None => out.push(
                    evidence(Finding::new(
                        &rules::ADDRESS_SANCTIONED,
                        format!("The {role} {address}{who} is on the {} sanctions list ({}).", ds.name, ds.version),
                    ))
                    .with("first_seen", record.first_seen.map(str::to_owned)),
                ),
                Some(when) => out.push(
                    evidence(Finding::new(
                        &rules::ADDRESS_FORMERLY_SANCTIONED,
                        format!("The {role} {address}{who} was sanctioned and delisted on {when}."),
                    ))
                    .with("delisted_at", when.to_string()),
                ),
            }
        }
        let malicious: Vec<Label> = labels
            .iter()
            .filter(|l| {
                matches!(
                    l,
                    Label::Drainer
                        | Label::Phishing
                        | Label::Exploit
                        | Label::Poisoner
                        | Label::ScamDelegate
                        | Label::ScamToken
                )
            })
            .collect();
        if !malicious.is_empty() {
            let names: Vec<_> = malicious.iter().map(|l| l.as_str()).collect();
            out.push(evidence(Finding::new(
                &rules::ADDRESS_MALICIOUS,
                format!("The {role} {address}{who} is labelled {} by {} ({}).", names.join(", "), ds.name, ds.version),
            )));
        }
        if labels.contains(Label::ExploitedSpender) || labels.contains(Label::DeprecatedSpender) {
            out.push(evidence(Finding::new(
                &rules::SPENDER_EXPLOITED,
                format!(
                    "The {role} {address}{who} is an exploited or deprecated spender per {} ({}).",
                    ds.name, ds.version
                ),
            )));
        }
        if labels.contains(Label::Mixer) && !labels.contains(Label::Sanctioned) {
            out.push(evidence(Finding::new(&rules::ADDRESS_MIXER, format!("The {role} {address}{who} is a mixer."))));
        }
    }
    merge_sources(out)
}

/// Several datasets often agree about one address: keep one finding per rule (the one with
/// the highest confidence) and list the other datasets as `also_listed_by`.
fn merge_sources(findings: Vec<Finding>) -> Vec<Finding> {
    let confidence = |f: &Finding| f.evidence.get("confidence").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        let source = json!({
            "dataset": f.evidence.get("dataset"),
            "dataset_version": f.evidence.get("dataset_version"),
            "name": f.evidence.get("name"),
        });
        match out.iter_mut().find(|g| g.rule_id == f.rule_id) {
            None => out.push(f),
            Some(g) => {
                let (mut keep, other) = if confidence(&f) > confidence(g) {
                    let old = std::mem::replace(g, f);
                    let src = json!({
                        "dataset": old.evidence.get("dataset"),
                        "dataset_version": old.evidence.get("dataset_version"),
                        "name": old.evidence.get("name"),
                    });
                    (g.clone(), (src, old.evidence.get("also_listed_by").cloned()))
                } else {
                    (g.clone(), (source, None))
                };
                let mut also: Vec<serde_json::Value> =
                    keep.evidence.get("also_listed_by").and_then(|v| v.as_array().cloned()).unwrap_or_default();
                also.push(other.0);
                if let Some(serde_json::Value::Array(more)) = other.1 {
                    also.extend(more);
                }
                keep.evidence.insert("also_listed_by".into(), serde_json::Value::Array(also));
                *g = keep;
            }
        }
    }
    out
}

/// Benign context for an address (known spender, exchange, …): labels and names, for evidence.
pub fn benign_context(index: &IntelIndex, chain_id: u64, address: &Address) -> Option<(Labels, String)> {
    let mut labels = Labels::default();
    let mut names = Vec::new();
    for r in index.lookup(chain_id, address) {
        if r.labels.any_malicious() {
            return None;
        }
        labels.0 |= r.labels.0;
        if !r.name.is_empty() && !names.contains(&r.name) {
            names.push(r.name);
        }
    }
    (labels.0 != 0).then(|| (labels, names.join("; ")))
}

/// Screens every `(address, role, location path)` against the context's intel (if any),
/// once per distinct address and role.
pub fn screen_all<'a>(
    ctx: &crate::context::Context,
    targets: impl IntoIterator<Item = (Address, &'a str, String)>,
) -> Vec<Finding> {
    let Some(index) = &ctx.intel else { return Vec::new() };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (address, role, path) in targets {
        if address.is_zero() || !seen.insert((address, role.to_owned())) {
            continue;
        }
        out.extend(screen(index, ctx.chain.id, address, role).into_iter().map(|f| f.at(path.clone())));
    }
    out
}

/// Approval findings whose spender or operator is a known-good spender (Permit2, a DEX
/// router, a marketplace) are one severity lower, with the spender's labels as evidence.
pub fn soften_known_spenders(ctx: &crate::context::Context, findings: &mut [Finding]) {
    use crate::model::Severity;
    let Some(index) = &ctx.intel else { return };
    for f in findings.iter_mut() {
        if !matches!(
            &*f.rule_id,
            "approval-unlimited"
                | "nft-approval-for-all"
                | "permit2-unlimited-allowance"
                | "permit-unlimited"
                | "wallet-approval-unlimited"
                | "wallet-nft-operator"
                | "wallet-permit2-unlimited"
        ) {
            continue;
        }
        let who = f.evidence.get("spender").or_else(|| f.evidence.get("operator")).and_then(|v| v.as_str());
        let Some(address) = who.and_then(|s| s.parse::<Address>().ok()) else { continue };
        let Some((labels, names)) = benign_context(index, ctx.chain.id, &address) else { continue };
        if !(labels.contains(Label::KnownSpender) || labels.contains(Label::Dex)) {
            continue;
        }
        f.severity = match f.severity {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium => Severity::Low,
            other => other,
        };
        let labels: Vec<_> = labels.iter().map(|l| l.as_str()).collect();
        f.evidence.insert("spender_labels".into(), json!(labels));
        f.evidence.insert("spender_name".into(), json!(names));
        f.message
            .push_str(&format!(" The spender is a known-good spender ({names}), so the risk is lowered one level."));
    }
}

/// The phishing check of the requesting site, when the context has an origin and a domain
/// index. An origin that does not parse gives no finding here: callers validate it first.
pub fn origin_findings(ctx: &crate::context::Context) -> Vec<Finding> {
    match (&ctx.origin, &ctx.domains) {
        (Some(origin), Some(domains)) => match domains.check(origin) {
            Ok(check) => domains.findings(&check).into_iter().map(|f| f.at("origin")).collect(),
            Err(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Dataset versions a scan with this context consulted.
pub fn datasets_used(ctx: &crate::context::Context) -> Vec<crate::model::DatasetRef> {
    let mut out: Vec<crate::model::DatasetRef> = Vec::new();
    if let Some(index) = &ctx.intel {
        out.extend(index.datasets().iter().map(super::DatasetInfo::as_ref));
    }
    if ctx.origin.is_some()
        && let Some(domains) = &ctx.domains
    {
        out.extend(domains.datasets().iter().cloned());
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup();
    out
}

/// The `address` scan: screens one address against the context's intel and reports the labels
/// every dataset holds for it (an address no dataset knows is unknown, not safe). Used by
/// `scorpius scan address` and the server's `POST /v1/scan/address`.
pub fn scan_address(ctx: &crate::context::Context, address: Address) -> crate::model::ScanReport {
    use crate::model::{ScanKind, ScanReport, Subject};
    let started = time::OffsetDateTime::now_utc();
    let clock = std::time::Instant::now();
    let findings = screen_all(ctx, [(address, "address", "address".to_owned())]);
    let mut labels = Vec::new();
    if let Some(index) = &ctx.intel {
        for r in index.lookup(ctx.chain.id, &address) {
            let ds = index.dataset(&r);
            labels.push(json!({
                "labels": r.labels, "name": r.name, "dataset": ds.name, "dataset_version": ds.version,
                "chain": r.chain, "delisted_at": r.delisted_at, "confidence": r.confidence,
            }));
        }
    }
    let subject = json!({
        "type": "address",
        "address": address.to_checksum(None),
        "labels": labels,
        "note": if labels.is_empty() { "no dataset knows this address: unknown, which is not the same as safe" } else { "" },
    });
    ScanReport::new(
        ScanKind::Address,
        address.to_checksum(None),
        &ctx.chain,
        findings,
        Subject::json(subject),
        started,
        clock.elapsed(),
        datasets_used(ctx),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::bundled;

    /// False-positive regression: Forta's list of benign addresses that its scam detector once
    /// flagged. None of them may be reported as malicious by the bundled intel.
    #[test]
    fn forta_false_positive_list_is_not_reported_malicious() {
        let index = bundled::address_index();
        let fp = include_str!("../../data/intel/fp/forta-scam-detector-fp.tsv");
        let mut flagged = Vec::new();
        let mut checked = 0;
        for line in fp.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (Some(chain), Some(addr)) = (cols.first(), cols.get(1)) else { continue };
            let (Ok(chain), Ok(address)) = (chain.trim().parse::<u64>(), addr.trim().parse::<Address>()) else {
                continue;
            };
            checked += 1;
            let findings = screen(&index, chain, address, "address");
            if findings.iter().any(|f| f.rule_id == "address-malicious" || f.rule_id == "address-sanctioned") {
                flagged.push(format!(
                    "{chain}:{address} {:?}",
                    findings.iter().map(|f| f.evidence.get("dataset")).collect::<Vec<_>>()
                ));
            }
        }
        assert!(checked > 1000, "only {checked} rows parsed");
        assert!(flagged.is_empty(), "{} benign addresses flagged:\n{}", flagged.len(), flagged.join("\n"));
    }
}
