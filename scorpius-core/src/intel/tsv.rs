//! The intel TSV format (one entry per line, header first):
//! `kind chain value labels confidence first_seen last_seen delisted_at name reference`.
//! Bundled datasets use it, `scorpius intel export` writes it and `intel import` reads it.

use std::borrow::Cow;

use super::{EntryKind, Labels};
use crate::Error;

/// The header line, tab-separated.
pub const HEADER: &str = "kind\tchain\tvalue\tlabels\tconfidence\tfirst_seen\tlast_seen\tdelisted_at\tname\treference";

/// One parsed row. Strings borrow from the input where possible.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    /// What the value is.
    pub kind: EntryKind,
    /// Chain id, `None` for any chain.
    pub chain: Option<u64>,
    /// Normalised value (lowercase 0x address, lowercase domain).
    pub value: Cow<'a, str>,
    /// Labels.
    pub labels: Labels,
    /// 0.0–1.0.
    pub confidence: f32,
    /// ISO date, if known.
    pub first_seen: Option<&'a str>,
    /// ISO date, if known.
    pub last_seen: Option<&'a str>,
    /// ISO date the source delisted the entry, if it did.
    pub delisted_at: Option<&'a str>,
    /// Entity name.
    pub name: &'a str,
    /// Source reference.
    pub reference: &'a str,
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Parses one data line (not the header). `line_no` is 1-based, for the error.
pub fn parse_line(line: &str, line_no: usize) -> Result<Row<'_>, Error> {
    let at = |problem: String| Error::input(format!("line {line_no}"), problem);
    let mut f = line.split('\t');
    let mut next =
        |name: &str| f.next().ok_or_else(|| at(format!("missing column `{name}` (expected 10 tab-separated columns)")));
    let kind: EntryKind = next("kind")?.parse().map_err(|e: Error| at(e.to_string()))?;
    let chain = match next("chain")? {
        "*" | "" => None,
        c => Some(c.parse::<u64>().map_err(|_| at(format!("chain `{c}` is not a chain id or *")))?),
    };
    let raw_value = next("value")?;
    let value = normalise_value(kind, raw_value).map_err(&at)?;
    let labels = Labels::parse_list(next("labels")?).map_err(|e| at(e.to_string()))?;
    let conf = next("confidence")?;
    let confidence = if conf.is_empty() {
        1.0
    } else {
        conf.parse::<f32>()
            .ok()
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or_else(|| at(format!("confidence `{conf}` is not between 0 and 1")))?
    };
    let first_seen = opt(next("first_seen")?);
    let last_seen = opt(next("last_seen")?);
    let delisted_at = opt(next("delisted_at")?);
    let name = next("name")?;
    let reference = next("reference")?;
    Ok(Row { kind, chain, value, labels, confidence, first_seen, last_seen, delisted_at, name, reference })
}

/// Normalises a value of `kind`: addresses to lowercase `0x` + 40 hex, domains lowercased
/// without a trailing dot. Returns the problem on failure.
pub fn normalise_value(kind: EntryKind, raw: &str) -> Result<Cow<'_, str>, String> {
    let v = raw.trim();
    match kind {
        EntryKind::Address => {
            let ok = v.len() == 42 && v.starts_with("0x") && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(format!("`{v}` is not a 20-byte 0x address"));
            }
            Ok(if v.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(v.to_ascii_lowercase())
            } else {
                Cow::Borrowed(v)
            })
        }
        EntryKind::Domain => {
            let d = v.trim_end_matches('.');
            if d.is_empty() || d.contains(|c: char| c.is_whitespace() || c == '/' || c == ':') || !d.contains('.') {
                return Err(format!("`{v}` is not a domain name"));
            }
            Ok(if d.chars().any(char::is_uppercase) || d.len() != v.len() {
                Cow::Owned(d.to_lowercase())
            } else {
                Cow::Borrowed(d)
            })
        }
        EntryKind::BytecodeHash => {
            let ok = v.len() == 66 && v.starts_with("0x") && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(format!("`{v}` is not a 32-byte 0x hash"));
            }
            Ok(Cow::Owned(v.to_ascii_lowercase()))
        }
        EntryKind::Selector => {
            let ok = v.len() == 10 && v.starts_with("0x") && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(format!("`{v}` is not a 4-byte 0x selector"));
            }
            Ok(Cow::Owned(v.to_ascii_lowercase()))
        }
    }
}

/// Formats a row as a TSV line (no newline).
pub fn format_row(r: &Row<'_>) -> String {
    let labels: Vec<_> = r.labels.iter().map(|l| l.as_str()).collect();
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    format!(
        "{}\t{}\t{}\t{}\t{:.1}\t{}\t{}\t{}\t{}\t{}",
        r.kind.as_str(),
        r.chain.map_or("*".to_owned(), |c| c.to_string()),
        r.value,
        labels.join(","),
        r.confidence,
        r.first_seen.unwrap_or(""),
        r.last_seen.unwrap_or(""),
        r.delisted_at.unwrap_or(""),
        clean(r.name),
        clean(r.reference)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let line = "address\t*\t0xD90E2F925DA726B50C4ED8D0FB90AD053324F31B\tsanctioned,mixer\t1.0\t2022-08-08\t\t2025-03-21\tTornado Cash\tofac";
        let r = parse_line(line, 2).unwrap();
        assert_eq!(r.value, "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b");
        assert_eq!(r.delisted_at, Some("2025-03-21"));
        assert!(r.labels.contains(super::super::Label::Mixer));
        let line2 = format_row(&r);
        let again = parse_line(&line2, 2).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = parse_line("address\t1\t0x1234", 7).unwrap_err().to_string();
        assert!(e.starts_with("line 7:") && e.contains("not a 20-byte"), "{e}");
        let e = parse_line("address\tmainnet\t0xd90e2f925da726b50c4ed8d0fb90ad053324f31b\t\t\t\t\t\t\t", 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chain `mainnet`"), "{e}");
        let e = parse_line("address\t1\t0xd90e2f925da726b50c4ed8d0fb90ad053324f31b\tevil\t\t\t\t\t\t", 4)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`evil` is not a label"), "{e}");
        let e = parse_line("address\t1\t0xd90e2f925da726b50c4ed8d0fb90ad053324f31b", 5).unwrap_err().to_string();
        assert!(e.contains("missing column `labels`"), "{e}");
    }
}
