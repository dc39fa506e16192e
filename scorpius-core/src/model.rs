//! The domain model every scan produces: [`Severity`], [`Finding`], [`RiskScore`] and
//! [`ScanReport`]. These types are the versioned wire format (`docs/scan-report.schema.json`);
//! change them only together with [`SCHEMA_VERSION`].

use std::{borrow::Cow, collections::BTreeMap, fmt, str::FromStr, time::Duration};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, chain::Chain, rules::Rule};

/// Version of the [`ScanReport`] JSON format. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context worth knowing; no risk on its own.
    Info,
    /// Unusual, low impact.
    Low,
    /// Risky in some circumstances; read before signing.
    Medium,
    /// Likely to cost money or control if the counterparty is malicious.
    High,
    /// Can drain funds or hand over control outright.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 5] =
        [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The lowercase name used in JSON, flags and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Weight of one finding of this severity in the risk score (see `docs/risk-score.md`).
    pub fn weight(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 15,
            Severity::Medium => 40,
            Severity::High => 70,
            Severity::Critical => 90,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::input("severity", format!("`{s}` is not one of info, low, medium, high, critical")))
    }
}

/// Where a finding points: a decoded call inside a transaction, a field of a signed message,
/// or (for later scan kinds) a file and line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    /// Path of the decoded call (`call` for the top level, `call.calls[2]` for a nested one) or
    /// of the message field (`message.details[0].amount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The contract or account the finding is about, checksummed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A source file, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// First line (1-based) in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_line: Option<u32>,
    /// Last line (1-based, inclusive) in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
}

/// One thing a rule found, with the evidence it rests on and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Stable, severity-free rule id (kebab-case), e.g. `approval-unlimited`.
    pub rule_id: Cow<'static, str>,
    /// Severity of this finding (the rule's default unless a policy overrides it).
    pub severity: Severity,
    /// One-line title of the rule.
    pub title: Cow<'static, str>,
    /// Plain-language explanation of this particular finding.
    pub message: String,
    /// The facts the finding rests on (selector, spender, amount, threshold, ...).
    pub evidence: BTreeMap<Cow<'static, str>, serde_json::Value>,
    /// What the user should do.
    pub recommendation: Cow<'static, str>,
    /// Where the finding points, when that is meaningful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Finding {
    /// A finding of `rule` with the rule's default severity, title and recommendation.
    #[inline]
    pub fn new(rule: &Rule, message: impl Into<String>) -> Self {
        Finding {
            rule_id: Cow::Borrowed(rule.id),
            severity: rule.severity,
            title: Cow::Borrowed(rule.title),
            message: message.into(),
            evidence: BTreeMap::new(),
            recommendation: Cow::Borrowed(rule.recommendation),
            location: None,
        }
    }

    /// Adds one piece of evidence.
    #[inline]
    #[must_use]
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<serde_json::Value>) -> Self {
        self.evidence.insert(key.into(), value.into());
        self
    }

    /// Sets the location's path.
    #[inline]
    #[must_use]
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.location.get_or_insert_with(Location::default).path = Some(path.into());
        self
    }

    /// Sets the location's address.
    #[must_use]
    pub fn about(mut self, address: impl fmt::Display) -> Self {
        self.location.get_or_insert_with(Location::default).address = Some(address.to_string());
        self
    }

    /// Overrides the severity (used when the same rule is more or less serious in context).
    #[inline]
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// The overall level that a [`RiskScore`] falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// Score 0: nothing found.
    None,
    /// Score 1–24.
    Low,
    /// Score 25–49.
    Medium,
    /// Score 50–79.
    High,
    /// Score 80–100.
    Critical,
}

