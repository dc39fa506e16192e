//! Plain-text renderings of a report for people and spreadsheets: Markdown (pull-request
//! comments), a self-contained HTML page, and CSV (one row per finding). Everything taken from
//! the report — targets, messages, evidence that an attacker may control (token names, site
//! names, calldata) — is escaped for the format it lands in.

use std::fmt::Write as _;

use crate::model::{Finding, Location, ScanReport, ScanStatus, Severity};

/// Where a finding points, as one short string: `file:line`, the call path, the address.
pub fn location_label(l: Option<&Location>) -> String {
    let Some(l) = l else { return String::new() };
    let mut parts = Vec::new();
    if let Some(f) = &l.file {
        parts.push(match (l.start_line, l.end_line) {
            (Some(a), Some(b)) if b != a => format!("{f}:{a}-{b}"),
            (Some(a), _) => format!("{f}:{a}"),
            _ => f.clone(),
        });
    }
    if let Some(p) = &l.path {
        parts.push(p.clone());
    }
    if let Some(a) = &l.address {
        parts.push(a.clone());
    }
    parts.join(" ")
}

fn evidence_json(f: &Finding) -> String {
    serde_json::to_string(&f.evidence).unwrap_or_default()
}

fn status_text(r: &ScanReport) -> String {
    match &r.status {
        ScanStatus::Complete => "complete".to_owned(),
        ScanStatus::Incomplete { reason } => format!("incomplete: {reason}"),
    }
}

