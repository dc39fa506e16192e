//! The pre-flight benchmark cases, shared by `analyze` (system allocator) and
//! `analyze_mimalloc` (the allocator the `scorpius` binary uses).

use std::hint::black_box;

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::{SolCall, sol};
use criterion::Criterion;
use scorpius_core::{
    chain::Chain,
    context::Context,
    evm::calldata,
    signature::{self, SignatureRequest},
    tx::{self, TxInput},
};

sol! {
    function approve(address spender, uint256 amount);
    struct Call3 { address target; bool allowFailure; bytes callData; }
    function aggregate3(Call3[] calls);
}

const USDC: Address = address!("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
const MULTICALL3: Address = address!("ca11bde05977b3631167028862be2a173976ca11");
const SPENDER: Address = address!("3fc91a3afd70395cd496c647d5a6cc9d4b2b7fad");

fn approve_data() -> Vec<u8> {
    approveCall { spender: SPENDER, amount: U256::MAX }.abi_encode()
}

fn aggregate3_data(n: usize) -> Vec<u8> {
    let calls = (0..n).map(|_| Call3 { target: USDC, allowFailure: false, callData: approve_data().into() }).collect();
    aggregate3Call { calls }.abi_encode()
}

fn tx_input(to: Address, data: Vec<u8>) -> TxInput {
    TxInput::from_fields(None, Some(&to.to_string()), Some(&format!("0x{}", hex::encode(data))), None).unwrap()
}

/// Registers the transaction and signature benchmarks.
pub fn benches(c: &mut Criterion) {
    let ctx = Context::new(Chain::ethereum());
    let approve = tx_input(USDC, approve_data());
    let batch = tx_input(MULTICALL3, aggregate3_data(20));

    c.bench_function("tx/approve/decode", |b| {
        b.iter(|| calldata::decode(approve.to, approve.value, black_box(&approve.data)))
    });
    c.bench_function("tx/approve/analyze", |b| b.iter(|| tx::analyze(black_box(&approve), &ctx)));
    c.bench_function("tx/aggregate3x20/decode", |b| {
        b.iter(|| calldata::decode(batch.to, batch.value, black_box(&batch.data)))
    });
    c.bench_function("tx/aggregate3x20/analyze", |b| b.iter(|| tx::analyze(black_box(&batch), &ctx)));
    c.bench_function("tx/aggregate3x20/analyze+json", |b| {
        b.iter(|| serde_json::to_string(&tx::analyze(black_box(&batch), &ctx)).unwrap())
    });

    let permit2 = r#"{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
      "PermitSingle":[{"name":"details","type":"PermitDetails"},{"name":"spender","type":"address"},{"name":"sigDeadline","type":"uint256"}],
      "PermitDetails":[{"name":"token","type":"address"},{"name":"amount","type":"uint160"},{"name":"expiration","type":"uint48"},{"name":"nonce","type":"uint48"}]},
      "primaryType":"PermitSingle","domain":{"name":"Permit2","chainId":"1","verifyingContract":"0x000000000022D473030F116dDEE9F6B43aC78BA3"},
      "message":{"details":{"token":"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48","amount":"1461501637330902918203684832716283019655932542975","expiration":"281474976710655","nonce":"0"},
      "spender":"0x3fC91A3afd70395Cd496C647d5a6CC9D4B2b7FAD","sigDeadline":"1900000000"}}"#;
    c.bench_function("signature/permit2-single/parse+analyze", |b| {
        b.iter(|| {
            let req = SignatureRequest::typed_data(black_box(permit2)).unwrap();
            signature::analyze(&req, &ctx)
        })
    });
}
