//! Saved scans: `GET /v1/scans` (a page of summaries, newest first, with a cursor) and the
//! formats `GET /v1/scans/{id}/report` renders.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::model::ScanReport;

/// One saved scan in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanSummary {
    /// Scan id.
    pub scan_id: String,
    /// `transaction`, `signature`, `address`, `domain` or `contract`.
    pub kind: String,
    /// The report's target.
    pub target: String,
    /// Chain id.
    pub chain_id: u64,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// Risk score 0–100.
    pub risk_score: u8,
    /// Risk level.
    pub risk_level: String,
    /// Number of findings.
    pub findings: u64,
    /// Whether the scan saw everything.
    pub complete: bool,
    /// The key that ran it.
    pub key_id: String,
}

impl ScanSummary {
    /// The summary of a report run by `key_id`.
    pub fn of(report: &ScanReport, key_id: &str) -> Self {
        let started_at = report.started_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        ScanSummary {
            scan_id: report.scan_id.to_string(),
            kind: report.kind.as_str().to_owned(),
            target: report.target.clone(),
            chain_id: report.chain.id,
            started_at,
            risk_score: report.risk.score,
            risk_level: report.risk.level.as_str().to_owned(),
            findings: report.findings.len() as u64,
            complete: matches!(report.status, crate::model::ScanStatus::Complete),
            key_id: key_id.to_owned(),
        }
    }
}

/// `GET /v1/scans`: a page of summaries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanPage {
    /// The scans on this page.
    pub items: Vec<ScanSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query of `GET /v1/scans`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this kind (transaction, signature, address, domain, contract, wallet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only this target (case-insensitive, exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Only scans started at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only scans at or above this risk level (none, low, medium, high, critical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// From `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Query of `GET /v1/scans/{id}/report`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// json (default), markdown, html, csv, sarif or pdf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A rendering of a saved report (`?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// The versioned JSON report.
    Json,
    /// Markdown.
    Markdown,
    /// A self-contained HTML page.
    Html,
    /// CSV, one finding per row.
    Csv,
    /// SARIF 2.1.0 for code-scanning tools.
    Sarif,
    /// A PDF document (needs the `pdf` feature to render).
    Pdf,
}

impl ReportFormat {
    /// Every format, for messages.
    pub const ALL: [ReportFormat; 6] = [
        ReportFormat::Json,
        ReportFormat::Markdown,
        ReportFormat::Html,
        ReportFormat::Csv,
        ReportFormat::Sarif,
        ReportFormat::Pdf,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Markdown => "markdown",
            ReportFormat::Html => "html",
            ReportFormat::Csv => "csv",
            ReportFormat::Sarif => "sarif",
            ReportFormat::Pdf => "pdf",
        }
    }

    /// The HTTP content type of the rendering.
    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Json => "application/json",
            ReportFormat::Markdown => "text/markdown; charset=utf-8",
            ReportFormat::Html => "text/html; charset=utf-8",
            ReportFormat::Csv => "text/csv; charset=utf-8",
            ReportFormat::Sarif => "application/sarif+json",
            ReportFormat::Pdf => "application/pdf",
        }
    }

    /// Renders `report` in this format.
    ///
    /// # Errors
    /// Only PDF can fail: without the `pdf` feature, or when the document cannot be laid out.
    pub fn render(self, report: &ScanReport) -> crate::Result<Vec<u8>> {
        Ok(match self {
            ReportFormat::Json => crate::report::to_json(report).into_bytes(),
            ReportFormat::Markdown => crate::report::to_markdown(report).into_bytes(),
            ReportFormat::Html => crate::report::to_html(report).into_bytes(),
            ReportFormat::Csv => crate::report::to_csv(report).into_bytes(),
            // The server has no source tree: findings keep their paths, without line hashes.
            ReportFormat::Sarif => {
                crate::report::to_sarif(std::slice::from_ref(report), &crate::report::sarif::NoSources).into_bytes()
            }
            #[cfg(feature = "pdf")]
            ReportFormat::Pdf => crate::report::pdf::to_pdf(std::slice::from_ref(report))
                .map_err(|e| crate::Error::input("format", format!("the PDF could not be rendered: {e}")))?,
            #[cfg(not(feature = "pdf"))]
            ReportFormat::Pdf => {
                return Err(crate::Error::input("format", "this build renders no PDF (cargo feature `pdf`)"));
            }
        })
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportFormat {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let t = if t == "md" { "markdown".to_owned() } else { t };
        ReportFormat::ALL.into_iter().find(|f| f.as_str() == t).ok_or_else(|| {
            crate::Error::input(
                "format",
                format!(
                    "`{s}` is not a report format: use {}",
                    ReportFormat::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }
}
