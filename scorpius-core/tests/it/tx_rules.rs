//! One table per transaction rule: realistic calldata (built with `sol!`), nested batches and
//! signed raw transactions; each table has cases where the rule fires and where it must not.

use alloy_primitives::{
    Address, Bytes, U256,
    aliases::{U48, U160},
};
use alloy_sol_types::SolCall;
use scorpius_core::{
    evm::UNLIMITED_THRESHOLD,
    model::Severity::{Critical, High, Info, Low, Medium},
    rules,
    tx::TxInput,
};
use serde_json::{Value, json};

use crate::{
    abi::{
        admin, bait, dummy_signature, erc20, multicall_deadline, multicall_v3, multicall3, multisend_entry, nft,
        permit2, proxy_admin, safe,
    },
    common::{
        ADDR_0, ATTACKER, BAYC, Case, DAY, DRAINER, KEY_0, KEY_1, METAMASK_DELEGATOR, MULTICALL3, NEW_IMPL, NOW_TS,
        OPENSEA_CONDUIT, OPENSEA_FEES, PERMIT2, PROXY, RECIPIENT, SAFE, SAFE_MULTISEND, SAFE_MULTISEND_CALL_ONLY,
        SEAPORT_16, SWAP_ROUTER_02, UNIVERSAL_ROUTER, USDC, V3_POSITION_MANAGER, WETH, YEAR, call_tx, cs, ctx_on,
        rule_tables, units,
    },
    raw_tx::{authorization, eip1559, eip2930, eip7702, legacy, raw_input},
};

const THRESHOLD: &str = "79228162514264337593543950335";
const APPROVE: &str = "approve(address,uint256)";
const PERMIT2_APPROVE: &str = "approve(address,address,uint160,uint48)";

fn max() -> String {
    U256::MAX.to_string()
}

fn u160_max() -> U160 {
    U160::MAX
}

fn approve(spender: Address, amount: U256) -> Vec<u8> {
    erc20::approveCall { spender, amount }.abi_encode()
}

fn set_approval_for_all(operator: Address, approved: bool) -> Vec<u8> {
    nft::setApprovalForAllCall { operator, approved }.abi_encode()
}

fn permit2_approve(token: Address, spender: Address, amount: U160, expiration: u64) -> Vec<u8> {
    permit2::approveCall { token, spender, amount, expiration: U48::from(expiration) }.abi_encode()
}

fn details(token: Address, amount: U160, expiration: u64) -> permit2::PermitDetails {
    permit2::PermitDetails { token, amount, expiration: U48::from(expiration), nonce: U48::ZERO }
}

fn permit2_permit_single(d: permit2::PermitDetails, spender: Address) -> Vec<u8> {
    let permit_single = permit2::PermitSingle { details: d, spender, sigDeadline: U256::from(NOW_TS + 1800) };
    permit2::permit_0Call { owner: ADDR_0, permitSingle: permit_single, signature: dummy_signature() }.abi_encode()
}

fn permit2_permit_batch(d: Vec<permit2::PermitDetails>, spender: Address) -> Vec<u8> {
    let permit_batch = permit2::PermitBatch { details: d, spender, sigDeadline: U256::from(NOW_TS + 1800) };
    permit2::permit_1Call { owner: ADDR_0, permitBatch: permit_batch, signature: dummy_signature() }.abi_encode()
}

/// Multicall3 `aggregate3` with `allowFailure = false`.
fn aggregate3(calls: Vec<(Address, Vec<u8>)>) -> Vec<u8> {
    let calls = calls
        .into_iter()
        .map(|(target, data)| multicall3::Call3 { target, allowFailure: false, callData: data.into() })
        .collect();
    multicall3::aggregate3Call { calls }.abi_encode()
}

fn aggregate3_value(calls: Vec<(Address, U256, Vec<u8>)>) -> Vec<u8> {
    let calls = calls
        .into_iter()
        .map(|(target, value, data)| multicall3::Call3Value {
            target,
            allowFailure: false,
            value,
            callData: data.into(),
        })
        .collect();
    multicall3::aggregate3ValueCall { calls }.abi_encode()
}

fn exec_transaction(to: Address, value: U256, data: Vec<u8>, operation: u8) -> Vec<u8> {
    safe::execTransactionCall {
        to,
        value,
        data: data.into(),
        operation,
        safeTxGas: U256::ZERO,
        baseGas: U256::ZERO,
        gasPrice: U256::ZERO,
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        signatures: Bytes::from(vec![0x22; 65]),
    }
    .abi_encode()
}

fn multisend(entries: &[(u8, Address, U256, Vec<u8>)]) -> Vec<u8> {
    let packed: Vec<u8> = entries.iter().flat_map(|(op, to, v, d)| multisend_entry(*op, *to, *v, d)).collect();
    safe::multiSendCall { transactions: packed.into() }.abi_encode()
}

fn tx(to: Address, data: impl AsRef<[u8]>) -> TxInput {
    call_tx(to, data.as_ref(), U256::ZERO)
}

fn tx_value(to: Address, data: impl AsRef<[u8]>, value: U256) -> TxInput {
    call_tx(to, data.as_ref(), value)
}

fn creation(code: &str, value: Option<&str>) -> TxInput {
    TxInput::from_fields(Some(&cs(ADDR_0)), None, Some(code), value).unwrap()
}

