//! The decoded call tree: every nested call of every batch format appears in the report with
//! its path, function signature and named arguments, not only the findings.

use alloy_primitives::{
    Address, Bytes, U256,
    aliases::{U48, U160},
};
use alloy_sol_types::SolCall;
use scorpius_core::{
    evm::calldata::{self, DecodedCall, MAX_DEPTH, Operation},
    model::ScanStatus,
    tx::analyze,
};
use serde_json::{Value, json};

use crate::{
    abi::{dummy_signature, erc20, multicall_deadline, multicall_v3, multicall3, multisend_entry, permit2, safe},
    common::{
        ADDR_0, ATTACKER, MULTICALL3, NOW_TS, PERMIT2, RECIPIENT, SAFE, SAFE_MULTISEND, SAFE_MULTISEND_CALL_ONLY,
        SWAP_ROUTER_02, UNIVERSAL_ROUTER, USDC, V3_POSITION_MANAGER, WETH, call_tx, cs, ctx, findings, units,
    },
};

fn approve(spender: Address, amount: U256) -> Vec<u8> {
    erc20::approveCall { spender, amount }.abi_encode()
}

fn transfer(to: Address, amount: U256) -> Vec<u8> {
    erc20::transferCall { to, amount }.abi_encode()
}

fn decode(to: Address, data: &[u8]) -> DecodedCall {
    calldata::decode(Some(to), U256::ZERO, data)
}

/// `(path, function, to)` of every call, depth first.
fn shape(c: &DecodedCall) -> Vec<(String, Option<String>, Option<Address>)> {
    c.walk().into_iter().map(|c| (c.path.clone(), c.function.clone(), c.to)).collect()
}

fn args(c: &DecodedCall) -> Value {
    Value::Object(c.arguments().into_iter().map(|a| (a.name, a.value)).collect())
}

#[test]
fn aggregate_and_try_aggregate() {
    let calls = vec![
        multicall3::Call { target: USDC, callData: approve(PERMIT2, U256::MAX).into() },
        multicall3::Call { target: WETH, callData: transfer(RECIPIENT, units(1, 18)).into() },
    ];
    let c = decode(MULTICALL3, &multicall3::aggregateCall { calls: calls.clone() }.abi_encode());
    assert_eq!(c.function.as_deref(), Some("aggregate((address,bytes)[])"));
    assert_eq!(
        shape(&c)[1..],
        [
            ("call.calls[0]".to_owned(), Some("approve(address,uint256)".to_owned()), Some(USDC)),
            ("call.calls[1]".to_owned(), Some("transfer(address,uint256)".to_owned()), Some(WETH)),
        ]
    );
    assert_eq!(args(&c.calls[1]), json!({"to": cs(RECIPIENT), "amount": "1000000000000000000"}));
    // The batch's own arguments are rendered with component names.
    let arguments = c.arguments();
    assert_eq!(arguments[0].name, "calls");
    assert_eq!(arguments[0].value[0]["target"], cs(USDC));

    let t = decode(MULTICALL3, &multicall3::tryAggregateCall { requireSuccess: false, calls }.abi_encode());
    assert_eq!(t.calls.len(), 2);
    assert_eq!(t.calls[0].function.as_deref(), Some("approve(address,uint256)"));
}

#[test]
fn aggregate3_value_carries_value_per_call() {
    let data = multicall3::aggregate3ValueCall {
        calls: vec![
            multicall3::Call3Value {
                target: WETH,
                allowFailure: false,
                value: units(1, 18),
                callData: erc20::depositCall {}.abi_encode().into(),
            },
            multicall3::Call3Value {
                target: RECIPIENT,
                allowFailure: true,
                value: U256::from(5),
                callData: Bytes::new(),
            },
        ],
    }
    .abi_encode();
    let c = calldata::decode(Some(MULTICALL3), units(1, 18) + U256::from(5), &data);
    assert_eq!(c.calls[0].value, units(1, 18));
    assert_eq!(c.calls[0].function.as_deref(), Some("deposit()"));
    assert_eq!(c.calls[1].value, U256::from(5));
    assert_eq!(c.calls[1].data_len, 0);
    assert_eq!(c.calls[1].selector, None);
}

