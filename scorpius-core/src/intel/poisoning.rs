//! Address poisoning: a pure detector over one wallet's transfer history.
//!
//! Poisoners mine an address whose first and last hex digits match an address the victim really
//! pays, then plant it in the victim's history (a zero-value `transferFrom` out of the wallet, a
//! dust payment, a counterfeit-token transfer) so that a user who copies "the usual recipient"
//! from the history pays the attacker. [`analyze`] finds the planted entries; [`check_recipient`]
//! checks one recipient before sending (`scorpius scan tx --history FILE`).
//!
//! Everything here is a pure function of a [`History`] and a [`KnownTokens`] list; the cost is
//! linear in the number of transfers (hash-map indexes only, no pairwise comparison).
//!
//! # The history file (`scan tx --history FILE`)
//!
//! JSON, exactly the serde form of [`History`]: the wallet and its transfers (native-coin
//! transfers and token `Transfer` events in which the wallet is the sender or the recipient), in
//! any order.
//!
//! ```json
//! {
//!   "wallet": "0x7a16ff8270133f063aab6c9977183d9e72835428",
//!   "transfers": [
//!     {
//!       "tx_hash": "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060",
//!       "log_index": 41,
//!       "block": 19283001,
//!       "timestamp": 1708531200,
//!       "token": "0xdac17f958d2ee523a2206206994597c13d831ec7",
//!       "token_symbol": "USDT",
//!       "from": "0x7a16ff8270133f063aab6c9977183d9e72835428",
//!       "to": "0x1234c0ffee254729296a45a3885639ac7e10abcd",
//!       "value": "1500000000",
//!       "initiator": "0x7a16ff8270133f063aab6c9977183d9e72835428"
//!     },
//!     {
//!       "tx_hash": "0x0b4c1f3e1e6a0d2f4b1c9a8e7d6c5b4a39281706f5e4d3c2b1a0918273645546",
//!       "block": "0x1263c3b",
//!       "from": "0x7a16ff8270133f063aab6c9977183d9e72835428",
//!       "to": "0x1234c0ffee254729296a45a3885639ac7e10abcd",
//!       "value": "0x6f05b59d3b20000"
//!     }
//!   ]
//! }
//! ```
//!
//! | field | required | meaning |
//! | --- | --- | --- |
//! | `wallet` | yes | the wallet whose history this is |
//! | `tx_hash` | yes | 32-byte transaction hash, `0x` hex |
//! | `log_index` | no | index of the `Transfer` log in the block; absent for native transfers |
//! | `block` | yes | block number: a JSON number, a decimal string or `0x` hex |
//! | `timestamp` | no | block time, unix seconds (same forms as `block`) |
//! | `token` | no | token contract; absent or `null` for the chain's native coin |
//! | `token_symbol` | no | the symbol the token contract reports, verbatim (needed for the counterfeit check) |
//! | `from`, `to` | yes | sender and recipient of the value |
//! | `value` | yes | amount in base units: a decimal string (`"1500000000"`), `0x` hex (`"0x59682f00"`) or a JSON integer below 2^53 |
//! | `initiator` | no | the transaction's sender (`tx.from`); tells a third party's `transferFrom` apart |
//!
//! Addresses are hex strings in any case (checksums are not enforced). Unknown fields are
//! rejected, so that a misspelt `initiator` cannot silently weaken the analysis. Serialising a
//! [`History`] writes values as decimal strings and omits absent optional fields.
//!
//! # Definitions
//!
//! Let W be the wallet. Zero-address transfers (mints and burns) never make a counterparty.
//!
//! - **Wallet payment**: a transfer from W to another address with value > 0 that W certainly
//!   initiated: its `initiator` is W, or the initiator is unknown and the asset is the native coin
//!   (only W can move its own coin) or a genuine token from [`KnownTokens`] (moving a non-zero
//!   genuine balance out of W needs W's signature or allowance). Token transfers out of W with an
//!   unknown initiator and an unknown token are *not* payments: a counterfeit token can emit any
//!   `Transfer(W, …)` event it likes.
//! - **Real counterparty**: an address X (not W, not zero) such that
//!   1. W made a wallet payment to X; or
//!   2. X sent W value > 0 in a transaction W initiated (`initiator` = W: swap proceeds, withdrawals);
//!      or
//!   3. X sent W a non-dust amount of an asset W itself pays with (the native coin, or a token of
//!      which W made a wallet payment), in a token that is not counterfeit.
//!
//!   Dust, zero-value and counterfeit-token transfers, and tokens W never paid with (whose value is
//!   unknown), never make an address real: the attacker controls all of them.
//! - **Look-alike**: an address of the history that differs from a real counterparty R (or from W
//!   itself) but shares at least [`MIN_PREFIX`] leading and [`MIN_SUFFIX`] trailing hex digits
//!   with it (case-insensitive: the comparison is on bytes). Only real counterparties are
//!   compared against, never all addresses of the history, which would make chance matches
//!   (birthday paradox) common. When two *real* counterparties match each other, the one that
//!   appeared later is reported as the look-alike (the wallet has already paid it). The chance
//!   that a given random address matches a given address is 16^-(prefix+suffix).
//! - **Dust**: an amount v with 0 < v ≤ the largest wallet payment in the same asset divided by
//!   [`DUST_RATIO`] (assets are compared by contract, then by normalised symbol so that a
//!   counterfeit "USDT" is compared with the real USDT the wallet paid); for the native coin of
//!   which W made no payment, v ≤ [`NATIVE_DUST`] (0.001 of an 18-decimal coin). For other tokens
//!   "dust" is unknown and not claimed.
//! - **Mimics**: an amount v mimics a wallet payment p in the same asset (contract or normalised
//!   symbol) when v = p, or when their significant decimal digits (trailing zeros dropped)
//!   start with the same min([`MIMIC_DIGITS`], digits of p) digits and that is at least
//!   [`MIN_MIMIC_DIGITS`]: a payment of 1,500 USDT (`1500000000`, digits `15`) is mimicked by
//!   0.0015 USDT (`1500`) and by a counterfeit 1,500 "USDT". Payments to the imitated counterparty
//!   are preferred as the evidence.
//! - **Counterfeit token**: a token whose reported symbol normalises ([`normalize_symbol`]) to the
//!   symbol of a known token on the chain, at a contract that is not one of that symbol's known
//!   contracts.
//!
//! # Findings
//!
//! | rule | severity | one finding per |
//! | --- | --- | --- |
//! | `poisoning-lookalike` | high | look-alike address |
//! | `poisoning-zero-transfer` | medium | token transfer out of W with value 0 whose initiator is known and is not W |
//! | `poisoning-dust` | medium | incoming transfer from a look-alike whose amount is dust or mimics a payment |
//! | `token-counterfeit` | high | counterfeit token contract |
//!
//! Evidence keys: `tx_hash`, `log_index`, `block` (of the transfer; for per-address and per-token
//! findings the first one), `lookalike`, `imitates`, `prefix_len` and `suffix_len` (matched hex
//! digits), `random_match_probability` (16^-(prefix+suffix), e.g. `"2.33e-10"`), plus
//! rule-specific keys. Locations point at `transfers[i]` in the history and at the address.
//!
//! # Cost
//!
//! One pass to index wallet payments, one to find real counterparties, one to record where each
//! address first appears, then a hash lookup by (first two bytes, last two bytes) per address:
//! O(n) in transfers. Symbol normalisation is cached per distinct symbol. A history of 100,000
//! transfers (1,000 real counterparties, 99,000 other addresses, 2,000 findings) analyses in
//! about 75 ms (0.75 µs per transfer) in a release build on one core of the 2-core development
//! machine (`cargo test --release -p scorpius-core --lib intel::poisoning::tests::perf_100k --
//! --ignored --nocapture`).

use std::{
    collections::{HashMap, HashSet},
    fmt,
};

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use unicode_security::confusable_detection::skeleton;

use crate::{Error, model::Finding, rules};

/// Minimum number of leading hex digits a look-alike shares with the address it imitates.
pub const MIN_PREFIX: usize = 4;
/// Minimum number of trailing hex digits a look-alike shares with the address it imitates.
pub const MIN_SUFFIX: usize = 4;
/// An amount is dust when at most the largest wallet payment in the same asset divided by this.
pub const DUST_RATIO: u64 = 1000;
/// Dust bound for the native coin when the wallet made no native payment: 10^15 base units
/// (0.001 of an 18-decimal coin).
pub const NATIVE_DUST: U256 = U256::from_limbs([1_000_000_000_000_000, 0, 0, 0]);
/// Leading significant digits compared when deciding whether an amount mimics a payment.
pub const MIMIC_DIGITS: usize = 3;
/// Fewest leading significant digits that count as mimicking (below this only equality does).
pub const MIN_MIMIC_DIGITS: usize = 2;