impl RiskLevel {
    /// The level for a score, per the thresholds in `docs/risk-score.md`.
    pub fn from_score(score: u8) -> Self {
        match score {
            0 => RiskLevel::None,
            1..=24 => RiskLevel::Low,
            25..=49 => RiskLevel::Medium,
            50..=79 => RiskLevel::High,
            _ => RiskLevel::Critical,
        }
    }

    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A 0–100 summary of a scan's findings. The formula is documented in `docs/risk-score.md`:
/// the heaviest finding sets the base, every further finding adds a tenth of its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RiskScore {
    /// 0 (nothing found) to 100.
    pub score: u8,
    /// The band the score falls into.
    pub level: RiskLevel,
}

impl RiskScore {
    /// Computes the score of a set of findings.
    pub fn from_findings(findings: &[Finding]) -> Self {
        let mut weights: Vec<u32> = findings.iter().map(|f| f.severity.weight()).collect();
        weights.sort_unstable_by(|a, b| b.cmp(a));
        let score = match weights.split_first() {
            None => 0,
            Some((max, rest)) => max + rest.iter().map(|w| w / 10).sum::<u32>(),
        };
        let score = score.min(100) as u8;
        // Info findings weigh nothing, so a scan with only info findings scores 0.
        RiskScore { score, level: RiskLevel::from_score(score) }
    }
}

/// What kind of thing was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// A transaction before it is signed or broadcast.
    Transaction,
    /// A signature request (EIP-712, personal_sign, eth_sign).
    Signature,
    /// One address screened against threat intelligence.
    Address,
    /// A website domain checked for phishing.
    Domain,
    /// Contract bytecode (deployed, or from build artifacts).
    Contract,
    /// A wallet's standing permissions and history, from the chain or a snapshot.
    Wallet,
}

impl ScanKind {
    /// Every kind, in documentation order.
    pub const ALL: [ScanKind; 6] = [
        ScanKind::Transaction,
        ScanKind::Signature,
        ScanKind::Address,
        ScanKind::Domain,
        ScanKind::Contract,
        ScanKind::Wallet,
    ];

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Transaction => "transaction",
            ScanKind::Signature => "signature",
            ScanKind::Address => "address",
            ScanKind::Domain => "domain",
            ScanKind::Contract => "contract",
            ScanKind::Wallet => "wallet",
        }
    }
}

/// Whether the scan saw everything it needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ScanStatus {
    /// All data was collected and analysed.
    Complete,
    /// Some data could not be collected: the findings are a lower bound, never "clean".
    Incomplete {
        /// What was missing and why.
        reason: String,
    },
}

/// A versioned dataset that a scan consulted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DatasetRef {
    /// Dataset name, e.g. `builtin-signatures`.
    pub name: String,
    /// Its version or date.
    pub version: String,
}

/// The chain a scan is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainRef {
    /// EIP-155 chain id.
    pub id: u64,
    /// Human-readable name (`ethereum`, `base`, or `chain-<id>` for chains not in the registry).
    pub name: String,
}

impl From<&Chain> for ChainRef {
    fn from(chain: &Chain) -> Self {
        ChainRef { id: chain.id, name: chain.name.to_string() }
    }
}

/// What a scan decoded: for transactions `{transaction, call}` (the input and the tree of
/// decoded calls), for signatures `{type, …}` with the decoded message.
///
/// On the wire this is plain JSON. In memory a transaction scan keeps its typed form and
/// renders JSON only when the report is serialised, so analysis stays fast.
#[derive(Debug, Clone)]
pub struct Subject(SubjectRepr);

#[derive(Debug, Clone)]
enum SubjectRepr {
    Json(serde_json::Value),
    Transaction(Box<TransactionSubject>),
}

/// The decoded form of a transaction scan's subject.
#[derive(Debug, Clone, Serialize)]
pub struct TransactionSubject {
    /// The transaction as given (fields, raw or JSON), normalised.
    pub transaction: crate::tx::TxInput,
    /// The decoded call tree.
    pub call: crate::evm::calldata::DecodedCall,
}

impl Subject {
    /// A subject that is already JSON.
    pub fn json(value: serde_json::Value) -> Self {
        Subject(SubjectRepr::Json(value))
    }