rule_tables! {
    approval_unlimited: rules::APPROVAL_UNLIMITED, Transaction => approval_unlimited_cases;
    approval_zero_address_tx: rules::APPROVAL_ZERO_ADDRESS, Transaction => approval_zero_address_cases;
    approval_vanity_spender_tx: rules::APPROVAL_VANITY_SPENDER, Transaction => approval_vanity_spender_cases;
    nft_approval_for_all: rules::NFT_APPROVAL_FOR_ALL, Transaction => nft_approval_for_all_cases;
    approval_revoke: rules::APPROVAL_REVOKE, Transaction => approval_revoke_cases;
    permit2_unlimited_allowance_tx: rules::PERMIT2_UNLIMITED_ALLOWANCE, Transaction => permit2_unlimited_cases;
    permit2_long_expiration_tx: rules::PERMIT2_LONG_EXPIRATION, Transaction => permit2_long_expiration_cases;
    native_value_drainer_selector: rules::NATIVE_VALUE_DRAINER_SELECTOR, Transaction => drainer_selector_cases;
    ownership_transfer: rules::OWNERSHIP_TRANSFER, Transaction => ownership_transfer_cases;
    ownership_renounce: rules::OWNERSHIP_RENOUNCE, Transaction => ownership_renounce_cases;
    proxy_upgrade: rules::PROXY_UPGRADE, Transaction => proxy_upgrade_cases;
    proxy_admin_change: rules::PROXY_ADMIN_CHANGE, Transaction => proxy_admin_change_cases;
    batch_delegatecall: rules::BATCH_DELEGATECALL, Transaction => batch_delegatecall_cases;
    eip7702_delegation: rules::EIP7702_DELEGATION, Transaction => eip7702_delegation_cases;
    eip7702_any_chain_authorization: rules::EIP7702_ANY_CHAIN_AUTHORIZATION, Transaction => eip7702_any_chain_cases;
    eip7702_multiple_authorizations: rules::EIP7702_MULTIPLE_AUTHORIZATIONS, Transaction => eip7702_multiple_cases;
    tx_chain_mismatch: rules::TX_CHAIN_MISMATCH, Transaction => tx_chain_mismatch_cases;
    tx_no_replay_protection: rules::TX_NO_REPLAY_PROTECTION, Transaction => tx_no_replay_protection_cases;
    contract_creation: rules::CONTRACT_CREATION, Transaction => contract_creation_cases;
    native_transfer: rules::NATIVE_TRANSFER, Transaction => native_transfer_cases;
    unknown_selector: rules::UNKNOWN_SELECTOR, Transaction => unknown_selector_cases;
    calldata_malformed: rules::CALLDATA_MALFORMED, Transaction => calldata_malformed_cases;
}

fn approval_unlimited_cases() -> Vec<Case> {
    let two_pow = |b: usize| (U256::from(1) << b) - U256::from(1);
    assert_eq!(UNLIMITED_THRESHOLD.to_string(), THRESHOLD);
    vec![
        Case::tx("USDC approve(Permit2, 2^256-1)", tx(USDC, approve(PERMIT2, U256::MAX)))
            .fires(Medium)
            .at("call")
            .count(1)
            .ev("spender", cs(PERMIT2))
            .ev("amount", max())
            .ev("threshold", THRESHOLD)
            .ev("function", APPROVE)
            .ev("selector", "0x095ea7b3")
            .ev("target", cs(USDC)),
        Case::tx("amount exactly at the threshold 2^96-1", tx(USDC, approve(UNIVERSAL_ROUTER, two_pow(96))))
            .fires(Medium)
            .at("call")
            .ev("amount", THRESHOLD),
        Case::tx("uint160 max sentinel", tx(WETH, approve(UNIVERSAL_ROUTER, two_pow(160))))
            .fires(Medium)
            .ev("amount", two_pow(160).to_string()),
        Case::tx(
            "increaseAllowance by 2^256-1",
            tx(USDC, erc20::increaseAllowanceCall { spender: SWAP_ROUTER_02, addedValue: U256::MAX }.abi_encode()),
        )
        .fires(Medium)
        .ev("function", "increaseAllowance(address,uint256)")
        .ev("selector", "0x39509351")
        .ev("spender", cs(SWAP_ROUTER_02)),
        Case::tx(
            "nested in Multicall3 aggregate3",
            tx(
                MULTICALL3,
                aggregate3(vec![(USDC, approve(PERMIT2, units(5, 6))), (WETH, approve(SEAPORT_16, U256::MAX))]),
            ),
        )
        .fires(Medium)
        .at("call.calls[1]")
        .count(1)
        .ev("target", cs(WETH))
        .ev("spender", cs(SEAPORT_16)),
        Case::tx(
            "nested two levels: multicall(uint256,bytes[]) inside aggregate3",
            tx(
                MULTICALL3,
                aggregate3(vec![(
                    SWAP_ROUTER_02,
                    multicall_deadline::multicallCall {
                        deadline: U256::from(NOW_TS + 600),
                        data: vec![approve(UNIVERSAL_ROUTER, U256::MAX).into()],
                    }
                    .abi_encode(),
                )]),
            ),
        )
        .fires(Medium)
        .at("call.calls[0].calls[0]")
        .ev("target", cs(SWAP_ROUTER_02)),
        Case::tx("approve 100 USDC", tx(USDC, approve(UNIVERSAL_ROUTER, units(100, 6)))).absent(),
        Case::tx("one below the threshold", tx(USDC, approve(UNIVERSAL_ROUTER, two_pow(96) - U256::from(1)))).absent(),
        Case::tx(
            "1 billion 18-decimal tokens is not unlimited",
            tx(WETH, approve(UNIVERSAL_ROUTER, units(1_000_000_000, 18))),
        )
        .absent(),
        Case::tx("approve 0 is a revocation", tx(USDC, approve(UNIVERSAL_ROUTER, U256::ZERO))).absent(),
        Case::tx(
            "transfer of 2^256-1 is not an approval",
            tx(USDC, erc20::transferCall { to: RECIPIENT, amount: U256::MAX }.abi_encode()),
        )
        .absent(),
        Case::tx(
            "unlimited Permit2 allowance is a different rule",
            tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, u160_max(), NOW_TS + DAY)),
        )
        .absent(),
    ]
}