/// One movement of value in which the wallet is the sender or the recipient: a native-coin
/// transfer (top-level or internal) or a token `Transfer` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The transaction that moved the value.
    pub tx_hash: B256,
    /// Index of the `Transfer` log in its block; `None` for native transfers.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_quantity")]
    pub log_index: Option<u64>,
    /// Block number.
    #[serde(with = "quantity")]
    pub block: u64,
    /// Block time in unix seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_quantity")]
    pub timestamp: Option<u64>,
    /// Token contract; `None` for the chain's native coin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Address>,
    /// The symbol the token contract reports, verbatim (used by the counterfeit check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_symbol: Option<String>,
    /// Sender of the value.
    pub from: Address,
    /// Recipient of the value.
    pub to: Address,
    /// Amount in base units. JSON: decimal string, `0x` hex string or small integer.
    #[serde(with = "amount")]
    pub value: U256,
    /// The transaction's sender (`tx.from`), when known: tells a third party's `transferFrom`
    /// apart from the wallet's own transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Address>,
}

/// A wallet and its transfer history: the input of the poisoning detector and, as JSON, the
/// file format of `scan tx --history FILE` (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The wallet whose history this is.
    pub wallet: Address,
    /// Transfers in which the wallet sent or received value, in any order.
    pub transfers: Vec<Transfer>,
}

impl History {
    /// Parses a history file (JSON, see the [module documentation](self)).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        // Name the offending field (`history.transfers[3].value`), not just a column number.
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() { "history".to_owned() } else { format!("history.{path}") };
            Error::input(field, e.into_inner())
        })
    }
}

/// Serde for `U256` amounts: written as decimal strings, read from decimal or `0x` hex strings
/// or JSON integers.
mod amount {
    use super::*;

    pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        d.deserialize_any(AmountVisitor)
    }

    struct AmountVisitor;

    impl de::Visitor<'_> for AmountVisitor {
        type Value = U256;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an amount in base units: a decimal string, a 0x hex string or a non-negative integer")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<U256, E> {
            Ok(U256::from(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<U256, E> {
            u64::try_from(v).map(U256::from).map_err(|_| E::custom(format!("amount {v} is negative")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<U256, E> {
            Err(E::custom(format!(
                "amount {v} is not an integer in base units, or too large for a JSON number: write it as a decimal string"
            )))
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<U256, E> {
            parse_uint(s, "amount").map_err(E::custom)
        }
    }
}

/// Parses a decimal or `0x` hex unsigned integer, naming `what` in the error.
fn parse_uint(s: &str, what: &str) -> Result<U256, String> {
    let t = s.trim();
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (t, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix as u32)) {
        return Err(format!("{what} `{s}` is not a decimal or 0x-prefixed hex integer"));
    }
    U256::from_str_radix(digits, radix).map_err(|_| format!("{what} `{s}` does not fit in 256 bits"))
}

/// Serde for `u64` quantities (block numbers, log indexes, timestamps): written as JSON
/// numbers, read from numbers, decimal strings or `0x` hex strings (as JSON-RPC returns them).
mod quantity {
    use super::*;

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(QuantityVisitor)
    }

    pub(super) struct QuantityVisitor;

    impl de::Visitor<'_> for QuantityVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer, a decimal string or a 0x hex string")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("{v} is negative")))
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<u64, E> {
            let v = parse_uint(s, "number").map_err(E::custom)?;
            u64::try_from(v).map_err(|_| E::custom(format!("number `{s}` does not fit in 64 bits")))
        }
    }
}

/// [`quantity`] for optional fields.
mod opt_quantity {
    use super::*;

    struct Quantity(u64);

    impl<'de> Deserialize<'de> for Quantity {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(quantity::QuantityVisitor).map(Quantity)
        }
    }

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_u64(*v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<Quantity>::deserialize(d).map(|q| q.map(|q| q.0))
    }
}

/// Whether `c` is a combining mark left over by the skeleton's decomposition (accents,
/// overlays such as the stroke of `₮`).
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}')
}

/// The comparison key of a token symbol: upper-cased, mapped to its Unicode confusable skeleton
/// (UTS #39), combining marks and whitespace dropped, lower-cased.
///
/// "USDT", "usdt", "USDТ" (Cyrillic Т), "ＵＳＤＴ" (full-width), "USD₮" and "U\u{200B}SDT" (zero-width
/// space) all give `usdt`. Upper-casing first makes the key case-insensitive and catches the
/// capital look-alikes wallets display; a consequence is that a few distinct letters share a key
/// (`I`, `l` and `1` all become `l`, so "UNI" and "UNL" share `unl`; `0` becomes `o`). The key is
/// for comparison, not for display.
pub fn normalize_symbol(symbol: &str) -> String {
    let upper = symbol.to_uppercase();
    let skel: String = skeleton(&upper).filter(|c| !is_combining_mark(*c) && !c.is_whitespace()).collect();
    skel.to_lowercase()
}

/// A genuine token contract from the token list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownToken {
    /// The token contract.
    pub address: Address,
    /// Its symbol as listed.
    pub symbol: String,
    /// Its name as listed.
    pub name: String,
}

/// Genuine tokens of one chain, indexed by [`normalize_symbol`] key: the reference for the
/// counterfeit check, and the tokens whose outgoing non-zero transfers count as wallet payments
/// even when the initiator is unknown.
#[derive(Debug, Clone, Default)]
pub struct KnownTokens {
    chain: u64,
    dataset: Option<(String, String)>,
    by_key: HashMap<String, Vec<KnownToken>>,
    addresses: HashSet<Address>,
}

impl KnownTokens {
    /// Builds the list for `chain` from intel TSV text (the format of
    /// `data/intel/metamask-tokenlist.tsv`): a header row naming at least the columns `kind`,
    /// `chain`, `value`, `labels` and `name` (the symbol), optionally `reference` (the token's
    /// name); rows of kind `address` with the label `token` on `chain` are used, others skipped.
    /// Blank lines and lines starting with `#` are ignored. Errors name the line.
    pub fn from_tsv(tsv: &str, chain: u64) -> Result<Self, Error> {
        let mut lines = tsv.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
        let Some((_, header)) = lines.next() else {
            return Err(Error::input("token list", "is empty: expected a header row"));
        };
        let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
        let col = |name: &str| cols.iter().position(|c| *c == name);
        let (Some(kind), Some(chain_col), Some(value), Some(labels), Some(name)) =
            (col("kind"), col("chain"), col("value"), col("labels"), col("name"))
        else {
            return Err(Error::input(
                "token list",
                format!("header `{header}` must name the columns kind, chain, value, labels and name"),
            ));
        };
        let reference = col("reference");
        let needed = [kind, chain_col, value, labels, name].into_iter().max().unwrap_or(0) + 1;
        let mut out = KnownTokens { chain, ..KnownTokens::default() };
        for (i, line) in lines {
            let field = || format!("token list line {}", i + 1);
            let row: Vec<&str> = line.split('\t').collect();
            if row.len() < needed {
                return Err(Error::input(
                    field(),
                    format!("expected at least {needed} tab-separated columns, found {}", row.len()),
                ));
            }
            if row[kind].trim() != "address" || !row[labels].split(',').any(|l| l.trim() == "token") {
                continue;
            }
            let row_chain: u64 = row[chain_col]
                .trim()
                .parse()
                .map_err(|_| Error::input(field(), format!("chain `{}` is not a chain id", row[chain_col])))?;
            if row_chain != chain {
                continue;
            }
            let address: Address = row[value]
                .trim()
                .parse()
                .map_err(|_| Error::input(field(), format!("`{}` is not a 20-byte hex address", row[value])))?;
            let symbol = row[name].trim();
            if symbol.is_empty() {
                return Err(Error::input(field(), "token without a symbol (column `name`)"));
            }
            let token_name = reference.and_then(|r| row.get(r)).map_or("", |s| s.trim());
            out.insert(KnownToken { address, symbol: symbol.to_string(), name: token_name.to_string() });
        }
        Ok(out)
    }

    /// Records the dataset name and version, reported in counterfeit findings.
    #[must_use]
    pub fn with_dataset(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.dataset = Some((name.into(), version.into()));
        self
    }

    /// Adds one genuine token (an address listed twice is kept once).
    pub fn insert(&mut self, token: KnownToken) {
        if self.addresses.insert(token.address) {
            self.by_key.entry(normalize_symbol(&token.symbol)).or_default().push(token);
        }
    }

    /// The dataset the list came from, if named.
    pub fn dataset(&self) -> Option<crate::model::DatasetRef> {
        self.dataset
            .as_ref()
            .map(|(name, version)| crate::model::DatasetRef { name: name.clone(), version: version.clone() })
    }

    /// The chain these tokens live on.
    pub fn chain(&self) -> u64 {
        self.chain
    }

    /// Number of token contracts.
    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    /// Whether the list is empty (then the counterfeit check cannot run: callers should say so).
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// The genuine tokens whose symbol has the same [`normalize_symbol`] key as `symbol`.
    pub fn lookup(&self, symbol: &str) -> &[KnownToken] {
        self.by_key_get(&normalize_symbol(symbol))
    }

