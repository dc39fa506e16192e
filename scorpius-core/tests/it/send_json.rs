//! `eth_sendTransaction` JSON as wallets receive it: the params object, the params array and
//! the whole JSON-RPC request, with `data` or `input`, and EIP-7702 authorization lists.

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use scorpius_core::tx::{TxInput, TxSource, analyze};
use serde_json::json;

use crate::{
    abi::erc20,
    common::{ADDR_0, ADDR_1, KEY_1, METAMASK_DELEGATOR, PERMIT2, USDC, cs, ctx, findings, hex0x, path_of},
    raw_tx::authorization,
};

fn approve_hex() -> String {
    hex0x(&erc20::approveCall { spender: PERMIT2, amount: U256::MAX }.abi_encode())
}

fn params() -> serde_json::Value {
    json!({
        "from": cs(ADDR_0),
        "to": cs(USDC),
        "data": approve_hex(),
        "value": "0x0",
        "gas": "0xea60",
        "chainId": "0x1",
        "nonce": "0x7"
    })
}

#[test]
fn params_object_array_and_request_are_equivalent() {
    let object = params();
    let forms = [
        object.to_string(),
        json!([object]).to_string(),
        json!({"jsonrpc": "2.0", "id": 42, "method": "eth_sendTransaction", "params": [object]}).to_string(),
    ];
    let parsed: Vec<TxInput> = forms.iter().map(|f| TxInput::from_json(f).unwrap()).collect();
    for tx in &parsed {
        assert_eq!(tx.source, TxSource::Json);
        assert_eq!(tx.from, Some(ADDR_0));
        assert_eq!(tx.to, Some(USDC));
        assert_eq!(tx.value, U256::ZERO);
        assert_eq!(tx.chain_id, Some(1));
        assert_eq!(tx.nonce, Some(7));
        assert_eq!(tx.gas_limit, Some(60_000));
        assert_eq!(hex0x(&tx.data), approve_hex());
    }
    assert_eq!(parsed[0], parsed[1]);
    assert_eq!(parsed[1], parsed[2]);
    let report = analyze(&parsed[2], &ctx());
    assert_eq!(findings(&report, "approval-unlimited").len(), 1);
}

#[test]
fn input_and_data_are_synonyms() {
    let mut with_input = params();
    let data = with_input["data"].take();
    with_input.as_object_mut().unwrap().remove("data");
    with_input["input"] = data.clone();
    let a = TxInput::from_json(&with_input.to_string()).unwrap();
    let b = TxInput::from_json(&params().to_string()).unwrap();
    assert_eq!(a.data, b.data);
    // Both present and equal is fine; both present and different is an error.
    with_input["data"] = data;
    assert_eq!(TxInput::from_json(&with_input.to_string()).unwrap().data, b.data);
    with_input["data"] = json!("0x");
    let e = TxInput::from_json(&with_input.to_string()).unwrap_err().to_string();
    assert!(e.contains("data") && e.contains("differ"), "{e}");
}

#[test]
fn quantities_as_numbers_and_decimal_strings_and_gas_limit_alias() {
    let j = json!({"to": cs(USDC), "value": 1000, "gasLimit": "60000", "nonce": 3, "chainId": 1});
    let tx = TxInput::from_json(&j.to_string()).unwrap();
    assert_eq!((tx.value, tx.gas_limit, tx.nonce, tx.chain_id), (U256::from(1000), Some(60_000), Some(3), Some(1)));
    assert_eq!(tx.from, None);
    assert!(tx.data.is_empty());
}

#[test]
fn null_to_is_contract_creation() {
    let j = json!({"from": cs(ADDR_0), "to": null, "data": "0x6080604052"});
    let tx = TxInput::from_json(&j.to_string()).unwrap();
    assert_eq!(tx.to, None);
    let report = analyze(&tx, &ctx());
    assert_eq!(findings(&report, "contract-creation").len(), 1);
}

#[test]
fn authorization_list_signed_and_unsigned() {
    let signed = authorization(&KEY_1, 1, METAMASK_DELEGATOR, 4);
    let j = json!({
        "from": cs(ADDR_0),
        "to": cs(ADDR_0),
        "type": "0x4",
        "chainId": "0x1",
        "authorizationList": [
            {"chainId": "0x1", "address": cs(METAMASK_DELEGATOR), "nonce": "0x4",
             "yParity": format!("0x{:x}", signed.y_parity()), "r": signed.r().to_string(), "s": signed.s().to_string()},
            {"chainId": "0x0", "address": cs(METAMASK_DELEGATOR), "nonce": "0x0"}
        ]
    });
    let tx = TxInput::from_json(&j.to_string()).unwrap();
    assert_eq!(tx.tx_type, Some(4));
    assert_eq!(tx.authorizations.len(), 2);
    assert_eq!(tx.authorizations[0].authority, Some(ADDR_1));
    assert_eq!(tx.authorizations[0].nonce, 4);
    assert_eq!(tx.authorizations[1].authority, None);
    assert_eq!(tx.authorizations[1].authority_error.as_deref(), Some("unsigned authorization"));

    let report = analyze(&tx, &ctx());
    let delegation = findings(&report, "eip7702-delegation");
    assert_eq!(delegation.len(), 2);
    assert_eq!(delegation[0].evidence["authority"], cs(ADDR_1));
    assert_eq!(delegation[0].evidence["delegate"], cs(METAMASK_DELEGATOR));
    let any_chain = findings(&report, "eip7702-any-chain-authorization");
    assert_eq!(any_chain.iter().map(|f| path_of(f)).collect::<Vec<_>>(), [Some("authorizations[1]")]);
    assert_eq!(findings(&report, "eip7702-multiple-authorizations").len(), 1);
}

#[test]
fn errors_name_the_json_path() {
    let cases = [
        (json!({"to": 5}), "to", "expected an address string"),
        (json!([{"to": cs(USDC), "value": "ten"}]), "[0].value", "not a number"),
        (json!({"params": [{"to": cs(USDC), "data": "0x123"}]}), "params[0].data", "odd number of hex digits"),
        (json!({"to": cs(USDC), "data": 7}), "data", "expected a hex string"),
        (json!({"to": cs(USDC), "nonce": "0x10000000000000000"}), "nonce", "64 bits"),
        (json!({"to": cs(USDC), "authorizationList": {}}), "authorizationList", "expected an array"),
        (
            json!({"to": cs(USDC), "authorizationList": [{"chainId": 1, "nonce": 0}]}),
            "authorizationList[0].address",
            "missing",
        ),
        (
            json!({"to": cs(USDC), "authorizationList": [{"chainId": 1, "nonce": 0, "address": cs(Address::ZERO), "yParity": 2, "r": "1", "s": "1"}]}),
            "authorizationList[0].yParity",
            "0 or 1",
        ),
        (json!({"params": "nope"}), "params", "expected an array"),
        (json!("0x1234"), "transaction JSON", "expected an object"),
    ];
    for (j, field, problem) in cases {
        crate::bad_input::assert_invalid(TxInput::from_json(&j.to_string()), field, problem);
    }
}