fn approval_zero_address_cases() -> Vec<Case> {
    let zero = cs(Address::ZERO);
    vec![
        Case::tx("approve(0x0, max)", tx(USDC, approve(Address::ZERO, U256::MAX)))
            .fires(Medium)
            .at("call")
            .count(1)
            .ev("spender", zero.clone())
            .ev("function", APPROVE)
            .ev("target", cs(USDC)),
        Case::tx("setApprovalForAll(0x0, true)", tx(BAYC, set_approval_for_all(Address::ZERO, true)))
            .fires(Medium)
            .ev("operator", zero.clone())
            .ev("target", cs(BAYC)),
        Case::tx(
            "Permit2 approve to 0x0",
            tx(PERMIT2, permit2_approve(USDC, Address::ZERO, U160::from(1000), NOW_TS + DAY)),
        )
        .fires(Medium)
        .ev("spender", zero)
        .ev("function", PERMIT2_APPROVE),
        Case::tx(
            "nested in aggregate3",
            tx(MULTICALL3, aggregate3(vec![(USDC, approve(Address::ZERO, U256::from(1)))])),
        )
        .fires(Medium)
        .at("call.calls[0]"),
        Case::tx("approve Permit2", tx(USDC, approve(PERMIT2, U256::MAX))).absent(),
        Case::tx("setApprovalForAll(OpenSea conduit)", tx(BAYC, set_approval_for_all(OPENSEA_CONDUIT, true))).absent(),
        Case::tx("approve(0x0, 0) only resets", tx(USDC, approve(Address::ZERO, U256::ZERO))).absent(),
        Case::tx(
            "transfer to 0x0 is a burn, not an approval",
            tx(USDC, erc20::transferCall { to: Address::ZERO, amount: U256::from(1) }.abi_encode()),
        )
        .absent(),
    ]
}

fn approval_vanity_spender_cases() -> Vec<Case> {
    vec![
        Case::tx("approve(0x0000…0000 drainer, max)", tx(USDC, approve(DRAINER, U256::MAX)))
            .fires(High)
            .at("call")
            .count(1)
            .ev("spender", cs(DRAINER))
            .ev("pattern", "at least 4 leading and 4 trailing zero hex digits")
            .ev("target", cs(USDC)),
        Case::tx(
            "small increaseAllowance to the drainer",
            tx(USDC, erc20::increaseAllowanceCall { spender: DRAINER, addedValue: U256::from(1) }.abi_encode()),
        )
        .fires(High)
        .ev("spender", cs(DRAINER)),
        Case::tx(
            "setApprovalForAll(drainer) nested in aggregate3",
            tx(MULTICALL3, aggregate3(vec![(BAYC, set_approval_for_all(DRAINER, true))])),
        )
        .fires(High)
        .at("call.calls[0]")
        .ev("operator", cs(DRAINER)),
        Case::tx("Permit2 has leading zeros only", tx(USDC, approve(PERMIT2, U256::MAX))).absent(),
        Case::tx("Seaport 1.6 has leading zeros only", tx(WETH, approve(SEAPORT_16, U256::MAX))).absent(),
        Case::tx("OpenSea fee recipient 0x0000a26b…a719", tx(WETH, approve(OPENSEA_FEES, U256::from(1)))).absent(),
        Case::tx(
            "transfer to the drainer is not an approval",
            tx(USDC, erc20::transferCall { to: DRAINER, amount: U256::from(1) }.abi_encode()),
        )
        .absent(),
    ]
}

fn nft_approval_for_all_cases() -> Vec<Case> {
    vec![
        Case::tx(
            "BAYC setApprovalForAll(OpenSea conduit, true)",
            tx(BAYC, set_approval_for_all(OPENSEA_CONDUIT, true)),
        )
        .fires(High)
        .at("call")
        .count(1)
        .ev("operator", cs(OPENSEA_CONDUIT))
        .ev("approved", true)
        .ev("selector", "0xa22cb465")
        .ev("function", "setApprovalForAll(address,bool)")
        .ev("target", cs(BAYC)),
        Case::tx(
            "through a Safe execTransaction",
            tx(SAFE, exec_transaction(BAYC, U256::ZERO, set_approval_for_all(ATTACKER, true), 0)),
        )
        .fires(High)
        .at("call.calls[0]")
        .ev("operator", cs(ATTACKER)),
        Case::tx("approved = false", tx(BAYC, set_approval_for_all(OPENSEA_CONDUIT, false))).absent(),
        Case::tx("single-token approve", tx(BAYC, approve(OPENSEA_CONDUIT, U256::from(8817)))).absent(),
    ]
}

