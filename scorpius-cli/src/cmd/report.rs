//! `scorpius report`: saved scans (from the history) in a report format, optionally signed;
//! `scorpius report verify` checks a signed report.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use scorpius_core::{
    audit::checkpoint::NoteVerifier,
    model::ScanReport,
    report::{self, history::HistoryFilter, signing},
};

use crate::{
    exit,
    output::{self, ReportFormat},
    render,
};

/// `scorpius report …`
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// A saved scan to report (id or unique prefix; repeatable).
    #[arg(long = "scan", value_name = "ID")]
    pub scans: Vec<String>,
    /// The most recent saved scan.
    #[arg(long, conflicts_with_all = ["scans", "since"])]
    pub latest: bool,
    /// Every saved scan since this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "TIME", conflicts_with = "scans")]
    pub since: Option<String>,
    /// table, json, markdown, html, csv, sarif or pdf (default: table on a terminal, JSON
    /// otherwise). PDF is binary: on a terminal it needs -o FILE.
    /// SARIF puts the scans of each kind in one run.
    #[arg(long, short)]
    pub format: Option<ReportFormat>,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write a detached signature, FILE.sig, with the key from `scorpius keys generate`.
    #[arg(long, requires = "output")]
    pub sign: bool,
}

/// `scorpius report verify`
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Check a signed report: exit 0 when the signature holds, 1 when it does not.
    Verify {
        /// The report file.
        report: PathBuf,
        /// The signature file (default: REPORT.sig).
        #[arg(long, value_name = "FILE")]
        sig: Option<PathBuf>,
        /// The signer's public key (verifier key file, from `scorpius keys public`).
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
    },
}

fn sig_path(report: &std::path::Path) -> PathBuf {
    let mut s = report.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| exit::usage(format!("reading {what} {}: {e}", path.display())))
}

/// A rendered report: text, or bytes for binary formats.
pub enum Rendered {
    Text(String),
    Bytes(Vec<u8>),
}

impl Rendered {
    /// The exact bytes written (what a signature covers).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Rendered::Text(t) => t.as_bytes(),
            Rendered::Bytes(b) => b,
        }
    }

    /// Writes it to `path` (atomically) or stdout.
    pub fn emit(&self, path: Option<&PathBuf>) -> Result<()> {
        match self {
            Rendered::Text(t) => output::emit(t, path),
            Rendered::Bytes(b) => output::emit_bytes(b, path, "this report format"),
        }
    }
}

/// Source files for SARIF line hashes: repository-relative paths read from the working
/// directory (where scans name them from). Absolute paths, `..` and large files are skipped.
#[derive(Debug, Default)]
pub struct WorkingDirSources;

impl report::sarif::Sources for WorkingDirSources {
    fn text(&self, path: &str) -> Option<String> {
        const MAX_SOURCE_BYTES: u64 = 16 * 1024 * 1024;
        let p = std::path::Path::new(path);
        if p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return None;
        }
        let meta = std::fs::metadata(p).ok()?;
        if !meta.is_file() || meta.len() > MAX_SOURCE_BYTES {
            return None;
        }
        std::fs::read_to_string(p).ok()
    }
}

