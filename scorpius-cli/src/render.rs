//! Human-readable rendering of reports and rules (the `table` format).

use std::fmt::Write as _;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use scorpius_core::model::{ScanReport, ScanStatus};
use serde_json::Value;

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    // comfy-table detects the width itself when stdout is a terminal; elsewhere (a file, a
    // pipe, CI logs) wrap at 120 columns.
    if t.width().is_none() {
        t.set_width(120);
    }
    t
}

/// Renders a scan report as text.
pub fn report(r: &ScanReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Scorpius {} scan: {}", r.kind.as_str(), r.target);
    let _ = writeln!(out, "Chain: {} ({})", r.chain.name, r.chain.id);
    let _ = writeln!(
        out,
        "Risk: {}/100 ({})   Findings: {}",
        r.risk.score,
        r.risk.level.as_str().to_uppercase(),
        counts(r)
    );
    if let ScanStatus::Incomplete { reason } = &r.status {
        let _ = writeln!(out, "Status: INCOMPLETE: {reason}");
    }
    out.push('\n');
    subject(&r.subject.to_value(), &mut out);
    if r.findings.is_empty() {
        out.push_str("\nNo findings.\n");
        return out;
    }
    let mut t = table();
    t.set_header(vec!["severity", "rule", "finding", "evidence"]);
    for f in &r.findings {
        let mut text = f.message.clone();
        if let Some(path) = f.location.as_ref().and_then(|l| l.path.as_deref()) {
            let _ = write!(text, "\n@ {path}");
        }
        let _ = write!(text, "\n→ {}", f.recommendation);
        let evidence = f.evidence.iter().map(|(k, v)| format!("{k}: {}", scalar(v))).collect::<Vec<_>>().join("\n");
        t.add_row(vec![f.severity.as_str().to_uppercase(), f.rule_id.to_string(), text, evidence]);
    }
    let _ = writeln!(out, "\nFindings:\n{t}");
    // Contract findings with a source line, unwrapped so that `file:line` stays clickable.
    let lines: Vec<String> = r
        .findings
        .iter()
        .filter_map(|f| {
            let l = f.location.as_ref()?;
            Some(format!(
                "  {}:{}  {} {}",
                l.file.as_deref()?,
                l.start_line?,
                f.severity.as_str().to_uppercase(),
                f.rule_id
            ))
        })
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(out, "Source lines:\n{}", lines.join("\n"));
    }
    out
}

fn counts(r: &ScanReport) -> String {
    let parts: Vec<_> =
        r.severity_counts().into_iter().filter(|(_, n)| *n > 0).map(|(s, n)| format!("{n} {s}")).collect();
    if parts.is_empty() { "none".to_owned() } else { parts.join(", ") }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn subject(s: &Value, out: &mut String) {
    if let Some(call) = s.get("call") {
        out.push_str("Decoded calls:\n");
        render_call(call, 1, out);
        if let Some(auths) = s.pointer("/transaction/authorizations").and_then(Value::as_array) {
            out.push_str("EIP-7702 authorizations:\n");
            for (i, a) in auths.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  [{i}] authority {} → delegate {} (chain {}, nonce {})",
                    scalar(&a["authority"]),
                    scalar(&a["address"]),
                    scalar(&a["chain_id"]),
                    scalar(&a["nonce"])
                );
            }
        }
        if let Some(from) = s.pointer("/transaction/from").filter(|v| !v.is_null()) {
            let _ = writeln!(out, "From: {}", scalar(from));
        }
        return;
    }
    match s.get("type").and_then(Value::as_str) {
        Some("contracts") => contracts(s, out),
        Some("wallet") => wallet(s, out),
        Some("typed_data") => {
            let _ = writeln!(out, "EIP-712 {} (domain {})", scalar(&s["primary_type"]), s["domain"]);
            let _ = writeln!(out, "Signing hash: {}", scalar(&s["signing_hash"]));
            if let Ok(pretty) = serde_json::to_string_pretty(&s["message"]) {
                let _ = writeln!(out, "Message:\n{}", indent(&pretty, 2));
            }
        }
        Some("personal_sign") => {
            if let Some(t) = s.get("text").and_then(Value::as_str) {
                let _ = writeln!(out, "personal_sign text:\n{}", indent(t, 2));
            } else {
                let _ = writeln!(out, "personal_sign bytes: {}", scalar(&s["hex"]));
            }
            let _ = writeln!(out, "Signing hash: {}", scalar(&s["signing_hash"]));
        }
        Some("address") => {
            let _ = writeln!(out, "Address: {}", scalar(&s["address"]));
            match s["labels"].as_array().filter(|l| !l.is_empty()) {
                Some(labels) => {
                    for l in labels {
                        let _ = writeln!(
                            out,
                            "  {} — {} ({} {})",
                            l["labels"],
                            scalar(&l["name"]),
                            scalar(&l["dataset"]),
                            scalar(&l["dataset_version"])
                        );
                    }
                }
                None => {
                    let _ = writeln!(out, "{}", scalar(&s["note"]));
                }
            }
        }
        Some("eth_sign") => {
            let _ = writeln!(out, "eth_sign of raw hash {}", scalar(&s["hash"]));
        }
        _ => {}
    }
}

