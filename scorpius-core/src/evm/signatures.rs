//! The built-in table of well-known function signatures, with parameter names, used to decode
//! calldata and to name selectors. The table is versioned as the `builtin-signatures` dataset.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    sync::OnceLock,
};

use alloy_dyn_abi::{DynSolType, DynSolValue, DynToken, JsonAbiExt, Specifier};
use alloy_json_abi::{Function, Param, StateMutability};
use alloy_primitives::{B256, Selector};

/// Name and version of this table as recorded in scan reports.
pub const DATASET: (&str, &str) = ("builtin-signatures", "2026.11.1");

/// Human-readable signatures with parameter names. One entry per selector: where two standards
/// share a selector (ERC-20 and ERC-721 `approve`), the first entry wins and the analyzers say
/// so in their messages.
const SIGNATURES: &[&str] = &[
    // ERC-20 and extensions
    "transfer(address to, uint256 amount)",
    "transferFrom(address from, address to, uint256 amount)",
    "approve(address spender, uint256 amount)",
    "increaseAllowance(address spender, uint256 addedValue)",
    "decreaseAllowance(address spender, uint256 subtractedValue)",
    "permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
    "permit(address holder, address spender, uint256 nonce, uint256 expiry, bool allowed, uint8 v, bytes32 r, bytes32 s)",
    "deposit()",
    "withdraw(uint256 wad)",
    // ERC-721 / ERC-1155
    "setApprovalForAll(address operator, bool approved)",
    "safeTransferFrom(address from, address to, uint256 tokenId)",
    "safeTransferFrom(address from, address to, uint256 tokenId, bytes data)",
    "safeTransferFrom(address from, address to, uint256 id, uint256 amount, bytes data)",
    "safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] amounts, bytes data)",
    // Permit2 (AllowanceTransfer and SignatureTransfer)
    "approve(address token, address spender, uint160 amount, uint48 expiration)",
    "lockdown((address token, address spender)[] approvals)",
    "permit(address owner, ((address token, uint160 amount, uint48 expiration, uint48 nonce) details, address spender, uint256 sigDeadline) permitSingle, bytes signature)",
    "permit(address owner, ((address token, uint160 amount, uint48 expiration, uint48 nonce)[] details, address spender, uint256 sigDeadline) permitBatch, bytes signature)",
    "transferFrom(address from, address to, uint160 amount, address token)",
    "transferFrom((address from, address to, uint160 amount, address token)[] transferDetails)",
    "invalidateNonces(address token, address spender, uint48 newNonce)",
    "invalidateUnorderedNonces(uint256 wordPos, uint256 mask)",
    "permitTransferFrom(((address token, uint256 amount) permitted, uint256 nonce, uint256 deadline) permit, (address to, uint256 requestedAmount) transferDetails, address owner, bytes signature)",
    // Multicall3 and router multicalls
    "aggregate((address target, bytes callData)[] calls)",
    "aggregate3((address target, bool allowFailure, bytes callData)[] calls)",
    "aggregate3Value((address target, bool allowFailure, uint256 value, bytes callData)[] calls)",
    "tryAggregate(bool requireSuccess, (address target, bytes callData)[] calls)",
    "blockAndAggregate((address target, bytes callData)[] calls)",
    "tryBlockAndAggregate(bool requireSuccess, (address target, bytes callData)[] calls)",
    "multicall(bytes[] data)",
    "multicall(uint256 deadline, bytes[] data)",
    "multicall(bytes32 previousBlockhash, bytes[] data)",
    // Safe
    "multiSend(bytes transactions)",
    "execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures)",
    "addOwnerWithThreshold(address owner, uint256 threshold)",
    "removeOwner(address prevOwner, address owner, uint256 threshold)",
    "swapOwner(address prevOwner, address oldOwner, address newOwner)",
    "changeThreshold(uint256 threshold)",
    "enableModule(address module)",
    "setGuard(address guard)",
    // Ownership and upgrades
    "transferOwnership(address newOwner)",
    "renounceOwnership()",
    "acceptOwnership()",
    "upgradeTo(address newImplementation)",
    "upgradeToAndCall(address newImplementation, bytes data)",
    "changeAdmin(address newAdmin)",
    "upgrade(address proxy, address implementation)",
    "upgradeAndCall(address proxy, address implementation, bytes data)",
    "changeProxyAdmin(address proxy, address newAdmin)",
    // DEX routers
    "execute(bytes commands, bytes[] inputs, uint256 deadline)",
    "execute(bytes commands, bytes[] inputs)",
    "swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline)",
    "swapTokensForExactTokens(uint256 amountOut, uint256 amountInMax, address[] path, address to, uint256 deadline)",
    "swapExactETHForTokens(uint256 amountOutMin, address[] path, address to, uint256 deadline)",
    "swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline)",
    "exactInputSingle((address tokenIn, address tokenOut, uint24 fee, address recipient, uint256 deadline, uint256 amountIn, uint256 amountOutMinimum, uint160 sqrtPriceLimitX96) params)",
    "exactInput((bytes path, address recipient, uint256 deadline, uint256 amountIn, uint256 amountOutMinimum) params)",
    // Names drainer kits give their payable functions (see DRAINER_FUNCTIONS).
    "claim()",
    "Claim()",
    "claimRewards()",
    "ClaimRewards()",
    "claimReward()",
    "ClaimReward()",
    "SecurityUpdate()",
    "securityUpdate()",
    "networkMerge()",
    "NetworkMerge()",
    "verify()",
    "Verify()",
    "connect()",
    "Connect()",
    "airdrop()",
    "Airdrop()",
];

