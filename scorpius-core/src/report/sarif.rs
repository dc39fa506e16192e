//! SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).
//!
//! One run per scan kind, categorised by `automationDetails.id` (`scorpius/contracts/`,
//! `scorpius/transactions/`, …) so that GitHub keeps the alerts of each kind apart; the
//! driver lists every rule that kind can report, with a `security-severity` score; each
//! finding becomes one result with exactly one primary location and two fingerprints:
//! GitHub's `primaryLocationLineHash` (computed here with the same rolling hash as
//! `github/codeql-action`, when the source text is available) and `scorpius/v1`, a hash
//! of the rule, the object and the stable evidence that survives code moving around.
//!
//! The severity mapping (documented in `docs/reports.md`):
//!
//! | severity | level | security-severity |
//! | --- | --- | --- |
//! | critical | error | 9.5 |
//! | high | error | 8.0 |
//! | medium | warning | 5.5 |
//! | low | note | 3.0 |
//! | info | note | 1.0 |
//!
//! GitHub's limits are kept: at most [`MAX_RESULTS_PER_RUN`] results per run (the most
//! severe are kept; the run says how many were dropped) and at most [`MAX_GZIPPED_BYTES`]
//! once gzipped (long evidence is shortened, then results are dropped, least severe first).
//!
//! Core reads no files: source text for the line hashes comes through [`Sources`].

use std::{
    collections::{BTreeMap, HashMap},
    io::Write as _,
};

use serde_json::{Value, json};
use serde_sarif::sarif;
use sha2::{Digest, Sha256};

use crate::{
    model::{Finding, ScanKind, ScanReport, ScanStatus, Severity},
    rules::{self, Rule},
};

/// The `$schema` written into every log.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// Where people learn about the tool (`tool.driver.informationUri`).
pub const INFORMATION_URI: &str = "https://github.com/scorpius-security/scorpius";
/// Rule documentation (`helpUri` is this plus `#rule-id`).
pub const RULES_URI: &str = "https://github.com/scorpius-security/scorpius/blob/main/docs/rules.md";
/// GitHub code scanning accepts at most this many results per run.
pub const MAX_RESULTS_PER_RUN: usize = 25_000;
/// GitHub code scanning accepts uploads up to this size, gzipped.
pub const MAX_GZIPPED_BYTES: usize = 10 * 1024 * 1024;
/// Evidence strings longer than this are shortened when the log would exceed
/// [`MAX_GZIPPED_BYTES`].
const EVIDENCE_CAP: usize = 512;
/// The key of our own fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "scorpius/v1";

/// Where the SARIF writer gets what core cannot read itself.
pub trait Sources {
    /// The text of a source file, by the repository-relative path a finding names.
    fn text(&self, path: &str) -> Option<String>;
    /// The project file and line that declared this report's target, when it came from one
    /// (for findings that have no source location of their own).
    fn declaration(&self, _report: &ScanReport) -> Option<(String, u32)> {
        None
    }
}

/// No source text and no project file: line hashes are left to the uploader and results
/// without a source location get a logical location only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSources;

impl Sources for NoSources {
    fn text(&self, _path: &str) -> Option<String> {
        None
    }
}

/// SARIF `level` of a severity.
pub fn level(s: Severity) -> sarif::ResultLevel {
    match s {
        Severity::Critical | Severity::High => sarif::ResultLevel::Error,
        Severity::Medium => sarif::ResultLevel::Warning,
        Severity::Low | Severity::Info => sarif::ResultLevel::Note,
    }
}

fn level_str(s: Severity) -> &'static str {
    match level(s) {
        sarif::ResultLevel::Error => "error",
        sarif::ResultLevel::Warning => "warning",
        _ => "note",
    }
}

/// GitHub's `security-severity` (0.0–10.0, CVSS-like bands: ≥9 critical, ≥7 high, ≥4
/// medium, >0 low) for a severity, as the string GitHub expects.
pub fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The category (`automationDetails.id`) of a scan kind's run.
pub fn category(kind: ScanKind) -> &'static str {
    match kind {
        ScanKind::Contract => "scorpius/contracts/",
        ScanKind::Transaction => "scorpius/transactions/",
        ScanKind::Signature => "scorpius/signatures/",
        ScanKind::Address => "scorpius/addresses/",
        ScanKind::Domain => "scorpius/domains/",
        ScanKind::Wallet => "scorpius/wallets/",
    }
}