fn approval_revoke_cases() -> Vec<Case> {
    let lockdown = permit2::lockdownCall {
        approvals: vec![
            permit2::TokenSpenderPair { token: USDC, spender: UNIVERSAL_ROUTER },
            permit2::TokenSpenderPair { token: WETH, spender: UNIVERSAL_ROUTER },
        ],
    }
    .abi_encode();
    vec![
        Case::tx("approve(spender, 0)", tx(USDC, approve(UNIVERSAL_ROUTER, U256::ZERO)))
            .fires(Info)
            .at("call")
            .ev("spender", cs(UNIVERSAL_ROUTER))
            .ev("function", APPROVE),
        Case::tx("setApprovalForAll(operator, false)", tx(BAYC, set_approval_for_all(OPENSEA_CONDUIT, false)))
            .fires(Info)
            .ev("operator", cs(OPENSEA_CONDUIT)),
        Case::tx("Permit2 approve amount 0", tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, U160::ZERO, 0)))
            .fires(Info)
            .ev("token", cs(USDC))
            .ev("spender", cs(UNIVERSAL_ROUTER)),
        Case::tx("Permit2 lockdown of two pairs", tx(PERMIT2, lockdown))
            .fires(Info)
            .at("call")
            .ev("count", 2)
            .ev("function", "lockdown((address,address)[])")
            .ev("selector", "0xcc53287f"),
        Case::tx(
            "EIP-7702 authorization to the zero address removes a delegation",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 1, Address::ZERO, 1)]))),
        )
        .fires(Info)
        .at("authorizations[0]")
        .ev("authority", cs(ADDR_0)),
        Case::tx("approve non-zero", tx(USDC, approve(UNIVERSAL_ROUTER, U256::from(1)))).absent(),
        Case::tx(
            "increaseAllowance by 0 changes nothing",
            tx(USDC, erc20::increaseAllowanceCall { spender: UNIVERSAL_ROUTER, addedValue: U256::ZERO }.abi_encode()),
        )
        .absent(),
        Case::tx("setApprovalForAll true", tx(BAYC, set_approval_for_all(OPENSEA_CONDUIT, true))).absent(),
    ]
}

fn permit2_unlimited_cases() -> Vec<Case> {
    let u160 = u160_max().to_string();
    vec![
        Case::tx(
            "Permit2 approve(USDC, Universal Router, uint160 max)",
            tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, u160_max(), NOW_TS + 30 * DAY)),
        )
        .fires(Medium)
        .at("call")
        .count(1)
        .ev("token", cs(USDC))
        .ev("spender", cs(UNIVERSAL_ROUTER))
        .ev("amount", u160)
        .ev("threshold", THRESHOLD)
        .ev("function", PERMIT2_APPROVE)
        .ev("selector", "0x87517c45")
        .ev("target", cs(PERMIT2)),
        Case::tx(
            "Permit2 approve nested in aggregate3",
            tx(
                MULTICALL3,
                aggregate3(vec![(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, u160_max(), NOW_TS + DAY))]),
            ),
        )
        .fires(Medium)
        .at("call.calls[0]"),
        Case::tx(
            "1000 USDC allowance",
            tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, U160::from(1_000_000_000u64), NOW_TS + DAY)),
        )
        .absent(),
        Case::tx("ERC-20 approve of Permit2 is approval-unlimited", tx(USDC, approve(PERMIT2, U256::MAX))).absent(),
    ]
}

fn permit2_long_expiration_cases() -> Vec<Case> {
    let u48_max = (1u64 << 48) - 1;
    vec![
        Case::tx(
            "Permit2 approve expiring in two years",
            tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, U160::from(1000), NOW_TS + 2 * YEAR)),
        )
        .fires(Medium)
        .at("call")
        .count(1)
        .ev("expiration", (NOW_TS + 2 * YEAR).to_string())
        .ev("expiration_utc", "2028-01-01T00:00:00Z")
        .ev("horizon_days", 365)
        .ev("token", cs(USDC))
        .ev("spender", cs(UNIVERSAL_ROUTER))
        .ev("function", PERMIT2_APPROVE),
        Case::tx(
            "expiration uint48 max",
            tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, U160::from(1000), u48_max)),
        )
        .fires(Medium)
        .ev("expiration", u48_max.to_string())
        .ev("expiration_utc", Value::Null),
        Case::tx("30 days", tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, U160::from(1000), NOW_TS + 30 * DAY)))
            .absent(),
        Case::tx(
            "exactly one year is the horizon",
            tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, U160::from(1000), NOW_TS + YEAR)),
        )
        .absent(),
        Case::tx(
            "expiration 0 means this block only",
            tx(PERMIT2, permit2_approve(USDC, UNIVERSAL_ROUTER, U160::from(1000), 0)),
        )
        .absent(),
    ]
}

fn drainer_selector_cases() -> Vec<Case> {
    let claim = bait::claimCall {}.abi_encode();
    vec![
        Case::tx("claim() with 0.05 ETH", tx_value(ATTACKER, claim.clone(), units(5, 16)))
            .fires(Critical)
            .at("call")
            .count(1)
            .ev("value_wei", "50000000000000000")
            .ev("function", "claim()")
            .ev("selector", "0x4e71d92d")
            .ev("target", cs(ATTACKER)),
        Case::tx(
            "SecurityUpdate() with 1 ETH",
            tx_value(ATTACKER, bait::SecurityUpdateCall {}.abi_encode(), units(1, 18)),
        )
        .fires(Critical)
        .ev("function", "SecurityUpdate()")
        .ev("value_wei", "1000000000000000000"),
        Case::tx("securityUpdate()", tx_value(ATTACKER, bait::securityUpdateCall {}.abi_encode(), U256::from(1)))
            .fires(Critical)
            .ev("function", "securityUpdate()"),
        Case::tx("claimRewards()", tx_value(ATTACKER, bait::claimRewardsCall {}.abi_encode(), units(2, 17)))
            .fires(Critical)
            .ev("function", "claimRewards()"),
        Case::tx(
            "networkMerge() with value inside aggregate3Value",
            tx_value(
                MULTICALL3,
                aggregate3_value(vec![(ATTACKER, units(3, 17), bait::networkMergeCall {}.abi_encode())]),
                units(3, 17),
            ),
        )
        .fires(Critical)
        .at("call.calls[0]")
        .ev("function", "networkMerge()")
        .ev("value_wei", "300000000000000000"),
        Case::tx("claim() without value (a real airdrop claim)", tx(ATTACKER, claim)).absent(),
        Case::tx("verify() without value", tx(ATTACKER, bait::verifyCall {}.abi_encode())).absent(),
        Case::tx("WETH deposit() with value", tx_value(WETH, erc20::depositCall {}.abi_encode(), units(1, 18)))
            .absent(),
    ]
}