/// One line per analysed contract (size, functions, proxy), its notes, and what was skipped.
fn contracts(s: &Value, out: &mut String) {
    let list = s["contracts"].as_array().map(Vec::as_slice).unwrap_or_default();
    let _ = writeln!(out, "Contracts analysed: {}", list.len());
    for c in list {
        let functions = c["functions"].as_array().map_or(0, Vec::len);
        let mut line = format!("  {}: {} bytes, {functions} functions", scalar(&c["label"]), scalar(&c["code_size"]));
        if let Some(kind) = c.pointer("/proxy/kind").and_then(Value::as_str) {
            let _ = write!(line, ", {kind} proxy");
        }
        if let Some(d) = c["eip7702_delegate"].as_str() {
            let _ = write!(line, ", EIP-7702 delegated to {d}");
        }
        if let Some(v) = c["compiler"].as_str() {
            let _ = write!(line, ", {v}");
        }
        let _ = writeln!(out, "{line}");
        if let Some(reason) = c.pointer("/status/incomplete").and_then(Value::as_str) {
            let _ = writeln!(out, "    incomplete: {reason}");
        }
        for n in c["notes"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "    note: {}", scalar(n));
        }
    }
    if let Some(counts) = s["skipped_counts"].as_object().filter(|c| !c.is_empty()) {
        let parts: Vec<_> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(out, "Skipped: {}", parts.join(", "));
    }
    if let Some(block) = s.pointer("/chain_state/block").filter(|b| !b.is_null()) {
        let _ = writeln!(out, "Chain state read at block {block} from {}", scalar(&s["chain_state"]["endpoint"]));
    }
}

/// The wallet's delegation, coverage and approval inventory.
fn wallet(s: &Value, out: &mut String) {
    if let Some(d) = s["delegate"].as_str() {
        let _ = writeln!(out, "EIP-7702: the wallet is delegated to {d}");
    }
    let c = &s["coverage"];
    let _ = writeln!(
        out,
        "Blocks {}-{} ({} permission events, {} transfers)",
        c["from_block"], c["to_block"], c["permission_events"], c["transfers"]
    );
    for g in c["gaps"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  gap: {}: {}", scalar(&g["what"]), scalar(&g["reason"]));
    }
    let list = s["approvals"].as_array().map(Vec::as_slice).unwrap_or_default();
    let _ = writeln!(out, "Approvals in force: {}", list.len());
    if list.is_empty() {
        return;
    }
    let mut t = table();
    t.set_header(vec!["risk", "kind", "token", "spender", "amount", "value at risk", "age"]);
    for a in list {
        let token =
            a["token_symbol"].as_str().map_or_else(|| scalar(&a["token"]), |s| format!("{s}\n{}", scalar(&a["token"])));
        let mut spender = scalar(&a["spender"]);
        if let Some(l) = a["spender_label"].as_str() {
            let _ = write!(spender, "\n{l}");
        }
        let _ = write!(spender, "\n({})", scalar(&a["spender_type"]));
        let amount = match (a["amount_display"].as_str(), a["token_id"].as_str()) {
            (Some(d), _) => d.to_owned(),
            (None, Some(id)) => format!("token #{id}"),
            (None, None) => "all items".to_owned(),
        };
        let age = a["age_days"].as_u64().map_or_else(|| "-".to_owned(), |d| format!("{d} d"));
        t.add_row(vec![
            scalar(&a["severity"]).to_uppercase(),
            scalar(&a["kind"]),
            token,
            spender,
            amount,
            a["value_at_risk_display"].as_str().unwrap_or("-").to_owned(),
            age,
        ]);
    }
    let _ = writeln!(out, "{t}");
}