    /// The genuine tokens under a key already computed with [`normalize_symbol`].
    pub fn by_key_get(&self, key: &str) -> &[KnownToken] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// Whether `token` is a genuine listed contract.
    pub fn is_known(&self, token: Address) -> bool {
        self.addresses.contains(&token)
    }
}

/// How closely a look-alike matches the address it imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressMatch {
    /// The real address it imitates.
    pub imitates: Address,
    /// Leading hex digits in common.
    pub prefix_len: usize,
    /// Trailing hex digits in common.
    pub suffix_len: usize,
}

impl AddressMatch {
    /// Compares two addresses digit by digit (case-insensitive: on bytes).
    pub fn between(lookalike: Address, imitates: Address) -> Self {
        let nib = |a: &Address, i: usize| {
            let b = a.as_slice()[i / 2];
            if i.is_multiple_of(2) { b >> 4 } else { b & 0x0f }
        };
        let prefix_len = (0..40).take_while(|&i| nib(&lookalike, i) == nib(&imitates, i)).count();
        let suffix_len = if prefix_len == 40 {
            0
        } else {
            (0..40).rev().take_while(|&i| nib(&lookalike, i) == nib(&imitates, i)).count()
        };
        AddressMatch { imitates, prefix_len, suffix_len }
    }

    /// Whether the match is close enough to be a look-alike.
    pub fn is_lookalike(&self) -> bool {
        self.prefix_len >= MIN_PREFIX && self.suffix_len >= MIN_SUFFIX && self.prefix_len < 40
    }

    /// The chance that one random address matches a given address this closely:
    /// 16^-(prefix+suffix).
    pub fn random_match_probability(&self) -> f64 {
        16f64.powi(-((self.prefix_len + self.suffix_len) as i32))
    }

    /// [`Self::random_match_probability`] in scientific notation with three significant digits,
    /// e.g. `2.33e-10`.
    pub fn probability_string(&self) -> String {
        format!("{:.2e}", self.random_match_probability())
    }
}

/// Bucket key of the look-alike index: the first two and the last two bytes, i.e. the first
/// four and last four hex digits.
fn bucket(a: Address) -> u32 {
    let b = a.as_slice();
    u32::from_be_bytes([b[0], b[1], b[18], b[19]])
}

/// What an amount is compared within: the native coin, a token contract, or every token whose
/// symbol has a given normalised key (an index into [`Poisoning::keys`]), so that counterfeits
/// compare with the token they copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Asset {
    Native,
    Token(Address),
    Symbol(u32),
}

/// Significant decimal digits of an amount (trailing zeros dropped); empty for zero.
fn significant_digits(v: U256) -> String {
    let mut s = v.to_string();
    let len = s.trim_end_matches('0').len();
    s.truncate(len);
    s
}

/// The first `len` significant digits as a compact key (`len` is at most [`MIMIC_DIGITS`]).
fn digits_key(digits: &str, len: usize) -> u16 {
    let v: u16 = digits[..len].parse().unwrap_or(0);
    (len as u16) * 1000 + v
}

/// The key under which a payment is indexed for the mimic check, if it has enough digits.
fn mimic_key(digits: &str) -> Option<u16> {
    (digits.len() >= MIN_MIMIC_DIGITS).then(|| digits_key(digits, digits.len().min(MIMIC_DIGITS)))
}

/// Where an address was first seen and how often.
#[derive(Debug, Clone, Copy)]
struct Seen {
    order: (u64, u64, usize),
    first: usize,
    count: u32,
}

/// Why an address is a real counterparty.
#[derive(Debug, Clone, Copy, Default)]
struct Real {
    /// Wallet payments to it.
    payments: u32,
    /// Other real interactions (receipts in wallet-initiated or non-dust transfers).
    receipts: u32,
}

/// How an amount mimics a wallet payment.
#[derive(Debug, Clone, Copy)]
struct Mimic {
    /// The payment mimicked (index into the transfers).
    payment: usize,
    /// Whether the amounts are equal (otherwise leading digits match).
    exact: bool,
}

/// The poisoning analysis of one history: build it once with [`Poisoning::new`], then ask for
/// [`Poisoning::findings`] or [`Poisoning::check_recipient`] as often as needed.
#[derive(Debug)]
pub struct Poisoning<'a> {
    history: &'a History,
    known: &'a KnownTokens,
    /// Distinct normalised symbol keys of the history.
    keys: Vec<String>,
    /// Index into `keys` of every distinct symbol in the history.
    symbol_keys: HashMap<&'a str, u32>,
    /// Largest wallet payment per asset.
    max_paid: HashMap<Asset, U256>,
    /// First wallet payment per (asset, amount) and per (asset, amount, recipient).
    paid_exact: HashMap<(Asset, U256), usize>,
    paid_exact_to: HashMap<(Asset, U256, Address), usize>,
    /// First wallet payment per (asset, leading digits) and per (asset, leading digits, recipient).
    paid_digits: HashMap<(Asset, u16), usize>,
    paid_digits_to: HashMap<(Asset, u16, Address), usize>,
    /// Real counterparties.
    real: HashMap<Address, Real>,
    /// Every counterparty (not the wallet, not zero): first appearance and count.
    seen: HashMap<Address, Seen>,
    /// Real counterparties and the wallet by [`bucket`].
    index: HashMap<u32, Vec<Address>>,
}

impl<'a> Poisoning<'a> {
    /// Indexes `history` (linear time). `known` should be the token list of the history's chain;
    /// an empty list disables the counterfeit check.
    pub fn new(history: &'a History, known: &'a KnownTokens) -> Self {
        let mut p = Poisoning {
            history,
            known,
            keys: Vec::new(),
            symbol_keys: HashMap::new(),
            max_paid: HashMap::new(),
            paid_exact: HashMap::new(),
            paid_exact_to: HashMap::new(),
            paid_digits: HashMap::new(),
            paid_digits_to: HashMap::new(),
            real: HashMap::new(),
            seen: HashMap::new(),
            index: HashMap::new(),
        };
        let mut key_ids: HashMap<String, u32> = HashMap::new();
        for t in &history.transfers {
            if let Some(s) = t.token_symbol.as_deref()
                && !p.symbol_keys.contains_key(s)
            {
                let key = normalize_symbol(s);
                let id = *key_ids.entry(key.clone()).or_insert_with(|| {
                    p.keys.push(key);
                    (p.keys.len() - 1) as u32
                });
                p.symbol_keys.insert(s, id);
            }
        }
        p.index_payments();
        p.find_real();
        p.record_seen();
        for &a in p.real.keys().chain(std::iter::once(&history.wallet)) {
            p.index.entry(bucket(a)).or_default().push(a);
        }
        p
    }

    fn wallet(&self) -> Address {
        self.history.wallet
    }

    /// The assets a transfer is compared within: its contract (or the native coin) and, for
    /// tokens with a symbol, the symbol's key.
    fn assets(&self, t: &Transfer) -> (Asset, Option<Asset>) {
        let own = t.token.map_or(Asset::Native, Asset::Token);
        let sym =
            t.token.and(t.token_symbol.as_deref()).and_then(|s| self.symbol_keys.get(s)).map(|&k| Asset::Symbol(k));
        (own, sym)
    }

    /// The normalised key of `t`'s symbol.
    fn symbol_key(&self, t: &Transfer) -> Option<&str> {
        let id = *self.symbol_keys.get(t.token_symbol.as_deref()?)?;
        Some(self.keys[id as usize].as_str())
    }

    /// Whether `t` is a wallet payment (see the module documentation).
    fn is_payment(&self, t: &Transfer) -> bool {
        let w = self.wallet();
        t.from == w
            && t.to != w
            && !t.to.is_zero()
            && !t.value.is_zero()
            && match t.initiator {
                Some(i) => i == w,
                None => t.token.is_none_or(|tok| self.known.is_known(tok)),
            }
    }

    fn index_payments(&mut self) {
        let history = self.history;
        for (i, t) in history.transfers.iter().enumerate() {
            if !self.is_payment(t) {
                continue;
            }
            let (own, sym) = self.assets(t);
            let digits = significant_digits(t.value);
            for asset in std::iter::once(own).chain(sym) {
                let max = self.max_paid.entry(asset).or_default();
                *max = (*max).max(t.value);
                self.paid_exact.entry((asset, t.value)).or_insert(i);
                self.paid_exact_to.entry((asset, t.value, t.to)).or_insert(i);
                if let Some(k) = mimic_key(&digits) {
                    self.paid_digits.entry((asset, k)).or_insert(i);
                    self.paid_digits_to.entry((asset, k, t.to)).or_insert(i);
                }
            }
        }
    }