/// Kinds in the order their runs appear.
const KIND_ORDER: [ScanKind; 6] = [
    ScanKind::Contract,
    ScanKind::Wallet,
    ScanKind::Transaction,
    ScanKind::Signature,
    ScanKind::Address,
    ScanKind::Domain,
];

/// GitHub's `primaryLocationLineHash` of every line of `text`: element `i` is the hash of
/// line `i + 1`, as `hex:count` where count numbers repeats of the same hash.
///
/// The algorithm is the one `github/codeql-action` applies when it uploads SARIF without
/// fingerprints: a Rabin–Karp style rolling hash (base 37, wrapping 64-bit arithmetic) over
/// a window of the next 100 characters (UTF-16 code units) starting at each line, where
/// spaces and tabs are skipped, CR and CRLF count as LF, and the text is followed by an
/// end marker (65535) and zeros. The text's end after a final newline counts as one more
/// line, as it does there.
pub fn line_hashes(text: &str) -> Vec<String> {
    LineHasher::default().run(text)
}

const WINDOW: usize = 100;
const BASE: u64 = 37;
const END_MARK: u16 = 0xFFFF;

struct LineHasher {
    /// The last WINDOW characters fed in, as a ring.
    ring: [u64; WINDOW],
    /// Line number starting at the ring slot, 0 when none does.
    starts: [u32; WINDOW],
    pos: usize,
    hash: u64,
    /// BASE^WINDOW: the weight of the character leaving the window.
    out_weight: u64,
    line: u32,
    at_line_start: bool,
    after_cr: bool,
    seen: HashMap<u64, u32>,
    out: Vec<String>,
}

impl Default for LineHasher {
    fn default() -> Self {
        LineHasher {
            ring: [0; WINDOW],
            starts: [0; WINDOW],
            pos: 0,
            hash: 0,
            out_weight: BASE.wrapping_pow(WINDOW as u32),
            line: 0,
            at_line_start: true,
            after_cr: false,
            seen: HashMap::new(),
            out: Vec::new(),
        }
    }
}

impl LineHasher {
    fn run(mut self, text: &str) -> Vec<String> {
        for unit in text.encode_utf16() {
            self.feed(unit);
        }
        self.feed(END_MARK);
        for _ in 0..WINDOW {
            self.emit_if_line_starts_here();
            self.push(0);
        }
        self.out
    }

    /// The slot about to be overwritten started a line WINDOW characters ago: its hash now
    /// covers exactly the line's window.
    fn emit_if_line_starts_here(&mut self) {
        if self.starts[self.pos] != 0 {
            let n = self.seen.entry(self.hash).or_insert(0);
            *n += 1;
            self.out.push(format!("{:x}:{n}", self.hash));
            self.starts[self.pos] = 0;
        }
    }

    fn push(&mut self, c: u64) {
        let leaving = self.ring[self.pos];
        self.ring[self.pos] = c;
        self.hash = self.hash.wrapping_mul(BASE).wrapping_add(c).wrapping_sub(self.out_weight.wrapping_mul(leaving));
        self.pos = (self.pos + 1) % WINDOW;
    }

    fn feed(&mut self, unit: u16) {
        const TAB: u16 = b'\t' as u16;
        const SPACE: u16 = b' ' as u16;
        const LF: u16 = b'\n' as u16;
        const CR: u16 = b'\r' as u16;
        if unit == SPACE || unit == TAB || (self.after_cr && unit == LF) {
            self.after_cr = false;
            return;
        }
        // CR ends a line like LF; an LF right after it is part of the same line break.
        self.after_cr = unit == CR;
        let unit = if unit == CR { LF } else { unit };
        self.emit_if_line_starts_here();
        if self.at_line_start {
            self.at_line_start = false;
            self.line += 1;
            self.starts[self.pos] = self.line;
        }
        if unit == LF {
            self.at_line_start = true;
        }
        self.push(u64::from(unit));
    }
}

