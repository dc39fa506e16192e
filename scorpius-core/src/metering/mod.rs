//! Usage metering as pure logic (issue 9): the meters ([`Meter`]), calendar-month billing
//! periods in UTC ([`Period`]), plans with quotas, burst limits and prices ([`plan`]), the bill
//! of a month ([`billing`]), the month-end forecast ([`forecast`]) and soft-threshold crossings
//! ([`crossed_thresholds`]). Storage and HTTP are the server's; nothing here does I/O.

pub mod billing;
pub mod forecast;
pub mod plan;

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

/// What is counted. The names are stable (they appear in plans, usage exports and bills).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Meter {
    /// Every authenticated API request that reached its handler.
    #[serde(rename = "api.requests")]
    ApiRequests,
    /// `POST /v1/scan/transaction`.
    #[serde(rename = "scan.transaction")]
    ScanTransaction,
    /// `POST /v1/scan/signature`.
    #[serde(rename = "scan.signature")]
    ScanSignature,
    /// `POST /v1/scan/wallet`.
    #[serde(rename = "scan.wallet")]
    ScanWallet,
    /// `POST /v1/scan/contract`.
    #[serde(rename = "scan.contract")]
    ScanContract,
    /// `POST /v1/scan/address`.
    #[serde(rename = "scan.address")]
    ScanAddress,
    /// `POST /v1/scan/domain`.
    #[serde(rename = "scan.domain")]
    ScanDomain,
    /// A report rendered as PDF.
    #[serde(rename = "report.pdf")]
    ReportPdf,
    /// A report rendered as SARIF.
    #[serde(rename = "report.sarif")]
    ReportSarif,
}

impl Meter {
    /// Every meter.
    pub const ALL: [Meter; 9] = [
        Meter::ApiRequests,
        Meter::ScanTransaction,
        Meter::ScanSignature,
        Meter::ScanWallet,
        Meter::ScanContract,
        Meter::ScanAddress,
        Meter::ScanDomain,
        Meter::ReportPdf,
        Meter::ReportSarif,
    ];

    /// The stable name (`scan.transaction`).
    pub fn as_str(self) -> &'static str {
        match self {
            Meter::ApiRequests => "api.requests",
            Meter::ScanTransaction => "scan.transaction",
            Meter::ScanSignature => "scan.signature",
            Meter::ScanWallet => "scan.wallet",
            Meter::ScanContract => "scan.contract",
            Meter::ScanAddress => "scan.address",
            Meter::ScanDomain => "scan.domain",
            Meter::ReportPdf => "report.pdf",
            Meter::ReportSarif => "report.sarif",
        }
    }

    /// The meter of a scan kind (`transaction` → `scan.transaction`).
    pub fn for_scan(kind: &str) -> Option<Meter> {
        format!("scan.{kind}").parse().ok()
    }
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Meter {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Meter::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Meter::ALL.iter().map(|m| m.as_str()).collect();
            crate::Error::input("meter", format!("`{s}` is not a meter: use one of {}", names.join(", ")))
        })
    }
}

/// A calendar month in UTC: the billing and quota period (quotas reset on the 1st, 00:00 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
}