fn counts(r: &ScanReport) -> String {
    let c = r.severity_counts();
    if c.is_empty() {
        return "no findings".to_owned();
    }
    c.iter().map(|(s, n)| format!("{n} {}", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// Escapes text for a Markdown table cell or paragraph: backslash-escapes the characters
/// Markdown (and GitHub's flavour) gives meaning to, turns newlines into `<br>`, and `<`/`>`/`&`
/// into entities so no HTML gets through.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

/// The report as Markdown, for a pull-request comment or a wiki.
pub fn to_markdown(r: &ScanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Scorpius {} scan: {}\n", r.kind.as_str(), md_escape(&r.target));
    let _ = writeln!(s, "| | |\n| --- | --- |");
    let _ = writeln!(s, "| Risk | **{}/100 ({})** |", r.risk.score, r.risk.level.as_str().to_uppercase());
    let _ = writeln!(s, "| Findings | {} |", counts(r));
    let _ = writeln!(s, "| Chain | {} ({}) |", md_escape(&r.chain.name), r.chain.id);
    let _ = writeln!(s, "| Status | {} |", md_escape(&status_text(r)));
    let _ = writeln!(s, "| Scan | `{}` at {} |", r.scan_id, r.started_at);
    let datasets: Vec<String> = r.datasets.iter().map(|d| format!("{} {}", d.name, d.version)).collect();
    let _ =
        writeln!(s, "| Engine | scorpius {}; {} |\n", md_escape(&r.engine_version), md_escape(&datasets.join(", ")));
    if r.findings.is_empty() {
        s.push_str("No findings.\n");
        return s;
    }
    s.push_str("| Severity | Rule | Finding | Where |\n| --- | --- | --- | --- |\n");
    for f in &r.findings {
        let _ = writeln!(
            s,
            "| {} | `{}` | **{}**: {} | {} |",
            f.severity.as_str().to_uppercase(),
            md_escape(&f.rule_id).replace('\\', ""),
            md_escape(&f.title),
            md_escape(&f.message),
            md_escape(&location_label(f.location.as_ref())),
        );
    }
    s.push_str("\n<details><summary>Evidence and recommendations</summary>\n\n");
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(s, "**{}. {}** (`{}`)\n", i + 1, md_escape(&f.title), md_escape(&f.rule_id).replace('\\', ""));
        for (k, v) in &f.evidence {
            let v = match v {
                serde_json::Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(s, "- {}: {}", md_escape(k), md_escape(&v));
        }
        let _ = writeln!(s, "\nRecommendation: {}\n", md_escape(&f.recommendation));
    }
    s.push_str("</details>\n");
    s
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8b0000",
        Severity::High => "#d9480f",
        Severity::Medium => "#e8a200",
        Severity::Low => "#1c7ed6",
        Severity::Info => "#6c757d",
    }
}

/// The report as one self-contained HTML page (inline CSS, no scripts, no external resources;
/// a Content-Security-Policy forbids loading any).
pub fn to_html(r: &ScanReport) -> String {
    let e = html_escape;
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    let _ = writeln!(s, "<title>Scorpius {} scan: {}</title>", e(r.kind.as_str()), e(&r.target));
    s.push_str(
        "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}\
         th,td{border:1px solid #ccc;padding:.4em;text-align:left;vertical-align:top}th{background:#f3f3f3}\
         .sev{color:#fff;font-weight:bold;padding:.1em .5em;border-radius:.3em}code,.mono{font-family:monospace;word-break:break-all}\
         .bar{height:1.2em;background:#eee;border-radius:.3em;overflow:hidden}.bar>div{height:100%}</style>\n</head>\n<body>\n",
    );
    let _ = writeln!(s, "<h1>Scorpius {} scan</h1>", e(r.kind.as_str()));
    let _ = writeln!(s, "<p class=\"mono\">{}</p>", e(&r.target));
    let level = r.risk.level.as_str().to_uppercase();
    let colour = r.findings.first().map_or("#2b8a3e", |f| severity_colour(f.severity));
    let _ = writeln!(
        s,
        "<h2>Risk {}/100 ({})</h2>\n<div class=\"bar\"><div style=\"width:{}%;background:{colour}\"></div></div>",
        r.risk.score,
        e(&level),
        r.risk.score
    );
    s.push_str("<table>\n");
    for (k, v) in [
        ("Findings", counts(r)),
        ("Chain", format!("{} ({})", r.chain.name, r.chain.id)),
        ("Status", status_text(r)),
        ("Scan id", r.scan_id.to_string()),
        ("Started", r.started_at.to_string()),
        ("Engine", format!("scorpius {}", r.engine_version)),
        ("Datasets", r.datasets.iter().map(|d| format!("{} {}", d.name, d.version)).collect::<Vec<_>>().join(", ")),
    ] {
        let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", e(k), e(&v));
    }
    s.push_str("</table>\n<h2>Findings</h2>\n");
    if r.findings.is_empty() {
        s.push_str("<p>No findings.</p>\n");
    } else {
        s.push_str("<table>\n<tr><th>Severity</th><th>Rule</th><th>Finding</th><th>Where</th><th>Evidence</th><th>Recommendation</th></tr>\n");
        for f in &r.findings {
            let mut ev = String::new();
            for (k, v) in &f.evidence {
                let v = match v {
                    serde_json::Value::String(x) => x.clone(),
                    other => other.to_string(),
                };
                let _ = write!(ev, "<div><b>{}</b>: <span class=\"mono\">{}</span></div>", e(k), e(&v));
            }
            let _ = writeln!(
                s,
                "<tr><td><span class=\"sev\" style=\"background:{}\">{}</span></td><td><code>{}</code></td><td><b>{}</b><br>{}</td><td class=\"mono\">{}</td><td>{ev}</td><td>{}</td></tr>",
                severity_colour(f.severity),
                e(&f.severity.as_str().to_uppercase()),
                e(&f.rule_id),
                e(&f.title),
                e(&f.message),
                e(&location_label(f.location.as_ref())),
                e(&f.recommendation),
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("</body>\n</html>\n");
    s
}

/// Neutralises a CSV cell that a spreadsheet would run as a formula (OWASP: a leading `=`,
/// `+`, `-`, `@`, tab or carriage return) by prefixing a single quote.
pub fn csv_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}

/// The report as CSV: a header and one row per finding.
pub fn to_csv(r: &ScanReport) -> String {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let header = [
        "scan_id",
        "kind",
        "target",
        "chain_id",
        "severity",
        "rule_id",
        "title",
        "message",
        "location",
        "file",
        "start_line",
        "recommendation",
        "evidence",
    ];
    let _ = w.write_record(header);
    for f in &r.findings {
        let l = f.location.as_ref();
        let row = [
            r.scan_id.to_string(),
            r.kind.as_str().to_owned(),
            r.target.clone(),
            r.chain.id.to_string(),
            f.severity.as_str().to_owned(),
            f.rule_id.to_string(),
            f.title.to_string(),
            f.message.clone(),
            location_label(l),
            l.and_then(|l| l.file.clone()).unwrap_or_default(),
            l.and_then(|l| l.start_line).map(|n| n.to_string()).unwrap_or_default(),
            f.recommendation.to_string(),
            evidence_json(f),
        ];
        let _ = w.write_record(row.iter().map(|c| csv_cell(c)));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx;

    /// A real report (an unlimited approve) whose finding carries hostile text.
    fn hostile() -> ScanReport {
        let mut r = tx::fixtures::usdc_report(tx::fixtures::APPROVE_UNLIMITED);
        assert!(!r.findings.is_empty());
        r.findings[0].message = "=HYPERLINK(\"http://evil\") <script>alert(1)</script> | **bold** [x](y)\nline".into();
        r.findings[0].evidence.insert("token_name".into(), "@SUM(1+1)<img src=x>".into());
        r
    }

    #[test]
    fn html_escapes_everything_from_the_report() {
        let h = to_html(&hostile());
        assert!(!h.contains("<script>") && !h.contains("<img"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(h.contains("&lt;img src=x&gt;"));
        assert!(h.contains("approval-unlimited"));
        assert!(!h.contains("src=\"http") && !h.contains("<link"), "self-contained");
    }

    #[test]
    fn markdown_escapes_table_breakers_and_html() {
        let m = to_markdown(&hostile());
        let row = m.lines().find(|l| l.contains("HYPERLINK")).unwrap();
        // Only the three inner column separators are bare: the message's `|` is escaped.
        assert_eq!(row.matches(" | ").count(), 3, "{row}");
        assert!(row.contains(" \\| "), "{row}");
        assert!(row.contains("\\*\\*bold\\*\\*") && row.contains("\\[x\\]\\(y\\)") && row.contains("<br>line"));
        assert!(!m.contains("<script>") && m.contains("&lt;script&gt;"));
        assert!(m.contains("`approval-unlimited`"));
    }

    #[test]
    fn csv_neutralises_formulas_and_has_one_row_per_finding() {
        let r = hostile();
        let c = to_csv(&r);
        let mut rd = csv::Reader::from_reader(c.as_bytes());
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), r.findings.len());
        assert!(rows[0][7].starts_with("'=HYPERLINK"), "{:?}", &rows[0][7]);
        assert!(rows[0][12].contains("@SUM"));
        for row in &rows {
            for cell in row {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
            }
        }
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("0x12"), "0x12");
    }

    #[test]
    fn empty_reports_render() {
        let mut r = hostile();
        r.findings.clear();
        assert!(to_markdown(&r).contains("No findings."));
        assert!(to_html(&r).contains("No findings."));
        assert_eq!(to_csv(&r).lines().count(), 1);
    }
}