/// Our own fingerprint: sha256 over the rule id, the chain, the object the finding is about
/// (contract, address or the scan target) and the evidence, leaving out positions that move
/// when code is edited or rebuilt (lines, program counters, offsets, blocks).
pub fn stable_fingerprint(report: &ScanReport, f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(f.rule_id.as_bytes());
    h.update([0]);
    h.update(report.chain.id.to_be_bytes());
    let object =
        f.location.as_ref().and_then(|l| l.address.as_deref().or(l.path.as_deref())).unwrap_or(report.target.as_str());
    h.update(object.as_bytes());
    h.update([0]);
    for (k, v) in &f.evidence {
        if is_positional(k) {
            continue;
        }
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.to_string().as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn is_positional(key: &str) -> bool {
    matches!(key, "pc" | "line" | "start_line" | "end_line" | "offset" | "block" | "block_number")
        || key.ends_with("_pc")
        || key.ends_with("_offset")
}

/// UpperCamelCase of a kebab-case id (SARIF's `reportingDescriptor.name` is an identifier).
fn camel(id: &str) -> String {
    id.split('-')
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Ends a sentence with a full stop (SARIF messages are sentences).
fn sentence(s: &str) -> String {
    let t = s.trim_end();
    if t.is_empty() {
        return "(no text).".to_owned();
    }
    if t.ends_with(['.', '!', '?']) { t.to_owned() } else { format!("{t}.") }
}

fn properties(map: BTreeMap<String, Value>) -> sarif::PropertyBag {
    sarif::PropertyBag::builder().additional_properties(map).build()
}

fn precision(rule: &Rule) -> &'static str {
    // Contract rules infer behaviour from bytecode (a static over-approximation); the
    // other rules decode exactly what will be signed or match curated data.
    if rule.scopes == [ScanKind::Contract] { "medium" } else { "high" }
}

fn descriptor(rule: &Rule) -> sarif::ReportingDescriptor {
    let mut tags: Vec<Value> = vec!["security".into()];
    tags.extend(rule.scopes.iter().map(|s| Value::from(s.as_str())));
    let refs_text: String = rule.references.iter().map(|r| format!("\n- {r}")).collect();
    let refs_md: String = rule.references.iter().map(|r| format!("\n- <{r}>")).collect();
    let help_text = format!(
        "{}\n\nRecommendation: {}{}",
        rule.description,
        rule.recommendation,
        if refs_text.is_empty() { String::new() } else { format!("\n\nReferences:{refs_text}") }
    );
    let help_md = format!(
        "{}\n\n**Recommendation.** {}{}",
        rule.description,
        rule.recommendation,
        if refs_md.is_empty() { String::new() } else { format!("\n\n**References.**\n{refs_md}") }
    );
    sarif::ReportingDescriptor::builder()
        .id(rule.id)
        .name(camel(rule.id))
        .short_description(sarif::MultiformatMessageString::builder().text(sentence(rule.title)).build())
        .full_description(sarif::MultiformatMessageString::builder().text(sentence(rule.description)).build())
        .help(sarif::MultiformatMessageString::builder().text(help_text).markdown(help_md).build())
        .help_uri(format!("{RULES_URI}#{}", rule.id))
        .default_configuration(sarif::ReportingConfiguration::builder().level(json!(level_str(rule.severity))).build())
        .properties(properties(BTreeMap::from([
            ("tags".to_owned(), Value::Array(tags)),
            ("precision".to_owned(), json!(precision(rule))),
            ("security-severity".to_owned(), json!(security_severity(rule.severity))),
            ("severity".to_owned(), json!(rule.severity.as_str())),
        ])))
        .build()
}

/// A descriptor for a rule id the registry does not know (a report saved by another
/// version), from what its findings say.
fn descriptor_for_unknown(f: &Finding) -> sarif::ReportingDescriptor {
    let rule = Rule {
        id: "unknown",
        severity: f.severity,
        scopes: &[],
        title: "",
        description: "",
        recommendation: "",
        references: &[],
    };
    let mut d = descriptor(&rule);
    d.id = f.rule_id.to_string();
    d.name = Some(camel(&f.rule_id));
    d.short_description = Some(sarif::MultiformatMessageString::builder().text(sentence(&f.title)).build());
    d.full_description = Some(sarif::MultiformatMessageString::builder().text(sentence(&f.title)).build());
    d.help = Some(
        sarif::MultiformatMessageString::builder()
            .text(format!("Recommendation: {}", f.recommendation))
            .markdown(format!("**Recommendation.** {}", f.recommendation))
            .build(),
    );
    d.help_uri = None;
    d
}

/// Normalises a finding's file to a repository-relative URI reference.
fn file_uri(file: &str) -> String {
    let f = file.replace('\\', "/");
    let f = f.trim_start_matches("./");
    // Percent-encode what a URI reference cannot hold literally.
    let mut out = String::with_capacity(f.len());
    for b in f.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b'@' | b'+' | b'=' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

struct Hashes<'a> {
    sources: &'a dyn Sources,
    cache: HashMap<String, Option<Vec<String>>>,
}

impl Hashes<'_> {
    fn line_hash(&mut self, file: &str, line: u32) -> Option<String> {
        let hashes = self
            .cache
            .entry(file.to_owned())
            .or_insert_with(|| self.sources.text(file).map(|t| line_hashes(&t)))
            .as_ref()?;
        hashes.get(usize::try_from(line).ok()?.checked_sub(1)?).cloned()
    }
}

fn logical_location(report: &ScanReport, f: &Finding) -> sarif::LogicalLocation {
    let l = f.location.as_ref();
    let object = l.and_then(|l| l.address.clone()).unwrap_or_else(|| report.target.clone());
    let name = format!("{object}@{}", report.chain.name);
    let fqn = match l.and_then(|l| l.path.as_deref()) {
        Some(p) => format!("{name}/{p}"),
        None => name.clone(),
    };
    sarif::LogicalLocation::builder().name(name).fully_qualified_name(fqn).kind("object").build()
}

fn result(
    report: &ScanReport,
    f: &Finding,
    rule_index: usize,
    hashes: &mut Hashes<'_>,
    declared: Option<&(String, u32)>,
    evidence_cap: Option<usize>,
) -> sarif::Result {
    let l = f.location.as_ref();
    let mut fingerprints = BTreeMap::from([(FINGERPRINT_KEY.to_owned(), stable_fingerprint(report, f))]);
    let source = l.and_then(|l| l.file.as_deref().map(|file| (file, l.start_line, l.end_line)));
    let physical = match (source, declared) {
        (Some((file, start, end)), _) => Some((file.to_owned(), start, end)),
        (None, Some((file, line))) => Some((file.clone(), Some(*line), Some(*line))),
        (None, None) => None,
    };
    let mut location = sarif::Location::builder().logical_locations(vec![logical_location(report, f)]).build();
    if let Some((file, start, end)) = physical {
        let mut phys = sarif::PhysicalLocation::builder()
            .artifact_location(sarif::ArtifactLocation::builder().uri(file_uri(&file)).build())
            .build();
        // A finding about a whole file (no line) is placed at its first line, which is where
        // GitHub's uploader hashes such a location too.
        let (start, end) = match start.filter(|&s| s > 0) {
            Some(s) => (s, end.filter(|&e| e >= s).unwrap_or(s)),
            None => (1, 1),
        };
        phys.region = Some(sarif::Region::builder().start_line(i64::from(start)).end_line(i64::from(end)).build());
        if let Some(h) = hashes.line_hash(&file, start) {
            fingerprints.insert("primaryLocationLineHash".to_owned(), h);
        }
        location.physical_location = Some(phys);
    }
    let evidence: serde_json::Map<String, Value> = f
        .evidence
        .iter()
        .map(|(k, v)| {
            let v = match (v, evidence_cap) {
                (Value::String(s), Some(cap)) if s.len() > cap => {
                    let mut end = cap;
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    Value::String(format!("{}… ({} bytes)", &s[..end], s.len()))
                }
                _ => v.clone(),
            };
            (k.to_string(), v)
        })
        .collect();
    let mut props = BTreeMap::from([
        ("severity".to_owned(), json!(f.severity.as_str())),
        ("title".to_owned(), json!(f.title)),
        ("recommendation".to_owned(), json!(f.recommendation)),
        ("evidence".to_owned(), Value::Object(evidence)),
        ("scanId".to_owned(), json!(report.scan_id.to_string())),
        ("target".to_owned(), json!(report.target)),
        ("chain".to_owned(), json!({"id": report.chain.id, "name": report.chain.name})),
        ("security-severity".to_owned(), json!(security_severity(f.severity))),
    ]);
    if let Some(p) = l.and_then(|l| l.path.as_deref()) {
        props.insert("path".to_owned(), json!(p));
    }
    sarif::Result::builder()
        .rule_id(f.rule_id.to_string())
        .rule_index(i64::try_from(rule_index).unwrap_or(i64::MAX))
        .level(level(f.severity))
        .message(sarif::Message::builder().text(sentence(&f.message)).build())
        .locations(vec![location])
        .partial_fingerprints(fingerprints)
        .properties(properties(props))
        .build()
}

/// Builds the SARIF log of one or more reports: one run per scan kind.
pub fn to_sarif_log(reports: &[ScanReport], sources: &dyn Sources) -> sarif::Sarif {
    build(reports, sources, None, MAX_RESULTS_PER_RUN)
}

fn build(
    reports: &[ScanReport],
    sources: &dyn Sources,
    evidence_cap: Option<usize>,
    max_results: usize,
) -> sarif::Sarif {
    let mut hashes = Hashes { sources, cache: HashMap::new() };
    let mut runs = Vec::new();
    for kind in KIND_ORDER {
        let group: Vec<&ScanReport> = reports.iter().filter(|r| r.kind == kind).collect();
        if group.is_empty() {
            continue;
        }
        runs.push(run(kind, &group, &mut hashes, evidence_cap, max_results));
    }
    sarif::Sarif::builder().schema(SCHEMA_URI).version(json!("2.1.0")).runs(runs).build()
}

fn run(
    kind: ScanKind,
    group: &[&ScanReport],
    hashes: &mut Hashes<'_>,
    evidence_cap: Option<usize>,
    max_results: usize,
) -> sarif::Run {
    // Rules: every rule this kind can report, then any unknown ids the findings carry.
    let mut descriptors: Vec<sarif::ReportingDescriptor> =
        rules::ALL.iter().filter(|r| r.scopes.contains(&kind)).map(descriptor).collect();
    let mut index: HashMap<String, usize> = descriptors.iter().enumerate().map(|(i, d)| (d.id.clone(), i)).collect();
    // Every finding with its report, most severe first (stable: reports keep their order,
    // each report's findings are already in the documented order).
    let mut all: Vec<(&ScanReport, &Finding)> =
        group.iter().flat_map(|r| r.findings.iter().map(move |f| (*r, f))).collect();
    all.sort_by_key(|x| std::cmp::Reverse(x.1.severity));
    let total = all.len();
    all.truncate(max_results);
    let mut results = Vec::with_capacity(all.len());
    for (r, f) in &all {
        let i = match index.get(f.rule_id.as_ref()) {
            Some(&i) => i,
            None => {
                let d = match rules::find(&f.rule_id) {
                    Some(rule) => descriptor(rule),
                    None => descriptor_for_unknown(f),
                };
                descriptors.push(d);
                index.insert(f.rule_id.to_string(), descriptors.len() - 1);
                descriptors.len() - 1
            }
        };
        let declared =
            if f.location.as_ref().is_some_and(|l| l.file.is_some()) { None } else { hashes.sources.declaration(r) };
        results.push(result(r, f, i, hashes, declared.as_ref(), evidence_cap));
    }

    let mut notifications = Vec::new();
    for r in group {
        if let ScanStatus::Incomplete { reason } = &r.status {
            notifications.push(
                sarif::Notification::builder()
                    .message(sarif::Message::builder().text(sentence(&format!(
                        "Scan {} of {} is incomplete: its findings are a lower bound, not a clean bill: {reason}",
                        r.scan_id, r.target
                    ))).build())
                    .build(),
            );
            // Notifications without a level are warnings.
        }
    }
    let truncated = total > all.len();
    if truncated {
        notifications.push(
            sarif::Notification::builder()
                .message(sarif::Message::builder().text(format!(
                    "{total} findings exceed the limit of {max_results} results per run: the {} most severe are included and {} were left out.",
                    all.len(),
                    total - all.len()
                )).build())
                .build(),
        );
    }
    let mut invocation = sarif::Invocation::builder().execution_successful(true).build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }

    let scans: Vec<Value> = group
        .iter()
        .map(|r| {
            let mut s = json!({
                "scanId": r.scan_id.to_string(),
                "target": r.target,
                "chain": {"id": r.chain.id, "name": r.chain.name},
                "startedAt": r.started_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "risk": {"score": r.risk.score, "level": r.risk.level.as_str()},
                "status": match &r.status { ScanStatus::Complete => json!("complete"), ScanStatus::Incomplete { reason } => json!({"incomplete": reason}) },
                "engineVersion": r.engine_version,
                "datasets": r.datasets.iter().map(|d| json!({"name": d.name, "version": d.version})).collect::<Vec<_>>(),
            });
            if !r.suppressed.is_empty() {
                s["suppressed"] = serde_json::to_value(&r.suppressed).unwrap_or_default();
            }
            s
        })
        .collect();
    let mut props = BTreeMap::from([("scorpius/scans".to_owned(), Value::Array(scans))]);
    if truncated {
        props.insert(
            "scorpius/truncated".to_owned(),
            json!({"totalFindings": total, "includedResults": all.len(), "limit": max_results}),
        );
    }

    let driver = sarif::ToolComponent::builder()
        .name("Scorpius")
        .full_name(format!("Scorpius {}", crate::ENGINE_VERSION))
        .semantic_version(crate::ENGINE_VERSION)
        .version(crate::ENGINE_VERSION)
        .information_uri(INFORMATION_URI)
        .rules(descriptors)
        .build();
    sarif::Run::builder()
        .tool(sarif::Tool::builder().driver(driver).build())
        .automation_details(sarif::RunAutomationDetails::builder().id(category(kind)).build())
        .invocations(vec![invocation])
        .column_kind(json!("utf16CodeUnits"))
        .results(results)
        .properties(properties(props))
        .build()
}

