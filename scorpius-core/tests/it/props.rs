//! Property tests: the decoders never panic on any input, and decoding is deterministic.

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::SolCall;
use proptest::{collection::vec, prelude::*};
use scorpius_core::{
    evm::{calldata, parse},
    signature::{self, SignatureRequest},
    tx::{self, TxInput},
};
use serde_json::{Value, json};

use crate::{
    abi::{erc20, multicall_deadline, multicall_v3, multicall3, permit2, safe},
    common::{NOW_TS, UNIVERSAL_ROUTER, USDC, ctx, sign_tx},
    fixtures, raw_tx,
};

/// 256 cases per property by default (the binary runs in seconds in debug); set
/// `PROPTEST_CASES` for a longer run.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Selectors of every batching wrapper and approval-like call the decoder follows.
fn known_selectors() -> Vec<[u8; 4]> {
    vec![
        multicall3::aggregateCall::SELECTOR,
        multicall3::tryAggregateCall::SELECTOR,
        multicall3::aggregate3Call::SELECTOR,
        multicall3::aggregate3ValueCall::SELECTOR,
        multicall_v3::multicallCall::SELECTOR,
        multicall_deadline::multicallCall::SELECTOR,
        safe::multiSendCall::SELECTOR,
        safe::execTransactionCall::SELECTOR,
        permit2::permit_0Call::SELECTOR,
        permit2::permit_1Call::SELECTOR,
        permit2::lockdownCall::SELECTOR,
        permit2::approveCall::SELECTOR,
        erc20::approveCall::SELECTOR,
        [0x4f, 0x1e, 0xf2, 0x86], // upgradeToAndCall(address,bytes)
        [0x96, 0x23, 0x60, 0x9d], // upgradeAndCall(address,address,bytes)
    ]
}

/// ABI words that are likely to be interpreted as offsets and lengths.
fn word() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u64..512).prop_map(|n| U256::from(n).to_be_bytes::<32>().to_vec()),
        Just(U256::MAX.to_be_bytes::<32>().to_vec()),
        vec(any::<u8>(), 32),
    ]
}

/// Calldata that starts with a known selector followed by offset-like words and noise.
fn selector_prefixed() -> impl Strategy<Value = Vec<u8>> {
    (prop::sample::select(known_selectors()), vec(word(), 0..12), vec(any::<u8>(), 0..64)).prop_map(
        |(sel, words, tail)| {
            let mut out = sel.to_vec();
            out.extend(words.concat());
            out.extend(tail);
            out
        },
    )
}

/// A valid nested batch (aggregate3 → multicall → approve), for mutation.
fn nested_batch(spender: Address, amount: U256) -> Vec<u8> {
    let approve = erc20::approveCall { spender, amount }.abi_encode();
    let inner =
        multicall_deadline::multicallCall { deadline: U256::from(NOW_TS), data: vec![approve.into()] }.abi_encode();
    multicall3::aggregate3Call {
        calls: vec![multicall3::Call3 { target: UNIVERSAL_ROUTER, allowFailure: false, callData: inner.into() }],
    }
    .abi_encode()
}

/// Overwrites bytes of `data` at (index, value) pairs, indices taken modulo the length.
fn mutate(mut data: Vec<u8>, edits: &[(usize, u8)]) -> Vec<u8> {
    if !data.is_empty() {
        for &(i, b) in edits {
            let n = data.len();
            data[i % n] = b;
        }
    }
    data
}

