//! Signed raw transactions of every type, built and signed here, then decoded by
//! `TxInput::from_raw`: type, chain id, signer, and EIP-7702 authorities.

use alloy_consensus::{TxEip1559, TxEip2930, TxEip7702, TxLegacy};
use alloy_eips::{
    eip2930::{AccessList, AccessListItem},
    eip7702::{Authorization, SignedAuthorization},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_sol_types::SolCall;
use scorpius_core::tx::{TxInput, TxSource, analyze};

use crate::{
    abi::erc20,
    common::{
        ADDR_0, ADDR_1, KEY_0, KEY_1, METAMASK_DELEGATOR, PERMIT2, RECIPIENT, USDC, ctx, ctx_on, findings, hex0x, key,
        sign_hash, sign_tx, units,
    },
};

const GWEI: u128 = 1_000_000_000;

pub fn approve_usdc_max() -> Bytes {
    erc20::approveCall { spender: PERMIT2, amount: U256::MAX }.abi_encode().into()
}

pub fn legacy(chain_id: Option<u64>) -> TxLegacy {
    TxLegacy {
        chain_id,
        nonce: 7,
        gas_price: 20 * GWEI,
        gas_limit: 60_000,
        to: TxKind::Call(USDC),
        value: U256::ZERO,
        input: approve_usdc_max(),
    }
}

pub fn eip2930() -> TxEip2930 {
    TxEip2930 {
        chain_id: 1,
        nonce: 8,
        gas_price: 20 * GWEI,
        gas_limit: 60_000,
        to: TxKind::Call(USDC),
        value: U256::ZERO,
        access_list: AccessList(vec![AccessListItem { address: USDC, storage_keys: vec![B256::with_last_byte(3)] }]),
        input: approve_usdc_max(),
    }
}

pub fn eip1559(chain_id: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce: 9,
        gas_limit: 21_000,
        max_fee_per_gas: 30 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: TxKind::Call(RECIPIENT),
        value: units(3, 17),
        access_list: AccessList::default(),
        input: Bytes::new(),
    }
}

/// An authorization for `delegate` signed with `signer_key`.
pub fn authorization(signer_key: &[u8; 32], chain_id: u64, delegate: Address, nonce: u64) -> SignedAuthorization {
    let auth = Authorization { chain_id: U256::from(chain_id), address: delegate, nonce };
    let sig = sign_hash(&key(signer_key), auth.signature_hash());
    auth.into_signed(sig)
}

/// A type-4 transaction from `ADDR_0` carrying `auths` (calls itself, as wallets do when they
/// upgrade an account).
pub fn eip7702(auths: Vec<SignedAuthorization>) -> TxEip7702 {
    TxEip7702 {
        chain_id: 1,
        nonce: 0,
        gas_limit: 100_000,
        max_fee_per_gas: 30 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: ADDR_0,
        value: U256::ZERO,
        access_list: AccessList::default(),
        authorization_list: auths,
        input: Bytes::new(),
    }
}

/// `TxInput` of a signed transaction, through the hex parser.
pub fn raw_input(encoded: &[u8]) -> TxInput {
    TxInput::from_raw(&hex0x(encoded)).unwrap_or_else(|e| panic!("raw tx does not decode: {e}"))
}

#[test]
fn legacy_with_eip155_recovers_signer_and_chain() {
    let encoded = sign_tx(legacy(Some(1)));
    let tx = raw_input(&encoded);
    assert_eq!(tx.source, TxSource::Raw);
    assert_eq!(tx.tx_type, Some(0));
    assert_eq!(tx.from, Some(ADDR_0));
    assert_eq!(tx.to, Some(USDC));
    assert_eq!(tx.chain_id, Some(1));
    assert_eq!(tx.nonce, Some(7));
    assert_eq!(tx.gas_limit, Some(60_000));
    assert_eq!(tx.data, approve_usdc_max().to_vec());
    assert_eq!(tx.hash, Some(keccak256(&encoded)));
    // The calldata is analysed like any other.
    let report = analyze(&tx, &ctx());
    assert_eq!(findings(&report, "approval-unlimited").len(), 1);
    assert!(findings(&report, "tx-no-replay-protection").is_empty());
}

#[test]
fn legacy_without_eip155_has_no_chain_id() {
    let encoded = sign_tx(legacy(None));
    // Pre-EIP-155 signatures use v = 27/28 (the last bytes before r and s).
    let tx = raw_input(&encoded);
    assert_eq!(tx.tx_type, Some(0));
    assert_eq!(tx.chain_id, None);
    assert_eq!(tx.from, Some(ADDR_0));
    let report = analyze(&tx, &ctx());
    assert_eq!(findings(&report, "tx-no-replay-protection").len(), 1);
}