fn ownership_transfer_cases() -> Vec<Case> {
    vec![
        Case::tx(
            "transferOwnership(attacker)",
            tx(PROXY, admin::transferOwnershipCall { newOwner: ATTACKER }.abi_encode()),
        )
        .fires(High)
        .at("call")
        .count(1)
        .ev("new_owner", cs(ATTACKER))
        .ev("function", "transferOwnership(address)")
        .ev("selector", "0xf2fde38b")
        .ev("target", cs(PROXY)),
        Case::tx(
            "Safe swapOwner through execTransaction",
            tx(
                SAFE,
                exec_transaction(
                    SAFE,
                    U256::ZERO,
                    safe::swapOwnerCall { prevOwner: Address::with_last_byte(1), oldOwner: ADDR_0, newOwner: ATTACKER }
                        .abi_encode(),
                    0,
                ),
            ),
        )
        .fires(High)
        .at("call.calls[0]")
        .ev("new_owner", cs(ATTACKER))
        .ev("function", "swapOwner(address,address,address)"),
        Case::tx(
            "Safe addOwnerWithThreshold inside multiSend",
            tx(
                SAFE_MULTISEND_CALL_ONLY,
                multisend(&[(
                    0,
                    SAFE,
                    U256::ZERO,
                    safe::addOwnerWithThresholdCall { owner: ATTACKER, _threshold: U256::from(1) }.abi_encode(),
                )]),
            ),
        )
        .fires(High)
        .at("call.calls[0]")
        .ev("new_owner", cs(ATTACKER)),
        Case::tx("acceptOwnership()", tx(PROXY, admin::acceptOwnershipCall {}.abi_encode())).absent(),
        Case::tx("renounceOwnership() is its own rule", tx(PROXY, admin::renounceOwnershipCall {}.abi_encode()))
            .absent(),
    ]
}

fn ownership_renounce_cases() -> Vec<Case> {
    vec![
        Case::tx("renounceOwnership()", tx(PROXY, admin::renounceOwnershipCall {}.abi_encode()))
            .fires(Medium)
            .at("call")
            .count(1)
            .ev("function", "renounceOwnership()")
            .ev("selector", "0x715018a6")
            .ev("target", cs(PROXY)),
        Case::tx(
            "renounceOwnership() inside aggregate3",
            tx(MULTICALL3, aggregate3(vec![(PROXY, admin::renounceOwnershipCall {}.abi_encode())])),
        )
        .fires(Medium)
        .at("call.calls[0]"),
        Case::tx("transferOwnership()", tx(PROXY, admin::transferOwnershipCall { newOwner: SAFE }.abi_encode()))
            .absent(),
    ]
}

fn proxy_upgrade_cases() -> Vec<Case> {
    let init = admin::initializeCall { owner: ATTACKER }.abi_encode();
    vec![
        Case::tx(
            "UUPS upgradeTo(newImplementation)",
            tx(PROXY, admin::upgradeToCall { newImplementation: NEW_IMPL }.abi_encode()),
        )
        .fires(High)
        .at("call")
        .count(1)
        .ev("proxy", cs(PROXY))
        .ev("new_implementation", cs(NEW_IMPL))
        .ev("selector", "0x3659cfe6"),
        Case::tx(
            "upgradeToAndCall with an initializer",
            tx(
                PROXY,
                admin::upgradeToAndCallCall { newImplementation: NEW_IMPL, data: init.clone().into() }.abi_encode(),
            ),
        )
        .fires(High)
        .at("call")
        .ev("new_implementation", cs(NEW_IMPL))
        .ev("function", "upgradeToAndCall(address,bytes)"),
        Case::tx(
            "ProxyAdmin upgrade(proxy, implementation)",
            tx(SAFE, proxy_admin::upgradeCall { proxy: PROXY, implementation: NEW_IMPL }.abi_encode()),
        )
        .fires(High)
        .ev("proxy", cs(PROXY))
        .ev("target", cs(SAFE)),
        Case::tx(
            "ProxyAdmin upgradeAndCall",
            tx(
                SAFE,
                proxy_admin::upgradeAndCallCall { proxy: PROXY, implementation: NEW_IMPL, data: init.into() }
                    .abi_encode(),
            ),
        )
        .fires(High)
        .ev("proxy", cs(PROXY))
        .ev("new_implementation", cs(NEW_IMPL)),
        Case::tx("changeAdmin is its own rule", tx(PROXY, admin::changeAdminCall { newAdmin: SAFE }.abi_encode()))
            .absent(),
        Case::tx("an ERC-20 approve", tx(USDC, approve(NEW_IMPL, U256::from(1)))).absent(),
    ]
}

