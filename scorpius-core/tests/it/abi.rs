//! Calldata builders: the real contracts' interfaces declared with alloy's `sol!`, plus the
//! Safe `multiSend` packed encoding.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolValue;

pub mod erc20 {
    alloy_sol_types::sol! {
        function approve(address spender, uint256 amount);
        function increaseAllowance(address spender, uint256 addedValue);
        function transfer(address to, uint256 amount);
        function deposit();
    }
}

pub mod nft {
    alloy_sol_types::sol! {
        function setApprovalForAll(address operator, bool approved);
    }
}

pub mod admin {
    alloy_sol_types::sol! {
        function transferOwnership(address newOwner);
        function renounceOwnership();
        function acceptOwnership();
        function upgradeTo(address newImplementation);
        function upgradeToAndCall(address newImplementation, bytes data);
        function changeAdmin(address newAdmin);
        function initialize(address owner);
    }
}

/// OpenZeppelin's ProxyAdmin (4.x).
pub mod proxy_admin {
    alloy_sol_types::sol! {
        function upgrade(address proxy, address implementation);
        function upgradeAndCall(address proxy, address implementation, bytes data);
        function changeProxyAdmin(address proxy, address newAdmin);
    }
}

/// Function names drainer kits use for payable bait.
pub mod bait {
    alloy_sol_types::sol! {
        function claim();
        function claimRewards();
        function SecurityUpdate();
        function securityUpdate();
        function networkMerge();
        function verify();
    }
}

pub mod multicall3 {
    alloy_sol_types::sol! {
        struct Call { address target; bytes callData; }
        struct Call3 { address target; bool allowFailure; bytes callData; }
        struct Call3Value { address target; bool allowFailure; uint256 value; bytes callData; }
        function aggregate(Call[] calls);
        function tryAggregate(bool requireSuccess, Call[] calls);
        function aggregate3(Call3[] calls);
        function aggregate3Value(Call3Value[] calls);
    }
}

/// Uniswap V3 periphery `multicall(bytes[])` (NonfungiblePositionManager, SwapRouter).
pub mod multicall_v3 {
    alloy_sol_types::sol! {
        function multicall(bytes[] data);
    }
}

/// SwapRouter02 `multicall(uint256 deadline, bytes[] data)`.
pub mod multicall_deadline {
    alloy_sol_types::sol! {
        function multicall(uint256 deadline, bytes[] data);
    }
}

pub mod safe {
    alloy_sol_types::sol! {
        function multiSend(bytes transactions);
        function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures);
        function swapOwner(address prevOwner, address oldOwner, address newOwner);
        function addOwnerWithThreshold(address owner, uint256 _threshold);
    }
}

pub mod permit2 {
    alloy_sol_types::sol! {
        struct TokenSpenderPair { address token; address spender; }
        struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }
        struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }
        struct PermitBatch { PermitDetails[] details; address spender; uint256 sigDeadline; }
        function approve(address token, address spender, uint160 amount, uint48 expiration);
        function lockdown(TokenSpenderPair[] approvals);
        function permit(address owner, PermitSingle permitSingle, bytes signature);
        function permit(address owner, PermitBatch permitBatch, bytes signature);
    }
}

/// One Safe `multiSend` entry: `operation (1) | to (20) | value (32) | dataLength (32) | data`,
/// i.e. `abi.encodePacked(uint8, address, uint256, uint256, bytes)`.
pub fn multisend_entry(operation: u8, to: Address, value: U256, data: &[u8]) -> Vec<u8> {
    let head = (to, value, U256::from(data.len()), Bytes::copy_from_slice(data)).abi_encode_packed();
    [vec![operation], head].concat()
}

/// A 65-byte placeholder signature (the analyzers never verify it).
pub fn dummy_signature() -> Bytes {
    Bytes::from(vec![0x11; 65])
}
