//! Plans: per-meter monthly quotas (absent = unlimited), an optional burst rate limit, and
//! per-meter prices (flat, graduated tiers or volume tiers). Amounts are decimal strings in
//! configuration and on the wire (`"0.002"`) and exact integers of micro-units inside
//! ([`Money`]), so a bill never suffers from floating point.

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Meter;

/// An amount of money in millionths of the currency unit (`1.5` = 1 500 000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i128);

/// Micro-units per currency unit.
const SCALE: i128 = 1_000_000;

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// `self × quantity`.
    pub fn times(self, quantity: u64) -> Money {
        Money(self.0.saturating_mul(i128::from(quantity)))
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    /// At least two decimals, at most six, trailing zeros beyond the second dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let units = abs / SCALE as u128;
        let frac = format!("{:06}", abs % SCALE as u128);
        let trimmed = frac.trim_end_matches('0');
        let shown = if trimmed.len() < 2 { &frac[..2] } else { trimmed };
        write!(f, "{sign}{units}.{shown}")
    }
}

impl FromStr for Money {
    type Err = crate::Error;

    /// A non-negative decimal with at most six decimals (`"0.002"`, `"12"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || crate::Error::input("price", format!("`{s}` is not an amount: use a decimal such as 0.002"));
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || frac.len() > 6 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if s.ends_with('.') {
            return Err(bad());
        }
        let int: i128 = int.parse().map_err(|_| bad())?;
        let frac_val: i128 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().map_err(|_| bad())? };
        int.checked_mul(SCALE).and_then(|v| v.checked_add(frac_val)).map(Money).ok_or_else(bad)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One price tier: the units up to `up_to` (inclusive; absent on the last, open-ended tier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Last unit of the tier (inclusive); absent = no upper bound (only on the last tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<u64>,
    /// Price per unit in this tier.
    pub unit_price: Money,
    /// A fixed amount charged once when the tier is used.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flat_price: Money,
}

fn is_zero(m: &Money) -> bool {
    *m == Money::ZERO
}

/// How a meter is priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase", deny_unknown_fields)]
pub enum Price {
    /// Every unit at one price.
    Flat {
        /// Price per unit.
        unit_price: Money,
    },
    /// Each unit at the price of the tier it falls into (units 1–1000 at the first tier's
    /// price, 1001–… at the second's, …).
    Graduated {
        /// Tiers in ascending order.
        tiers: Vec<Tier>,
    },
    /// All units at the price of the tier the month's total falls into.
    Volume {
        /// Tiers in ascending order.
        tiers: Vec<Tier>,
    },
}

impl Price {
    /// Checks the tiers: at least one, ascending `up_to`, only the last open-ended.
    pub fn validate(&self) -> Result<(), String> {
        let tiers = match self {
            Price::Flat { .. } => return Ok(()),
            Price::Graduated { tiers } | Price::Volume { tiers } => tiers,
        };
        if tiers.is_empty() {
            return Err("a tiered price needs at least one tier".into());
        }
        let mut last = 0u64;
        for (i, t) in tiers.iter().enumerate() {
            match t.up_to {
                Some(0) => return Err(format!("tier {}: up_to must be at least 1", i + 1)),
                Some(u) if u <= last => {
                    return Err(format!("tier {}: up_to must be greater than the previous tier's", i + 1));
                }
                Some(u) => last = u,
                None if i + 1 != tiers.len() => {
                    return Err(format!("tier {}: only the last tier may omit up_to", i + 1));
                }
                None => {}
            }
        }
        if tiers.last().is_some_and(|t| t.up_to.is_some()) {
            return Err("the last tier must omit up_to (no upper bound)".into());
        }
        Ok(())
    }
}

/// A burst rate limit on top of the server-wide one (per key, GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Burst size.
    pub burst: u32,
}

/// A plan: what a tenant may use per month and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// ISO 4217 code shown on bills (default `USD`).
    #[serde(default = "usd")]
    pub currency: String,
    /// Monthly quota per meter; a meter without one is unlimited.
    #[serde(default)]
    pub quotas: BTreeMap<Meter, u64>,
    /// Per-key burst limit of this plan's tenants (absent: only the server-wide limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<Burst>,
    /// Price per meter; a meter without one is free.
    #[serde(default)]
    pub prices: BTreeMap<Meter, Price>,
}

fn usd() -> String {
    "USD".into()
}

impl Default for Plan {
    /// No quotas, no burst limit, no prices, in USD.
    fn default() -> Self {
        Plan { currency: usd(), quotas: BTreeMap::new(), burst: None, prices: BTreeMap::new() }
    }
}

impl Plan {
    /// Checks prices and burst values.
    pub fn validate(&self) -> Result<(), String> {
        for (m, p) in &self.prices {
            p.validate().map_err(|e| format!("prices.{m}: {e}"))?;
        }
        if let Some(b) = self.burst
            && (b.per_second == 0 || b.burst == 0)
        {
            return Err("burst: per_second and burst must be at least 1".into());
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("currency: `{}` is not an ISO 4217 code such as USD", self.currency));
        }
        Ok(())
    }

    /// The monthly quota of a meter (`None` = unlimited).
    pub fn quota(&self, meter: Meter) -> Option<u64> {
        self.quotas.get(&meter).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_and_prints_exactly() {
        let m: Money = "0.002".parse().unwrap();
        assert_eq!(m, Money(2_000));
        assert_eq!(m.times(1_500).to_string(), "3.00");
        assert_eq!("12".parse::<Money>().unwrap().to_string(), "12.00");
        assert_eq!("0.000001".parse::<Money>().unwrap().to_string(), "0.000001");
        assert_eq!(Money(1_234_500).to_string(), "1.2345");
        for bad in ["", "-1", "1.", ".5", "1.0000001", "abc", "1e3"] {
            assert!(bad.parse::<Money>().is_err(), "{bad}");
        }
    }

    #[test]
    fn plans_read_from_toml_like_json() {
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "quotas": { "scan.transaction": 1000 },
            "burst": { "per_second": 5, "burst": 10 },
            "prices": {
                "scan.transaction": { "model": "graduated", "tiers": [
                    { "up_to": 1000, "unit_price": "0" }, { "unit_price": "0.002" } ] },
                "api.requests": { "model": "flat", "unit_price": "0.0001" }
            }
        }))
        .unwrap();
        plan.validate().unwrap();
        assert_eq!(plan.quota(Meter::ScanTransaction), Some(1000));
        assert_eq!(plan.quota(Meter::ApiRequests), None, "absent means unlimited");
        assert_eq!(plan.currency, "USD");
        assert_eq!(Plan::default().currency, "USD");
        Plan::default().validate().unwrap();
    }

    #[test]
    fn bad_tiers_are_refused() {
        let t = |up_to: Option<u64>| Tier { up_to, unit_price: Money(1), flat_price: Money::ZERO };
        assert!(Price::Graduated { tiers: vec![] }.validate().is_err());
        assert!(Price::Graduated { tiers: vec![t(Some(10))] }.validate().is_err(), "last tier bounded");
        assert!(Price::Volume { tiers: vec![t(None), t(None)] }.validate().is_err());
        assert!(Price::Volume { tiers: vec![t(Some(10)), t(Some(5)), t(None)] }.validate().is_err());
        assert!(Price::Volume { tiers: vec![t(Some(0)), t(None)] }.validate().is_err());
        assert!(Price::Volume { tiers: vec![t(Some(10)), t(Some(20)), t(None)] }.validate().is_ok());
    }
}
