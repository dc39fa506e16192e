//! The local scan history (feature `store`): every saved [`ScanReport`] in SQLite, with the
//! columns needed to list and filter them, and the report itself as its versioned JSON so
//! `history show` can render it again in any format.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::model::{RiskLevel, ScanReport, ScanStatus};

/// History store failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// SQLite reported an error.
    #[error("scan history: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored report that no longer parses.
    #[error("scan history: stored report {id} is corrupt: {problem}")]
    Corrupt {
        /// The scan id.
        id: String,
        /// What is wrong.
        problem: String,
    },
    /// An id prefix that matches several scans.
    #[error("scan id prefix {0} matches more than one scan: give more characters")]
    Ambiguous(String),
}

/// One line of `history list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// Scan id.
    pub scan_id: String,
    /// Scan kind.
    pub kind: String,
    /// Target.
    pub target: String,
    /// Chain id.
    pub chain_id: u64,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// Risk score.
    pub risk_score: u8,
    /// Risk level.
    pub risk_level: String,
    /// Number of findings.
    pub findings: u64,
    /// Whether the scan saw everything.
    pub complete: bool,
}

/// Filters for [`History::list`].
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only this kind (`transaction`, `contract`, …).
    pub kind: Option<String>,
    /// Only this target (case-insensitive).
    pub target: Option<String>,
    /// Only scans started at or after this Unix time (ms).
    pub since_ms: Option<i64>,
    /// Only scans whose risk level is at least this.
    pub min_level: Option<RiskLevel>,
    /// At most this many, newest first.
    pub limit: Option<u64>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS scans (
    scan_id    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    target     TEXT NOT NULL,
    chain_id   INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    risk_score INTEGER NOT NULL,
    risk_level TEXT NOT NULL,
    level_rank INTEGER NOT NULL,
    findings   INTEGER NOT NULL,
    complete   INTEGER NOT NULL,
    report     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scans_started ON scans (started_ms);
";

fn rank(level: RiskLevel) -> i64 {
    match level {
        RiskLevel::None => 0,
        RiskLevel::Low => 1,
        RiskLevel::Medium => 2,
        RiskLevel::High => 3,
        RiskLevel::Critical => 4,
    }
}

/// The scan history in one SQLite file.
#[derive(Debug)]
pub struct History {
    conn: Connection,
}

impl History {
    /// Opens (or creates) the history at `path`.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A convenience record, not the audit trail: WAL without an fsync per scan (a power
        // cut may lose the last scans; the database stays consistent).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(History { conn })
    }

    /// Saves a report (replacing one with the same id).
    pub fn save(&mut self, r: &ScanReport) -> Result<(), HistoryError> {
        let started_at = r.started_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let started_ms = i64::try_from(r.started_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        self.conn.execute(
            "INSERT OR REPLACE INTO scans (scan_id, kind, target, chain_id, started_at, started_ms, risk_score, risk_level, level_rank, findings, complete, report) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                r.scan_id.to_string(),
                r.kind.as_str(),
                r.target,
                i64::try_from(r.chain.id).unwrap_or(i64::MAX),
                started_at,
                started_ms,
                r.risk.score,
                r.risk.level.as_str(),
                rank(r.risk.level),
                i64::try_from(r.findings.len()).unwrap_or(i64::MAX),
                matches!(r.status, ScanStatus::Complete),
                serde_json::to_string(r).unwrap_or_default(),
            ],
        )?;
        Ok(())
    }

    /// Saved scans matching `f`, newest first.
    pub fn list(&self, f: &HistoryFilter) -> Result<Vec<HistoryEntry>, HistoryError> {
        let mut sql = "SELECT scan_id, kind, target, chain_id, started_at, risk_score, risk_level, findings, complete FROM scans WHERE 1=1".to_owned();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(k) = &f.kind {
            sql.push_str(" AND kind = ?");
            args.push(k.clone().into());
        }
        if let Some(t) = &f.target {
            sql.push_str(" AND lower(target) = lower(?)");
            args.push(t.clone().into());
        }
        if let Some(s) = f.since_ms {
            sql.push_str(" AND started_ms >= ?");
            args.push(s.into());
        }
        if let Some(l) = f.min_level {
            sql.push_str(" AND level_rank >= ?");
            args.push(rank(l).into());
        }
        sql.push_str(" ORDER BY started_ms DESC, scan_id");
        if let Some(n) = f.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(HistoryEntry {
                scan_id: r.get(0)?,
                kind: r.get(1)?,
                target: r.get(2)?,
                chain_id: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                started_at: r.get(4)?,
                risk_score: r.get(5)?,
                risk_level: r.get(6)?,
                findings: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                complete: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn resolve(&self, id: &str) -> Result<Option<String>, HistoryError> {
        let id = id.trim().to_ascii_lowercase();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare("SELECT scan_id FROM scans WHERE substr(scan_id, 1, ?1) = ?2 LIMIT 2")?;
        let ids: Vec<String> = stmt
            .query_map(params![i64::try_from(id.len()).unwrap_or(0), id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        match ids.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            _ => Err(HistoryError::Ambiguous(id)),
        }
    }

    /// The saved report with this id (or unique id prefix).
    pub fn get(&self, id: &str) -> Result<Option<ScanReport>, HistoryError> {
        let Some(id) = self.resolve(id)? else { return Ok(None) };
        let json: Option<String> =
            self.conn.query_row("SELECT report FROM scans WHERE scan_id = ?1", [&id], |r| r.get(0)).optional()?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| HistoryError::Corrupt { id: id.clone(), problem: e.to_string() })
        })
        .transpose()
    }

    /// Deletes the saved report with this id (or unique prefix); returns the full id deleted.
    pub fn delete(&mut self, id: &str) -> Result<Option<String>, HistoryError> {
        let Some(id) = self.resolve(id)? else { return Ok(None) };
        self.conn.execute("DELETE FROM scans WHERE scan_id = ?1", [&id])?;
        Ok(Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::fixtures::{APPROVE_UNLIMITED, usdc_report as report};

    #[test]
    fn save_list_filter_show_delete() {
        let dir = std::env::temp_dir().join(format!("scorpius-history-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut h = History::open(&dir.join("h.sqlite")).unwrap();
        let risky = report(APPROVE_UNLIMITED);
        let clean = report("0x");
        h.save(&risky).unwrap();
        h.save(&clean).unwrap();
        assert_eq!(h.list(&HistoryFilter::default()).unwrap().len(), 2);
        let medium = h.list(&HistoryFilter { min_level: Some(RiskLevel::Medium), ..Default::default() }).unwrap();
        assert_eq!(medium.iter().map(|e| e.scan_id.clone()).collect::<Vec<_>>(), [risky.scan_id.to_string()]);
        let by_target = HistoryFilter {
            target: Some("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48".into()),
            kind: Some("transaction".into()),
            ..Default::default()
        };
        assert_eq!(h.list(&by_target).unwrap().len(), 2);
        let id = risky.scan_id.to_string();
        assert_eq!(h.get(&id[..8]).unwrap().unwrap(), risky);
        assert_eq!(h.get("zz").unwrap(), None);
        assert_eq!(h.delete(&id).unwrap(), Some(id.clone()));
        assert_eq!(h.get(&id).unwrap(), None);
        assert_eq!(h.list(&HistoryFilter::default()).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