#[test]
fn router_multicalls_call_the_router_itself() {
    let inner =
        vec![Bytes::from(approve(UNIVERSAL_ROUTER, U256::from(1))), Bytes::from(transfer(RECIPIENT, U256::from(2)))];
    let plain = decode(V3_POSITION_MANAGER, &multicall_v3::multicallCall { data: inner.clone() }.abi_encode());
    assert_eq!(plain.function.as_deref(), Some("multicall(bytes[])"));
    assert!(plain.calls.iter().all(|c| c.to == Some(V3_POSITION_MANAGER)));
    assert_eq!(plain.calls.len(), 2);

    let deadline = decode(
        SWAP_ROUTER_02,
        &multicall_deadline::multicallCall { deadline: U256::from(NOW_TS + 600), data: inner }.abi_encode(),
    );
    assert_eq!(deadline.function.as_deref(), Some("multicall(uint256,bytes[])"));
    assert_eq!(args(&deadline)["deadline"], (NOW_TS + 600).to_string());
    assert_eq!(deadline.calls[1].function.as_deref(), Some("transfer(address,uint256)"));
    assert_eq!(deadline.calls[1].path, "call.calls[1]");
}

#[test]
fn safe_exec_transaction_into_multisend_with_delegatecall() {
    let packed = [
        multisend_entry(0, USDC, U256::ZERO, &transfer(RECIPIENT, units(10, 6))),
        multisend_entry(1, ATTACKER, U256::ZERO, &[0xde, 0xad, 0xbe, 0xef]),
        multisend_entry(0, RECIPIENT, units(1, 17), &[]),
    ]
    .concat();
    // Packed layout: 1 + 20 + 32 + 32 bytes of header per entry.
    assert_eq!(packed.len(), 3 * 85 + 68 + 4);
    let multisend = safe::multiSendCall { transactions: packed.into() }.abi_encode();
    let exec = safe::execTransactionCall {
        to: SAFE_MULTISEND,
        value: U256::ZERO,
        data: multisend.into(),
        operation: 1,
        safeTxGas: U256::ZERO,
        baseGas: U256::ZERO,
        gasPrice: U256::ZERO,
        gasToken: Address::ZERO,
        refundReceiver: Address::ZERO,
        signatures: dummy_signature(),
    }
    .abi_encode();
    let c = decode(SAFE, &exec);
    let ops: Vec<(String, Operation)> = c.walk().iter().map(|c| (c.path.clone(), c.operation)).collect();
    assert_eq!(
        ops,
        [
            ("call".to_owned(), Operation::Call),
            ("call.calls[0]".to_owned(), Operation::Delegatecall),
            ("call.calls[0].calls[0]".to_owned(), Operation::Call),
            ("call.calls[0].calls[1]".to_owned(), Operation::Delegatecall),
            ("call.calls[0].calls[2]".to_owned(), Operation::Call),
        ]
    );
    let ms = &c.calls[0];
    assert_eq!(ms.function.as_deref(), Some("multiSend(bytes)"));
    assert_eq!(ms.calls[0].function.as_deref(), Some("transfer(address,uint256)"));
    assert_eq!(ms.calls[1].to, Some(ATTACKER));
    assert_eq!(ms.calls[2].value, units(1, 17));
    assert_eq!(args(&c)["operation"], "1");

    let report = analyze(&call_tx(SAFE, &exec, U256::ZERO), &ctx());
    let delegatecalls: Vec<_> =
        findings(&report, "batch-delegatecall").iter().map(|f| crate::common::path_of(f)).collect();
    assert_eq!(delegatecalls, [Some("call.calls[0]"), Some("call.calls[0].calls[1]")]);
    assert_eq!(report.status, ScanStatus::Complete);
    // The subject carries the whole tree, serialised.
    let subject = report.subject.to_value();
    let sub = &subject["call"]["calls"][0]["calls"][1];
    assert_eq!(sub["operation"], "delegatecall");
    assert_eq!(sub["selector"], "0xdeadbeef");
    assert_eq!(sub["function"], Value::Null);
}

