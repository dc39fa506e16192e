//! The CLI's audit trail: where the log lives (`<data dir>/audit.sqlite`, signing key
//! `<data dir>/audit-signing.key`, mode 0600) and how commands are recorded.
//!
//! Every command that scans or changes state is recorded once, by [`record`], after it ran:
//! actor `cli`, the action, the resource, the outcome and a few details (exit code, scan id,
//! risk). Commands add details with [`note`]. Recording never changes a command's result: if
//! the log cannot be written, a warning says so on stderr.

use std::{path::PathBuf, sync::Mutex};

use anyhow::{Context as _, Result};
use scorpius_core::audit::{Event, Outcome, sqlite::AuditStore};

use crate::intel::data_dir;

/// Path of the audit database.
pub fn db_path() -> Result<PathBuf> {
    Ok(data_dir()?.join("audit.sqlite"))
}

/// Path of the signing key.
pub fn key_path() -> Result<PathBuf> {
    Ok(data_dir()?.join("audit-signing.key"))
}

/// Opens (or creates) the log.
pub fn open() -> Result<AuditStore> {
    let (db, key) = (db_path()?, key_path()?);
    AuditStore::open(&db, &key).with_context(|| format!("opening the audit log {}", db.display()))
}

/// Opens the log only if it exists.
pub fn open_existing() -> Result<Option<AuditStore>> {
    if db_path()?.exists() { open().map(Some) } else { Ok(None) }
}

/// What the running command wants recorded.
struct Note {
    resource: Option<String>,
    details: serde_json::Map<String, serde_json::Value>,
}

static NOTE: Mutex<Option<Note>> = Mutex::new(None);

/// Sets the resource and adds details to the record of the running command.
pub fn note(resource: Option<&str>, details: serde_json::Value) {
    let mut guard = NOTE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = guard.get_or_insert_with(|| Note { resource: None, details: serde_json::Map::new() });
    if let Some(r) = resource {
        n.resource = Some(r.to_owned());
    }
    if let serde_json::Value::Object(map) = details {
        n.details.extend(map);
    }
}

/// Records a finished command: `action` on `resource` (unless the command noted a better
/// one), with its exit code or error.
pub fn record(action: &str, resource: &str, result: &Result<u8>) {
    let note = NOTE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .unwrap_or(Note { resource: None, details: serde_json::Map::new() });
    let mut details = note.details;
    let outcome = match result {
        Ok(code) => {
            details.insert("exit_code".into(), (*code).into());
            Outcome::Success
        }
        Err(e) => {
            details.insert("exit_code".into(), crate::exit::code_for(e).into());
            details.insert("error".into(), format!("{e:#}").into());
            Outcome::Failure
        }
    };
    let resource = note.resource.unwrap_or_else(|| resource.to_owned());
    let resource = if resource.is_empty() { "-".to_owned() } else { resource };
    let event = Event::now("cli", action, resource, outcome, serde_json::Value::Object(details));
    if let Err(e) = open().and_then(|mut log| log.append(std::slice::from_ref(&event)).map_err(Into::into)) {
        tracing::warn!("could not record this command in the audit log: {e:#}");
    }
}