fn proxy_admin_change_cases() -> Vec<Case> {
    vec![
        Case::tx("changeAdmin(attacker)", tx(PROXY, admin::changeAdminCall { newAdmin: ATTACKER }.abi_encode()))
            .fires(High)
            .at("call")
            .count(1)
            .ev("proxy", cs(PROXY))
            .ev("new_admin", cs(ATTACKER))
            .ev("selector", "0x8f283970"),
        Case::tx(
            "ProxyAdmin changeProxyAdmin(proxy, attacker)",
            tx(SAFE, proxy_admin::changeProxyAdminCall { proxy: PROXY, newAdmin: ATTACKER }.abi_encode()),
        )
        .fires(High)
        .ev("proxy", cs(PROXY))
        .ev("new_admin", cs(ATTACKER))
        .ev("target", cs(SAFE)),
        Case::tx("upgradeTo", tx(PROXY, admin::upgradeToCall { newImplementation: NEW_IMPL }.abi_encode())).absent(),
    ]
}

fn batch_delegatecall_cases() -> Vec<Case> {
    let transfer = erc20::transferCall { to: RECIPIENT, amount: units(10, 6) }.abi_encode();
    let takeover = admin::initializeCall { owner: ATTACKER }.abi_encode();
    vec![
        Case::tx(
            "multiSend with a DELEGATECALL entry",
            tx(
                SAFE_MULTISEND_CALL_ONLY,
                multisend(&[(0, USDC, U256::ZERO, transfer.clone()), (1, ATTACKER, U256::ZERO, takeover.clone())]),
            ),
        )
        .fires(High)
        .at("call.calls[1]")
        .count(1)
        .ev("operation", 1)
        .ev("target", cs(ATTACKER)),
        Case::tx(
            "execTransaction with operation 1",
            tx(SAFE, exec_transaction(ATTACKER, U256::ZERO, takeover.clone(), 1)),
        )
        .fires(High)
        .at("call.calls[0]")
        .count(1)
        .ev("target", cs(ATTACKER)),
        Case::tx(
            "execTransaction → MultiSend → DELEGATECALL entry",
            tx(
                SAFE,
                exec_transaction(
                    SAFE_MULTISEND,
                    U256::ZERO,
                    multisend(&[(0, USDC, U256::ZERO, transfer.clone()), (1, ATTACKER, U256::ZERO, takeover)]),
                    1,
                ),
            ),
        )
        .fires(High)
        .at("call.calls[0].calls[1]")
        .ev("target", cs(ATTACKER)),
        Case::tx(
            "multiSend of plain calls",
            tx(
                SAFE_MULTISEND_CALL_ONLY,
                multisend(&[(0, USDC, U256::ZERO, transfer.clone()), (0, RECIPIENT, units(1, 18), vec![])]),
            ),
        )
        .absent(),
        Case::tx("execTransaction with operation 0", tx(SAFE, exec_transaction(USDC, U256::ZERO, transfer, 0)))
            .absent(),
    ]
}

fn eip7702_delegation_cases() -> Vec<Case> {
    let unsigned = json!({
        "from": cs(ADDR_0), "to": cs(ADDR_0), "type": "0x4", "chainId": "0x1",
        "authorizationList": [{"chainId": "0x1", "address": cs(METAMASK_DELEGATOR), "nonce": "0x0"}]
    });
    vec![
        Case::tx(
            "type-4 tx delegating to MetaMask's delegator",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 1, METAMASK_DELEGATOR, 1)]))),
        )
        .fires(High)
        .at("authorizations[0]")
        .count(1)
        .ev("delegate", cs(METAMASK_DELEGATOR))
        .ev("authority", cs(ADDR_0))
        .ev("chain_id", "1")
        .ev("nonce", 1),
        Case::tx(
            "sponsored: authority differs from the sender",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_1, 1, ATTACKER, 0)]))),
        )
        .fires(High)
        .ev("authority", cs(crate::common::ADDR_1))
        .ev("delegate", cs(ATTACKER)),
        Case::tx(
            "unsigned authorizationList in eth_sendTransaction",
            TxInput::from_json(&unsigned.to_string()).unwrap(),
        )
        .fires(High)
        .ev("authority", Value::Null)
        .ev("delegate", cs(METAMASK_DELEGATOR)),
        Case::tx(
            "authorization to the zero address removes the delegation",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 1, Address::ZERO, 1)]))),
        )
        .absent(),
        Case::tx("EIP-1559 transaction", raw_input(&crate::common::sign_tx(eip1559(1)))).absent(),
    ]
}

fn eip7702_any_chain_cases() -> Vec<Case> {
    vec![
        Case::tx(
            "chain id 0 authorization",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 0, METAMASK_DELEGATOR, 1)]))),
        )
        .fires(Critical)
        .at("authorizations[0]")
        .count(1)
        .ev("chain_id", 0)
        .ev("delegate", cs(METAMASK_DELEGATOR))
        .ev("authority", cs(ADDR_0)),
        Case::tx(
            "second of two authorizations has chain id 0",
            raw_input(&crate::common::sign_tx(eip7702(vec![
                authorization(&KEY_0, 1, METAMASK_DELEGATOR, 1),
                authorization(&KEY_1, 0, ATTACKER, 0),
            ]))),
        )
        .fires(Critical)
        .at("authorizations[1]")
        .count(1)
        .ev("delegate", cs(ATTACKER)),
        Case::tx(
            "chain id 1 authorization",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 1, METAMASK_DELEGATOR, 1)]))),
        )
        .absent(),
    ]
}

