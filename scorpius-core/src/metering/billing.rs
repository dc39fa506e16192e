//! The bill of a month: one line per meter, priced by the plan (flat, graduated or volume
//! tiers), each line listing the tiers that priced its units.
//!
//! Worked example (also in `docs/metering.md`): tiers 1–1 000 at 0, 1 001–10 000 at 0.002,
//! 10 001+ at 0.001, and 12 000 units. **Graduated**: 1 000 × 0 + 9 000 × 0.002 + 2 000 × 0.001
//! = 20.00. **Volume**: 12 000 falls in the third tier, so all 12 000 × 0.001 = 12.00.

use std::collections::BTreeMap;

use super::{
    Meter, Period,
    plan::{Money, Plan, Price, Tier},
};
use crate::api::usage::{AppliedTier, BillLine, BillingPreview};

fn applied(index: usize, from: u64, tier: &Tier, quantity: u64) -> AppliedTier {
    AppliedTier {
        tier: index + 1,
        from,
        up_to: tier.up_to,
        quantity,
        unit_price: tier.unit_price,
        flat_price: tier.flat_price,
        amount: tier.unit_price.times(quantity) + tier.flat_price,
    }
}

/// Prices `quantity` units of `meter`; `None` = the plan has no price for it (free).
pub fn line(meter: Meter, quantity: u64, price: Option<&Price>) -> BillLine {
    let (model, tiers) = match price {
        None => ("free", Vec::new()),
        Some(Price::Flat { unit_price }) => {
            let tier = Tier { up_to: None, unit_price: *unit_price, flat_price: Money::ZERO };
            ("flat", if quantity == 0 { Vec::new() } else { vec![applied(0, 1, &tier, quantity)] })
        }
        Some(Price::Graduated { tiers }) => {
            let mut out = Vec::new();
            let mut below = 0u64; // units covered by the tiers before this one
            for (i, t) in tiers.iter().enumerate() {
                if quantity <= below {
                    break;
                }
                let top = t.up_to.map_or(quantity, |u| u.min(quantity));
                out.push(applied(i, below + 1, t, top - below));
                below = t.up_to.unwrap_or(u64::MAX);
            }
            ("graduated", out)
        }
        Some(Price::Volume { tiers }) => {
            let mut from = 1u64;
            let mut chosen = None;
            for (i, t) in tiers.iter().enumerate() {
                if t.up_to.is_none_or(|u| quantity <= u) {
                    chosen = Some((i, from, t));
                    break;
                }
                from = t.up_to.map_or(from, |u| u + 1);
            }
            let tiers = match chosen {
                Some((i, from, t)) if quantity > 0 => vec![applied(i, from, t, quantity)],
                _ => Vec::new(),
            };
            ("volume", tiers)
        }
    };
    let amount = tiers.iter().map(|t| t.amount).sum();
    BillLine { meter, quantity, model: model.to_owned(), tiers, amount }
}