/// Long values (batch payloads) are cut in the table; the JSON output has them in full.
fn shorten(v: &str) -> String {
    const MAX: usize = 120;
    if v.chars().count() <= MAX {
        return v.to_owned();
    }
    let head: String = v.chars().take(MAX - 40).collect();
    format!("{head}… ({} chars; full value in --format json)", v.chars().count())
}

fn indent(s: &str, n: usize) -> String {
    s.lines().map(|l| format!("{}{l}", " ".repeat(n))).collect::<Vec<_>>().join("\n")
}

fn render_call(c: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let to = scalar(&c["to"]);
    let value = c["value"].as_str().unwrap_or("0");
    let value = if value == "0" { String::new() } else { format!(" value={value} wei") };
    let op = if c["operation"] == "delegatecall" { " [DELEGATECALL]" } else { "" };
    let what = match (c["function"].as_str(), c["selector"].as_str()) {
        (Some(f), _) => f.to_owned(),
        (None, Some(sel)) => format!("unknown selector {sel}"),
        (None, None) if c["to"].is_null() => format!("contract creation ({} bytes)", c["data_len"]),
        (None, None) => "plain transfer".to_owned(),
    };
    let _ = writeln!(out, "{pad}{} → {to}{op}: {what}{value}", scalar(&c["path"]));
    for a in c["arguments"].as_array().into_iter().flatten() {
        let v = match &a["value"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let v = shorten(&v);
        let _ = writeln!(out, "{pad}    {} ({}) = {v}", scalar(&a["name"]), scalar(&a["type"]));
    }
    if let Some(e) = c["decode_error"].as_str() {
        let _ = writeln!(out, "{pad}    ! {e}");
    }
    for child in c["calls"].as_array().into_iter().flatten() {
        render_call(child, depth + 1, out);
    }
}

/// Renders the rule registry as a table.
pub fn rules(rules: &[scorpius_core::rules::Rule]) -> String {
    let mut t = table();
    t.set_header(vec!["id", "severity", "scans", "title"]);
    for r in rules {
        let scopes: Vec<_> = r.scopes.iter().map(|s| s.as_str()).collect();
        t.add_row(vec![r.id.to_owned(), r.severity.to_string(), scopes.join(", "), r.title.to_owned()]);
    }
    t.to_string()
}

/// Renders one rule in full.
pub fn rule(r: &scorpius_core::rules::Rule) -> String {
    let mut out = format!(
        "{}  ({})\n{}\n\n{}\n\nRecommendation: {}\n",
        r.id, r.severity, r.title, r.description, r.recommendation
    );
    if !r.references.is_empty() {
        out.push_str("\nReferences:\n");
        for reference in r.references {
            let _ = writeln!(out, "  {reference}");
        }
    }
    out
}

/// Renders a generic table.
pub fn rows(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = table();
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}

/// Renders `(key, value, source)` rows.
pub fn config(entries: &[(String, Option<String>, String)]) -> String {
    let mut t = table();
    t.set_header(vec!["key", "value", "source"]);
    for (k, v, s) in entries {
        t.add_row(vec![k.as_str(), v.as_deref().unwrap_or("(not set)"), s.as_str()]);
    }
    t.to_string()
}
