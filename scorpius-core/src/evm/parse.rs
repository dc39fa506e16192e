//! Strict parsers for values that cross the trust boundary: hex data, addresses (with EIP-55
//! checksum validation), quantities. Every error names the field and the problem.

use alloy_primitives::{Address, U256};

use crate::{Error, Result};

/// Parses hex data with an optional `0x` prefix. Whitespace around it is ignored.
pub fn hex_bytes(field: &str, s: &str) -> Result<Vec<u8>> {
    let t = s.trim();
    let digits = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        let offset = t.len() - digits.len() + i;
        return Err(Error::input(field, format!("not hex: invalid character {c:?} at position {offset}")));
    }
    if digits.len() % 2 == 1 {
        return Err(Error::input(field, format!("odd number of hex digits ({}); each byte needs two", digits.len())));
    }
    hex::decode(digits).map_err(|e| Error::input(field, e))
}

/// Parses a 20-byte address. Mixed-case input must carry a valid EIP-55 checksum; all-lowercase
/// and all-uppercase input is accepted without one.
pub fn address(field: &str, s: &str) -> Result<Address> {
    let t = s.trim();
    let bytes = hex_bytes(field, t)?;
    if bytes.len() != 20 {
        return Err(Error::input(field, format!("an address is 20 bytes (40 hex digits), got {} bytes", bytes.len())));
    }
    let addr = Address::from_slice(&bytes);
    let digits = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        let expected = addr.to_checksum(None);
        if expected[2..] != *digits {
            return Err(Error::input(
                field,
                format!("EIP-55 checksum does not match (a typo?); the checksummed form of these bytes is {expected}"),
            ));
        }
    }
    Ok(addr)
}

/// Parses an unsigned quantity: decimal digits, or `0x` hex.
pub fn quantity(field: &str, s: &str) -> Result<U256> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::input(field, "empty quantity"));
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if hex.is_empty() {
            return Ok(U256::ZERO);
        }
        if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(Error::input(field, format!("not a hex quantity: invalid character {c:?}")));
        }
        return U256::from_str_radix(hex, 16).map_err(|_| Error::input(field, "does not fit in 256 bits"));
    }
    if let Some(c) = t.chars().find(|c| !c.is_ascii_digit()) {
        return Err(Error::input(
            field,
            format!("not a number: invalid character {c:?} (use decimal digits or 0x hex)"),
        ));
    }
    U256::from_str_radix(t, 10).map_err(|_| Error::input(field, "does not fit in 256 bits"))
}

/// Parses a quantity that must fit in a u64 (nonces, gas, chain ids).
pub fn quantity_u64(field: &str, s: &str) -> Result<u64> {
    let v = quantity(field, s)?;
    u64::try_from(v).map_err(|_| Error::input(field, "does not fit in 64 bits"))
}

/// Reads a quantity from JSON: a string (decimal or 0x hex) or a non-negative integer.
pub fn json_quantity(field: &str, v: &serde_json::Value) -> Result<U256> {
    match v {
        serde_json::Value::String(s) => quantity(field, s),
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| Error::input(field, format!("expected a non-negative integer, got {n}"))),
        other => Err(Error::input(field, format!("expected a number or a quantity string, got {}", json_type(other)))),
    }
}

/// Reads an address from JSON.
pub fn json_address(field: &str, v: &serde_json::Value) -> Result<Address> {
    match v {
        serde_json::Value::String(s) => address(field, s),
        other => Err(Error::input(field, format!("expected an address string, got {}", json_type(other)))),
    }
}

/// A short name of a JSON value's type, for error messages.
pub fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_errors_name_the_problem() {
        assert_eq!(hex_bytes("data", "0x0a0B").unwrap(), vec![10, 11]);
        assert_eq!(hex_bytes("data", "").unwrap(), Vec::<u8>::new());
        let e = hex_bytes("--data", "0x12z4").unwrap_err().to_string();
        assert!(e.starts_with("--data: not hex") && e.contains("'z'") && e.contains("position 4"), "{e}");
        let e = hex_bytes("--data", "0x123").unwrap_err().to_string();
        assert!(e.contains("odd number of hex digits (3)"), "{e}");
    }

    #[test]
    fn address_length_and_checksum() {
        let good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert!(address("--to", good).is_ok());
        assert!(address("--to", &good.to_lowercase()).is_ok());
        assert!(address("--to", &good.to_uppercase().replace("0X", "0x")).is_ok());
        let bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        let e = address("--to", bad).unwrap_err().to_string();
        assert!(e.contains("checksum") && e.contains(good), "{e}");
        let e = address("--to", "0x1234").unwrap_err().to_string();
        assert!(e.contains("20 bytes") && e.contains("got 2"), "{e}");
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity("v", "1000").unwrap(), U256::from(1000));
        assert_eq!(quantity("v", "0x3e8").unwrap(), U256::from(1000));
        assert_eq!(quantity("v", "0x").unwrap(), U256::ZERO);
        assert!(quantity("v", "1e18").unwrap_err().to_string().contains("'e'"));
        assert!(quantity("v", "-1").is_err());
        assert!(quantity("v", &"9".repeat(90)).unwrap_err().to_string().contains("256 bits"));
    }
}