    /// The dust bound for `t`'s asset, if one is defined (see the module documentation).
    /// `by_symbol` also consults payments of tokens with the same normalised symbol.
    fn dust_threshold(&self, t: &Transfer, by_symbol: bool) -> Option<U256> {
        let (own, sym) = self.assets(t);
        let max = self.max_paid.get(&own).or_else(|| sym.filter(|_| by_symbol).and_then(|s| self.max_paid.get(&s)));
        match max {
            Some(m) => Some(*m / U256::from(DUST_RATIO)),
            None if t.token.is_none() => Some(NATIVE_DUST),
            None => None,
        }
    }

    /// The genuine tokens `t`'s token imitates, if it is counterfeit.
    fn counterfeit_of(&self, t: &Transfer) -> Option<&'a [KnownToken]> {
        let token = t.token?;
        let key = self.symbol_key(t)?;
        let known: &'a KnownTokens = self.known;
        let genuine = known.by_key_get(key);
        (!genuine.is_empty() && !known.is_known(token)).then_some(genuine)
    }

    fn find_real(&mut self) {
        let w = self.wallet();
        let history = self.history;
        for t in history.transfers.iter() {
            let (who, payment) = if self.is_payment(t) {
                (t.to, true)
            } else if t.to == w && t.from != w && !t.value.is_zero() && self.counterfeit_of(t).is_none() {
                let initiated = t.initiator == Some(w);
                let substantial = || {
                    let own = t.token.map_or(Asset::Native, Asset::Token);
                    let threshold = match self.max_paid.get(&own) {
                        Some(m) => *m / U256::from(DUST_RATIO),
                        None if t.token.is_none() => NATIVE_DUST,
                        None => return false,
                    };
                    t.value > threshold
                };
                if initiated || substantial() {
                    (t.from, false)
                } else {
                    continue;
                }
            } else {
                continue;
            };
            if who.is_zero() || who == w {
                continue;
            }
            let r = self.real.entry(who).or_default();
            if payment {
                r.payments += 1;
            } else {
                r.receipts += 1;
            }
        }
    }

    fn record_seen(&mut self) {
        let w = self.wallet();
        for (i, t) in self.history.transfers.iter().enumerate() {
            let order = (t.block, t.log_index.unwrap_or(0), i);
            for a in [t.from, t.to] {
                if a == w || a.is_zero() {
                    continue;
                }
                self.seen
                    .entry(a)
                    .and_modify(|s| {
                        s.count += 1;
                        if order < s.order {
                            s.order = order;
                            s.first = i;
                        }
                    })
                    .or_insert(Seen { order, first: i, count: 1 });
            }
        }
    }

    /// Whether `address` is a real counterparty of the wallet.
    pub fn is_real(&self, address: Address) -> bool {
        self.real.contains_key(&address)
    }

    /// The real counterparties, in no particular order.
    pub fn real_counterparties(&self) -> impl Iterator<Item = Address> + '_ {
        self.real.keys().copied()
    }

    /// The real counterparty (or the wallet itself) that `address` imitates, with the longest
    /// match if several qualify; `None` if it imitates none. A real counterparty is a look-alike
    /// only of a real counterparty that appeared before it.
    pub fn lookalike_of(&self, address: Address) -> Option<AddressMatch> {
        let w = self.wallet();
        if address == w || address.is_zero() {
            return None;
        }
        let candidates = self.index.get(&bucket(address))?;
        let own_order = self.real.contains_key(&address).then(|| self.seen.get(&address).map(|s| s.order));
        candidates
            .iter()
            .filter(|&&r| r != address)
            .filter(|&&r| match own_order {
                None => true,
                Some(own) => r == w || self.seen.get(&r).map(|s| s.order) < own,
            })
            .map(|&r| AddressMatch::between(address, r))
            .filter(AddressMatch::is_lookalike)
            .max_by_key(|m| {
                (m.prefix_len + m.suffix_len, std::cmp::Reverse(self.seen.get(&m.imitates).map(|s| s.order)))
            })
    }

    /// How `value` of `t`'s asset mimics a wallet payment, preferring payments to `imitated`.
    fn mimic(&self, t: &Transfer, imitated: Address) -> Option<Mimic> {
        let (own, sym) = self.assets(t);
        let digits = significant_digits(t.value);
        for to in [Some(imitated), None] {
            for asset in std::iter::once(own).chain(sym) {
                let hit = match to {
                    Some(a) => self.paid_exact_to.get(&(asset, t.value, a)),
                    None => self.paid_exact.get(&(asset, t.value)),
                };
                if let Some(&payment) = hit {
                    return Some(Mimic { payment, exact: true });
                }
                for len in MIN_MIMIC_DIGITS..=MIMIC_DIGITS.min(digits.len()) {
                    let key = digits_key(&digits, len);
                    let hit = match to {
                        Some(a) => self.paid_digits_to.get(&(asset, key, a)),
                        None => self.paid_digits.get(&(asset, key)),
                    };
                    if let Some(&payment) = hit {
                        return Some(Mimic { payment, exact: false });
                    }
                }
            }
        }
        None
    }

    /// Every finding of the four detectors: look-alikes (in order of first appearance), then
    /// zero-value transfers, dust and counterfeit tokens (in history order).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = self.lookalike_findings();
        out.extend(self.zero_transfer_findings());
        out.extend(self.dust_findings());
        out.extend(self.counterfeit_findings());
        out
    }

    /// `poisoning-lookalike`: one finding per look-alike address in the history.
    pub fn lookalike_findings(&self) -> Vec<Finding> {
        let mut hits: Vec<(Address, Seen, AddressMatch)> =
            self.seen.iter().filter_map(|(&a, s)| self.lookalike_of(a).map(|m| (a, *s, m))).collect();
        hits.sort_by_key(|(_, s, _)| s.order);
        hits.into_iter()
            .map(|(a, seen, m)| {
                let t = &self.history.transfers[seen.first];
                let already_paid = self.real.get(&a).map_or(0, |r| r.payments);
                let mut message = format!(
                    "{a} looks like {}: the first {} and last {} hex digits match (chance of a random match {}). \
                     It appears in {} transfer(s) of this history, first in transaction {}.",
                    self.describe_real(m.imitates),
                    m.prefix_len,
                    m.suffix_len,
                    m.probability_string(),
                    seen.count,
                    t.tx_hash,
                );
                if already_paid > 0 {
                    message.push_str(&format!(
                        " The wallet has already paid it {already_paid} time(s): check whether those payments were meant for {}.",
                        m.imitates
                    ));
                }
                with_match(with_transfer(Finding::new(&rules::POISONING_LOOKALIKE, message), seen.first, t), a, &m)
                    .with("transfers", seen.count)
                    .with("imitates_wallet", m.imitates == self.wallet())
                    .with("wallet_payments_to_lookalike", already_paid)
                    .about(a)
            })
            .collect()
    }

    /// `poisoning-zero-transfer`: token transfers out of the wallet with value 0 whose initiator
    /// is known and is not the wallet.
    pub fn zero_transfer_findings(&self) -> Vec<Finding> {
        let w = self.wallet();
        self.history
            .transfers
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.token.is_some() && t.from == w && t.value.is_zero() && t.initiator.is_some_and(|i| i != w)
            })
            .map(|(i, t)| {
                let initiator = t.initiator.unwrap_or_default();
                let m = self.lookalike_of(t.to);
                let mut message = format!(
                    "{initiator} moved 0 {} from the wallet to {} in transaction {}: a third party's transferFrom, which needs no allowance for 0 tokens.",
                    token_label(t),
                    t.to,
                    t.tx_hash
                );
                if let Some(m) = &m {
                    message.push_str(&format!(" The recipient looks like {}.", self.describe_real(m.imitates)));
                }
                let f = with_transfer(Finding::new(&rules::POISONING_ZERO_TRANSFER, message), i, t)
                    .with("token", token_value(t))
                    .with("recipient", t.to.to_checksum(None))
                    .with("initiator", initiator.to_checksum(None))
                    .about(t.to);
                match m {
                    Some(m) => with_match(f, t.to, &m),
                    None => f,
                }
            })
            .collect()
    }

    /// `poisoning-dust`: incoming transfers from a look-alike whose amount is dust or mimics a
    /// wallet payment.
    pub fn dust_findings(&self) -> Vec<Finding> {
        let w = self.wallet();
        let mut out = Vec::new();
        for (i, t) in self.history.transfers.iter().enumerate() {
            if t.to != w || t.from == w || t.value.is_zero() {
                continue;
            }
            let Some(m) = self.lookalike_of(t.from) else { continue };
            let threshold = self.dust_threshold(t, true);
            let dust = threshold.is_some_and(|th| t.value <= th);
            let mimic = self.mimic(t, m.imitates);
            if !dust && mimic.is_none() {
                continue;
            }
            let mut message = format!(
                "{} sent the wallet {} {} in transaction {}; the sender looks like {}.",
                t.from,
                t.value,
                token_label(t),
                t.tx_hash,
                self.describe_real(m.imitates)
            );
            if dust {
                message.push_str(" The amount is dust.");
            }
            let mut f = with_transfer(Finding::new(&rules::POISONING_DUST, String::new()), i, t)
                .with("token", token_value(t))
                .with("value", t.value.to_string())
                .with("dust", dust)
                .with("dust_threshold", threshold.map(|th| th.to_string()))
                .about(t.from);
            if let Some(mm) = mimic {
                let p = &self.history.transfers[mm.payment];
                message.push_str(&format!(
                    " It mimics the wallet's payment of {} {} to {} in transaction {} ({}).",
                    p.value,
                    token_label(p),
                    p.to,
                    p.tx_hash,
                    if mm.exact { "same amount" } else { "same leading digits" }
                ));
                f = f
                    .with("mimics_value", p.value.to_string())
                    .with("mimics_tx_hash", p.tx_hash.to_string())
                    .with("mimics_log_index", p.log_index)
                    .with("mimics_recipient", p.to.to_checksum(None))
                    .with("mimics", if mm.exact { "same amount" } else { "same leading digits" });
            }
            f.message = message;
            out.push(with_match(f, t.from, &m));
        }
        out
    }

    /// `token-counterfeit`: one finding per counterfeit token contract in the history.
    pub fn counterfeit_findings(&self) -> Vec<Finding> {
        let mut first: Vec<(Address, usize, &'a [KnownToken])> = Vec::new();
        let mut counts: HashMap<Address, (usize, u32)> = HashMap::new();
        for (i, t) in self.history.transfers.iter().enumerate() {
            let Some(genuine) = self.counterfeit_of(t) else { continue };
            let token = t.token.unwrap_or_default();
            let e = counts.entry(token).or_insert_with(|| {
                first.push((token, i, genuine));
                (first.len() - 1, 0)
            });
            e.1 += 1;
        }
        first
            .into_iter()
            .map(|(token, i, genuine)| {
                let t = &self.history.transfers[i];
                let symbol = t.token_symbol.as_deref().unwrap_or_default();
                let real = &genuine[0];
                let count = counts.get(&token).map_or(0, |c| c.1);
                let message = format!(
                    "Token {token} calls itself \"{}\", which reads as {} ({}), but the genuine {} is {}. It appears in {count} transfer(s), first in transaction {}.",
                    symbol.escape_default(),
                    real.symbol,
                    real.name,
                    real.symbol,
                    genuine.iter().map(|g| g.address.to_checksum(None)).collect::<Vec<_>>().join(", "),
                    t.tx_hash
                );
                let mut f = with_transfer(Finding::new(&rules::TOKEN_COUNTERFEIT, message), i, t)
                    .with("token", token.to_checksum(None))
                    .with("symbol", symbol)
                    .with("symbol_escaped", symbol.escape_default().to_string())
                    .with("normalized_symbol", normalize_symbol(symbol))
                    .with("imitates_symbol", real.symbol.clone())
                    .with(
                        "genuine_tokens",
                        genuine.iter().map(|g| g.address.to_checksum(None)).collect::<Vec<_>>(),
                    )
                    .with("chain_id", self.known.chain)
                    .with("transfers", count)
                    .about(token);
                if let Some((name, version)) = &self.known.dataset {
                    f = f.with("dataset", name.clone()).with("dataset_version", version.clone());
                }
                f
            })
            .collect()
    }

    /// Checks one recipient before sending: a `poisoning-lookalike` finding if it imitates a
    /// real counterparty (or the wallet), none if it is a real counterparty itself or resembles
    /// none.
    pub fn check_recipient(&self, recipient: Address) -> Vec<Finding> {
        let Some(m) = self.lookalike_of(recipient) else { return Vec::new() };
        let seen = self.seen.get(&recipient);
        let paid = self.real.get(&recipient).map_or(0, |r| r.payments);
        let mut message = format!(
            "The recipient {recipient} looks like {}: the first {} and last {} hex digits match (chance of a random match {}).",
            self.describe_real(m.imitates),
            m.prefix_len,
            m.suffix_len,
            m.probability_string()
        );
        if paid > 0 {
            message.push_str(&format!(
                " The wallet has paid the recipient {paid} time(s) before, but only after it used {}.",
                m.imitates
            ));
        } else {
            message.push_str(" The wallet has never really transacted with the recipient.");
        }
        let mut f = Finding::new(&rules::POISONING_LOOKALIKE, String::new())
            .with("recipient", recipient.to_checksum(None))
            .with("imitates_wallet", m.imitates == self.wallet())
            .with("wallet_payments_to_lookalike", paid)
            .about(recipient);
        if let Some(s) = seen {
            let t = &self.history.transfers[s.first];
            message.push_str(&format!(
                " It entered this history in transaction {} ({}).",
                t.tx_hash,
                self.how_planted(s.first)
            ));
            f = with_transfer(f, s.first, t)
                .with("first_seen_as", self.how_planted(s.first))
                .with("transfers", s.count);
        }
        f.message = message;
        vec![with_match(f, recipient, &m)]
    }

    /// A short description of how transfer `i` put its counterparty into the history.
    fn how_planted(&self, i: usize) -> &'static str {
        let t = &self.history.transfers[i];
        let w = self.wallet();
        if self.counterfeit_of(t).is_some() {
            "counterfeit token transfer"
        } else if t.from == w && t.value.is_zero() && t.initiator.is_some_and(|x| x != w) {
            "zero-value transferFrom by a third party"
        } else if t.value.is_zero() {
            "zero-value transfer"
        } else if t.to == w && self.dust_threshold(t, true).is_some_and(|th| t.value <= th) {
            "dust transfer to the wallet"
        } else if t.to == w {
            "transfer to the wallet"
        } else {
            "transfer from the wallet"
        }
    }

    /// How messages name the imitated address: "0x…, the wallet's own address", "0x…, which the wallet
    /// paid N time(s)" or "0x…, which sent the wallet value N time(s)".
    fn describe_real(&self, a: Address) -> String {
        if a == self.wallet() {
            return format!("{a}, the wallet's own address");
        }
        match self.real.get(&a) {
            Some(r) if r.payments > 0 => format!("{a}, which the wallet paid {} time(s)", r.payments),
            Some(r) => format!("{a}, which sent the wallet value {} time(s)", r.receipts),
            None => format!("{a}, a real counterparty of the wallet"),
        }
    }
}