/// The SARIF log as pretty JSON, within GitHub's size limit: when the gzipped log would
/// exceed [`MAX_GZIPPED_BYTES`], long evidence strings are shortened, and if that is not
/// enough the least severe results are left out (the run records it).
pub fn to_sarif(reports: &[ScanReport], sources: &dyn Sources) -> String {
    let mut cap = None;
    let mut max = MAX_RESULTS_PER_RUN;
    loop {
        let log = build(reports, sources, cap, max);
        let text = serde_json::to_string_pretty(&log).unwrap_or_default() + "\n";
        // gzip never makes JSON bigger than about its size: only large logs need measuring.
        if text.len() <= MAX_GZIPPED_BYTES || gzipped_len(text.as_bytes()) <= MAX_GZIPPED_BYTES || max == 0 {
            return text;
        }
        if cap.is_none() {
            cap = Some(EVIDENCE_CAP);
        } else {
            max /= 2;
        }
    }
}

fn gzipped_len(bytes: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().map_or(usize::MAX, |v| v.len())
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, path::PathBuf};

    use super::*;
    use crate::{model::Location, tx};

    /// Validates a log against the OASIS SARIF 2.1.0 schema vendored in the repository.
    pub(crate) fn assert_schema_valid(text: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/schemas/sarif-schema-2.1.0.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let log: Value = serde_json::from_str(text).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "SARIF does not match the 2.1.0 schema:\n{}", errors.join("\n"));
    }

    fn tx_report() -> ScanReport {
        tx::fixtures::usdc_report(tx::fixtures::APPROVE_UNLIMITED)
    }

    /// A contract report whose finding points at a source line.
    fn contract_report() -> ScanReport {
        let mut r = tx_report();
        r.kind = ScanKind::Contract;
        r.target = "out/".into();
        let rule = rules::ALL.iter().find(|r| r.scopes == [ScanKind::Contract]).unwrap();
        let mut f = Finding::new(rule, "The function can be called by anyone");
        f.evidence.insert(Cow::Borrowed("pc"), json!(42));
        f.evidence.insert(Cow::Borrowed("selector"), json!("0x12345678"));
        f.location = Some(Location {
            path: Some("src/Vault.sol:Vault".into()),
            address: None,
            file: Some("src/Vault.sol".into()),
            start_line: Some(3),
            end_line: Some(5),
        });
        r.findings = vec![f];
        r
    }

    struct Files(Vec<(&'static str, &'static str)>, Option<(String, u32)>);
    impl Sources for Files {
        fn text(&self, path: &str) -> Option<String> {
            self.0.iter().find(|(p, _)| *p == path).map(|(_, t)| (*t).to_owned())
        }
        fn declaration(&self, _r: &ScanReport) -> Option<(String, u32)> {
            self.1.clone()
        }
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn line_hashes_match_githubs_published_vectors() {
        // Vectors from github/codeql-action's fingerprint tests.
        assert_eq!(line_hashes(""), ["c129715d7a2bc9a3:1"]);
        assert_eq!(
            line_hashes(" a\nb\n  \t\tc\n d"),
            ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"]
        );
        let with_final_newline = [
            "e9496ae3ebfced30:1",
            "fb7c023a8b9ccb3f:1",
            "ce8ba1a563dcdaca:1",
            "e20e36e16fcb0cc8:1",
            "b3edc88f2938467e:1",
            "c8e28b0b4002a3a0:1",
            "c129715d7a2bc9a3:1",
        ];
        for text in [
            " hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End\n",
            " hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r",
            " hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n",
            " hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n",
        ] {
            assert_eq!(line_hashes(text), with_final_newline, "{text:?}");
        }
        let repeated = line_hashes(&"Lorem ipsum dolor sit amet.\n".repeat(10));
        assert_eq!(repeated[0], "a7f2ff13bc495cf2:1");
        assert_eq!(repeated[5], "a7f2ff13bc495cf2:6");
        assert_eq!(repeated[6], "a7f2ff1481e87703:1");
        assert_eq!(repeated[10], "c129715d7a2bc9a3:1");
        assert_eq!(repeated.len(), 11);
    }

    #[test]
    fn severity_maps_to_level_and_security_severity() {
        let cases = [
            (Severity::Critical, "error", 9.5),
            (Severity::High, "error", 8.0),
            (Severity::Medium, "warning", 5.5),
            (Severity::Low, "note", 3.0),
            (Severity::Info, "note", 1.0),
        ];
        for (sev, lvl, score) in cases {
            assert_eq!(level_str(sev), lvl);
            let s: f64 = security_severity(sev).parse().unwrap();
            assert!((s - score).abs() < f64::EPSILON);
        }
        // GitHub's bands: critical ≥ 9.0, high 7.0–8.9, medium 4.0–6.9, low 0.1–3.9.
        let band = |s: f64| match s {
            s if s >= 9.0 => "critical",
            s if s >= 7.0 => "high",
            s if s >= 4.0 => "medium",
            _ => "low",
        };
        for sev in [Severity::Critical, Severity::High, Severity::Medium, Severity::Low] {
            assert_eq!(band(security_severity(sev).parse().unwrap()), sev.as_str());
        }
    }

    #[test]
    fn transaction_report_is_valid_sarif_with_logical_location() {
        let r = tx_report();
        let text = to_sarif(std::slice::from_ref(&r), &NoSources);
        assert_schema_valid(&text);
        let log = parse(&text);
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SCHEMA_URI);
        let runs = log["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run["automationDetails"]["id"], "scorpius/transactions/");
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "Scorpius");
        assert_eq!(driver["semanticVersion"], crate::ENGINE_VERSION);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), r.findings.len());
        for (res, f) in results.iter().zip(&r.findings) {
            assert_eq!(res["ruleId"], f.rule_id.as_ref());
            let idx = res["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(driver["rules"][idx]["id"], f.rule_id.as_ref(), "ruleIndex points at the rule");
            assert_eq!(res["level"], level_str(f.severity));
            assert_eq!(res["properties"]["severity"], f.severity.as_str());
            assert_eq!(res["locations"].as_array().unwrap().len(), 1);
            let loc = &res["locations"][0];
            assert!(loc.get("physicalLocation").is_none(), "no file: logical only");
            let name = loc["logicalLocations"][0]["name"].as_str().unwrap();
            assert!(name.ends_with("@ethereum"), "{name}");
            assert_eq!(res["partialFingerprints"][FINGERPRINT_KEY].as_str().unwrap().len(), 64);
            assert!(res["properties"]["evidence"].is_object());
        }
        let rule = &driver["rules"][0];
        for key in ["id", "name", "shortDescription", "fullDescription", "help", "defaultConfiguration", "properties"] {
            assert!(!rule[key].is_null(), "rule lacks {key}: {rule:#}");
        }
        assert!(rule["properties"]["tags"].as_array().unwrap().contains(&json!("security")));
        assert!(rule["properties"]["security-severity"].is_string());
        assert!(rule["help"]["markdown"].is_string());
    }

    #[test]
    fn source_findings_get_a_physical_location_and_githubs_line_hash() {
        let r = contract_report();
        let src = "// SPDX\npragma solidity ^0.8.0;\ncontract Vault {\n  function f() external {}\n}\n";
        let text = to_sarif(std::slice::from_ref(&r), &Files(vec![("src/Vault.sol", src)], None));
        assert_schema_valid(&text);
        let log = parse(&text);
        let run = &log["runs"][0];
        assert_eq!(run["automationDetails"]["id"], "scorpius/contracts/");
        let res = &run["results"][0];
        let phys = &res["locations"][0]["physicalLocation"];
        assert_eq!(phys["artifactLocation"]["uri"], "src/Vault.sol");
        assert_eq!(phys["region"]["startLine"], 3);
        assert_eq!(phys["region"]["endLine"], 5);
        assert_eq!(res["partialFingerprints"]["primaryLocationLineHash"], line_hashes(src)[2].as_str());
        // Without the source text, GitHub's uploader computes the line hash itself.
        let log = parse(&to_sarif(std::slice::from_ref(&r), &NoSources));
        assert!(log["runs"][0]["results"][0]["partialFingerprints"].get("primaryLocationLineHash").is_none());
    }

    #[test]
    fn stable_fingerprint_survives_line_moves_but_not_other_changes() {
        let a = contract_report();
        let mut moved = a.clone();
        let l = moved.findings[0].location.as_mut().unwrap();
        l.start_line = Some(30);
        l.end_line = Some(31);
        moved.findings[0].evidence.insert(Cow::Borrowed("pc"), json!(4242));
        assert_eq!(stable_fingerprint(&a, &a.findings[0]), stable_fingerprint(&moved, &moved.findings[0]));
        let mut other = a.clone();
        other.findings[0].evidence.insert(Cow::Borrowed("selector"), json!("0xdeadbeef"));
        assert_ne!(stable_fingerprint(&a, &a.findings[0]), stable_fingerprint(&other, &other.findings[0]));
    }

    #[test]
    fn declared_target_gives_the_project_file() {
        let r = tx_report();
        let text = to_sarif(std::slice::from_ref(&r), &Files(vec![], Some(("scorpius.toml".into(), 7))));
        assert_schema_valid(&text);
        let loc = &parse(&text)["runs"][0]["results"][0]["locations"][0];
        assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "scorpius.toml");
        assert_eq!(loc["physicalLocation"]["region"]["startLine"], 7);
        assert!(loc["logicalLocations"][0]["name"].as_str().unwrap().contains("@ethereum"));
    }

    #[test]
    fn zero_findings_and_several_kinds() {
        let mut empty = tx_report();
        empty.findings.clear();
        let text = to_sarif(std::slice::from_ref(&empty), &NoSources);
        assert_schema_valid(&text);
        assert_eq!(parse(&text)["runs"][0]["results"].as_array().unwrap().len(), 0);

        let reports = [tx_report(), contract_report(), tx_report()];
        let text = to_sarif(&reports, &NoSources);
        assert_schema_valid(&text);
        let log = parse(&text);
        let ids: Vec<&str> =
            log["runs"].as_array().unwrap().iter().map(|r| r["automationDetails"]["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["scorpius/contracts/", "scorpius/transactions/"]);
        let tx_results = log["runs"][1]["results"].as_array().unwrap().len();
        assert_eq!(tx_results, reports[0].findings.len() + reports[2].findings.len());
        assert_eq!(log["runs"][1]["properties"]["scorpius/scans"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn results_over_the_limit_are_cut_most_severe_first_and_said_so() {
        let mut r = tx_report();
        let template = r.findings[0].clone();
        r.findings = (0..10)
            .map(|i| {
                let sev = if i % 3 == 0 { Severity::High } else { Severity::Low };
                template.clone().severity(sev).with("i", i)
            })
            .collect();
        let log = build(std::slice::from_ref(&r), &NoSources, None, 4);
        let text = serde_json::to_string(&log).unwrap();
        assert_schema_valid(&text);
        let v = parse(&text);
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        assert!(results.iter().all(|x| x["properties"]["severity"] == "high"), "the 4 high ones are kept");
        assert_eq!(v["runs"][0]["properties"]["scorpius/truncated"]["totalFindings"], 10);
        let note = v["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"].as_str().unwrap();
        assert!(note.contains("10 findings exceed the limit of 4"), "{note}");
    }

    #[test]
    fn file_uris_are_relative_references() {
        assert_eq!(file_uri("./src/A B.sol"), "src/A%20B.sol");
        assert_eq!(file_uri("src\\x.sol"), "src/x.sol");
        assert_eq!(camel("contract-proxy-admin-eoa"), "ContractProxyAdminEoa");
        assert_eq!(sentence("done"), "done.");
        assert_eq!(sentence("done."), "done.");
    }
}
