//! Bad input: each malformed value is an `Error::InvalidInput` (or `UnknownChain`) whose
//! message names the field and the problem. Never a panic.

use std::fmt::Debug;

use alloy_primitives::U256;
use scorpius_core::{Error, chain::Chain, signature::SignatureRequest, tx::TxInput};
use serde_json::{Value, json};

use crate::{
    common::{NOW_TS, UNIVERSAL_ROUTER, USDC, cs, sign_tx},
    fixtures::{permit_usdc, permit2_batch, permit2_single},
    raw_tx::eip1559,
};

/// Asserts `result` is `InvalidInput` for exactly `field`, with `problem` in the message.
#[track_caller]
pub fn assert_invalid<T: Debug>(result: Result<T, Error>, field: &str, problem: &str) {
    match result {
        Err(Error::InvalidInput { field: f, problem: p }) => {
            assert_eq!(f, field, "wrong field (problem: {p})");
            assert!(p.contains(problem), "field `{f}`: expected `{problem}` in `{p}`");
            let shown = Error::InvalidInput { field: f.clone(), problem: p }.to_string();
            assert!(shown.starts_with(&format!("{f}: ")), "{shown}");
        }
        other => panic!("expected InvalidInput for `{field}` ({problem}), got {other:?}"),
    }
}

const GOOD: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