/// Adds the transfer's hash, log index, block and location.
fn with_transfer(f: Finding, i: usize, t: &Transfer) -> Finding {
    f.with("tx_hash", t.tx_hash.to_string())
        .with("log_index", t.log_index)
        .with("block", t.block)
        .at(format!("transfers[{i}]"))
}

/// Adds the look-alike evidence.
fn with_match(f: Finding, lookalike: Address, m: &AddressMatch) -> Finding {
    f.with("lookalike", lookalike.to_checksum(None))
        .with("imitates", m.imitates.to_checksum(None))
        .with("prefix_len", m.prefix_len)
        .with("suffix_len", m.suffix_len)
        .with("random_match_probability", m.probability_string())
}

/// The token for evidence: its checksummed address or `native`.
fn token_value(t: &Transfer) -> String {
    t.token.map_or_else(|| "native".to_string(), |a| a.to_checksum(None))
}

/// The token for messages: its symbol and address, or "native coin".
fn token_label(t: &Transfer) -> String {
    match (t.token, t.token_symbol.as_deref()) {
        (None, _) => "native coin (base units)".to_string(),
        (Some(a), Some(s)) => format!("\"{}\" ({a}, base units)", s.escape_default()),
        (Some(a), None) => format!("token {a} (base units)"),
    }
}

/// All poisoning findings for `history` (see [`Poisoning::findings`]).
pub fn analyze(history: &History, known: &KnownTokens) -> Vec<Finding> {
    Poisoning::new(history, known).findings()
}