/// Canonical signatures of payable functions that drainer kits use as bait.
pub const DRAINER_FUNCTIONS: &[&str] = &[
    "claim()",
    "Claim()",
    "claimRewards()",
    "ClaimRewards()",
    "claimReward()",
    "ClaimReward()",
    "SecurityUpdate()",
    "securityUpdate()",
    "networkMerge()",
    "NetworkMerge()",
    "verify()",
    "Verify()",
    "connect()",
    "Connect()",
    "airdrop()",
    "Airdrop()",
];

/// One entry of the table.
#[derive(Debug)]
pub struct Entry {
    /// The parsed function, with parameter names.
    pub function: Function,
    /// Canonical signature, e.g. `approve(address,uint256)`.
    pub signature: String,
    /// Its 4-byte selector.
    pub selector: Selector,
    /// The parameter types, resolved once.
    inputs: Inputs,
}

/// How an entry's arguments decode.
#[derive(Debug)]
enum Inputs {
    /// Every parameter is one ABI word (address, bool, intN, uintN, bytesN, function).
    Words(Vec<DynSolType>),
    /// Any other parameter list, as one tuple type.
    Tuple(DynSolType),
    /// A parameter is zero-sized (or does not resolve): alloy's per-parameter path.
    Alloy,
}

impl Entry {
    fn new(function: Function) -> Self {
        let signature = function.signature();
        let selector = function.selector();
        let types: Option<Vec<DynSolType>> =
            function.inputs.iter().map(|p| p.resolve().ok().filter(|ty| !ty.is_zst())).collect();
        let inputs = match types {
            Some(types) if types.iter().all(is_word) => Inputs::Words(types),
            Some(types) => Inputs::Tuple(DynSolType::Tuple(types)),
            None => Inputs::Alloy,
        };
        Entry { function, signature, selector, inputs }
    }

    /// Decodes the arguments (the calldata after the selector): the same values, and the same
    /// errors, as `self.function.abi_decode_input(data)`, without parsing the parameter types
    /// again on every call.
    ///
    /// alloy decodes the parameters one after the other from one decoder, checking before each
    /// that at least its minimum number of words remains, and fails only on those checks or
    /// inside a parameter. Here:
    /// - one-word parameters are read straight from their words once the data holds them all
    ///   (alloy's path only copies each word and detokenizes it, as done here);
    /// - other lists decode as one tuple, which checks the sum of the minimums up front. When
    ///   that passes, every per-parameter check passes too (a parameter's head never exceeds
    ///   its minimum) and alloy runs the same steps on the same decoder.
    ///
    /// When the data is shorter than those checks need, alloy's own path runs, so that the
    /// error is the same.
    pub fn decode_input(&self, data: &[u8]) -> Result<Vec<DynSolValue>, alloy_dyn_abi::Error> {
        match &self.inputs {
            Inputs::Words(types) if data.len() / 32 >= types.len() => types
                .iter()
                .zip(data.chunks_exact(32))
                .map(|(ty, word)| ty.detokenize(DynToken::Word(B256::from_slice(word))))
                .collect(),
            Inputs::Tuple(ty) if data.len() / 32 >= ty.minimum_words() => match ty.abi_decode_sequence(data)? {
                DynSolValue::Tuple(values) => Ok(values),
                // A tuple type decodes to a tuple value; anything else would be an alloy bug.
                _ => self.function.abi_decode_input(data),
            },
            _ => self.function.abi_decode_input(data),
        }
    }
}

/// Whether values of `ty` are encoded in exactly one word, with no offsets.
fn is_word(ty: &DynSolType) -> bool {
    matches!(
        ty,
        DynSolType::Address
            | DynSolType::Function
            | DynSolType::Bool
            | DynSolType::FixedBytes(_)
            | DynSolType::Int(_)
            | DynSolType::Uint(_)
    )
}

/// Hashes a selector, which is already uniformly distributed (a keccak prefix), with a
/// multiply instead of SipHash. Only the fixed table is stored, so there is nothing for an
/// attacker to flood.
#[derive(Debug, Default)]
struct SelectorHasher(u64);

impl Hasher for SelectorHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

type Table = HashMap<Selector, Entry, BuildHasherDefault<SelectorHasher>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = Table::with_capacity_and_hasher(SIGNATURES.len(), BuildHasherDefault::default());
        for human in SIGNATURES {
            // The table is a compile-time constant covered by a unit test, so a parse failure
            // here is a bug in this file, not bad input.
            let function = parse_named(human).expect("built-in signature table entry parses");
            let entry = Entry::new(function);
            map.entry(entry.selector).or_insert(entry);
        }
        map
    })
}

