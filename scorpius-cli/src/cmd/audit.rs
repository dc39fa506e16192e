//! `scorpius audit log|verify|checkpoint|prove|consistency|redact|export|verify-bundle`.
//!
//! `verify` and `verify-bundle` exit 0 when the log verifies and 1 when it shows tampering
//! (the first bad sequence number and what is wrong are printed); 2 for bad input, 3 when
//! the log cannot be read.

use std::{
    fs,
    io::{BufRead as _, BufReader, Write as _},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use scorpius_core::audit::{
    Entry,
    checkpoint::{NoteVerifier, parse_unverified},
    sqlite::{Filter, StoredCheckpoint},
    verify::{EntryChecker, Verification},
};

use crate::{
    exit,
    output::{self, Format},
};

/// `scorpius audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// List audit entries, oldest first.
    Log {
        /// Only entries at or after this time: an RFC 3339 date-time or a date (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only this actor (e.g. cli, or an API key id).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action, or a prefix ending in `*` (e.g. `scan.*`).
        #[arg(long)]
        action: Option<String>,
        /// Only the newest N matching entries.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
    },
    /// Recompute every hash, link, Merkle node and checkpoint; report the first tampering.
    Verify {
        /// A checkpoint saved earlier (from `audit checkpoint`): the log must still contain
        /// and extend it.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Verify signatures with this public key (verifier key file) instead of the log's own.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
    },
    /// Print the latest signed checkpoint (signing one if the log grew since the last).
    Checkpoint {
        /// Write it to FILE instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Inclusion proof of entry SEQ (JSON), with the signed checkpoint it leads to.
    Prove {
        /// Sequence number of the entry.
        seq: u64,
        /// Prove against the tree of this many entries (default: the whole log).
        #[arg(long, value_name = "N")]
        size: Option<u64>,
    },
    /// Consistency proof (JSON) that the log of NEW_SIZE entries extends the one of OLD_SIZE.
    Consistency {
        /// The older tree size.
        old_size: u64,
        /// The newer tree size (default: the whole log).
        new_size: Option<u64>,
    },
    /// Erase the details of entry SEQ (hashes stay valid); the redaction itself is recorded.
    Redact {
        /// Sequence number of the entry.
        seq: u64,
        /// Why (recorded in the redaction entry).
        #[arg(long)]
        reason: String,
    },
    /// Write an offline-verifiable bundle: entries, checkpoints and the public key.
    Export {
        /// Directory to write the bundle to (created; must be empty if it exists).
        #[arg(long, short, value_name = "DIR")]
        output: PathBuf,
    },
    /// Verify an exported bundle with no database, against a public key you trust.
    VerifyBundle {
        /// The bundle directory.
        dir: PathBuf,
        /// The trusted public key (verifier key file).
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
    },
}

/// Runs an audit subcommand.
pub fn run(cmd: AuditCommand) -> Result<u8> {
    match cmd {
        AuditCommand::Log { since, actor, action, limit, format } => {
            let since_ms = since.as_deref().map(parse_since).transpose()?;
            let entries = match crate::audit::open_existing()? {
                Some(log) => log.entries(&Filter { since_ms, actor, action, limit, ..Filter::default() })?,
                None => Vec::new(),
            };
            let text = match output::resolve_format(format, None) {
                Format::Json => serde_json::to_string_pretty(&entries)? + "\n",
                Format::Table => entries_table(&entries),
            };
            output::emit(&text, None)?;
            Ok(exit::OK)
        }
        AuditCommand::Verify { checkpoint, public_key, format } => {
            let Some(log) = crate::audit::open_existing()? else {
                return Err(exit::usage("there is no audit log yet in this data directory"));
            };
            let trusted = public_key.as_deref().map(read_key).transpose()?;
            let mut saved = Vec::new();
            if let Some(path) = checkpoint {
                let note = output::read_input(&path.display().to_string(), "checkpoint")?;
                parse_unverified(&note).map_err(|e| exit::usage(format!("{}: {e}", path.display())))?;
                saved.push(note);
            }
            let v = log.verify_with(trusted.as_ref(), &saved)?;
            print_verification(&v, format)
        }
        AuditCommand::Checkpoint { output: out } => {
            let mut log = crate::audit::open()?;
            let cp = log.checkpoint()?;
            output::emit(&cp.note, out.as_ref())?;
            Ok(exit::OK)
        }
        AuditCommand::Prove { seq, size } => {
            let Some(mut log) = crate::audit::open_existing()? else {
                return Err(exit::usage("there is no audit log yet in this data directory"));
            };
            let total = log.size()?;
            if seq >= total || size.is_some_and(|s| s > total || seq >= s) {
                return Err(exit::usage(format!(
                    "entry {seq} is not in a tree of {} entries (the log has {total})",
                    size.unwrap_or(total)
                )));
            }
            let proof = log.inclusion_proof(seq, size)?;
            output::emit(&(serde_json::to_string_pretty(&proof)? + "\n"), None)?;
            Ok(exit::OK)
        }
        AuditCommand::Consistency { old_size, new_size } => {
            let Some(log) = crate::audit::open_existing()? else {
                return Err(exit::usage("there is no audit log yet in this data directory"));
            };
            let total = log.size()?;
            let new = new_size.unwrap_or(total);
            if old_size == 0 || old_size > new || new > total {
                return Err(exit::usage(format!(
                    "need 0 < OLD_SIZE ≤ NEW_SIZE ≤ {total} (the log's size), got {old_size} and {new}"
                )));
            }
            let proof = log.consistency_proof(old_size, Some(new))?;
            output::emit(&(serde_json::to_string_pretty(&proof)? + "\n"), None)?;
            Ok(exit::OK)
        }
        AuditCommand::Redact { seq, reason } => {
            let Some(mut log) = crate::audit::open_existing()? else {
                return Err(exit::usage("there is no audit log yet in this data directory"));
            };
            let total = log.size()?;
            if seq >= total {
                return Err(exit::usage(format!("no audit entry {seq}: the log has {total} entries")));
            }
            let recorded = log.redact(seq, "cli", &reason)?;
            eprintln!("Redacted the details of entry {seq}; the redaction is entry {recorded}.");
            Ok(exit::OK)
        }
        AuditCommand::Export { output: dir } => export(&dir),
        AuditCommand::VerifyBundle { dir, public_key, format } => {
            let key = read_key(&public_key)?;
            let v = verify_bundle(&dir, &key)?;
            print_verification(&v, format)
        }
    }
}

/// `--since`: RFC 3339, or a date meaning its start (UTC).
pub fn parse_since(s: &str) -> Result<i64> {
    use time::{Date, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| Date::parse(s, format_description!("[year]-[month]-[day]")).map(|d| d.midnight().assume_utc()))
        .map_err(|_| exit::usage(format!("--since: {s:?} is neither an RFC 3339 time nor a YYYY-MM-DD date")))?;
    Ok(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

fn read_key(path: &Path) -> Result<NoteVerifier> {
    let text =
        fs::read_to_string(path).map_err(|e| exit::usage(format!("reading public key {}: {e}", path.display())))?;
    NoteVerifier::parse(&text).map_err(|e| exit::usage(format!("{}: {e}", path.display())))
}

fn time_str(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn entries_table(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "No audit entries.\n".to_owned();
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["seq", "time (UTC)", "actor", "action", "resource", "outcome", "details"]);
    for e in entries {
        t.add_row([
            e.seq.to_string(),
            time_str(e.timestamp_ms),
            e.actor.clone(),
            e.action.clone(),
            e.resource.clone(),
            e.outcome.as_str().to_owned(),
            e.details.clone().unwrap_or_else(|| "(redacted)".into()),
        ]);
    }
    format!("{t}\n")
}

fn print_verification(v: &Verification, format: Option<Format>) -> Result<u8> {
    let text = match output::resolve_format(format, None) {
        Format::Json => serde_json::to_string_pretty(v)? + "\n",
        Format::Table => {
            let mut s = String::new();
            if v.is_ok() {
                s.push_str(&format!(
                    "Audit log verified: {} entries, {} checkpoints, signed up to {}; root {}.\n",
                    v.entries, v.checkpoints, v.signed_size, v.root
                ));
            } else {
                let first = v.first().map(|p| match p.seq {
                    Some(seq) => format!("first bad entry: {seq} ({:?})", p.kind),
                    None => format!("{:?}", p.kind),
                });
                s.push_str(&format!(
                    "AUDIT LOG TAMPERED: {} problem(s); {}.\n",
                    v.problems.len(),
                    first.unwrap_or_default()
                ));
                for p in &v.problems {
                    let at = p.seq.map(|s| format!("[{s}] ")).unwrap_or_default();
                    s.push_str(&format!("  - {at}{}\n", p.message));
                }
            }
            s
        }
    };
    output::emit(&text, None)?;
    Ok(if v.is_ok() { exit::OK } else { exit::FINDINGS })
}

/// Bundle layout: `entries.jsonl`, `checkpoints.jsonl`, `checkpoint` (the latest signed
/// note), `public-key.vkey` and `manifest.json`.
fn export(dir: &Path) -> Result<u8> {
    let Some(mut log) = crate::audit::open_existing()? else {
        return Err(exit::usage("there is no audit log yet in this data directory"));
    };
    if dir.exists() && fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_some() {
        return Err(exit::usage(format!("{} is not empty: export into a new or empty directory", dir.display())));
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let latest = log.checkpoint()?;
    let write = |name: &str, f: &dyn Fn(&mut dyn std::io::Write) -> Result<()>| -> Result<()> {
        let path = dir.join(name);
        let mut file =
            std::io::BufWriter::new(fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?);
        f(&mut file)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    };
    {
        let path = dir.join("entries.jsonl");
        let mut w =
            std::io::BufWriter::new(fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?);
        let mut failed: Option<std::io::Error> = None;
        log.for_each_entry(|e| {
            if failed.is_none()
                && let Err(err) =
                    serde_json::to_writer(&mut w, &e).map_err(std::io::Error::from).and_then(|()| w.write_all(b"\n"))
            {
                failed = Some(err);
            }
        })?;
        if let Some(e) = failed {
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    let checkpoints = log.checkpoints()?;
    write("checkpoints.jsonl", &|w| {
        for c in &checkpoints {
            serde_json::to_writer(&mut *w, c)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    write("checkpoint", &|w| Ok(w.write_all(latest.note.as_bytes())?))?;
    write("public-key.vkey", &|w| Ok(w.write_all(format!("{}\n", log.verifier().encode()).as_bytes())?))?;
    let manifest = serde_json::json!({
        "format": "scorpius-audit-bundle/v1",
        "origin": log.origin(),
        "entries": latest.tree_size,
        "latest_checkpoint": latest.note,
    });
    write("manifest.json", &|w| Ok(serde_json::to_writer_pretty(&mut *w, &manifest)?))?;
    crate::audit::note(None, serde_json::json!({ "entries": latest.tree_size }));
    eprintln!("Exported {} entries and {} checkpoints to {}.", latest.tree_size, checkpoints.len(), dir.display());
    Ok(exit::OK)
}

fn verify_bundle(dir: &Path, key: &NoteVerifier) -> Result<Verification> {
    for name in ["manifest.json", "entries.jsonl", "checkpoints.jsonl"] {
        if !dir.join(name).is_file() {
            return Err(exit::usage(format!("{} is not an audit bundle: {name} is missing", dir.display())));
        }
    }
    let read = |name: &str| -> Result<BufReader<fs::File>> {
        let path = dir.join(name);
        Ok(BufReader::new(fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?))
    };
    let manifest: serde_json::Value = serde_json::from_reader(read("manifest.json")?)
        .map_err(|e| exit::usage(format!("{}: manifest.json: {e}", dir.display())))?;
    let origin = manifest["origin"]
        .as_str()
        .ok_or_else(|| exit::usage(format!("{}: manifest.json has no origin", dir.display())))?
        .to_owned();
    let mut checkpoints: Vec<StoredCheckpoint> = Vec::new();
    for (i, line) in read("checkpoints.jsonl")?.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        checkpoints.push(
            serde_json::from_str(&line).map_err(|e| exit::usage(format!("checkpoints.jsonl line {}: {e}", i + 1)))?,
        );
    }
    let mut notes: Vec<String> = checkpoints.into_iter().map(|c| c.note).collect();
    if let Ok(latest) = fs::read_to_string(dir.join("checkpoint"))
        && !notes.contains(&latest)
    {
        notes.push(latest);
    }
    let sizes = notes.iter().filter_map(|n| parse_unverified(n).ok()).map(|c| c.size).collect();
    let mut checker = EntryChecker::new(sizes);
    for (i, line) in read("entries.jsonl")?.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry =
            serde_json::from_str(&line).map_err(|e| exit::usage(format!("entries.jsonl line {}: {e}", i + 1)))?;
        checker.push(&entry);
    }
    Ok(checker.finish(&origin, &notes, key))
}
