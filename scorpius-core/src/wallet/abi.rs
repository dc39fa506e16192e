//! The contract interfaces a wallet scan reads and the revoke plan writes: ERC-20, ERC-721 /
//! ERC-1155 approvals, Permit2's AllowanceTransfer and Multicall3, plus tolerant decoders for
//! tokens that do not follow the standard (bytes32 symbols, missing return values).

#![allow(missing_docs, missing_debug_implementations)]

use alloy_primitives::{Address, U256};

alloy_sol_types::sol! {
    interface IERC20 {
        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);
        function allowance(address owner, address spender) external view returns (uint256);
        function balanceOf(address owner) external view returns (uint256);
        function decimals() external view returns (uint8);
        function symbol() external view returns (string);
        function totalSupply() external view returns (uint256);
        function approve(address spender, uint256 amount) external returns (bool);
    }

    interface IERC721 {
        event ApprovalForAll(address indexed owner, address indexed operator, bool approved);
        function getApproved(uint256 tokenId) external view returns (address);
        function ownerOf(uint256 tokenId) external view returns (address);
        function isApprovedForAll(address owner, address operator) external view returns (bool);
        function setApprovalForAll(address operator, bool approved) external;
        function approve(address to, uint256 tokenId) external;
    }

    interface IPermit2 {
        event Approval(address indexed owner, address indexed token, address indexed spender, uint160 amount, uint48 expiration);
        event Permit(address indexed owner, address indexed token, address indexed spender, uint160 amount, uint48 expiration, uint48 nonce);
        event Lockdown(address indexed owner, address token, address spender);
        struct TokenSpenderPair { address token; address spender; }
        function allowance(address owner, address token, address spender) external view returns (uint160 amount, uint48 expiration, uint48 nonce);
        function approve(address token, address spender, uint160 amount, uint48 expiration) external;
        function lockdown(TokenSpenderPair[] approvals) external;
    }

    interface IMulticall3 {
        struct Call3 { address target; bool allowFailure; bytes callData; }
        struct Result { bool success; bytes returnData; }
        function aggregate3(Call3[] calls) external payable returns (Result[] returnData);
    }
}

/// A 32-byte word as `U256`; `None` when the return data is too short.
pub fn word(ret: &[u8]) -> Option<U256> {
    (ret.len() >= 32).then(|| U256::from_be_slice(&ret[..32]))
}

/// An ABI-encoded address; `None` unless the upper 12 bytes are zero.
pub fn address(ret: &[u8]) -> Option<Address> {
    (ret.len() >= 32 && ret[..12].iter().all(|&b| b == 0)).then(|| Address::from_slice(&ret[12..32]))
}

/// An ABI-encoded bool (0 or 1).
pub fn boolean(ret: &[u8]) -> Option<bool> {
    match word(ret)? {
        v if v.is_zero() => Some(false),
        v if v == U256::from(1) => Some(true),
        _ => None,
    }
}

/// `decimals()`: any word up to 255.
pub fn decimals(ret: &[u8]) -> Option<u8> {
    word(ret).and_then(|v| u8::try_from(v).ok())
}

/// `symbol()` returned as `string` or, by old tokens such as MKR, as `bytes32`. Control
/// characters are dropped and the result is capped at 64 characters: a token chooses its
/// symbol, so it is untrusted text.
pub fn symbol(ret: &[u8]) -> Option<String> {
    use alloy_sol_types::SolValue;
    let raw = if ret.len() == 32 {
        let end = ret.iter().position(|&b| b == 0).unwrap_or(32);
        String::from_utf8_lossy(&ret[..end]).into_owned()
    } else {
        String::abi_decode(ret).ok()?
    };
    let clean: String = raw.chars().filter(|c| !c.is_control()).take(64).collect();
    (!clean.is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::hex;
    use alloy_sol_types::{SolEvent, SolValue};

    use super::*;

    #[test]
    fn event_topics_are_the_standard_ones() {
        assert_eq!(
            IERC20::Transfer::SIGNATURE_HASH.0,
            hex!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
        );
        assert_eq!(
            IERC20::Approval::SIGNATURE_HASH.0,
            hex!("8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925")
        );
        assert_eq!(
            IERC721::ApprovalForAll::SIGNATURE_HASH.0,
            hex!("17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31")
        );
    }

    #[test]
    fn tolerant_decoders() {
        assert_eq!(symbol(&"USDC".to_owned().abi_encode()), Some("USDC".to_owned()));
        let mut b32 = [0u8; 32];
        b32[..3].copy_from_slice(b"MKR");
        assert_eq!(symbol(&b32), Some("MKR".to_owned()));
        assert_eq!(symbol(&[]), None);
        assert_eq!(decimals(&U256::from(6).abi_encode()), Some(6));
        assert_eq!(decimals(&U256::from(256).abi_encode()), None);
        assert_eq!(boolean(&U256::from(2).abi_encode()), None);
        let mut dirty = [0xffu8; 32];
        dirty[12..].fill(1);
        assert_eq!(address(&dirty), None);
        assert_eq!(word(&[1, 2]), None);
    }
}
