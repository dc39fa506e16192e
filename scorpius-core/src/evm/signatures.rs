//! The built-in table of well-known function signatures, with parameter names, used to decode
//! calldata and to name selectors. The table is versioned as the `builtin-signatures` dataset.

use std::{collections::HashMap, sync::OnceLock};

use alloy_json_abi::{Function, Param, StateMutability};
use alloy_primitives::Selector;

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
}

fn table() -> &'static HashMap<Selector, Entry> {
    static TABLE: OnceLock<HashMap<Selector, Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = HashMap::with_capacity(SIGNATURES.len());
        for human in SIGNATURES {
            // The table is a compile-time constant covered by a unit test, so a parse failure
            // here is a bug in this file, not bad input.
            let function = parse_named(human).expect("built-in signature table entry parses");
            let signature = function.signature();
            let selector = function.selector();
            map.entry(selector).or_insert(Entry { function, signature, selector });
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
}
