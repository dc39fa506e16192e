//! Usage, forecast and billing preview on the wire: `GET /v1/usage`, `GET /v1/usage/forecast`
//! and `GET /v1/billing/preview` (see `docs/metering.md`). Amounts are decimal strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metering::{Meter, plan::Money};

/// Bucket size of `GET /v1/usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// Hours (UTC).
    Hour,
    /// Days (UTC).
    Day,
    /// Calendar months (UTC).
    Month,
}

impl Granularity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }
}

impl std::str::FromStr for Granularity {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hour" => Ok(Granularity::Hour),
            "day" => Ok(Granularity::Day),
            "month" => Ok(Granularity::Month),
            _ => Err(crate::Error::input("granularity", format!("`{s}` is not one of hour, day, month"))),
        }
    }
}

/// What the rows of `GET /v1/usage` are split by, besides time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One row per bucket and meter.
    Meter,
    /// One row per bucket, API key and meter.
    Key,
}

impl GroupBy {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Meter => "meter",
            GroupBy::Key => "key",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "meter" => Ok(GroupBy::Meter),
            "key" => Ok(GroupBy::Key),
            _ => Err(crate::Error::input("group_by", format!("`{s}` is not one of meter, key"))),
        }
    }
}

/// Body format of `GET /v1/usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UsageFormat {
    /// A [`UsageReport`].
    #[default]
    Json,
    /// `text/csv` with the columns `start,meter,key_id,units`.
    Csv,
}

/// Query of `GET /v1/usage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Start (RFC 3339 or YYYY-MM-DD, UTC), aligned down to the granularity; default the
    /// start of the current month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// End, exclusive (RFC 3339 or YYYY-MM-DD); default the end of the current month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// hour, day (default) or month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// meter (default) or key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<GroupBy>,
    /// json (default) or csv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<UsageFormat>,
}

/// Query of `GET /v1/billing/preview`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct BillingQuery {
    /// The month, YYYY-MM (default: the current month).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
}

/// One row of a usage report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// Start of the bucket (RFC 3339, UTC).
    pub start: String,
    /// The meter.
    pub meter: Meter,
    /// The key (only with `group_by=key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Units used in the bucket.
    pub units: u64,
}

/// `GET /v1/usage` (JSON form; `format=csv` has the same rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    /// Start of the range (inclusive, RFC 3339), aligned down to the granularity.
    pub from: String,
    /// End of the range (exclusive, RFC 3339).
    pub to: String,
    /// Bucket size.
    pub granularity: Granularity,
    /// Split.
    pub group_by: GroupBy,
    /// Rows ordered by bucket, then key, then meter; buckets without usage are absent.
    pub rows: Vec<UsageRow>,
    /// Total units per meter over the range.
    pub totals: BTreeMap<Meter, u64>,
}

/// The month-end forecast of one meter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeterForecast {
    /// The meter.
    pub meter: Meter,
    /// Used so far this month.
    pub used: u64,
    /// Expected at the end of the month.
    pub forecast: u64,
    /// The plan's monthly quota (absent: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u64>,
    /// Whether the forecast is above the quota.
    pub exceeds_quota: bool,
}

/// `GET /v1/usage/forecast`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageForecast {
    /// The month (`YYYY-MM`).
    pub period: String,
    /// When the forecast was made (RFC 3339).
    pub as_of: String,
    /// When the quotas reset (the 1st of next month, 00:00 UTC).
    pub resets_at: String,
    /// How the forecast was computed, in words.
    pub method: String,
    /// Per meter with usage or a quota.
    pub meters: Vec<MeterForecast>,
}

/// One tier as applied to a bill line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppliedTier {
    /// 1-based position in the plan's tiers.
    pub tier: usize,
    /// First unit of the tier.
    pub from: u64,
    /// Last unit of the tier (absent: open-ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<u64>,
    /// Units priced at this tier.
    pub quantity: u64,
    /// Price per unit.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub unit_price: Money,
    /// Fixed amount of the tier.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub flat_price: Money,
    /// `quantity × unit_price + flat_price`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Money,
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillLine {
    /// The meter.
    pub meter: Meter,
    /// Units used in the month.
    pub quantity: u64,
    /// `flat`, `graduated`, `volume`, or `free` (no price in the plan).
    pub model: String,
    /// The tiers that priced the units (one for `flat`).
    pub tiers: Vec<AppliedTier>,
    /// Amount of the line.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Money,
}

/// `GET /v1/billing/preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillingPreview {
    /// The month (`YYYY-MM`).
    pub period: String,
    /// The tenant's plan.
    pub plan: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Whether the month is over (otherwise usage can still grow).
    pub complete: bool,
    /// One line per meter with usage or a price.
    pub lines: Vec<BillLine>,
    /// Sum of the lines.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub total: Money,
}