/// Checks `recipient` against `history` before sending (see [`Poisoning::check_recipient`]).
/// Used by `scan tx --history FILE`.
pub fn check_recipient(history: &History, known: &KnownTokens, recipient: Address) -> Vec<Finding> {
    Poisoning::new(history, known).check_recipient(recipient)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use alloy_primitives::address;

    use super::*;
    use crate::{model::Severity, rules::Rule};

    /// The victim's wallet.
    const W: Address = address!("7a16ff8270133f063aab6c9977183d9e72835428");
    /// The counterparty the victim really pays: 0x1234…abcd.
    const A: Address = address!("1234c0ffee254729296a45a3885639ac7e10abcd");
    /// The poisoner's mined look-alike of A: 4 leading and 4 trailing digits in common.
    const L: Address = address!("12349f0e2d1c3b4a5968778695a4b3c2d1e5abcd");
    /// An exchange hot wallet that funds the victim.
    const E: Address = address!("28c6c06298d514db089934071355e5743bf21d60");
    /// The poisoner's transaction sender.
    const X: Address = address!("5e7d2b1a0c9f8e7d6c5b4a392817f6e5d4c3b2a1");
    const USDT: Address = address!("dac17f958d2ee523a2206206994597c13d831ec7");
    const USDC: Address = address!("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
    /// Counterfeit "USDТ" (Cyrillic Т) at an address mined to resemble USDT's.
    const FAKE_USDT: Address = address!("dac1f2b6a7a48c1c4d37b5ce8e9f1a2b3c4d1ec7");
    /// 3 leading + 4 trailing digits of A.
    const N34: Address = address!("123f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c1fabcd");
    /// 4 leading + 3 trailing digits of A.
    const N43: Address = address!("12345a6b7c8d9e0f1a2b3c4d5e6f7a8b9c1f0bcd");
    /// An address that only ever sent the wallet dust and spam: not a real counterparty.
    const B: Address = address!("9876e1d2c3b4a5968778695a4b3c2d1e0f105432");
    /// 4+4 look-alike of B.
    const B2: Address = address!("98760a1b2c3d4e5f60718293a4b5c6d7e8f95432");
    const SPAM: Address = address!("00000000000000000000000000000000005ba000");

    const TOKENLIST: &str = include_str!("../../data/intel/metamask-tokenlist.tsv");

    fn known() -> KnownTokens {
        KnownTokens::from_tsv(TOKENLIST, 1).unwrap().with_dataset("metamask-tokenlist", "2.5.0")
    }

    fn hash(n: u64) -> B256 {
        B256::from(U256::from(n) * U256::from(0x9e37_79b9_7f4a_7c15u64))
    }

    fn native(block: u64, from: Address, to: Address, value: U256) -> Transfer {
        Transfer {
            tx_hash: hash(block),
            log_index: None,
            block,
            timestamp: Some(1_700_000_000 + block * 12),
            token: None,
            token_symbol: None,
            from,
            to,
            value,
            initiator: None,
        }
    }

    fn token(block: u64, tok: Address, sym: &str, from: Address, to: Address, value: U256, by: Address) -> Transfer {
        Transfer {
            log_index: Some(block % 500),
            token: Some(tok),
            token_symbol: Some(sym.into()),
            initiator: Some(by),
            ..native(block, from, to, value)
        }
    }

    /// Whole USDT (6 decimals).
    fn usdt(n: u64) -> U256 {
        U256::from(n) * U256::from(1_000_000u64)
    }

    /// The wallet's genuine activity: funded by an exchange, pays A 1,500 USDT three times and
    /// 0.5 ETH once.
    fn genuine() -> Vec<Transfer> {
        vec![
            token(100, USDT, "USDT", E, W, usdt(10_000), E),
            token(200, USDT, "USDT", W, A, usdt(1_500), W),
            token(300, USDT, "USDT", W, A, usdt(1_500), W),
            native(350, W, A, U256::from(500_000_000_000_000_000u64)),
            token(400, USDT, "USDT", W, A, usdt(1_500), W),
        ]
    }

    /// The real victim pattern: minutes after the last payment, the poisoner plants L.
    fn victim() -> History {
        let mut transfers = genuine();
        transfers.extend([
            // transferFrom(W, L, 0) sent by the poisoner.
            token(401, USDT, "USDT", W, L, U256::ZERO, X),
            // 0.0015 USDT from L: dust with the leading digits of the 1,500 USDT payments.
            token(402, USDT, "USDT", L, W, U256::from(1_500u64), X),
            // Counterfeit "USDТ" events in both directions with the exact amount.
            token(403, FAKE_USDT, "USDТ", W, L, usdt(1_500), X),
            token(404, FAKE_USDT, "USDТ", L, W, usdt(1_500), X),
        ]);
        History { wallet: W, transfers }
    }

    fn of_rule<'f>(findings: &'f [Finding], rule: &Rule) -> Vec<&'f Finding> {
        findings.iter().filter(|f| f.rule_id == rule.id).collect()
    }

    fn ev<'f>(f: &'f Finding, key: &str) -> &'f serde_json::Value {
        f.evidence.get(key).unwrap_or_else(|| panic!("no evidence `{key}` in {f:#?}"))
    }

    fn assert_match_evidence(f: &Finding, lookalike: Address, imitates: Address, prefix: usize, suffix: usize) {
        assert_eq!(ev(f, "lookalike"), &lookalike.to_checksum(None));
        assert_eq!(ev(f, "imitates"), &imitates.to_checksum(None));
        assert_eq!(ev(f, "prefix_len"), prefix);
        assert_eq!(ev(f, "suffix_len"), suffix);
        let p = 16f64.powi(-((prefix + suffix) as i32));
        assert_eq!(ev(f, "random_match_probability"), &format!("{p:.2e}"));
    }

    #[test]
    fn victim_pattern_fires_every_detector() {
        let history = victim();
        let known = known();
        let p = Poisoning::new(&history, &known);
        assert!(p.is_real(A) && p.is_real(E) && !p.is_real(L) && !p.is_real(X));
        let findings = p.findings();

        let look = of_rule(&findings, &rules::POISONING_LOOKALIKE);
        assert_eq!(look.len(), 1, "{look:#?}");
        let f = look[0];
        assert_eq!(f.severity, Severity::High);
        assert_match_evidence(f, L, A, 4, 4);
        assert_eq!(ev(f, "random_match_probability"), "2.33e-10");
        assert_eq!(ev(f, "tx_hash"), &hash(401).to_string());
        assert_eq!(ev(f, "log_index"), 401);
        assert_eq!(ev(f, "block"), 401);
        assert_eq!(ev(f, "transfers"), 4);
        assert_eq!(ev(f, "imitates_wallet"), false);
        assert_eq!(f.location.as_ref().unwrap().path.as_deref(), Some("transfers[5]"));
        assert!(f.message.contains("paid 4 time(s)"), "{}", f.message);

        let zero = of_rule(&findings, &rules::POISONING_ZERO_TRANSFER);
        assert_eq!(zero.len(), 1, "{zero:#?}");
        let f = zero[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(ev(f, "tx_hash"), &hash(401).to_string());
        assert_eq!(ev(f, "initiator"), &X.to_checksum(None));
        assert_eq!(ev(f, "recipient"), &L.to_checksum(None));
        assert_eq!(ev(f, "token"), &USDT.to_checksum(None));
        assert_match_evidence(f, L, A, 4, 4);

        let dust = of_rule(&findings, &rules::POISONING_DUST);
        assert_eq!(dust.len(), 2, "{dust:#?}");
        let f = dust[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(ev(f, "tx_hash"), &hash(402).to_string());
        assert_eq!(ev(f, "value"), "1500");
        assert_eq!(ev(f, "dust"), true);
        assert_eq!(ev(f, "dust_threshold"), "1500000"); // 1,500 USDT / 1000
        assert_eq!(ev(f, "mimics"), "same leading digits");
        assert_eq!(ev(f, "mimics_tx_hash"), &hash(200).to_string());
        assert_eq!(ev(f, "mimics_recipient"), &A.to_checksum(None));
        assert_match_evidence(f, L, A, 4, 4);
        let f = dust[1];
        assert_eq!(ev(f, "tx_hash"), &hash(404).to_string());
        assert_eq!(ev(f, "dust"), false);
        assert_eq!(ev(f, "mimics"), "same amount");
        assert_eq!(ev(f, "mimics_value"), "1500000000");

        let fake = of_rule(&findings, &rules::TOKEN_COUNTERFEIT);
        assert_eq!(fake.len(), 1, "{fake:#?}");
        let f = fake[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(ev(f, "token"), &FAKE_USDT.to_checksum(None));
        assert_eq!(ev(f, "symbol"), "USDТ");
        assert_eq!(ev(f, "normalized_symbol"), "usdt");
        assert_eq!(ev(f, "imitates_symbol"), "USDT");
        assert_eq!(ev(f, "genuine_tokens"), &serde_json::json!([USDT.to_checksum(None)]));
        assert_eq!(ev(f, "transfers"), 2);
        assert_eq!(ev(f, "tx_hash"), &hash(403).to_string());
        assert_eq!(ev(f, "dataset"), "metamask-tokenlist");
        assert_eq!(ev(f, "dataset_version"), "2.5.0");
        assert!(ev(f, "symbol_escaped").as_str().unwrap().contains("\\u{422}"));
        assert!(f.message.contains("USD\\u{422}"), "{}", f.message);

        assert_eq!(findings.len(), 5);
        // Deterministic output.
        assert_eq!(findings, analyze(&history, &known));
    }

    #[test]
    fn check_recipient_flags_lookalike_not_real() {
        let history = victim();
        let known = known();
        let found = check_recipient(&history, &known, L);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.rule_id, rules::POISONING_LOOKALIKE.id);
        assert_match_evidence(f, L, A, 4, 4);
        assert_eq!(ev(f, "first_seen_as"), "zero-value transferFrom by a third party");
        assert!(f.message.contains(&A.to_string()) && f.message.contains("never really transacted"), "{}", f.message);

        for ok in [A, E, W, address!("00000000000000000000000000000000000000aa"), X] {
            assert!(check_recipient(&history, &known, ok).is_empty(), "{ok} flagged");
        }
        // A fresh look-alike that is not in the history at all is still flagged.
        let fresh = address!("1234ffffffffffffffffffffffffffffffffabcd");
        let f = &check_recipient(&history, &known, fresh)[0];
        assert_match_evidence(f, fresh, A, 4, 4);
        assert!(!f.evidence.contains_key("tx_hash"));
        // Longer matches report their real lengths and a smaller probability.
        let closer = address!("1234c0f000000000000000000000000c7e10abcd");
        let f = &check_recipient(&history, &known, closer)[0];
        assert_match_evidence(f, closer, A, 7, 9);
        assert_eq!(ev(f, "random_match_probability"), "5.42e-20");
    }

    #[test]
    fn near_misses_do_not_fire() {
        let mut transfers = genuine();
        transfers.extend([
            // 3+4 and 4+3 matches of A send dust.
            token(500, USDT, "USDT", N34, W, U256::from(1_500u64), N34),
            token(501, USDT, "USDT", N43, W, U256::from(1_500u64), N43),
            // B only ever sent dust USDT and a huge amount of a token the wallet never used…
            token(502, USDT, "USDT", B, W, U256::from(1u64), B),
            token(503, SPAM, "PEPE2", B, W, U256::from(10u64).pow(U256::from(24u64)), B),
            // …so its look-alike B2 is not poisoning anything the wallet uses.
            token(504, USDT, "USDT", B2, W, U256::from(1_500u64), B2),
            // The wallet's own zero-value transfer.
            token(505, USDT, "USDT", W, A, U256::ZERO, W),
            // The genuine USDT contract, also under Tether's "USD₮" symbol.
            token(506, USDT, "USD₮", W, A, usdt(20), W),
            // A genuine USDC payment with a lower-case symbol.
            token(507, USDC, "usdc", W, E, U256::from(5_000_000u64), W),
        ]);
        let history = History { wallet: W, transfers };
        let known = known();
        let p = Poisoning::new(&history, &known);
        assert!(!p.is_real(B) && !p.is_real(N34) && !p.is_real(B2));
        let findings = p.findings();
        assert!(findings.is_empty(), "{findings:#?}");
        for r in [N34, N43, B2, A] {
            assert!(p.check_recipient(r).is_empty(), "{r} flagged");
        }
        assert_eq!(AddressMatch::between(N34, A).prefix_len, 3);
        assert_eq!(AddressMatch::between(N34, A).suffix_len, 4);
        assert_eq!(AddressMatch::between(N43, A).prefix_len, 4);
        assert_eq!(AddressMatch::between(N43, A).suffix_len, 3);
        assert!(AddressMatch::between(B2, B).is_lookalike());
    }

    #[test]
    fn unknown_initiator_and_wallet_lookalikes() {
        // Without initiators, native payments and genuine-token payments still make A real; a
        // token transfer "from the wallet" of an unknown token does not make its recipient real.
        let mut t = genuine();
        for x in &mut t {
            x.initiator = None;
        }
        t.push(token(600, SPAM, "PEPE2", W, B, usdt(1), X));
        t[5].initiator = None;
        t.push(token(601, USDT, "USDT", B2, W, U256::from(7u64), B2));
        // A look-alike of the wallet's own address.
        let w_like = address!("7a16000000000000000000000000000000005428");
        t.push(native(602, w_like, W, U256::from(1u64)));
        let history = History { wallet: W, transfers: t };
        let known = known();
        let p = Poisoning::new(&history, &known);
        assert!(p.is_real(A) && !p.is_real(B));
        let findings = p.findings();
        let look = of_rule(&findings, &rules::POISONING_LOOKALIKE);
        assert_eq!(look.len(), 1, "{findings:#?}");
        assert_match_evidence(look[0], w_like, W, 4, 4);
        assert_eq!(ev(look[0], "imitates_wallet"), true);
        // 1 wei of native coin from a look-alike of the wallet is dust (no native payment to
        // compare with: the 10^15 bound applies... but the wallet paid 0.5 ETH, so 5e14).
        let dust = of_rule(&findings, &rules::POISONING_DUST);
        assert_eq!(dust.len(), 1);
        assert_eq!(ev(dust[0], "dust_threshold"), "500000000000000");
    }

    #[test]
    fn wallet_that_already_paid_the_lookalike() {
        let mut t = genuine();
        t.push(token(401, USDT, "USDT", W, L, U256::ZERO, X));
        t.push(token(900, USDT, "USDT", W, L, usdt(1_500), W));
        let history = History { wallet: W, transfers: t };
        let known = known();
        let p = Poisoning::new(&history, &known);
        assert!(p.is_real(L));
        let look = p.lookalike_findings();
        assert_eq!(look.len(), 1, "{look:#?}");
        assert_match_evidence(&look[0], L, A, 4, 4);
        assert_eq!(ev(&look[0], "wallet_payments_to_lookalike"), 1);
        assert!(look[0].message.contains("already paid it 1 time(s)"), "{}", look[0].message);
        // The genuine counterparty is never reported as a look-alike of the later one.
        assert!(p.check_recipient(A).is_empty());
        assert_eq!(p.check_recipient(L).len(), 1);
    }

    /// A deterministic SplitMix64.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn address(&mut self) -> Address {
            let mut b = [0u8; 24];
            for chunk in b.chunks_mut(8) {
                chunk.copy_from_slice(&self.next().to_le_bytes());
            }
            Address::from_slice(&b[..20])
        }
    }

    /// A history of `reals` paid counterparties and `others` random senders of spam.
    fn random_history(rng: &mut Rng, reals: usize, others: usize) -> (History, Vec<Address>) {
        let real: Vec<Address> = (0..reals).map(|_| rng.address()).collect();
        let mut transfers = Vec::with_capacity(reals + others);
        for (i, &r) in real.iter().enumerate() {
            transfers.push(token(i as u64, USDT, "USDT", W, r, usdt(100 + i as u64), W));
        }
        for i in 0..others {
            let from = rng.address();
            transfers.push(token((reals + i) as u64, USDT, "USDT", from, W, U256::from(1u64), from));
        }
        (History { wallet: W, transfers }, real)
    }

    #[test]
    fn random_addresses_rarely_match_at_the_predicted_rate() {
        const REALS: usize = 1_000;
        const OTHERS: usize = 100_000;
        let mut rng = Rng(0x5c0_7910_5eed);
        let (mut history, real) = random_history(&mut rng, REALS, OTHERS);
        let known = KnownTokens::default();
        // Expected chance matches: each random address against each real one (and the wallet),
        // 16^-8 each: 100,000 × 1,001 / 2^32 ≈ 0.023.
        let expected = OTHERS as f64 * (REALS + 1) as f64 * 16f64.powi(-8);
        let chance = Poisoning::new(&history, &known).lookalike_findings().len();
        // P(X ≥ 3) for a Poisson(0.023) is about 2e-6.
        assert!(chance <= 2, "{chance} chance look-alikes, expected {expected:.3}");

        // Plant 50 mined look-alikes (exactly 4+4 digits): all are found, with the right target.
        let mut planted = Vec::new();
        for k in 0..50 {
            let target = real[(rng.next() % REALS as u64) as usize];
            let mut b = rng.address().0.0;
            b[..2].copy_from_slice(&target.as_slice()[..2]);
            b[18..].copy_from_slice(&target.as_slice()[18..]);
            // Make the 5th and the 5th-from-last digits differ so the match is exactly 4+4.
            b[2] = (b[2] & 0x0f) | ((target.as_slice()[2] >> 4) ^ 0x8) << 4;
            b[17] = (b[17] & 0xf0) | ((target.as_slice()[17] & 0x0f) ^ 0x8);
            let lookalike = Address::from(b);
            planted.push((lookalike, target));
            history.transfers.push(token((REALS + OTHERS + k) as u64, USDT, "USDT", W, lookalike, U256::ZERO, X));
        }
        let p = Poisoning::new(&history, &known);
        let found: HashMap<String, String> = p
            .lookalike_findings()
            .iter()
            .map(|f| {
                (ev(f, "lookalike").as_str().unwrap().to_string(), ev(f, "imitates").as_str().unwrap().to_string())
            })
            .collect();
        for (l, t) in &planted {
            assert_eq!(found.get(&l.to_checksum(None)), Some(&t.to_checksum(None)), "planted {l} not found");
            let m = p.lookalike_of(*l).unwrap();
            assert_eq!((m.prefix_len, m.suffix_len), (4, 4));
        }
        assert!(found.len() <= planted.len() + 2);
        assert_eq!(p.zero_transfer_findings().len(), 50);
    }

    /// Rough figure for the module docs. Run:
    /// `cargo test --release -p scorpius-core --lib intel::poisoning::tests::perf_100k -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release"]
    fn perf_100k() {
        let mut rng = Rng(42);
        let (mut history, real) = random_history(&mut rng, 1_000, 98_000);
        for k in 0..1_000u64 {
            let target = real[k as usize];
            let mut b = rng.address().0.0;
            b[..2].copy_from_slice(&target.as_slice()[..2]);
            b[18..].copy_from_slice(&target.as_slice()[18..]);
            history.transfers.push(token(200_000 + k, USDT, "USDT", W, Address::from(b), U256::ZERO, X));
        }
        assert_eq!(history.transfers.len(), 100_000);
        let known = known();
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..5 {
            let start = Instant::now();
            n = analyze(&history, &known).len();
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!("poisoning: 100,000 transfers analysed in {:.1} ms ({n} findings)", best * 1e3);
        assert!(n >= 2_000);
    }

    #[test]
    fn token_list_normalises_confusable_symbols() {
        let known = known();
        assert_eq!(known.chain(), 1);
        let distinct: HashSet<&str> = TOKENLIST.lines().skip(1).filter_map(|l| l.split('\t').nth(2)).collect();
        assert_eq!(known.len(), distinct.len());
        assert!(known.len() > 600);
        let key = normalize_symbol("USDC");
        assert_eq!(key, "usdc");
        assert_eq!(normalize_symbol("usdc"), key);
        assert_eq!(normalize_symbol("UЅDC"), key); // Cyrillic Ѕ (U+0405)
        assert_eq!(normalize_symbol("USDТ"), "usdt"); // Cyrillic Т (U+0422)
        assert_eq!(normalize_symbol("usdт"), "usdt");
        assert_eq!(normalize_symbol("ＵＳＤＴ"), "usdt");
        assert_eq!(normalize_symbol("USD₮"), "usdt");
        assert_eq!(normalize_symbol("U\u{200B}SDT "), "usdt");
        assert_eq!(normalize_symbol("ΑΑVΕ"), normalize_symbol("AAVE")); // Greek capitals
        assert_ne!(normalize_symbol("USDT"), normalize_symbol("USDC"));
        for s in ["USDC", "usdc", "UЅDC"] {
            let hits = known.lookup(s);
            assert_eq!(hits.len(), 1, "{s}: {hits:?}");
            assert_eq!(hits[0].address, USDC);
        }
        assert_eq!(known.lookup("USDТ")[0].address, USDT);
        assert_eq!(known.lookup("USDТ")[0].name, "Tether USD");
        assert_eq!(known.lookup("dai").len(), 1);
        assert!(known.is_known(USDT) && !known.is_known(FAKE_USDT));
        // Other chains have no entries in this list: the check cannot run there.
        assert!(KnownTokens::from_tsv(TOKENLIST, 10).unwrap().is_empty());
    }

    #[test]
    fn token_list_errors_name_the_line() {
        let bad = "kind\tchain\tvalue\tlabels\tname\n\
                   address\t1\t0xdac17f958d2ee523a2206206994597c13d831ec7\ttoken\tUSDT\n\
                   address\t1\t0xnothex\ttoken\tBAD\n";
        let e = KnownTokens::from_tsv(bad, 1).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("0xnothex"), "{e}");
        let e = KnownTokens::from_tsv("kind\tvalue\n", 1).unwrap_err().to_string();
        assert!(e.contains("header"), "{e}");
        let e = KnownTokens::from_tsv("kind\tchain\tvalue\tlabels\tname\naddress\t1\n", 1).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("columns"), "{e}");
        assert!(KnownTokens::from_tsv("", 1).is_err());
        // Rows of other kinds, labels and chains are skipped.
        let ok = "# comment\nkind\tchain\tvalue\tlabels\tname\n\
                  domain\t1\texample.com\tphishing\tx\n\
                  address\t1\t0x1234c0ffee254729296a45a3885639ac7e10abcd\tdrainer\tX\n\
                  address\t137\t0xdac17f958d2ee523a2206206994597c13d831ec7\ttoken\tUSDT\n";
        assert!(KnownTokens::from_tsv(ok, 1).unwrap().is_empty());
    }

    /// The JSON example in the module documentation, extracted from this file.
    fn doc_example() -> String {
        let src = include_str!("poisoning.rs");
        let start = src.find("//! ```json\n").unwrap() + "//! ```json\n".len();
        let end = start + src[start..].find("//! ```\n").unwrap();
        src[start..end].lines().map(|l| l.strip_prefix("//!").unwrap().trim_start_matches(' ')).collect()
    }

    #[test]
    fn history_json_format() {
        let h = History::from_json(&doc_example()).unwrap();
        assert_eq!(h.wallet, W);
        assert_eq!(h.transfers.len(), 2);
        let (t0, t1) = (&h.transfers[0], &h.transfers[1]);
        assert_eq!(t0.value, usdt(1_500));
        assert_eq!(
            (t0.token, t0.token_symbol.as_deref(), t0.log_index, t0.initiator),
            (Some(USDT), Some("USDT"), Some(41), Some(W))
        );
        assert_eq!(t1.block, 0x1263c3b);
        assert_eq!((t1.token, t1.log_index, t1.initiator, t1.timestamp), (None, None, None, None));
        assert_eq!(t1.value, U256::from(500_000_000_000_000_000u64));
        // The example is a clean history.
        assert!(analyze(&h, &known()).is_empty());

        // Round trip: values as decimal strings, absent options omitted.
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["transfers"][1]["value"], "500000000000000000");
        assert_eq!(json["transfers"][1]["block"], 0x1263c3b);
        assert!(json["transfers"][1].get("token").is_none());
        assert_eq!(serde_json::from_value::<History>(json).unwrap(), h);

        // Decimal, hex and small integers are the same value; numbers in several forms.
        let t = |value: &str, block: &str| {
            format!(
                r#"{{"wallet":"{W}","transfers":[{{"tx_hash":"{}","block":{block},"from":"{A}","to":"{W}","value":{value}}}]}}"#,
                hash(1)
            )
        };
        for (v, b) in [(r#""1500""#, "17"), (r#""0x5dc""#, r#""0x11""#), ("1500", r#""17""#)] {
            let h = History::from_json(&t(v, b)).unwrap();
            assert_eq!((h.transfers[0].value, h.transfers[0].block), (U256::from(1500u64), 17), "{v} {b}");
        }
        for (v, b, needle) in [
            (r#""15x0""#, "1", "amount `15x0`"),
            (r#""-1""#, "1", "amount `-1`"),
            ("1e30", "1", "decimal string"),
            (r#""0x""#, "1", "amount `0x`"),
            (r#""1""#, r#""0xzz""#, "number `0xzz`"),
            (r#""1""#, "-3", "negative"),
        ] {
            let e = History::from_json(&t(v, b)).unwrap_err().to_string();
            assert!(e.starts_with("history.transfers[0].") && e.contains(needle), "{v} {b}: {e}");
        }
        let typo = t(r#""1""#, "1")
            .replace(r#""value""#, r#""initator":"0x00000000000000000000000000000000000000aa","value""#);
        let e = History::from_json(&typo).unwrap_err().to_string();
        assert!(e.contains("unknown field `initator`"), "{e}");
        let e = History::from_json(r#"{"wallet":"0x12","transfers":[]}"#).unwrap_err().to_string();
        assert!(e.contains("history"), "{e}");
    }

    #[test]
    fn same_address_in_other_case_is_the_same_counterparty() {
        let lower = format!("{A:x}");
        let upper = format!("0x{}", lower.trim_start_matches("0x").to_uppercase());
        let json = format!(
            r#"{{"wallet":"{W}","transfers":[
              {{"tx_hash":"{}","block":1,"from":"{W}","to":"{lower}","value":"1000000000000000000"}},
              {{"tx_hash":"{}","block":2,"log_index":3,"token":"{USDT}","token_symbol":"USDT","from":"{upper}","to":"{W}","value":"0","initiator":"{X}"}}
            ]}}"#,
            hash(1),
            hash(2)
        );
        let h = History::from_json(&json).unwrap();
        assert_eq!(h.transfers[0].to, h.transfers[1].from);
        let known = known();
        assert!(analyze(&h, &known).is_empty());
        let recipient: Address = upper.parse().unwrap();
        assert!(check_recipient(&h, &known, recipient).is_empty());
    }

    #[test]
    fn match_arithmetic() {
        let m = AddressMatch::between(L, A);
        assert_eq!((m.prefix_len, m.suffix_len), (4, 4));
        assert_eq!(m.probability_string(), "2.33e-10");
        let same = AddressMatch::between(A, A);
        assert_eq!((same.prefix_len, same.suffix_len), (40, 0));
        assert!(!same.is_lookalike());
        assert_eq!(significant_digits(usdt(1_500)), "15");
        assert_eq!(significant_digits(U256::ZERO), "");
        assert_eq!(mimic_key("123456"), Some(3123));
        assert_eq!(mimic_key("15"), Some(2015));
        assert_eq!(mimic_key("1"), None);
    }
}
