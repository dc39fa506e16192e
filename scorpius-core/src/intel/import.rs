//! Parsers for user threat feeds (`scorpius intel import`): our TSV, CSV, JSON, plain text,
//! ScamSniffer's JSON lists and MetaMask's eth-phishing-detect config. Pure: text in, entries
//! out. A file with any bad row is rejected whole, with every bad row's line number.

use std::{collections::BTreeMap, fmt, str::FromStr};

use super::{Entry, EntryKind, Labels, tsv};
use crate::Error;

/// Feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// Scorpius intel TSV (what `intel export` writes).
    Tsv,
    /// CSV with a header: a `value`, `address` or `domain` column; optional `labels`/`label`,
    /// `chain`, `name`, `reference`, `confidence`.
    Csv,
    /// A JSON array of strings, or of objects with the CSV column names as keys.
    Json,
    /// One value per line; `#` starts a comment.
    Txt,
    /// ScamSniffer `blacklist/address.json` or `domains.json`: a JSON array of strings.
    Scamsniffer,
    /// MetaMask eth-phishing-detect `config.json`: its `blacklist` domains.
    EthPhishingDetect,
}

impl FromStr for FeedFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "tsv" => FeedFormat::Tsv,
            "csv" => FeedFormat::Csv,
            "json" => FeedFormat::Json,
            "txt" | "text" => FeedFormat::Txt,
            "scamsniffer" => FeedFormat::Scamsniffer,
            "eth-phishing-detect" => FeedFormat::EthPhishingDetect,
            _ => {
                return Err(Error::input(
                    "--format",
                    format!("`{s}` is not a feed format: use tsv, csv, json, txt, scamsniffer or eth-phishing-detect"),
                ));
            }
        })
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeedFormat::Tsv => "tsv",
            FeedFormat::Csv => "csv",
            FeedFormat::Json => "json",
            FeedFormat::Txt => "txt",
            FeedFormat::Scamsniffer => "scamsniffer",
            FeedFormat::EthPhishingDetect => "eth-phishing-detect",
        })
    }
}

/// Defaults applied to rows that do not say otherwise.
#[derive(Debug, Clone, Default)]
pub struct ImportDefaults {
    /// Labels for rows without labels (`--label`).
    pub labels: Labels,
    /// Chain for rows without one (`--chain`); `None` = any chain.
    pub chain: Option<u64>,
}

/// A bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line (for JSON: the array index + 1, stated in `problem`).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Parses a feed. Returns every entry, or every bad row.
pub fn parse(format: FeedFormat, text: &str, defaults: &ImportDefaults) -> Result<Vec<Entry>, Vec<RowError>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut push = |line: usize, r: Result<Entry, String>| match r {
        Ok(e) => entries.push(e),
        Err(problem) => errors.push(RowError { line, problem }),
    };
    match format {
        FeedFormat::Tsv => {
            for (i, line) in text.lines().enumerate() {
                if i == 0 && line.starts_with("kind\t") || line.trim().is_empty() {
                    continue;
                }
                push(
                    i + 1,
                    tsv::parse_line(line, i + 1)
                        .map(|r| with_defaults(Entry::from_row(&r), defaults))
                        .map_err(|e| strip_line_prefix(&e.to_string())),
                );
            }
        }
        FeedFormat::Txt => {
            for (i, line) in text.lines().enumerate() {
                let v = line.split('#').next().unwrap_or("").trim();
                if !v.is_empty() {
                    push(i + 1, simple_entry(v, defaults));
                }
            }
        }
        FeedFormat::Csv => parse_csv(text, defaults, &mut push),
        FeedFormat::Json | FeedFormat::Scamsniffer => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let r = match item {
                        serde_json::Value::String(s) => simple_entry(s, defaults),
                        serde_json::Value::Object(o) if format == FeedFormat::Json => {
                            let fields: BTreeMap<String, String> = o
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_ascii_lowercase(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                                })
                                .collect();
                            record_entry(&fields, defaults)
                        }
                        other => Err(format!(
                            "array element {i} is {}, expected a string",
                            crate::evm::parse::json_type(other)
                        )),
                    };
                    push(i + 1, r.map_err(|p| format!("element {i}: {p}")));
                }
            }
            Ok(other) => push(1, Err(format!("expected a JSON array, got {}", crate::evm::parse::json_type(&other)))),
            Err(e) => push(e.line(), Err(format!("malformed JSON: {e}"))),
        },
        FeedFormat::EthPhishingDetect => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => match v.get("blacklist").and_then(|b| b.as_array()) {
                Some(list) => {
                    for (i, item) in list.iter().enumerate() {
                        let r = item
                            .as_str()
                            .ok_or_else(|| format!("blacklist[{i}] is not a string"))
                            .and_then(|s| domain_entry(s, defaults));
                        push(i + 1, r);
                    }
                }
                None => push(1, Err("no `blacklist` array: not an eth-phishing-detect config.json".to_owned())),
            },
            Err(e) => push(e.line(), Err(format!("malformed JSON: {e}"))),
        },
    }
    if errors.is_empty() { Ok(entries) } else { Err(errors) }
}

fn strip_line_prefix(s: &str) -> String {
    s.split_once(": ").map_or(s, |(_, rest)| rest).to_owned()
}

fn with_defaults(mut e: Entry, d: &ImportDefaults) -> Entry {
    if e.labels.0 == 0 {
        e.labels = d.labels;
    }
    if e.chain.is_none() {
        e.chain = d.chain;
    }
    e
}

