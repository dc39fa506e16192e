//! Project policy for CI gates (the `[policy]` table of `scorpius.toml`): per-rule severity
//! overrides, and ignores with a reason and an optional expiry date, applied to a finished
//! report. Ignored findings leave `findings` but stay visible in `suppressed`; an expired
//! ignore no longer applies and says so.
//!
//! ```toml
//! [policy]
//! severity = { "unknown-selector" = "low", "approval-unlimited" = "high" }
//!
//! [[policy.ignore]]
//! rule = "contract-pausable"
//! reason = "pausing is part of our incident response"
//! expires = "2027-06-30"          # optional, YYYY-MM-DD; from that day on it no longer applies
//! target = "0xA0b8…eB48"          # optional: only for this scan target or finding address
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{
    Error, Result,
    model::{RiskScore, ScanReport, Severity, Suppression, sort_findings},
    rules,
};

/// One ignore rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    /// The rule id to ignore.
    pub rule: String,
    /// Why (required: an ignore without a reason is not reviewable).
    pub reason: String,
    /// Last day it applies is the day before this date (YYYY-MM-DD, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Only for this target (the scan target or a finding's address), case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Severity overrides and ignores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Rule id → the severity to report it with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity: BTreeMap<String, Severity>,
    /// Findings to leave out of reports and gates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<Ignore>,
}

fn parse_date(field: &str, s: &str) -> Result<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| Error::input(field, format!("`{s}` is not a date (YYYY-MM-DD)")))
}

impl Policy {
    /// Whether the policy changes nothing.
    pub fn is_empty(&self) -> bool {
        self.severity.is_empty() && self.ignore.is_empty()
    }

    /// Checks rule ids, reasons and dates; errors name the field (`policy.ignore[1].expires`).
    pub fn validate(&self) -> Result<()> {
        let known = |id: &str| rules::ALL.iter().any(|r| r.id == id);
        for id in self.severity.keys() {
            if !known(id) {
                return Err(Error::input(
                    format!("policy.severity.{id}"),
                    "no rule has this id (see `scorpius rules`)",
                ));
            }
        }
        for (i, ig) in self.ignore.iter().enumerate() {
            if !known(&ig.rule) {
                return Err(Error::input(
                    format!("policy.ignore[{i}].rule"),
                    format!("no rule has the id `{}`", ig.rule),
                ));
            }
            if ig.reason.trim().is_empty() {
                return Err(Error::input(format!("policy.ignore[{i}].reason"), "an ignore needs a reason"));
            }
            if let Some(e) = &ig.expires {
                parse_date(&format!("policy.ignore[{i}].expires"), e)?;
            }
        }
        Ok(())
    }

    /// Applies the policy to `report` as of `today`; returns warnings (expired ignores).
    pub fn apply(&self, report: &mut ScanReport, today: Date) -> Result<Vec<String>> {
        self.validate()?;
        let mut warnings = Vec::new();
        let mut active = Vec::new();
        for (i, ig) in self.ignore.iter().enumerate() {
            let expires =
                ig.expires.as_deref().map(|e| parse_date(&format!("policy.ignore[{i}].expires"), e)).transpose()?;
            if expires.is_some_and(|d| today >= d) {
                warnings.push(format!(
                    "policy.ignore[{i}] ({}) expired on {}: its findings are reported again",
                    ig.rule,
                    ig.expires.as_deref().unwrap_or_default()
                ));
            } else {
                active.push(ig);
            }
        }
        let matches = |ig: &Ignore, f: &crate::model::Finding| {
            ig.rule == f.rule_id
                && ig.target.as_ref().is_none_or(|t| {
                    t.eq_ignore_ascii_case(&report.target)
                        || f.location
                            .as_ref()
                            .and_then(|l| l.address.as_ref())
                            .is_some_and(|a| a.eq_ignore_ascii_case(t))
                })
        };
        let mut kept = Vec::with_capacity(report.findings.len());
        let mut suppressed: Vec<Suppression> = Vec::new();
        for mut f in std::mem::take(&mut report.findings) {
            if let Some(ig) = active.iter().find(|ig| matches(ig, &f)) {
                match suppressed.iter_mut().find(|s| s.rule_id == f.rule_id && s.reason == ig.reason) {
                    Some(s) => s.count += 1,
                    None => suppressed.push(Suppression {
                        rule_id: f.rule_id.to_string(),
                        count: 1,
                        reason: ig.reason.clone(),
                        expires: ig.expires.clone(),
                    }),
                }
                continue;
            }
            if let Some(&sev) = self.severity.get(f.rule_id.as_ref())
                && sev != f.severity
            {
                let default = f.severity.as_str();
                f = f.with("policy_default_severity", default).severity(sev);
            }
            kept.push(f);
        }
        sort_findings(&mut kept);
        report.risk = RiskScore::from_findings(&kept);
        report.findings = kept;
        report.suppressed.extend(suppressed);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::fixtures::{APPROVE_UNLIMITED, usdc_report};

    fn report() -> ScanReport {
        usdc_report(APPROVE_UNLIMITED)
    }

    fn day(s: &str) -> Date {
        parse_date("t", s).unwrap()
    }

    #[test]
    fn overrides_raise_severity_and_the_risk() {
        let mut r = report();
        let before = r.risk.score;
        let p = Policy { severity: [("approval-unlimited".to_owned(), Severity::Critical)].into(), ignore: vec![] };
        assert!(p.apply(&mut r, day("2026-01-01")).unwrap().is_empty());
        assert_eq!(r.findings[0].severity, Severity::Critical);
        assert_eq!(r.findings[0].evidence["policy_default_severity"], "medium");
        assert!(r.risk.score > before);
    }

    #[test]
    fn ignores_move_findings_to_suppressed_until_they_expire() {
        let ig = Ignore {
            rule: "approval-unlimited".into(),
            reason: "vetted spender".into(),
            expires: Some("2027-01-01".into()),
            target: Some("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48".into()),
        };
        let p = Policy { severity: BTreeMap::new(), ignore: vec![ig.clone()] };
        let mut r = report();
        assert!(p.apply(&mut r, day("2026-12-31")).unwrap().is_empty());
        assert!(r.findings.is_empty());
        assert_eq!(r.risk.score, 0);
        assert_eq!(r.suppressed[0].count, 1);
        assert_eq!(r.suppressed[0].reason, "vetted spender");

        let mut r = report();
        let warnings = p.apply(&mut r, day("2027-01-01")).unwrap();
        assert_eq!(r.findings.len(), 1, "expired: reported again");
        assert!(warnings[0].contains("expired"), "{warnings:?}");

        let other = Policy { ignore: vec![Ignore { target: Some("0xdead".into()), ..ig }], ..Policy::default() };
        let mut r = report();
        other.apply(&mut r, day("2026-01-01")).unwrap();
        assert_eq!(r.findings.len(), 1, "other target");
    }

    #[test]
    fn bad_policies_name_the_field() {
        let e = |p: Policy| p.validate().unwrap_err().to_string();
        assert!(
            e(Policy { severity: [("no-such-rule".to_owned(), Severity::Low)].into(), ..Policy::default() })
                .contains("policy.severity.no-such-rule")
        );
        let ig = Ignore { rule: "approval-unlimited".into(), reason: " ".into(), expires: None, target: None };
        assert!(e(Policy { ignore: vec![ig.clone()], ..Policy::default() }).contains("policy.ignore[0].reason"));
        let ig = Ignore { reason: "x".into(), expires: Some("next year".into()), ..ig };
        assert!(e(Policy { ignore: vec![ig], ..Policy::default() }).contains("policy.ignore[0].expires"));
    }
}