/// The bill of `period` for a tenant on `plan` (named `plan_name`) with this usage. Lines
/// for every meter that was used or has a price, in meter order.
pub fn preview(
    plan_name: &str,
    plan: &Plan,
    period: Period,
    complete: bool,
    usage: &BTreeMap<Meter, u64>,
) -> BillingPreview {
    let lines: Vec<BillLine> = Meter::ALL
        .into_iter()
        .filter(|m| usage.get(m).is_some_and(|&u| u > 0) || plan.prices.contains_key(m))
        .map(|m| line(m, usage.get(&m).copied().unwrap_or(0), plan.prices.get(&m)))
        .collect();
    BillingPreview {
        period: period.to_string(),
        plan: plan_name.to_owned(),
        currency: plan.currency.clone(),
        complete,
        total: lines.iter().map(|l| l.amount).sum(),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn tiers() -> Vec<Tier> {
        vec![
            Tier { up_to: Some(1_000), unit_price: m("0"), flat_price: Money::ZERO },
            Tier { up_to: Some(10_000), unit_price: m("0.002"), flat_price: Money::ZERO },
            Tier { up_to: None, unit_price: m("0.001"), flat_price: Money::ZERO },
        ]
    }

    #[test]
    fn graduated_prices_each_unit_in_its_tier() {
        let l = line(Meter::ScanTransaction, 12_000, Some(&Price::Graduated { tiers: tiers() }));
        assert_eq!(l.amount.to_string(), "20.00");
        let q: Vec<_> = l.tiers.iter().map(|t| (t.tier, t.from, t.quantity, t.amount.to_string())).collect();
        assert_eq!(
            q,
            vec![(1, 1, 1_000, "0.00".into()), (2, 1_001, 9_000, "18.00".into()), (3, 10_001, 2_000, "2.00".into())]
        );
        let l = line(Meter::ScanTransaction, 5_000, Some(&Price::Graduated { tiers: tiers() }));
        assert_eq!((l.amount.to_string(), l.tiers.len()), ("8.00".into(), 2));
        let l = line(Meter::ScanTransaction, 1_000, Some(&Price::Graduated { tiers: tiers() }));
        assert_eq!((l.amount, l.tiers.len()), (Money::ZERO, 1), "exactly at a boundary stays in the tier");
    }

    #[test]
    fn volume_prices_all_units_at_the_tier_of_the_total() {
        let l = line(Meter::ScanTransaction, 12_000, Some(&Price::Volume { tiers: tiers() }));
        assert_eq!(l.amount.to_string(), "12.00");
        assert_eq!((l.tiers[0].tier, l.tiers[0].from, l.tiers[0].quantity), (3, 10_001, 12_000));
        let l = line(Meter::ScanTransaction, 5_000, Some(&Price::Volume { tiers: tiers() }));
        assert_eq!(l.amount.to_string(), "10.00");
        let l = line(Meter::ScanTransaction, 10_000, Some(&Price::Volume { tiers: tiers() }));
        assert_eq!((l.amount.to_string(), l.tiers[0].tier), ("20.00".into(), 2));
    }

    #[test]
    fn flat_prices_flat_fees_and_free_meters() {
        let l = line(Meter::ApiRequests, 2_500, Some(&Price::Flat { unit_price: m("0.0004") }));
        assert_eq!((l.model.as_str(), l.amount.to_string()), ("flat", "1.00".into()));
        let with_fee = vec![
            Tier { up_to: Some(100), unit_price: m("0"), flat_price: m("5") },
            Tier { up_to: None, unit_price: m("0.01"), flat_price: m("1") },
        ];
        let l = line(Meter::ScanWallet, 150, Some(&Price::Graduated { tiers: with_fee.clone() }));
        assert_eq!(l.amount.to_string(), "6.50", "5 + 1 + 50 × 0.01");
        let l = line(Meter::ScanWallet, 0, Some(&Price::Graduated { tiers: with_fee }));
        assert_eq!((l.amount, l.tiers.len()), (Money::ZERO, 0), "no usage, no tier fee");
        let l = line(Meter::ReportPdf, 7, None);
        assert_eq!((l.model.as_str(), l.amount), ("free", Money::ZERO));
    }

    #[test]
    fn preview_totals_the_lines() {
        let mut plan = Plan { currency: "EUR".into(), ..Plan::default() };
        plan.prices.insert(Meter::ScanTransaction, Price::Graduated { tiers: tiers() });
        plan.prices.insert(Meter::ApiRequests, Price::Flat { unit_price: m("0.0001") });
        let usage =
            BTreeMap::from([(Meter::ScanTransaction, 12_000), (Meter::ApiRequests, 20_000), (Meter::ScanDomain, 3)]);
        let p = preview("pro", &plan, "2026-11".parse().unwrap(), false, &usage);
        assert_eq!(p.total.to_string(), "22.00");
        let meters: Vec<_> = p.lines.iter().map(|l| l.meter).collect();
        assert_eq!(meters, vec![Meter::ApiRequests, Meter::ScanTransaction, Meter::ScanDomain]);
        assert_eq!((p.currency.as_str(), p.period.as_str()), ("EUR", "2026-11"));
    }
}