    /// A transaction subject.
    pub fn transaction(transaction: crate::tx::TxInput, call: crate::evm::calldata::DecodedCall) -> Self {
        Subject(SubjectRepr::Transaction(Box::new(TransactionSubject { transaction, call })))
    }

    /// The typed transaction subject, when this report came from a local transaction scan.
    pub fn as_transaction(&self) -> Option<&TransactionSubject> {
        match &self.0 {
            SubjectRepr::Transaction(t) => Some(t),
            SubjectRepr::Json(_) => None,
        }
    }

    /// The subject as JSON.
    pub fn to_value(&self) -> serde_json::Value {
        match &self.0 {
            SubjectRepr::Json(v) => v.clone(),
            SubjectRepr::Transaction(t) => serde_json::to_value(t).unwrap_or_default(),
        }
    }
}

impl PartialEq for Subject {
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            SubjectRepr::Json(v) => v.serialize(s),
            SubjectRepr::Transaction(t) => t.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(Subject::json)
    }
}

impl JsonSchema for Subject {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Subject".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "What the scan decoded. Transaction scans: {transaction, call} where call is the tree of decoded calls (path, to, value, operation, selector, function, arguments[{name, type, value}], calls[], data_len, decode_error). Signature scans: {type: typed_data|personal_sign|eth_sign, signing_hash, ...} with the decoded message."
        })
    }
}

/// The result of one scan: what was scanned, what was found, and how much to trust it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanReport {
    /// Version of this format ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Unique id of this scan: a random UUID v4 from [`ScanReport::new`] (so a few leading
    /// characters tell the scans of a local history apart); the server replaces it with a
    /// time-ordered UUID v7 ([`time_ordered_id`]) for its storage indexes.
    #[schemars(with = "String")]
    pub scan_id: Uuid,
    /// What kind of thing was scanned.
    pub kind: ScanKind,
    /// Human-readable description of the target (an address, `contract creation`, ...).
    pub target: String,
    /// The chain the scan assumed.
    pub chain: ChainRef,
    /// Whether every input was available.
    pub status: ScanStatus,
    /// Summary score of the findings.
    pub risk: RiskScore,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// What the scanned object does, decoded (calls, typed-data fields).
    pub subject: Subject,
    /// When the scan started (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub started_at: OffsetDateTime,
    /// How long the analysis took, in microseconds.
    pub duration_us: u64,
    /// Version of the Scorpius engine that produced the report.
    pub engine_version: String,
    /// Versions of every dataset the scan consulted.
    pub datasets: Vec<DatasetRef>,
    /// Findings a policy ignore removed from `findings`, by rule, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppression>,
}

/// Findings of one rule that a policy ignore removed from a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Suppression {
    /// The rule.
    pub rule_id: String,
    /// How many findings were removed.
    pub count: usize,
    /// Why (from the policy).
    pub reason: String,
    /// Until when the ignore applies (YYYY-MM-DD), if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl ScanReport {
    /// Builds a report: sorts the findings (most severe first, then by rule id and location)
    /// and computes the risk score.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: ScanKind,
        target: String,
        chain: &Chain,
        mut findings: Vec<Finding>,
        subject: Subject,
        started_at: OffsetDateTime,
        elapsed: Duration,
        datasets: Vec<DatasetRef>,
    ) -> Self {
        sort_findings(&mut findings);
        ScanReport {
            schema_version: SCHEMA_VERSION,
            scan_id: Uuid::new_v4(),
            kind,
            target,
            chain: chain.into(),
            status: ScanStatus::Complete,
            risk: RiskScore::from_findings(&findings),
            findings,
            subject,
            started_at,
            duration_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            engine_version: crate::ENGINE_VERSION.to_owned(),
            suppressed: Vec::new(),
            datasets,
        }
    }

    /// The most severe finding's severity, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Number of findings per severity, most severe first (zero counts included).
    pub fn severity_counts(&self) -> Vec<(Severity, usize)> {
        Severity::ALL.iter().rev().map(|&s| (s, self.findings.iter().filter(|f| f.severity == s).count())).collect()
    }
}