fn permit_details(token: Address, amount: u64) -> permit2::PermitDetails {
    permit2::PermitDetails {
        token,
        amount: U160::from(amount),
        expiration: U48::from(NOW_TS + 86_400),
        nonce: U48::from(3),
    }
}

#[test]
fn permit2_lockdown_and_approve_decode_with_names() {
    let lockdown =
        permit2::lockdownCall { approvals: vec![permit2::TokenSpenderPair { token: USDC, spender: UNIVERSAL_ROUTER }] }
            .abi_encode();
    let c = decode(PERMIT2, &lockdown);
    assert_eq!(c.function.as_deref(), Some("lockdown((address,address)[])"));
    assert_eq!(args(&c)["approvals"], json!([{"token": cs(USDC), "spender": cs(UNIVERSAL_ROUTER)}]));

    let approve =
        permit2::approveCall { token: USDC, spender: UNIVERSAL_ROUTER, amount: U160::MAX, expiration: U48::ZERO }
            .abi_encode();
    let c = decode(PERMIT2, &approve);
    assert_eq!(c.function.as_deref(), Some("approve(address,address,uint160,uint48)"));
    let a = args(&c);
    assert_eq!(a["token"], cs(USDC));
    assert_eq!(a["amount"], U160::MAX.to_string());
    assert_eq!(a["expiration"], "0");
}

/// See `tx_rules::permit2_permit_calls`: the table has the wrong selectors for these.
#[test]
fn permit2_permit_single_and_batch_decode_with_names() {
    let single = permit2::permit_0Call {
        owner: ADDR_0,
        permitSingle: permit2::PermitSingle {
            details: permit_details(USDC, 5),
            spender: UNIVERSAL_ROUTER,
            sigDeadline: U256::from(NOW_TS),
        },
        signature: dummy_signature(),
    }
    .abi_encode();
    assert_eq!(single[..4], [0x2b, 0x67, 0xb5, 0x70]);
    let c = decode(PERMIT2, &single);
    assert_eq!(c.function.as_deref(), Some("permit(address,((address,uint160,uint48,uint48),address,uint256),bytes)"));
    let a = args(&c);
    assert_eq!(a["permitSingle"]["details"]["token"], cs(USDC));
    assert_eq!(a["permitSingle"]["details"]["nonce"], "3");
    assert_eq!(a["permitSingle"]["spender"], cs(UNIVERSAL_ROUTER));

    let batch = permit2::permit_1Call {
        owner: ADDR_0,
        permitBatch: permit2::PermitBatch {
            details: vec![permit_details(USDC, 5), permit_details(WETH, 6)],
            spender: UNIVERSAL_ROUTER,
            sigDeadline: U256::from(NOW_TS),
        },
        signature: dummy_signature(),
    }
    .abi_encode();
    assert_eq!(batch[..4], [0x2a, 0x2d, 0x80, 0xd1]);
    let c = decode(PERMIT2, &batch);
    assert_eq!(args(&c)["permitBatch"]["details"][1]["amount"], "6");
}

/// Wraps `inner` (a call to USDC) in `levels` Multicall3 aggregate3 layers.
fn nest(levels: usize, inner: Vec<u8>) -> Vec<u8> {
    let mut data = inner;
    let mut target = USDC;
    for _ in 0..levels {
        data = multicall3::aggregate3Call {
            calls: vec![multicall3::Call3 { target, allowFailure: false, callData: data.into() }],
        }
        .abi_encode();
        target = MULTICALL3;
    }
    data
}

#[test]
fn nesting_up_to_max_depth_is_decoded() {
    let data = nest(MAX_DEPTH, approve(ATTACKER, U256::MAX));
    let report = analyze(&call_tx(MULTICALL3, &data, U256::ZERO), &ctx());
    let f = findings(&report, "approval-unlimited");
    assert_eq!(f.len(), 1);
    assert_eq!(crate::common::path_of(f[0]), Some(format!("call{}", ".calls[0]".repeat(MAX_DEPTH)).as_str()));
    assert_eq!(report.status, ScanStatus::Complete);
}