fn eip7702_multiple_cases() -> Vec<Case> {
    vec![
        Case::tx(
            "two accounts delegated at once",
            raw_input(&crate::common::sign_tx(eip7702(vec![
                authorization(&KEY_0, 1, METAMASK_DELEGATOR, 1),
                authorization(&KEY_1, 1, ATTACKER, 0),
            ]))),
        )
        .fires(Medium)
        .count(1)
        .ev("count", 2)
        .ev(
            "authorizations",
            json!([
                {"authority": cs(ADDR_0), "delegate": cs(METAMASK_DELEGATOR), "chain_id": "1"},
                {"authority": cs(crate::common::ADDR_1), "delegate": cs(ATTACKER), "chain_id": "1"}
            ]),
        ),
        Case::tx(
            "one authorization",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 1, METAMASK_DELEGATOR, 1)]))),
        )
        .absent(),
    ]
}

fn tx_chain_mismatch_cases() -> Vec<Case> {
    let polygon_json = json!({"from": cs(ADDR_0), "to": cs(RECIPIENT), "value": "0x1", "chainId": "0x89"});
    vec![
        Case::tx("EIP-1559 tx signed for Base, scanned for mainnet", raw_input(&crate::common::sign_tx(eip1559(8453))))
            .fires(High)
            .count(1)
            .ev("transaction_chain_id", 8453)
            .ev("expected_chain_id", 1),
        Case::tx("eth_sendTransaction for Polygon", TxInput::from_json(&polygon_json.to_string()).unwrap())
            .fires(High)
            .ev("transaction_chain_id", 137),
        Case::tx(
            "EIP-7702 authorization for Optimism",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 10, METAMASK_DELEGATOR, 1)]))),
        )
        .fires(High)
        .at("authorizations[0]")
        .count(1)
        .ev("authorization_chain_id", "10")
        .ev("expected_chain_id", 1),
        Case::tx("Base tx scanned for Base", raw_input(&crate::common::sign_tx(eip1559(8453))))
            .ctx(ctx_on(8453))
            .absent(),
        Case::tx("mainnet EIP-2930 tx", raw_input(&crate::common::sign_tx(eip2930()))).absent(),
        Case::tx("explicit fields carry no chain id", tx(USDC, approve(PERMIT2, U256::from(1))))
            .ctx(ctx_on(8453))
            .absent(),
        Case::tx(
            "chain id 0 authorization is its own rule",
            raw_input(&crate::common::sign_tx(eip7702(vec![authorization(&KEY_0, 0, METAMASK_DELEGATOR, 1)]))),
        )
        .absent(),
    ]
}

fn tx_no_replay_protection_cases() -> Vec<Case> {
    vec![
        Case::tx("legacy tx without EIP-155", raw_input(&crate::common::sign_tx(legacy(None))))
            .fires(Medium)
            .count(1)
            .ev("type", 0),
        Case::tx("legacy tx with EIP-155", raw_input(&crate::common::sign_tx(legacy(Some(1))))).absent(),
        Case::tx("EIP-2930 tx", raw_input(&crate::common::sign_tx(eip2930()))).absent(),
        Case::tx(
            "unsigned eth_sendTransaction without chainId",
            TxInput::from_json(&json!({"to": cs(RECIPIENT), "value": "0x1"}).to_string()).unwrap(),
        )
        .absent(),
    ]
}

fn contract_creation_cases() -> Vec<Case> {
    vec![
        Case::tx("deploy 5 bytes of creation code", creation("0x6080604052", None))
            .fires(Info)
            .at("call")
            .count(1)
            .ev("code_size", 5)
            .ev("value_wei", "0"),
        Case::tx("deploy with value", creation("0x60806040526000", Some("1000"))).fires(Info).ev("value_wei", "1000"),
        Case::tx("call to USDC", tx(USDC, approve(PERMIT2, U256::from(1)))).absent(),
    ]
}

fn native_transfer_cases() -> Vec<Case> {
    vec![
        Case::tx("1.5 ETH to an EOA", tx_value(RECIPIENT, vec![], units(15, 17)))
            .fires(Info)
            .at("call")
            .count(1)
            .ev("value_wei", "1500000000000000000")
            .ev("target", cs(RECIPIENT)),
        Case::tx(
            "value entry with empty calldata inside aggregate3Value",
            tx_value(
                MULTICALL3,
                aggregate3_value(vec![
                    (WETH, units(1, 18), erc20::depositCall {}.abi_encode()),
                    (RECIPIENT, units(2, 18), vec![]),
                ]),
                units(3, 18),
            ),
        )
        .fires(Info)
        .at("call.calls[1]")
        .count(1)
        .ev("value_wei", "2000000000000000000"),
        Case::tx(
            "ETH into a multiSend entry",
            tx(SAFE_MULTISEND_CALL_ONLY, multisend(&[(0, RECIPIENT, U256::from(7), vec![])])),
        )
        .fires(Info)
        .at("call.calls[0]")
        .ev("value_wei", "7"),
        Case::tx("zero value, no data", tx(RECIPIENT, vec![])).absent(),
        Case::tx("WETH deposit() with value", tx_value(WETH, erc20::depositCall {}.abi_encode(), units(1, 18)))
            .absent(),
    ]
}