/// Parses `name(type name, (type name, ...)[] name, ...)`: a human-readable signature with
/// parameter names, including names inside tuples (which alloy's human-readable parser does not
/// accept).
pub fn parse_named(sig: &str) -> Option<Function> {
    let open = sig.find('(')?;
    let name = sig[..open].trim();
    let inner = sig[open..].trim().strip_prefix('(')?.strip_suffix(')')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(Function {
        name: name.to_owned(),
        inputs: parse_params(inner)?,
        outputs: Vec::new(),
        state_mutability: StateMutability::NonPayable,
    })
}

fn parse_params(s: &str) -> Option<Vec<Param>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(Vec::new());
    }
    split_top_level(s).into_iter().map(parse_param).collect()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_param(p: &str) -> Option<Param> {
    let p = p.trim();
    if let Some(rest) = p.strip_prefix('(') {
        // Find the matching parenthesis.
        let mut depth = 1;
        let close = rest.char_indices().find_map(|(i, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(i)
        })?;
        let components = parse_params(&rest[..close])?;
        let after = rest[close + 1..].trim_start();
        // Array suffixes (`[]`, `[2]`) follow the parenthesis directly; the name comes after.
        let suffix_len = after.find(|c: char| !(c == '[' || c == ']' || c.is_ascii_digit())).unwrap_or(after.len());
        let (suffix, name) = after.split_at(suffix_len);
        return Some(Param {
            ty: format!("tuple{suffix}"),
            name: name.trim().to_owned(),
            components,
            internal_type: None,
        });
    }
    let mut words = p.split_whitespace();
    let ty = words.next()?.to_owned();
    let name = words.next().unwrap_or_default().to_owned();
    Some(Param { ty, name, components: Vec::new(), internal_type: None })
}

/// Looks a selector up.
pub fn lookup(selector: Selector) -> Option<&'static Entry> {
    table().get(&selector)
}

/// Number of distinct selectors in the table.
pub fn len() -> usize {
    table().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    #[test]
    fn table_parses_and_has_known_selectors() {
        assert!(len() >= SIGNATURES.len() - 2);
        let approve = lookup(Selector::from(hex!("095ea7b3"))).unwrap();
        assert_eq!(approve.signature, "approve(address,uint256)");
        assert_eq!(approve.function.inputs[0].name, "spender");
        assert_eq!(lookup(Selector::from(hex!("82ad56cb"))).unwrap().function.name, "aggregate3");
        assert_eq!(lookup(Selector::from(hex!("8d80ff0a"))).unwrap().function.name, "multiSend");
        assert_eq!(
            lookup(Selector::from(hex!("87517c45"))).unwrap().signature,
            "approve(address,address,uint160,uint48)"
        );
        assert_eq!(lookup(Selector::from(hex!("ac9650d8"))).unwrap().signature, "multicall(bytes[])");
        assert_eq!(lookup(Selector::from(hex!("5ae401dc"))).unwrap().signature, "multicall(uint256,bytes[])");
        // Named tuple parameters (regression: `(…) permitSingle` once parsed as type `tuplepermitSingle`).
        assert_eq!(lookup(Selector::from(hex!("2b67b570"))).unwrap().function.inputs[1].name, "permitSingle");
        assert_eq!(lookup(Selector::from(hex!("2a2d80d1"))).unwrap().function.inputs[1].name, "permitBatch");
        let lockdown = lookup(Selector::from(hex!("cc53287f"))).unwrap();
        assert_eq!(lockdown.function.inputs[0].components[1].name, "spender");
        for d in DRAINER_FUNCTIONS {
            assert!(table().values().any(|e| e.signature == *d), "{d} missing from the table");
        }
    }

    #[test]
    fn decode_input_matches_alloy() {
        // Words that look like offsets and lengths, and noise; every length from empty up.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut kinds = (0, 0, 0);
        for entry in table().values() {
            match entry.inputs {
                Inputs::Words(_) => kinds.0 += 1,
                Inputs::Tuple(_) => kinds.1 += 1,
                Inputs::Alloy => kinds.2 += 1,
            }
            for _ in 0..300 {
                let mut data = Vec::new();
                for _ in 0..next() % 14 {
                    let word = match next() % 4 {
                        0 | 1 => alloy_primitives::U256::from(next() % 512),
                        2 => alloy_primitives::U256::MAX,
                        _ => alloy_primitives::U256::from_limbs([next(), next(), next(), next()]),
                    };
                    data.extend(word.to_be_bytes::<32>());
                }
                for _ in 0..next() % 40 {
                    data.push(next() as u8);
                }
                let fast = entry.decode_input(&data).map_err(|e| e.to_string());
                let alloy = entry.function.abi_decode_input(&data).map_err(|e| e.to_string());
                assert_eq!(fast, alloy, "{} on 0x{}", entry.signature, hex::encode(&data));
            }
        }
        // Both fast paths are exercised (and nothing in the table needs the fallback).
        assert!(kinds.0 > 10 && kinds.1 > 10 && kinds.2 == 0, "{kinds:?}");
    }
}