#[test]
fn nesting_beyond_max_depth_is_reported_and_marks_the_scan_incomplete() {
    let data = nest(MAX_DEPTH + 2, approve(ATTACKER, U256::MAX));
    let c = decode(MULTICALL3, &data);
    let deepest = c.walk().into_iter().last().unwrap();
    assert_eq!(deepest.path.matches(".calls[").count(), MAX_DEPTH);
    assert!(deepest.decode_error.as_deref().unwrap().contains("nested deeper than"), "{:?}", deepest.decode_error);

    let report = analyze(&call_tx(MULTICALL3, &data, U256::ZERO), &ctx());
    // The approval was never seen: the report must not look clean.
    assert!(findings(&report, "approval-unlimited").is_empty());
    match &report.status {
        ScanStatus::Incomplete { reason } => assert!(reason.contains("nested deeper than"), "{reason}"),
        other => panic!("expected an incomplete scan, got {other:?}"),
    }
}

#[test]
fn malformed_multisend_is_reported_and_marks_the_scan_incomplete() {
    let mut packed = multisend_entry(0, USDC, U256::ZERO, &approve(ATTACKER, U256::MAX));
    packed.truncate(packed.len() - 10);
    let data = safe::multiSendCall { transactions: packed.into() }.abi_encode();
    let report = analyze(&call_tx(SAFE_MULTISEND_CALL_ONLY, &data, U256::ZERO), &ctx());
    let subject = report.subject.to_value();
    let err = subject["call"]["decode_error"].as_str().unwrap();
    assert!(err.contains("declares 68 data bytes"), "{err}");
    assert!(matches!(report.status, ScanStatus::Incomplete { .. }));
}

/// Regression: ABI offsets can point every element of a `bytes[]` at the same bytes. Nested
/// eight deep, 7 KB of calldata described 50^4 = 6.25 million calls (and 50^8 at full depth)
/// and the decoder ran for minutes. Decoding now stops at a byte budget and says so.
#[test]
fn regression_aliased_multicall_offsets_do_not_explode() {
    let n = 50usize;
    let mut data = approve(ATTACKER, U256::MAX);
    for _ in 0..MAX_DEPTH {
        // multicall(bytes[]) with `n` offsets that all point at one element.
        let mut out = multicall_v3::multicallCall::SELECTOR.to_vec();
        out.extend(U256::from(0x20).to_be_bytes::<32>());
        out.extend(U256::from(n).to_be_bytes::<32>());
        for _ in 0..n {
            out.extend(U256::from(32 * n).to_be_bytes::<32>());
        }
        out.extend(U256::from(data.len()).to_be_bytes::<32>());
        let padded = data.len().div_ceil(32) * 32;
        data.resize(padded, 0);
        out.extend(&data);
        data = out;
    }
    assert!(data.len() < 20_000);
    let started = std::time::Instant::now();
    let c = decode(V3_POSITION_MANAGER, &data);
    let total = c.walk().len();
    assert!(total < 10_000, "{total} calls decoded");
    assert!(
        c.walk().iter().any(|c| c.decode_error.as_deref().is_some_and(|e| e.contains("reuse the same bytes"))),
        "the cut must be reported"
    );
    let report = analyze(&call_tx(V3_POSITION_MANAGER, &data, U256::ZERO), &ctx());
    assert!(matches!(report.status, ScanStatus::Incomplete { .. }));
    assert!(started.elapsed().as_secs() < 10, "took {:?}", started.elapsed());
}

#[test]
fn honest_batches_fit_the_budget() {
    // 300 distinct approvals in one aggregate3, each nested in a router multicall.
    let calls = (0..300u64)
        .map(|i| multicall3::Call3 {
            target: SWAP_ROUTER_02,
            allowFailure: true,
            callData: multicall_v3::multicallCall { data: vec![approve(RECIPIENT, U256::from(i)).into()] }
                .abi_encode()
                .into(),
        })
        .collect();
    let data = multicall3::aggregate3Call { calls }.abi_encode();
    let c = decode(MULTICALL3, &data);
    assert_eq!(c.walk().len(), 1 + 300 + 300);
    assert!(c.walk().iter().all(|c| c.decode_error.is_none()));
}
