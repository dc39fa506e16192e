//! The chain registry: ids, names and aliases of the chains Scorpius knows by name.
//!
//! Any positive numeric chain id is accepted (there are thousands of EVM chains); names must be
//! in the registry so that a typo such as `etherum` is an error rather than a silent default.

use std::{borrow::Cow, fmt, str::FromStr};

use crate::Error;

/// A chain, known by name or only by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// EIP-155 chain id.
    pub id: u64,
    /// Canonical lowercase name (`chain-<id>` when the id is not in the registry).
    pub name: Cow<'static, str>,
    /// Symbol of the native currency (`ETH`, `BNB`, `POL`), `?` when unknown.
    pub native_symbol: &'static str,
}

struct Known {
    id: u64,
    name: &'static str,
    aliases: &'static [&'static str],
    native_symbol: &'static str,
}

const KNOWN: &[Known] = &[
    Known { id: 1, name: "ethereum", aliases: &["mainnet", "eth"], native_symbol: "ETH" },
    Known { id: 10, name: "optimism", aliases: &["op"], native_symbol: "ETH" },
    Known { id: 56, name: "bsc", aliases: &["bnb", "binance"], native_symbol: "BNB" },
    Known { id: 137, name: "polygon", aliases: &["matic"], native_symbol: "POL" },
    Known { id: 8453, name: "base", aliases: &[], native_symbol: "ETH" },
    Known { id: 42161, name: "arbitrum", aliases: &["arbitrum-one", "arb"], native_symbol: "ETH" },
    Known { id: 11155111, name: "sepolia", aliases: &[], native_symbol: "ETH" },
    Known { id: 31337, name: "local", aliases: &["anvil", "localhost", "hardhat"], native_symbol: "ETH" },
];

/// Canonical Permit2 address.
pub const PERMIT2: alloy_primitives::Address = alloy_primitives::address!("000000000022D473030F116dDEE9F6B43aC78BA3");
/// Canonical Multicall3 address.
pub const MULTICALL3: alloy_primitives::Address =
    alloy_primitives::address!("cA11bde05977b3631167028862bE2a173976CA11");

impl Chain {
    /// Ethereum mainnet, the default.
    pub fn ethereum() -> Self {
        Self::from_id(1)
    }

    /// The chain with this id; chains outside the registry get the name `chain-<id>`.
    pub fn from_id(id: u64) -> Self {
        match KNOWN.iter().find(|k| k.id == id) {
            Some(k) => Chain { id, name: Cow::Borrowed(k.name), native_symbol: k.native_symbol },
            None => Chain { id, name: Cow::Owned(format!("chain-{id}")), native_symbol: "?" },
        }
    }

    /// Uniswap's Permit2 on this chain. It sits at the same address on every chain it is
    /// deployed to (CREATE2); for a local chain (31337) that is where tests and forks put it.
    pub fn permit2(&self) -> Option<alloy_primitives::Address> {
        self.is_known().then_some(PERMIT2)
    }

    /// Multicall3 on this chain (same address everywhere; collectors check that it has code).
    pub fn multicall3(&self) -> Option<alloy_primitives::Address> {
        self.is_known().then_some(MULTICALL3)
    }

    /// Whether the chain is in the registry.
    pub fn is_known(&self) -> bool {
        KNOWN.iter().any(|k| k.id == self.id)
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.id)
    }
}

impl FromStr for Chain {
    type Err = Error;

    /// Parses a registry name or alias (case-insensitive), a decimal id, or a `0x` hex id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let id = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            u64::from_str_radix(hex, 16).ok()
        } else if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() {
            t.parse::<u64>().ok()
        } else {
            let lower = t.to_ascii_lowercase();
            KNOWN.iter().find(|k| k.name == lower || k.aliases.contains(&lower.as_str())).map(|k| k.id)
        };
        match id {
            Some(0) | None => Err(Error::UnknownChain(s.to_owned())),
            Some(id) => Ok(Chain::from_id(id)),
        }
    }
}

/// Comma-separated canonical names, for error messages and help.
pub fn known_names() -> String {
    KNOWN.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_aliases_and_ids() {
        assert_eq!("mainnet".parse::<Chain>().unwrap().id, 1);
        assert_eq!("Base".parse::<Chain>().unwrap().id, 8453);
        assert_eq!("42161".parse::<Chain>().unwrap().name, "arbitrum");
        assert_eq!("0x89".parse::<Chain>().unwrap().name, "polygon");
        assert_eq!("7777777".parse::<Chain>().unwrap().name, "chain-7777777");
    }

    #[test]
    fn rejects_unknown_names_and_zero() {
        for bad in ["etherum", "", "0", "0x", "-1", "1.5"] {
            let err = bad.parse::<Chain>().unwrap_err();
            assert!(matches!(err, Error::UnknownChain(_)), "{bad}");
        }
        let msg = "etherum".parse::<Chain>().unwrap_err().to_string();
        assert!(msg.contains("etherum") && msg.contains("ethereum"), "{msg}");
    }
}