/// Deterministic order: severity (highest first), rule id, then location path.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then_with(|| a.rule_id.cmp(&b.rule_id)).then_with(|| {
            let pa = a.location.as_ref().and_then(|l| l.path.as_deref());
            let pb = b.location.as_ref().and_then(|l| l.path.as_deref());
            pa.cmp(&pb)
        })
    });
}

/// A UUID v7 (RFC 9562): the Unix time in milliseconds, then 74 random bits. Ids made in
/// different milliseconds sort in time order (within one millisecond, at random), so a storage index over them grows at its right edge instead of
/// dirtying a random page per insert (as UUID v4 keys do), and they still cannot be guessed.
/// Their leading characters are the time, so ids made within a minute share a short prefix:
/// the CLI's local history, which accepts id prefixes, keeps UUID v4.
pub fn time_ordered_id(at: OffsetDateTime) -> Uuid {
    let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut random = [0u8; 10];
    if getrandom::fill(&mut random).is_err() {
        // The OS generator failed (it does not on supported systems): take a v4's random bytes.
        let v4 = Uuid::new_v4().into_bytes();
        random[..6].copy_from_slice(&v4[..6]);
        random[6..].copy_from_slice(&v4[12..]);
    }
    uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    fn f(sev: Severity) -> Finding {
        Finding::new(&rules::UNKNOWN_SELECTOR, "x").severity(sev)
    }

    #[test]
    fn time_ordered_ids_are_v7_sorted_by_time_and_distinct() {
        let t = OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap();
        let a = time_ordered_id(t);
        let b = time_ordered_id(t + Duration::from_millis(1));
        assert_eq!(a.get_version(), Some(uuid::Version::SortRand));
        assert_eq!(a.get_timestamp().map(|ts| ts.to_unix()), Some((1_764_000_000, 0)));
        assert!(a < b, "{a} sorts after {b}");
        // The same millisecond: random bits keep ids distinct.
        assert_ne!(time_ordered_id(t), time_ordered_id(t));
    }

    #[test]
    fn severity_parses_and_orders() {
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("severe".parse::<Severity>().is_err());
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    }

    #[test]
    fn risk_score_follows_documented_formula() {
        // Table from docs/risk-score.md.
        let cases: &[(&[Severity], u8, RiskLevel)] = &[
            (&[], 0, RiskLevel::None),
            (&[Severity::Info, Severity::Info], 0, RiskLevel::None),
            (&[Severity::Low], 15, RiskLevel::Low),
            (&[Severity::Medium], 40, RiskLevel::Medium),
            (&[Severity::Medium, Severity::Low, Severity::Info], 41, RiskLevel::Medium),
            (&[Severity::High], 70, RiskLevel::High),
            (&[Severity::High, Severity::High], 77, RiskLevel::High),
            (&[Severity::High, Severity::High, Severity::Medium, Severity::Medium], 85, RiskLevel::Critical),
            (&[Severity::Critical], 90, RiskLevel::Critical),
            (&[Severity::Critical; 3], 100, RiskLevel::Critical),
            (&[Severity::Critical; 20], 100, RiskLevel::Critical),
        ];
        for (sevs, score, level) in cases {
            let findings: Vec<_> = sevs.iter().map(|&s| f(s)).collect();
            let risk = RiskScore::from_findings(&findings);
            assert_eq!((risk.score, risk.level), (*score, *level), "{sevs:?}");
        }
    }

    #[test]
    fn level_thresholds() {
        assert_eq!(RiskLevel::from_score(24), RiskLevel::Low);
        assert_eq!(RiskLevel::from_score(25), RiskLevel::Medium);
        assert_eq!(RiskLevel::from_score(49), RiskLevel::Medium);
        assert_eq!(RiskLevel::from_score(50), RiskLevel::High);
        assert_eq!(RiskLevel::from_score(79), RiskLevel::High);
        assert_eq!(RiskLevel::from_score(80), RiskLevel::Critical);
    }
}
