//! Address screening: turns index records for an address into findings whose evidence names
//! the label, the dataset and its version. Used by every scan that meets addresses.

use alloy_primitives::Address;
use serde_json::json;

use super::{Label, Labels, index::IntelIndex};
use crate::{model::Finding, rules};

/// What an address is to the thing being scanned.
pub type Role = &'static str;

/// Findings for `address` in its `role` (spender, operator, recipient, target, …).
pub fn screen(index: &IntelIndex, chain_id: u64, address: Address, role: Role) -> Vec<Finding> {
    let mut out = Vec::new();
    for record in index.lookup(chain_id, &address) {
        let ds = index.dataset(record);
        let labels = record.labels;
        let evidence = |f: Finding| {
            f.with("address", address.to_checksum(None))
                .with("role", role)
                .with("labels", labels.iter().map(|l| l.as_str()).collect::<Vec<_>>())
                .with("dataset", ds.name.clone())
                .with("dataset_version", ds.version.clone())
                .with("name", (!record.name.is_empty()).then(|| record.name.to_string()))
                .with("reference", (!record.reference.is_empty()).then(|| record.reference.to_string()))
                .with("confidence", json!(record.confidence))
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
                    .with("first_seen", record.first_seen.as_deref().map(str::to_owned)),
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
            names.push(r.name.clone());
        }
    }
    (labels.0 != 0).then(|| (labels, names.join("; ")))
}