#[test]
fn explicit_fields() {
    let f = |to: Option<&str>, data: Option<&str>, value: Option<&str>, from: Option<&str>| {
        TxInput::from_fields(from, to, data, value)
    };
    assert_invalid(
        f(Some("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeZ"), None, None, None),
        "--to",
        "not hex: invalid character 'Z' at position 41",
    );
    assert_invalid(f(Some("0x1234"), None, None, None), "--to", "20 bytes (40 hex digits), got 2 bytes");
    assert_invalid(f(Some(&format!("{GOOD}00")), None, None, None), "--to", "got 21 bytes");
    assert_invalid(
        f(Some("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), None, None, None),
        "--to",
        "EIP-55 checksum does not match",
    );
    assert_invalid(f(Some(GOOD), Some("0x095ea7b"), None, None), "--data", "odd number of hex digits (7)");
    assert_invalid(f(Some(GOOD), Some("0x095ea7bg"), None, None), "--data", "invalid character 'g'");
    assert_invalid(f(Some(GOOD), None, Some("1.5"), None), "--value", "invalid character '.'");
    assert_invalid(f(Some(GOOD), None, Some("1e18"), None), "--value", "invalid character 'e'");
    assert_invalid(f(Some(GOOD), None, Some(&"9".repeat(80)), None), "--value", "256 bits");
    assert_invalid(f(Some(GOOD), None, Some(""), None), "--value", "empty quantity");
    assert_invalid(f(Some(GOOD), None, None, Some("vitalik.eth")), "--from", "not hex");
    // Accepted: all-lowercase and all-uppercase addresses carry no checksum.
    assert!(f(Some(&GOOD.to_lowercase()), Some("0X095EA7B3"), Some("0x0"), None).is_ok());
}

#[test]
fn raw_transactions() {
    let valid = sign_tx(eip1559(1));
    let hex = |b: &[u8]| format!("0x{}", hex::encode(b));
    assert_invalid(TxInput::from_raw("0xzz"), "--raw", "not hex");
    assert_invalid(TxInput::from_raw("0x02f"), "--raw", "odd number of hex digits");
    assert_invalid(TxInput::from_raw("0x"), "--raw", "empty transaction");
    assert_invalid(TxInput::from_raw("   "), "--raw", "empty transaction");
    // RLP that does not decode: an empty list, a list header longer than the input, a type byte
    // alone, an unknown type.
    assert_invalid(TxInput::from_raw("0xc0"), "--raw", "not a valid signed transaction");
    assert_invalid(TxInput::from_raw("0xf9ffff01"), "--raw", "not a valid signed transaction");
    assert_invalid(TxInput::from_raw("0x02"), "--raw", "not a valid signed transaction");
    assert_invalid(TxInput::from_raw("0x7fc0"), "--raw", "not a valid signed transaction");
    // Truncated, and with trailing bytes.
    assert_invalid(TxInput::from_raw(&hex(&valid[..valid.len() - 5])), "--raw", "not a valid signed transaction");
    assert_invalid(TxInput::from_raw(&hex(&valid[..1])), "--raw", "not a valid signed transaction");
    let mut long = valid.clone();
    long.push(0);
    assert_invalid(TxInput::from_raw(&hex(&long)), "--raw", "not a valid signed transaction");
    assert!(TxInput::from_raw(&hex(&valid)).is_ok());
}

#[test]
fn raw_transaction_whose_signature_does_not_recover() {
    use alloy_consensus::{SignableTransaction, Signed, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::Signature;
    let tx = eip1559(1);
    let hash = tx.signature_hash();
    // r = 0 is not a point on the curve.
    let signed = Signed::new_unchecked(tx, Signature::new(U256::ZERO, U256::from(1), false), hash);
    let encoded = TxEnvelope::from(signed).encoded_2718();
    assert_invalid(
        TxInput::from_raw(&format!("0x{}", hex::encode(encoded))),
        "--raw",
        "signature does not recover a signer",
    );
}

#[test]
fn transaction_json() {
    assert_invalid(TxInput::from_json("{\"to\": "), "transaction JSON", "malformed JSON");
    assert_invalid(TxInput::from_json(""), "transaction JSON", "malformed JSON");
    assert_invalid(TxInput::from_json("[]"), "transaction JSON", "first element is the transaction object");
    assert_invalid(TxInput::from_json("42"), "transaction JSON", "expected an object, got a number");
    let bad_to = json!({"to": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}).to_string();
    assert_invalid(TxInput::from_json(&bad_to), "to", "EIP-55 checksum");
    let short = json!({"jsonrpc": "2.0", "method": "eth_sendTransaction", "params": [{"to": "0xabcd"}]}).to_string();
    assert_invalid(TxInput::from_json(&short), "params[0].to", "got 2 bytes");
    assert_invalid(TxInput::from_json(&json!({"to": GOOD, "value": -1}).to_string()), "value", "non-negative integer");
    assert_invalid(TxInput::from_json(&json!({"to": GOOD, "value": true}).to_string()), "value", "got a boolean");
    assert_invalid(TxInput::from_json(&json!({"to": GOOD, "input": "0x1"}).to_string()), "input", "odd number");
    assert_invalid(
        TxInput::from_json(&json!({"to": GOOD, "type": "0x100"}).to_string()),
        "type",
        "not a transaction type",
    );
}

#[test]
fn chain_names() {
    for bad in ["etherum", "mainet", "", "0", "-1", "0xzz"] {
        let err = bad.parse::<Chain>().unwrap_err();
        assert!(matches!(&err, Error::UnknownChain(s) if s == bad), "{bad}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{bad}`")) && msg.contains("ethereum") && msg.contains("chain id"), "{msg}");
    }
}

#[test]
fn eth_sign_and_personal_sign() {
    assert_invalid(
        SignatureRequest::eth_sign("0x1234"),
        "eth_sign hash",
        "must be 32 bytes (64 hex digits), got 2 bytes",
    );
    assert_invalid(SignatureRequest::eth_sign(&format!("0x{}", "ab".repeat(33))), "eth_sign hash", "got 33 bytes");
    assert_invalid(SignatureRequest::eth_sign("hello"), "eth_sign hash", "not hex");
    assert_invalid(SignatureRequest::eth_sign(&format!("0x{}", "a".repeat(63))), "eth_sign hash", "odd number");
    assert_invalid(SignatureRequest::personal("0xabc"), "personal_sign message", "odd number of hex digits (3)");
    // Text that merely starts with 0x is text.
    assert!(
        matches!(SignatureRequest::personal("0x is how hex starts"), Ok(SignatureRequest::Personal(b)) if b.starts_with(b"0x is"))
    );
}

fn permit() -> Value {
    permit_usdc(UNIVERSAL_ROUTER, json!("1000000"), json!(NOW_TS + 1800))
}

fn typed(v: &Value) -> Result<SignatureRequest, Error> {
    SignatureRequest::typed_data(&v.to_string())
}

#[test]
fn typed_data_structure() {
    assert_invalid(SignatureRequest::typed_data("{\"types\": {"), "typed data", "malformed JSON");
    assert_invalid(
        SignatureRequest::typed_data("[1, 2, 3]"),
        "params",
        "expected [address, typedData], got 3 elements",
    );
    assert_invalid(SignatureRequest::typed_data("\"{not json\""), "typed data", "string payload is not JSON");
    assert_invalid(SignatureRequest::typed_data("true"), "typed data", "expected an object, got a boolean");
    for key in ["types", "primaryType", "domain", "message"] {
        let mut v = permit();
        v.as_object_mut().unwrap().remove(key);
        assert_invalid(typed(&v), key, "missing");
    }
    let mut v = permit();
    v["types"] = json!([]);
    assert_invalid(typed(&v), "types", "expected an object, got an array");
    let mut v = permit();
    v["primaryType"] = json!(7);
    assert_invalid(typed(&v), "primaryType", "expected a string, got a number");
    let mut v = permit();
    v["types"]["Permit"] = json!({"owner": "address"});
    assert_invalid(typed(&v), "types.Permit", "expected an array of {name, type}");
    let mut v = permit();
    v["types"]["Permit"][2] = json!({"name": "value", "type": 256});
    assert_invalid(typed(&v), "types.Permit[2].type", "missing or not a string");
    let mut v = permit();
    v["types"]["Permit"][1].as_object_mut().unwrap().remove("name");
    assert_invalid(typed(&v), "types.Permit[1].name", "missing or not a string");
}

#[test]
fn typed_data_types() {
    // Primary type not defined.
    let mut v = permit();
    v["primaryType"] = json!("Permit2612");
    assert_invalid(typed(&v), "primaryType", "`Permit2612` is not defined in `types`");
    // A field type that is neither atomic nor defined: a typo, an impossible width, a missing struct.
    for (ty, shown) in
        [("uint257", "`uint257`"), ("adress", "`adress`"), ("bytes33", "`bytes33`"), ("uint256[x]", "`uint256[x]`")]
    {
        let mut v = permit();
        v["types"]["Permit"][4]["type"] = json!(ty);
        assert_invalid(
            typed(&v),
            "types.Permit[4].type",
            &format!("{shown} is neither an EIP-712 atomic type nor a struct"),
        );
    }
    let mut v = permit2_single(USDC, "1", NOW_TS, UNIVERSAL_ROUTER, NOW_TS);
    v["types"].as_object_mut().unwrap().remove("PermitDetails");
    assert_invalid(typed(&v), "types.PermitSingle[0].type", "`PermitDetails` is neither");
}

#[test]
fn typed_data_message_does_not_match_types() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            {
                let mut v = permit();
                v["message"]["value"] = json!("a lot");
                v
            },
            "message.value",
            "expected uint256, got \"a lot\"",
        ),
        (
            {
                let mut v = permit();
                v["message"]["value"] = json!(-1);
                v
            },
            "message.value",
            "expected uint256, got -1",
        ),
        (
            {
                let mut v = permit();
                v["message"]["value"] = json!(1.5e30);
                v
            },
            "message.value",
            "expected uint256",
        ),
        (
            {
                let mut v = permit();
                v["message"]["spender"] = json!("0x1234");
                v
            },
            "message.spender",
            "expected address",
        ),
        (
            {
                let mut v = permit();
                v["message"]["owner"] = json!(null);
                v
            },
            "message.owner",
            "expected address, got null",
        ),
        (
            {
                let mut v = permit();
                v["message"].as_object_mut().unwrap().remove("deadline");
                v
            },
            "message.deadline",
            "missing (`Permit` declares it as uint256)",
        ),
        (
            {
                let mut v = permit();
                v["message"] = json!([]);
                v
            },
            "message",
            "expected an object, got an array",
        ),
        (
            {
                let mut v = permit();
                v["domain"]["chainId"] = json!("mainnet");
                v
            },
            "domain.chainId",
            "expected uint256",
        ),
        (
            {
                let mut v = permit();
                v["domain"]["verifyingContract"] = json!("0xA0b86991");
                v
            },
            "domain.verifyingContract",
            "expected address",
        ),
        (
            permit2_single(USDC, &(U256::from(1) << 160usize).to_string(), NOW_TS, UNIVERSAL_ROUTER, NOW_TS),
            "message.details.amount",
            "expected uint160",
        ),
        (
            {
                let mut v = permit2_single(USDC, "1", NOW_TS, UNIVERSAL_ROUTER, NOW_TS);
                v["message"]["details"] = json!("0x");
                v
            },
            "message.details",
            "expected a `PermitDetails` object, got a string",
        ),
        (
            {
                let mut v = permit2_batch(&[(USDC, "1", NOW_TS), (USDC, "1", NOW_TS)], UNIVERSAL_ROUTER, NOW_TS);
                v["message"]["details"][1]["token"] = json!(5);
                v
            },
            "message.details[1].token",
            "expected address, got 5",
        ),
        (
            {
                let mut v = permit2_batch(&[(USDC, "1", NOW_TS)], UNIVERSAL_ROUTER, NOW_TS);
                v["message"]["details"] = json!({});
                v
            },
            "message.details",
            "expected an array (PermitDetails[]), got an object",
        ),
    ];
    for (v, field, problem) in cases {
        assert_invalid(typed(&v), field, problem);
    }
}