/// Renders one or more reports in one document.
pub fn render_all(reports: &[ScanReport], format: ReportFormat) -> Result<Rendered> {
    let text = match format {
        ReportFormat::Json if reports.len() == 1 => report::to_json(&reports[0]),
        ReportFormat::Json => serde_json::to_string_pretty(reports).unwrap_or_default() + "\n",
        ReportFormat::Sarif => report::to_sarif(reports, &WorkingDirSources),
        ReportFormat::Pdf => {
            let pdf = report::pdf::to_pdf(reports).context("rendering the PDF report")?;
            return Ok(Rendered::Bytes(pdf));
        }
        ReportFormat::Csv => {
            let mut out = String::new();
            for (i, r) in reports.iter().enumerate() {
                let csv = report::to_csv(r);
                // One header for the whole file.
                let body = if i == 0 { csv.as_str() } else { csv.split_once("\r\n").map_or("", |(_, b)| b) };
                out.push_str(body);
            }
            out
        }
        ReportFormat::Table => reports.iter().map(render::report).collect::<Vec<_>>().join("\n"),
        ReportFormat::Markdown => reports.iter().map(report::to_markdown).collect::<Vec<_>>().join("\n---\n\n"),
        ReportFormat::Html if reports.len() == 1 => report::to_html(&reports[0]),
        ReportFormat::Html => {
            // One page: the body of each report, one after the other.
            let pages: Vec<String> = reports.iter().map(report::to_html).collect();
            let head = pages[0].split_once("<body>\n").map_or("", |(h, _)| h).to_owned();
            let bodies: Vec<&str> = pages
                .iter()
                .filter_map(|p| p.split_once("<body>\n").and_then(|(_, b)| b.split_once("</body>")).map(|(b, _)| b))
                .collect();
            format!("{head}<body>\n{}</body>\n</html>\n", bodies.join("<hr>\n"))
        }
    };
    Ok(Rendered::Text(text))
}

/// Runs `scorpius report …`.
pub fn run(args: Args) -> Result<u8> {
    if let Some(ReportCommand::Verify { report, sig, public_key }) = args.command {
        let key_text = String::from_utf8_lossy(&read(&public_key, "public key")?).into_owned();
        let key = NoteVerifier::parse(&key_text).map_err(|e| exit::usage(format!("{}: {e}", public_key.display())))?;
        let bytes = read(&report, "report")?;
        let sig = sig.unwrap_or_else(|| sig_path(&report));
        let sig_text = String::from_utf8_lossy(&read(&sig, "signature")?).into_owned();
        return match signing::verify(&key, &bytes, &sig_text) {
            Ok(()) => {
                println!("OK: {} is signed by {} and unchanged.", report.display(), key.encode());
                Ok(exit::OK)
            }
            Err(signing::SignatureError::Malformed(m)) => Err(exit::usage(format!("{}: {m}", sig.display()))),
            Err(e) => {
                println!("FAILED: {}: {e}", report.display());
                Ok(exit::FINDINGS)
            }
        };
    }
    if args.scans.is_empty() && !args.latest && args.since.is_none() {
        return Err(exit::usage("choose the scans to report: --scan ID (repeatable), --latest or --since TIME"));
    }
    let signer = if args.sign { Some(super::keys::signer()?) } else { None };
    let history = if super::history::path()?.exists() { Some(super::history::open()?) } else { None };
    let mut reports = Vec::new();
    if let Some(h) = &history {
        for id in &args.scans {
            let r = h.get(id)?.ok_or_else(|| exit::usage(format!("no saved scan with id {id}")))?;
            reports.push(r);
        }
        if args.latest || args.since.is_some() {
            let filter = HistoryFilter {
                since_ms: args.since.as_deref().map(super::audit::parse_since).transpose()?,
                limit: args.latest.then_some(1),
                ..HistoryFilter::default()
            };
            let mut ids: Vec<String> = h.list(&filter)?.into_iter().map(|e| e.scan_id).collect();
            ids.reverse(); // oldest first
            for id in ids {
                reports.extend(h.get(&id)?);
            }
        }
    } else if !args.scans.is_empty() {
        return Err(exit::usage(format!("no saved scan with id {}", args.scans[0])));
    }
    if reports.is_empty() {
        return Err(exit::usage("no saved scans match (see `scorpius history list`)"));
    }
    let format = args.format.unwrap_or_else(|| output::resolve_format(None, args.output.as_deref()).into());
    let rendered = render_all(&reports, format)?;
    rendered.emit(args.output.as_ref())?;
    if let (Some(signer), Some(out)) = (signer, &args.output) {
        let sig = sig_path(out);
        output::emit(&signing::sign(&signer, rendered.as_bytes()), Some(&sig))
            .with_context(|| format!("writing {}", sig.display()))?;
        eprintln!("Signed: {}", sig.display());
    }
    crate::audit::note(
        None,
        serde_json::json!({ "scans": reports.iter().map(|r| r.scan_id.to_string()).collect::<Vec<_>>(), "signed": args.sign }),
    );
    Ok(exit::OK)
}