fn ms_of(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn datetime_of(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Period {
    /// The month containing `ms` (Unix milliseconds).
    pub fn containing(ms: i64) -> Period {
        let t = datetime_of(ms);
        Period { year: t.year(), month: u8::from(t.month()) }
    }

    fn first_day(self) -> Date {
        let month = Month::try_from(self.month).unwrap_or(Month::January);
        Date::from_calendar_date(self.year, month, 1).unwrap_or(Date::MIN)
    }

    /// Start (inclusive), Unix ms.
    pub fn start_ms(self) -> i64 {
        ms_of(self.first_day().midnight().assume_utc())
    }

    /// End (exclusive): the start of the next month, when the quota resets.
    pub fn end_ms(self) -> i64 {
        self.next().start_ms()
    }

    /// The following month.
    pub fn next(self) -> Period {
        if self.month == 12 {
            Period { year: self.year + 1, month: 1 }
        } else {
            Period { month: self.month + 1, ..self }
        }
    }

    /// Days in the month.
    pub fn days(self) -> u8 {
        self.first_day().month().length(self.year)
    }

    /// The start of the day containing `ms` (Unix ms, UTC).
    pub fn day_start_ms(ms: i64) -> i64 {
        ms.div_euclid(DAY_MS) * DAY_MS
    }
}

/// One hour, one day in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Period {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || crate::Error::input("month", format!("`{s}` is not a month: use YYYY-MM"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }
}

/// The soft thresholds, in percent of a quota, that emit `usage.threshold_reached`.
pub const THRESHOLDS: [u8; 2] = [80, 100];

/// Each threshold (percent of `quota`) with its level: the least usage that reaches it,
/// `⌈quota·t/100⌉`. A zero quota has no thresholds.
pub fn threshold_levels(quota: u64) -> Vec<(u8, u64)> {
    if quota == 0 {
        return Vec::new();
    }
    THRESHOLDS
        .into_iter()
        .map(|t| {
            let level = (u128::from(quota) * u128::from(t)).div_ceil(100);
            (t, u64::try_from(level).unwrap_or(u64::MAX))
        })
        .collect()
}

/// The thresholds (percent of `quota`) crossed when usage went from `before` to `after`:
/// those whose level ([`threshold_levels`]) is above `before` and at most `after`.
pub fn crossed_thresholds(quota: u64, before: u64, after: u64) -> Vec<u8> {
    threshold_levels(quota).into_iter().filter(|&(_, level)| before < level && level <= after).map(|(t, _)| t).collect()
}

/// The start of the hour containing `ms`.
pub fn hour_start_ms(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Unix ms as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    datetime_of(ms).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meters_round_trip_through_their_names() {
        for m in Meter::ALL {
            assert_eq!(m.as_str().parse::<Meter>().unwrap(), m);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
        }
        assert!("scan.nothing".parse::<Meter>().is_err());
        assert_eq!(Meter::for_scan("wallet"), Some(Meter::ScanWallet));
    }

    #[test]
    fn periods_are_calendar_months_in_utc() {
        // 2026-02-28T23:59:59.999Z is in February; one millisecond later is March.
        let feb_end = 1_772_323_199_999;
        assert_eq!(Period::containing(feb_end).to_string(), "2026-02");
        assert_eq!(Period::containing(feb_end + 1).to_string(), "2026-03");
        let feb: Period = "2026-02".parse().unwrap();
        assert_eq!(feb.end_ms(), feb_end + 1);
        assert_eq!(feb.days(), 28);
        assert_eq!("2024-02".parse::<Period>().unwrap().days(), 29);
        let dec: Period = "2026-12".parse().unwrap();
        assert_eq!(dec.next().to_string(), "2027-01");
        assert_eq!(rfc3339(dec.end_ms()), "2027-01-01T00:00:00Z");
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn thresholds_fire_once_when_crossed() {
        assert_eq!(crossed_thresholds(100, 78, 79), Vec::<u8>::new());
        assert_eq!(crossed_thresholds(100, 79, 80), vec![80]);
        assert_eq!(crossed_thresholds(100, 80, 81), Vec::<u8>::new());
        assert_eq!(crossed_thresholds(100, 70, 100), vec![80, 100]);
        assert_eq!(crossed_thresholds(10, 7, 8), vec![80]);
        assert_eq!(crossed_thresholds(3, 2, 3), vec![80, 100], "2.4 and 3 both passed");
        assert_eq!(crossed_thresholds(0, 0, 5), Vec::<u8>::new());
        assert_eq!(threshold_levels(10), vec![(80, 8), (100, 10)]);
        assert_eq!(threshold_levels(3), vec![(80, 3), (100, 3)], "2.4 rounds up");
        assert_eq!(threshold_levels(u64::MAX), vec![(80, u64::MAX / 5 * 4), (100, u64::MAX)]);
        assert_eq!(threshold_levels(0), vec![]);
    }
}