#[test]
fn typed_data_params_forms() {
    let inner = permit();
    let owner = cs(crate::fixtures::OWNER);
    // [address, typedData] and [address, "typedData as a string"], bare or inside a request.
    for v in [
        json!([owner, inner]),
        json!([owner, inner.to_string()]),
        json!({"method": "eth_signTypedData_v4", "params": [owner, inner.to_string()]}),
    ] {
        match SignatureRequest::typed_data(&v.to_string()) {
            Ok(SignatureRequest::TypedData(t)) => assert_eq!(t.signer, Some(crate::fixtures::OWNER)),
            other => panic!("{other:?}"),
        }
    }
    assert_invalid(SignatureRequest::typed_data(&json!(["0x1234", inner]).to_string()), "params[0]", "20 bytes");
    assert_invalid(SignatureRequest::typed_data(&json!({"params": [owner]}).to_string()), "params", "got 1 elements");
}

#[test]
fn typed_data_cyclic_and_recursive_types() {
    let domain = json!({"name": "X", "chainId": 1});
    let domain_type = json!([{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}]);
    // A -> B -> A: no finite message has this shape; the field that runs out is named.
    let cyclic = json!({
        "types": {"EIP712Domain": domain_type, "A": [{"name": "b", "type": "B"}], "B": [{"name": "a", "type": "A"}]},
        "primaryType": "A", "domain": domain, "message": {"b": {"a": {"b": {}}}}
    });
    let r = typed(&cyclic);
    assert_invalid(r, "message.b.a.b.a", "missing");
    // Recursion through an array (a tree) terminates too: alloy rejects recursive types with a
    // clear error rather than recursing forever.
    let tree = json!({
        "types": {"EIP712Domain": domain_type, "Node": [{"name": "label", "type": "string"}, {"name": "children", "type": "Node[]"}]},
        "primaryType": "Node", "domain": domain,
        "message": {"label": "root", "children": [{"label": "leaf", "children": []}]}
    });
    match typed(&tree) {
        Ok(_) => {}
        Err(e) => assert!(matches!(&e, Error::InvalidInput { .. }) && e.to_string().contains("Node"), "{e}"),
    }
}
