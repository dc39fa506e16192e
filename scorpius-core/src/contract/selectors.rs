//! Function selectors from the dispatcher.
//!
//! The dispatcher is the code from the program start up to the first test that is not about
//! the selector, the calldata size or the call value. Inside it, every conditional jump on
//! "selector == constant" (`EQ` in either operand order, `ISZERO` for selector 0, `SUB`/`XOR`
//! non-equality as Vyper and some optimisers emit) is a function entry; ordering tests on the
//! selector (`GT`/`LT`, solc's binary split) are followed on both sides. Selector tests after
//! another guard (a proxy's `msg.sender == admin` check followed by a `msg.sig` test, say) are
//! not the ABI and are not reported.
//!
//! The selector is recognised as `calldataload(0) >> 224` (solc ≥ 0.5), `calldataload(0) /
//! 2**224` (older solc), masked with `0xffffffff` or not, on the stack or through scratch memory.

use serde::Serialize;

use super::{exec::Explorer, metadata};
use crate::evm::signatures;

/// States the dispatcher walk may visit before giving up.
pub(crate) const DISPATCH_BUDGET: usize = 20_000;

/// A function found in the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionEntry {
    /// The 4-byte selector.
    #[serde(serialize_with = "ser_selector")]
    pub selector: [u8; 4],
    /// Byte offset where the function's code starts.
    pub entry_pc: u32,
}

fn ser_selector<S: serde::Serializer>(sel: &[u8; 4], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(sel)))
}

/// The selectors the runtime `code` dispatches on, sorted by selector. The metadata trailer is
/// stripped first. Creation code has no dispatcher of its own: pass runtime code.
pub fn extract(code: &[u8]) -> Vec<FunctionEntry> {
    let (exec, _) = metadata::split(code);
    let mut ex = Explorer::selectors_only(exec, code);
    let walk = ex.dispatcher(DISPATCH_BUDGET);
    let mut out: Vec<FunctionEntry> =
        walk.entries.iter().map(|e| FunctionEntry { selector: e.selector.to_be_bytes(), entry_pc: e.pc }).collect();
    out.sort_by_key(|f| f.selector);
    out
}

/// The signature of a selector in the built-in table (`transfer(address,uint256)`).
pub fn builtin_name(selector: [u8; 4]) -> Option<&'static str> {
    signatures::lookup(selector.into()).map(|e| e.signature.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solc_dispatcher_and_names() {
        // The shape of TxOriginAuth's dispatcher (solc 0.8.37): calldata-size check, receive,
        // then owner() and withdraw(address,uint256).
        let code = crate::contract::test_asm::asm(
            "PUSH1 0x80 PUSH1 0x40 MSTORE PUSH1 0x04 CALLDATASIZE LT @short JUMPI \
             PUSH0 CALLDATALOAD PUSH1 0xe0 SHR DUP1 PUSH4 0x8da5cb5b EQ @owner JUMPI \
             DUP1 PUSH4 0xf3fef3a3 EQ @withdraw JUMPI PUSH0 PUSH0 REVERT \
             short: CALLDATASIZE @rev JUMPI STOP rev: PUSH0 PUSH0 REVERT \
             owner: CALLVALUE DUP1 ISZERO @o2 JUMPI PUSH0 PUSH0 REVERT o2: STOP withdraw: STOP",
        );
        let sels: Vec<_> = extract(&code).iter().map(|f| hex::encode(f.selector)).collect();
        assert_eq!(sels, ["8da5cb5b", "f3fef3a3"]);
        assert_eq!(builtin_name([0xa9, 0x05, 0x9c, 0xbb]), Some("transfer(address,uint256)"));
    }

    #[test]
    fn empty_and_garbage_code() {
        assert!(extract(&[]).is_empty());
        assert!(extract(&[0xfe, 0xff, 0x60]).is_empty());
    }
}
