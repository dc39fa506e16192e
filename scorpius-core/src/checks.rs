//! Checks and formatting shared by the transaction and signature analyzers.

use alloy_primitives::{Address, U256};
use time::OffsetDateTime;

use crate::{
    context::Context,
    evm::is_vanity_zero_pattern,
    model::Finding,
    rules::{self, Rule},
};

/// A finding of `rule` when the unix timestamp `ts` lies more than a year after `ctx.now`.
pub fn long_expiration(rule: &Rule, ctx: &Context, ts: U256, field: &'static str) -> Option<Finding> {
    let horizon = ctx.one_year_from_now();
    let ts_i64 = i64::try_from(ts).ok();
    if ts_i64.is_some_and(|t| t <= horizon) {
        return None;
    }
    let when = ts_i64
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok());
    let message = match &when {
        Some(w) => format!("The {field} is {w}, more than a year from now."),
        None => format!("The {field} is {ts}: it never expires in practice."),
    };
    Some(
        Finding::new(rule, message)
            .with(field, ts.to_string())
            .with(format!("{field}_utc"), when)
            .with("horizon_days", 365),
    )
}

/// Zero-address and vanity-pattern checks for a spender or operator. Returns the finding, if
/// any, for the caller to decorate with its location.
pub fn spender_finding(role: &'static str, spender: Address) -> Option<Finding> {
    if spender.is_zero() {
        Some(
            Finding::new(&rules::APPROVAL_ZERO_ADDRESS, format!("The {role} is the zero address."))
                .with(role, spender.to_checksum(None)),
        )
    } else if is_vanity_zero_pattern(&spender) {
        Some(
            Finding::new(
                &rules::APPROVAL_VANITY_SPENDER,
                format!("The {role} {spender} has the drainer vanity pattern 0x0000…0000."),
            )
            .with(role, spender.to_checksum(None))
            .with("pattern", "at least 4 leading and 4 trailing zero hex digits")
            .about(spender),
        )
    } else {
        None
    }
}

/// A 256-bit integer in decimal, in four divisions by 10^19 instead of one per digit.
pub fn u256_decimal(v: U256) -> String {
    const CHUNK: u64 = 10_000_000_000_000_000_000;
    if v <= U256::from(u64::MAX) {
        return v.to::<u64>().to_string();
    }
    if v == U256::MAX {
        // The usual "unlimited" sentinel: most large amounts a scan prints are this one.
        return crate::evm::U256_MAX_DEC.to_owned();
    }
    let mut parts = [0u64; 5];
    let mut rest = v;
    let mut n = 0;
    while !rest.is_zero() {
        let (q, r) = rest.div_rem(U256::from(CHUNK));
        parts[n] = r.to::<u64>();
        rest = q;
        n += 1;
    }
    let mut out = parts[n - 1].to_string();
    for p in parts[..n - 1].iter().rev() {
        out.push_str(&format!("{p:019}"));
    }
    out
}

/// Renders an amount, naming the common "infinite" sentinels (2^b - 1).
pub fn describe_amount(amount: U256) -> std::borrow::Cow<'static, str> {
    const SENTINELS: [(usize, &str); 6] = [
        (256, "2^256 - 1"),
        (255, "2^255 - 1"),
        (160, "2^160 - 1"),
        (128, "2^128 - 1"),
        (112, "2^112 - 1"),
        (96, "2^96 - 1"),
    ];
    // 2^b - 1 is exactly the value whose bit length is b and whose bits are all set.
    let bits = amount.bit_len();
    if amount.count_ones() == bits
        && let Some((_, name)) = SENTINELS.iter().find(|(b, _)| *b == bits)
    {
        return (*name).into();
    }
    u256_decimal(amount).into()
}

/// Base units as a decimal string with 18 decimals (trailing zeros trimmed).
pub fn format_units18(wei: U256) -> String {
    format_units(wei, 18)
}

/// Base units as a decimal string with `decimals` decimals (trailing zeros trimmed).
pub fn format_units(amount: U256, decimals: u8) -> String {
    if decimals == 0 {
        return amount.to_string();
    }
    let unit = U256::from(10).pow(U256::from(decimals));
    let (whole, frac) = amount.div_rem(unit);
    if frac.is_zero() {
        return whole.to_string();
    }
    let frac = format!("{:0>width$}", frac.to_string(), width = usize::from(decimals));
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Chain;

    #[test]
    fn formats() {
        assert_eq!(format_units18(U256::from(1_500_000_000_000_000_000u128)), "1.5");
        assert_eq!(format_units18(U256::from(1)), "0.000000000000000001");
        assert_eq!(describe_amount(U256::MAX), "2^256 - 1");
        assert_eq!(describe_amount(U256::from(5)), "5");
        for b in [255usize, 160, 128, 112, 96] {
            assert_eq!(describe_amount((U256::from(1) << b) - U256::from(1)), format!("2^{b} - 1"));
        }
        assert_eq!(describe_amount((U256::from(1) << 100) - U256::from(1)), "1267650600228229401496703205375");
        for v in [
            U256::ZERO,
            U256::from(7),
            U256::from(u64::MAX),
            U256::from(u64::MAX) + U256::from(1),
            U256::MAX,
            U256::from(10).pow(U256::from(19)),
            U256::from(10).pow(U256::from(57)) - U256::from(1),
        ] {
            assert_eq!(u256_decimal(v), v.to_string());
        }
    }

    #[test]
    fn expiration_horizon() {
        let ctx = Context {
            now: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            ..Context::new(Chain::ethereum())
        };
        let r = &rules::PERMIT_LONG_DEADLINE;
        assert!(long_expiration(r, &ctx, U256::from(1_700_000_000u64 + 86_400 * 30), "deadline").is_none());
        assert!(long_expiration(r, &ctx, U256::from(ctx.one_year_from_now()), "deadline").is_none());
        assert!(long_expiration(r, &ctx, U256::from(ctx.one_year_from_now() + 1), "deadline").is_some());
        let f = long_expiration(r, &ctx, U256::MAX, "deadline").unwrap();
        assert!(f.message.contains("never expires"), "{}", f.message);
    }
}