fn infer_kind(v: &str) -> EntryKind {
    if v.len() == 42 && (v.starts_with("0x") || v.starts_with("0X")) { EntryKind::Address } else { EntryKind::Domain }
}

fn blank(kind: EntryKind, value: String, d: &ImportDefaults) -> Entry {
    Entry {
        kind,
        chain: if kind == EntryKind::Domain { None } else { d.chain },
        value,
        labels: d.labels,
        confidence: 1.0,
        first_seen: None,
        last_seen: None,
        delisted_at: None,
        name: String::new(),
        reference: String::new(),
    }
}

fn simple_entry(v: &str, d: &ImportDefaults) -> Result<Entry, String> {
    let kind = infer_kind(v.trim());
    let value = tsv::normalise_value(kind, v)?.into_owned();
    Ok(blank(kind, value, d))
}

fn domain_entry(v: &str, d: &ImportDefaults) -> Result<Entry, String> {
    let value = tsv::normalise_value(EntryKind::Domain, v)?.into_owned();
    Ok(blank(EntryKind::Domain, value, d))
}

fn record_entry(fields: &BTreeMap<String, String>, d: &ImportDefaults) -> Result<Entry, String> {
    let get = |k: &str| fields.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let (kind, raw) = match (get("address"), get("domain"), get("value")) {
        (Some(a), _, _) => (EntryKind::Address, a),
        (None, Some(dm), _) => (EntryKind::Domain, dm),
        (None, None, Some(v)) => (infer_kind(v), v),
        _ => return Err("no `value`, `address` or `domain` field".to_owned()),
    };
    let mut e = blank(kind, tsv::normalise_value(kind, raw)?.into_owned(), d);
    if let Some(l) = get("labels").or(get("label")) {
        e.labels = Labels::parse_list(l).map_err(|x| strip_line_prefix(&x.to_string()))?;
    }
    if let Some(c) = get("chain") {
        e.chain = match c {
            "*" => None,
            c => Some(c.parse().map_err(|_| format!("chain `{c}` is not a chain id"))?),
        };
    }
    if let Some(c) = get("confidence") {
        e.confidence = c
            .parse::<f32>()
            .ok()
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or(format!("confidence `{c}` is not between 0 and 1"))?;
    }
    e.name = get("name").unwrap_or_default().to_owned();
    e.reference = get("reference").unwrap_or_default().to_owned();
    Ok(e)
}

fn parse_csv(text: &str, d: &ImportDefaults, push: &mut impl FnMut(usize, Result<Entry, String>)) {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.to_ascii_lowercase()).collect(),
        Err(e) => return push(1, Err(format!("unreadable CSV header: {e}"))),
    };
    if !headers.iter().any(|h| matches!(h.as_str(), "value" | "address" | "domain")) {
        return push(1, Err("the header has no `value`, `address` or `domain` column".to_owned()));
    }
    for record in reader.records() {
        match record {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line() as usize);
                let fields: BTreeMap<String, String> =
                    headers.iter().cloned().zip(rec.iter().map(str::to_owned)).collect();
                push(line, record_entry(&fields, d));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                push(line, Err(format!("unreadable CSV row: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::Label;

    fn phishing() -> ImportDefaults {
        let mut labels = Labels::default();
        labels.insert(Label::Phishing);
        ImportDefaults { labels, chain: None }
    }

    #[test]
    fn scamsniffer_lists() {
        let e = parse(
            FeedFormat::Scamsniffer,
            r#"["0xD90E2F925DA726B50C4ED8D0FB90AD053324F31B", "Evil-Site.xyz"]"#,
            &phishing(),
        )
        .unwrap();
        assert_eq!(e[0].kind, EntryKind::Address);
        assert_eq!(e[0].value, "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b");
        assert_eq!(e[1].value, "evil-site.xyz");
        assert!(e[1].labels.contains(Label::Phishing));
    }

    #[test]
    fn csv_with_labels_and_bad_rows() {
        let csv = "address,labels,chain,name\n0xd90e2f925da726b50c4ed8d0fb90ad053324f31b,drainer,1,Inferno\n0x1234,phishing,1,\n0xd90e2f925da726b50c4ed8d0fb90ad053324f31c,nonsense,1,\n";
        let errs = parse(FeedFormat::Csv, csv, &ImportDefaults::default()).unwrap_err();
        assert_eq!(errs.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4]);
        assert!(errs[0].problem.contains("not a 20-byte"), "{:?}", errs);
        assert!(errs[1].problem.contains("`nonsense` is not a label"), "{:?}", errs);
        let ok =
            parse(FeedFormat::Csv, &csv.lines().take(2).collect::<Vec<_>>().join("\n"), &ImportDefaults::default())
                .unwrap();
        assert_eq!(ok[0].chain, Some(1));
        assert_eq!(ok[0].name, "Inferno");
    }

    #[test]
    fn txt_and_eth_phishing_detect() {
        let e = parse(FeedFormat::Txt, "# comment\nfoo.com\n\nbar.org # trailing\n", &phishing()).unwrap();
        assert_eq!(e.len(), 2);
        let e = parse(
            FeedFormat::EthPhishingDetect,
            r#"{"blacklist":["a.com","b.io"],"whitelist":["c.com"]}"#,
            &phishing(),
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        let errs = parse(FeedFormat::EthPhishingDetect, r#"{"whitelist":[]}"#, &phishing()).unwrap_err();
        assert!(errs[0].problem.contains("blacklist"));
        let errs = parse(FeedFormat::Json, "[1, \"x.com\"", &phishing()).unwrap_err();
        assert!(errs[0].problem.contains("malformed JSON"));
    }
}