#[test]
fn eip2930_and_eip1559() {
    let tx = raw_input(&sign_tx(eip2930()));
    assert_eq!((tx.tx_type, tx.chain_id, tx.from, tx.nonce), (Some(1), Some(1), Some(ADDR_0), Some(8)));
    assert_eq!(tx.to, Some(USDC));

    let encoded = sign_tx(eip1559(8453));
    assert_eq!(encoded[0], 2);
    let tx = raw_input(&encoded);
    assert_eq!((tx.tx_type, tx.chain_id, tx.from), (Some(2), Some(8453), Some(ADDR_0)));
    assert_eq!(tx.value, units(3, 17));
    assert!(tx.data.is_empty());
    // Base transaction, checked as Base: only the plain transfer.
    let report = analyze(&tx, &ctx_on(8453));
    let ids: Vec<_> = report.findings.iter().map(|f| f.rule_id.as_ref()).collect();
    assert_eq!(ids, ["native-transfer"]);
}

#[test]
fn signer_differs_with_another_key() {
    let tx = raw_input(&crate::common::sign_tx_with(&key(&KEY_1), eip1559(1)));
    assert_eq!(tx.from, Some(ADDR_1));
}

#[test]
fn eip7702_authorization_list_with_recovered_authorities() {
    let auths = vec![
        authorization(&KEY_0, 1, METAMASK_DELEGATOR, 1),
        authorization(&KEY_1, 0, METAMASK_DELEGATOR, 5),
        authorization(&KEY_1, 1, Address::ZERO, 6),
    ];
    let encoded = sign_tx(eip7702(auths));
    assert_eq!(encoded[0], 4);
    let tx = raw_input(&encoded);
    assert_eq!((tx.tx_type, tx.chain_id, tx.from, tx.to), (Some(4), Some(1), Some(ADDR_0), Some(ADDR_0)));
    assert_eq!(tx.authorizations.len(), 3);
    let a = &tx.authorizations;
    assert_eq!(
        (a[0].chain_id, a[0].address, a[0].nonce, a[0].authority),
        (U256::from(1), METAMASK_DELEGATOR, 1, Some(ADDR_0))
    );
    assert_eq!((a[1].chain_id, a[1].nonce, a[1].authority), (U256::ZERO, 5, Some(ADDR_1)));
    assert_eq!((a[2].address, a[2].authority), (Address::ZERO, Some(ADDR_1)));
    assert!(a.iter().all(|x| x.authority_error.is_none()));

    let report = analyze(&tx, &ctx());
    let at = |rule: &str| -> Vec<String> {
        findings(&report, rule).iter().filter_map(|f| crate::common::path_of(f).map(str::to_owned)).collect()
    };
    assert_eq!(at("eip7702-delegation"), ["authorizations[0]", "authorizations[1]"]);
    assert_eq!(at("eip7702-any-chain-authorization"), ["authorizations[1]"]);
    assert_eq!(at("approval-revoke"), ["authorizations[2]"]);
    let multiple = findings(&report, "eip7702-multiple-authorizations");
    assert_eq!(multiple.len(), 1);
    assert_eq!(multiple[0].evidence["count"], 3);
    assert_eq!(multiple[0].evidence["authorizations"][1]["authority"], crate::common::cs(ADDR_1));
    // The subject lists every authorization with its authority.
    let subject = report.subject.to_value();
    let subject = &subject["transaction"]["authorizations"];
    assert_eq!(subject[0]["authority"], crate::common::cs(ADDR_0));
    assert_eq!(subject[1]["chain_id"], "0");
}

#[test]
fn eip7702_authorization_with_invalid_signature_reports_why() {
    let auth = Authorization { chain_id: U256::from(1), address: METAMASK_DELEGATOR, nonce: 0 };
    // s = 0 is not a valid signature: the transaction still decodes, the authority does not.
    let bogus = SignedAuthorization::new_unchecked(auth, 0, U256::from(1), U256::ZERO);
    let tx = raw_input(&sign_tx(eip7702(vec![bogus])));
    assert_eq!(tx.authorizations[0].authority, None);
    assert!(tx.authorizations[0].authority_error.is_some());
    let report = analyze(&tx, &ctx());
    let f = findings(&report, "eip7702-delegation");
    assert_eq!(f[0].evidence["authority"], serde_json::Value::Null);
}

#[test]
fn contract_creation_raw() {
    let mut tx = legacy(Some(1));
    tx.to = TxKind::Create;
    tx.input = Bytes::from_static(&[0x60, 0x80, 0x60, 0x40, 0x52]);
    let tx = raw_input(&sign_tx(tx));
    assert_eq!(tx.to, None);
    let report = analyze(&tx, &ctx());
    assert_eq!(report.target, "contract creation");
    assert_eq!(findings(&report, "contract-creation")[0].evidence["code_size"], 5);
}