fn unknown_selector_cases() -> Vec<Case> {
    let mut unknown = alloy_primitives::hex!("deadbeef").to_vec();
    unknown.extend([0u8; 64]);
    let mut truncated = alloy_primitives::hex!("095ea7b3").to_vec();
    truncated.extend([0u8; 10]);
    vec![
        Case::tx("selector 0xdeadbeef", tx(ATTACKER, unknown.clone()))
            .fires(Info)
            .at("call")
            .count(1)
            .ev("selector", "0xdeadbeef")
            .ev("data_len", 68)
            .ev("value_wei", "0"),
        Case::tx(
            "unknown call inside multicall(bytes[])",
            tx(V3_POSITION_MANAGER, multicall_v3::multicallCall { data: vec![unknown.into()] }.abi_encode()),
        )
        .fires(Info)
        .at("call.calls[0]")
        .count(1)
        .ev("target", cs(V3_POSITION_MANAGER)),
        Case::tx("approve", tx(USDC, approve(PERMIT2, U256::from(1)))).absent(),
        Case::tx("plain transfer", tx_value(RECIPIENT, vec![], U256::from(1))).absent(),
        Case::tx("known selector with bad arguments is calldata-malformed", tx(USDC, truncated)).absent(),
        Case::tx("3 bytes of calldata is calldata-malformed", tx(ATTACKER, vec![0x09, 0x5e, 0xa7])).absent(),
    ]
}

fn calldata_malformed_cases() -> Vec<Case> {
    let mut truncated = alloy_primitives::hex!("095ea7b3").to_vec();
    truncated.extend([0u8; 10]);
    vec![
        Case::tx("approve selector with truncated arguments", tx(USDC, truncated.clone()))
            .fires(Low)
            .at("call")
            .count(1)
            .ev("function", APPROVE)
            .ev("selector", "0x095ea7b3")
            .ev("data_len", 14),
        Case::tx("3 bytes of calldata, shorter than a selector", tx(ATTACKER, vec![0x09, 0x5e, 0xa7]))
            .fires(Low)
            .ev("data_len", 3)
            .ev("target", cs(ATTACKER)),
        Case::tx(
            "aggregate3 whose array length runs past the data",
            tx(MULTICALL3, {
                let mut d = aggregate3(vec![(USDC, approve(PERMIT2, U256::from(1)))]);
                d[4 + 32 + 31] = 0xff;
                d
            }),
        )
        .fires(Low)
        .ev("function", "aggregate3((address,bool,bytes)[])"),
        Case::tx("truncated approve inside aggregate3", tx(MULTICALL3, aggregate3(vec![(USDC, truncated)])))
            .fires(Low)
            .at("call.calls[0]")
            .count(1),
        Case::tx("well-formed approve", tx(USDC, approve(PERMIT2, U256::from(1)))).absent(),
        Case::tx("unknown selector is unknown-selector", tx(ATTACKER, alloy_primitives::hex!("deadbeef"))).absent(),
        Case::tx("empty calldata", tx_value(RECIPIENT, vec![], U256::from(1))).absent(),
    ]
}

/// Permit2 `permit(owner, PermitSingle|PermitBatch, signature)` calls, the allowance-transfer
/// entry point that routers batch. Ignored: the built-in signature table (evm/signatures.rs)
/// parses a tuple parameter without an array suffix (`(…) permitSingle`) as type
/// `tuplepermitSingle`, so the real selectors 0x2b67b570 and 0x2a2d80d1 are not in the table
/// and these calls decode as unknown selectors.
#[test]
fn permit2_permit_calls() {
    let single = |d, spender| tx(PERMIT2, permit2_permit_single(d, spender));
    let batch = |d, spender| tx(PERMIT2, permit2_permit_batch(d, spender));
    crate::common::run_table(
        &rules::PERMIT2_UNLIMITED_ALLOWANCE,
        &[
            Case::tx(
                "permit(PermitSingle) of uint160 max",
                single(details(WETH, u160_max(), NOW_TS + 30 * DAY), UNIVERSAL_ROUTER),
            )
            .fires(Medium)
            .at("call.details[0]")
            .ev("token", cs(WETH))
            .ev("spender", cs(UNIVERSAL_ROUTER))
            .ev("amount", u160_max().to_string()),
            Case::tx(
                "permit(PermitBatch), second entry unlimited",
                batch(
                    vec![
                        details(USDC, U160::from(1_000_000_000u64), NOW_TS + DAY),
                        details(WETH, u160_max(), NOW_TS + DAY),
                    ],
                    UNIVERSAL_ROUTER,
                ),
            )
            .fires(Medium)
            .at("call.details[1]")
            .count(1)
            .ev("token", cs(WETH)),
            Case::tx(
                "permit(PermitBatch) with bounded amounts",
                batch(vec![details(USDC, U160::from(5), NOW_TS + DAY)], UNIVERSAL_ROUTER),
            )
            .absent(),
        ],
    );
    crate::common::run_table(
        &rules::PERMIT2_LONG_EXPIRATION,
        &[
            Case::tx(
                "permit(PermitBatch) detail expiring in 2030",
                batch(
                    vec![details(USDC, U160::from(1), NOW_TS + DAY), details(WETH, U160::from(1), NOW_TS + 4 * YEAR)],
                    UNIVERSAL_ROUTER,
                ),
            )
            .fires(Medium)
            .at("call.details[1]")
            .count(1),
            Case::tx(
                "permit(PermitSingle) for a day",
                single(details(USDC, U160::from(1), NOW_TS + DAY), UNIVERSAL_ROUTER),
            )
            .absent(),
        ],
    );
    crate::common::run_table(
        &rules::APPROVAL_VANITY_SPENDER,
        &[
            Case::tx(
                "permit(PermitSingle) to the drainer",
                single(details(USDC, U160::from(5), NOW_TS + DAY), DRAINER),
            )
            .fires(High)
            .at("call")
            .ev("spender", cs(DRAINER)),
            Case::tx(
                "permit(PermitSingle) to the Universal Router",
                single(details(USDC, U160::from(5), NOW_TS + DAY), UNIVERSAL_ROUTER),
            )
            .absent(),
        ],
    );
}
