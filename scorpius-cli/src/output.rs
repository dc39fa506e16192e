//! Where results go: stdout (only results; logs go to stderr) or a file written atomically,
//! in the chosen format. A closed pipe (`scorpius … | head`) ends the program quietly.

use std::{
    fmt,
    io::{self, IsTerminal, Write},
    path::{Path, PathBuf},
    str::FromStr,
};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// The versioned JSON format.
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Table => "table",
            Format::Json => "json",
        })
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            _ => Err(format!("`{s}` is not a format: use table or json")),
        }
    }
}

/// Output format of a scan report: the general formats plus renderings for people and
/// spreadsheets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Human-readable tables.
    Table,
    /// The versioned JSON `ScanReport`.
    Json,
    /// Markdown (pull-request comments).
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// CSV, one row per finding.
    Csv,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// PDF (binary: written to a file, or to stdout only when it is not a terminal).
    Pdf,
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(ReportFormat::Table),
            "json" => Ok(ReportFormat::Json),
            "markdown" | "md" => Ok(ReportFormat::Markdown),
            "html" => Ok(ReportFormat::Html),
            "csv" => Ok(ReportFormat::Csv),
            "sarif" => Ok(ReportFormat::Sarif),
            "pdf" => Ok(ReportFormat::Pdf),
            _ => Err(format!("`{s}` is not a report format: use table, json, markdown, html, csv, sarif or pdf")),
        }
    }
}

impl ReportFormat {
    /// The general format this is, when it is one (configuration only holds those).
    pub fn general(self) -> Option<Format> {
        match self {
            ReportFormat::Table => Some(Format::Table),
            ReportFormat::Json => Some(Format::Json),
            _ => None,
        }
    }
}

impl From<Format> for ReportFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => ReportFormat::Table,
            Format::Json => ReportFormat::Json,
        }
    }
}

/// Picks the format: explicit choice, else table on a terminal stdout, else JSON.
pub fn resolve_format(chosen: Option<Format>, output: Option<&Path>) -> Format {
    match chosen {
        Some(f) => f,
        None if output.is_none() && io::stdout().is_terminal() => Format::Table,
        None => Format::Json,
    }
}

/// Writes `content` to `path` atomically (temporary file in the same directory, then rename)
/// or to stdout.
pub fn emit(content: &str, path: Option<&PathBuf>) -> Result<()> {
    match path {
        Some(p) => write_atomic(p, content.as_bytes()),
        None => write_stdout(content),
    }
}

/// Writes binary `content` (a PDF) to `path` atomically, or to stdout when stdout is not a
/// terminal: binary output on a terminal is refused (exit 2), it would only garble it.
pub fn emit_bytes(content: &[u8], path: Option<&PathBuf>, what: &str) -> Result<()> {
    match path {
        Some(p) => write_atomic(p, content),
        None if io::stdout().is_terminal() => Err(crate::exit::usage(format!(
            "{what} is binary and standard output is a terminal: write it to a file with -o FILE (or pipe it)"
        ))),
        None => write_stdout_raw(content),
    }
}

fn write_stdout_raw(content: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(content).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

fn write_stdout(content: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    let res = out.write_all(content.as_bytes()).and_then(|()| {
        if !content.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    });
    match res {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("--output {}: not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Reads a whole input file, or standard input for `-`.
pub fn read_input(path: &str, what: &str) -> Result<String> {
    if path == "-" {
        // Read bytes, then check UTF-8 ourselves: non-text input is bad input (exit 2), not an
        // I/O failure (exit 3) as `read_to_string`'s InvalidData error would make it.
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::stdin(), &mut bytes)
            .with_context(|| format!("reading {what} from standard input"))?;
        return String::from_utf8(bytes)
            .map_err(|_| crate::exit::usage(format!("{what} from standard input: not UTF-8 text")));
    }
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| crate::exit::usage(format!("{what} {path}: not UTF-8 text"))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::IsADirectory
            ) =>
        {
            Err(crate::exit::usage(format!("{what} {path}: {e}")))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {what} {path}"))),
    }
}