fn decode_json(to: Option<Address>, data: &[u8]) -> String {
    serde_json::to_string(&calldata::decode(to, U256::ZERO, data)).expect("decoded calls serialise")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn calldata_decode_arbitrary_bytes(data in vec(any::<u8>(), 0..600)) {
        let to = Some(USDC);
        let a = decode_json(to, &data);
        prop_assert_eq!(a, decode_json(to, &data));
        // Analysis of the same bytes never panics either.
        let tx = TxInput::from_fields(None, Some(&crate::common::cs(USDC)), Some(&hex::encode(&data)), None).unwrap();
        let _ = tx::analyze(&tx, &ctx());
    }

    #[test]
    fn calldata_decode_known_selectors(data in selector_prefixed()) {
        let a = decode_json(Some(USDC), &data);
        prop_assert_eq!(&a, &decode_json(Some(USDC), &data));
        let _ = decode_json(None, &data);
        let tx = TxInput::from_fields(None, Some(&crate::common::cs(crate::common::MULTICALL3)), Some(&hex::encode(&data)), Some("1")).unwrap();
        let _ = tx::analyze(&tx, &ctx());
    }

    #[test]
    fn calldata_decode_mutated_nested_batches(
        amount in any::<[u8; 32]>(),
        edits in vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let valid = nested_batch(address!("0000db5c8b030ae20308ac975898e09741e70000"), U256::from_be_bytes(amount));
        let mutated = mutate(valid.clone(), &edits);
        let a = decode_json(Some(UNIVERSAL_ROUTER), &mutated);
        prop_assert_eq!(a, decode_json(Some(UNIVERSAL_ROUTER), &mutated));
        let truncated = &valid[..cut % (valid.len() + 1)];
        let _ = decode_json(Some(UNIVERSAL_ROUTER), truncated);
        let tx = TxInput::from_fields(None, Some(&crate::common::cs(UNIVERSAL_ROUTER)), Some(&hex::encode(&mutated)), None).unwrap();
        let _ = tx::analyze(&tx, &ctx());
    }

    #[test]
    fn from_raw_arbitrary_hex(data in vec(any::<u8>(), 0..300)) {
        let hex = format!("0x{}", hex::encode(&data));
        let a = TxInput::from_raw(&hex);
        prop_assert_eq!(&a, &TxInput::from_raw(&hex));
        if let Ok(tx) = a {
            let _ = tx::analyze(&tx, &ctx());
        }
    }

    #[test]
    fn from_raw_arbitrary_text(s in ".{0,80}") {
        let _ = TxInput::from_raw(&s);
    }

    #[test]
    fn from_raw_mutated_signed_transactions(
        kind in 0usize..4,
        edits in vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let valid = valid_raw(kind);
        for bytes in [mutate(valid.clone(), &edits), valid[..cut % (valid.len() + 1)].to_vec()] {
            let hex = format!("0x{}", hex::encode(&bytes));
            let a = TxInput::from_raw(&hex);
            prop_assert_eq!(&a, &TxInput::from_raw(&hex));
            if let Ok(tx) = a {
                let _ = tx::analyze(&tx, &ctx());
            }
        }
    }

    #[test]
    fn from_json_arbitrary_text(s in "\\PC{0,120}") {
        let _ = TxInput::from_json(&s);
    }

    #[test]
    fn from_json_mutated(path_pick in any::<usize>(), replacement in json_value()) {
        let mutated = replace_at(send_transaction_json(), path_pick, replacement);
        if let Ok(tx) = TxInput::from_json(&mutated.to_string()) {
            let _ = tx::analyze(&tx, &ctx());
        }
    }

    #[test]
    fn typed_data_arbitrary_text(s in "\\PC{0,200}") {
        if let Ok(req) = SignatureRequest::typed_data(&s) {
            let _ = signature::analyze(&req, &ctx());
        }
    }

    #[test]
    fn typed_data_mutated(fixture in 0usize..8, path_pick in any::<usize>(), replacement in json_value()) {
        let valid = typed_fixtures().swap_remove(fixture);
        let mutated = replace_at(valid, path_pick, replacement).to_string();
        let a = SignatureRequest::typed_data(&mutated);
        if let Ok(req) = &a {
            let r1 = signature::analyze(req, &ctx());
            let r2 = signature::analyze(req, &ctx());
            prop_assert_eq!(&r1.findings, &r2.findings);
            prop_assert_eq!(&r1.subject, &r2.subject);
        }
        // Byte-level damage to the text as well.
        let mut bytes = mutated.into_bytes();
        let n = bytes.len();
        bytes[path_pick % n] = b'"';
        let _ = SignatureRequest::typed_data(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn personal_and_eth_sign(s in "\\PC{0,100}", bytes in vec(any::<u8>(), 0..64)) {
        let requests = [
            SignatureRequest::personal(&s),
            SignatureRequest::personal(&format!("0x{}", hex::encode(&bytes))),
            SignatureRequest::eth_sign(&s),
        ];
        for req in requests.into_iter().flatten() {
            let _ = signature::analyze(&req, &ctx());
        }
    }

    #[test]
    fn parse_functions_never_panic(s in "\\PC{0,90}", hexish in "(0[xX])?[0-9a-fA-F]{0,70}") {
        for input in [&s, &hexish] {
            let _ = parse::hex_bytes("f", input);
            let _ = parse::address("f", input);
            let _ = parse::quantity("f", input);
            let _ = parse::quantity_u64("f", input);
            let _ = parse::json_quantity("f", &Value::String(input.clone()));
            let _ = parse::json_address("f", &Value::String(input.clone()));
        }
        if let Ok(v) = serde_json::from_str::<Value>(&s) {
            let _ = parse::json_quantity("f", &v);
            let _ = parse::json_address("f", &v);
        }
    }

    #[test]
    fn parse_round_trips(addr in any::<[u8; 20]>(), n in any::<[u8; 32]>(), bytes in vec(any::<u8>(), 0..64)) {
        let a = Address::from(addr);
        prop_assert_eq!(parse::address("f", &a.to_checksum(None)), Ok(a));
        prop_assert_eq!(parse::address("f", &format!("{a:x}")), Ok(a));
        let n = U256::from_be_bytes(n);
        prop_assert_eq!(parse::quantity("f", &n.to_string()), Ok(n));
        prop_assert_eq!(parse::quantity("f", &format!("{n:#x}")), Ok(n));
        prop_assert_eq!(parse::json_quantity("f", &json!(n.to_string())), Ok(n));
        prop_assert_eq!(parse::hex_bytes("f", &format!("0x{}", hex::encode(&bytes))), Ok(bytes.clone()));
        prop_assert_eq!(parse::hex_bytes("f", &hex::encode_upper(&bytes)), Ok(bytes));
    }
}

fn send_transaction_json() -> Value {
    use crate::common::{ADDR_0, METAMASK_DELEGATOR, cs};
    json!({
        "from": cs(ADDR_0),
        "to": cs(USDC),
        "data": "0x095ea7b3",
        "value": "0x0",
        "chainId": 1,
        "authorizationList": [{"chainId": "0x1", "address": cs(METAMASK_DELEGATOR), "nonce": 0, "yParity": 1, "r": "0x1", "s": "0x2"}]
    })
}

/// The inputs the mutation properties start from are themselves valid.
#[test]
fn mutation_seeds_are_valid() {
    TxInput::from_json(&send_transaction_json().to_string()).unwrap();
    for v in typed_fixtures() {
        SignatureRequest::typed_data(&v.to_string()).unwrap();
    }
    for kind in 0..4 {
        TxInput::from_raw(&format!("0x{}", hex::encode(valid_raw(kind)))).unwrap();
    }
}

fn valid_raw(kind: usize) -> Vec<u8> {
    match kind {
        0 => sign_tx(raw_tx::legacy(Some(1))),
        1 => sign_tx(raw_tx::eip2930()),
        2 => sign_tx(raw_tx::eip1559(1)),
        _ => sign_tx(raw_tx::eip7702(vec![raw_tx::authorization(
            &crate::common::KEY_1,
            0,
            crate::common::METAMASK_DELEGATOR,
            1,
        )])),
    }
}

fn typed_fixtures() -> Vec<Value> {
    use fixtures::*;
    let r = UNIVERSAL_ROUTER;
    vec![
        permit_usdc(r, json!(max()), json!(NOW_TS)),
        permit_dai(r, json!(true), json!(0)),
        permit2_single(USDC, &u160_max(), u48_max(), r, NOW_TS),
        permit2_batch(&[(USDC, "1", NOW_TS), (USDC, "2", NOW_TS)], r, NOW_TS),
        permit2_witness(USDC, "5", r, NOW_TS),
        seaport(vec![nft(crate::common::BAYC, 1)], vec![eth_to(r, "1"), eth_to(OWNER, "2000000000000000")]),
        blur_order(1, "0", vec![(9000, r)]),
        looksrare_maker(1, "0"),
    ]
}

/// Small JSON values of every type, including numbers and strings that sit on parser edges.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,20}".prop_map(Value::String),
        prop::sample::select(vec![
            "0x",
            "0x0",
            "-1",
            "1e18",
            "0b101",
            "1_000",
            "0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "115792089237316195423570985008687907853269984665640564039457584007913129639936",
            "true",
            "",
            "0x0000000000000000000000000000000000000000",
            "0xA0b86991c6218b36c1D19D4a2e9Eb0cE3606eB48",
            "uint256",
            "Permit",
            "PermitDetails[]",
            "tuple",
            "address[2]",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-z]{1,8}", inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Replaces the `pick`-th node (pre-order) of `v` with `with`.
fn replace_at(mut v: Value, pick: usize, with: Value) -> Value {
    let mut pointers = Vec::new();
    collect_pointers(&v, "", &mut pointers);
    let ptr = &pointers[pick % pointers.len()];
    if ptr.is_empty() {
        return with;
    }
    if let Some(slot) = v.pointer_mut(ptr) {
        *slot = with;
    }
    v
}

fn collect_pointers(v: &Value, here: &str, out: &mut Vec<String>) {
    out.push(here.to_owned());
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                collect_pointers(child, &format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                collect_pointers(child, &format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
}
