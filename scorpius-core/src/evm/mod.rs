//! EVM primitives shared by the analyzers: strict parsing of user-supplied hex, addresses and
//! quantities, the built-in function-signature table, and the recursive calldata decoder.

pub mod calldata;
pub mod parse;
pub mod ser;
pub mod signatures;

use alloy_primitives::U256;

/// Amounts at or above this are "effectively unlimited": 2^96 - 1 (about 7.9e28 base units).
///
/// It covers every sentinel that wallets and dApps use for "infinite" (the maxima of uint96,
/// uint112, uint128, uint160 and uint256) and is above 79 billion whole tokens of an
/// 18-decimals token, more than the supply of all but a handful of meme tokens. See
/// `docs/rules.md#approval-unlimited`.
pub const UNLIMITED_THRESHOLD: U256 = U256::from_limbs([u64::MAX, u32::MAX as u64, 0, 0]);

/// [`UNLIMITED_THRESHOLD`] in decimal, for evidence (a test checks the two agree).
pub const UNLIMITED_THRESHOLD_DEC: &str = "79228162514264337593543950335";

/// `U256::MAX` (2^256 - 1) in decimal.
pub const U256_MAX_DEC: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

/// Whether an allowance amount counts as unlimited.
pub fn is_unlimited(amount: U256) -> bool {
    amount >= UNLIMITED_THRESHOLD
}

/// Whether an address has the drainer vanity pattern `0x0000…0000`: at least four leading and
/// four trailing zero hex digits. (Permit2 and Seaport only have leading zeros.)
pub fn is_vanity_zero_pattern(address: &alloy_primitives::Address) -> bool {
    let b = address.as_slice();
    !address.is_zero() && b[0] == 0 && b[1] == 0 && b[18] == 0 && b[19] == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn threshold_is_two_pow_96_minus_one() {
        assert_eq!(UNLIMITED_THRESHOLD, (U256::from(1) << 96) - U256::from(1));
        assert_eq!(UNLIMITED_THRESHOLD.to_string(), UNLIMITED_THRESHOLD_DEC);
        assert_eq!(U256::MAX.to_string(), U256_MAX_DEC);
        assert!(is_unlimited(U256::MAX));
        assert!(is_unlimited((U256::from(1) << 160) - U256::from(1)));
        assert!(!is_unlimited(U256::from(1_000_000u64) * U256::from(10).pow(U256::from(18))));
    }

    #[test]
    fn vanity_pattern() {
        assert!(is_vanity_zero_pattern(&address!("0000db5c8b030ae20308ac975898e09741e70000")));
        // Permit2 and Seaport 1.5: leading zeros only.
        assert!(!is_vanity_zero_pattern(&address!("000000000022d473030f116ddee9f6b43ac78ba3")));
        assert!(!is_vanity_zero_pattern(&address!("00000000000000adc04c56bf30ac9d3c0aaf14dc")));
        assert!(!is_vanity_zero_pattern(&alloy_primitives::Address::ZERO));
    }
}
