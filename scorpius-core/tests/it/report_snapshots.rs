//! JSON snapshots of whole reports: the wire format a change to the analyzers or the model
//! would alter. Volatile fields are redacted.

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use scorpius_core::{model::ScanReport, signature, tx};

use crate::{
    abi::{erc20, multicall3, nft},
    common::{
        BAYC, DAY, MULTICALL3, NOW_TS, OPENSEA_CONDUIT, PERMIT2, SEAPORT_16, UNIVERSAL_ROUTER, USDC, WETH, call_tx,
        ctx, typed,
    },
    fixtures::{eth_to, nft as nft_item, permit2_single, seaport, u160_max},
};

macro_rules! assert_report_snapshot {
    ($name:literal, $report:expr) => {{
        let report: ScanReport = $report;
        // Key order of JSON objects is not part of the format (see the CLI's snapshots).
        insta::with_settings!({ sort_maps => true }, {
            insta::assert_json_snapshot!($name, report, {
                ".scan_id" => "[scan_id]",
                ".started_at" => "[started_at]",
                ".duration_us" => "[duration_us]",
                ".engine_version" => "[engine_version]",
            });
        });
    }};
}

#[test]
fn approve_unlimited() {
    let data = erc20::approveCall { spender: PERMIT2, amount: U256::MAX }.abi_encode();
    assert_report_snapshot!("approve_unlimited", tx::analyze(&call_tx(USDC, &data, U256::ZERO), &ctx()));
}

#[test]
fn aggregate3_batch() {
    let call = |target, data: Vec<u8>| multicall3::Call3 { target, allowFailure: false, callData: data.into() };
    let data = multicall3::aggregate3Call {
        calls: vec![
            call(
                USDC,
                erc20::approveCall { spender: UNIVERSAL_ROUTER, amount: U256::from(250_000_000u64) }.abi_encode(),
            ),
            call(WETH, erc20::approveCall { spender: SEAPORT_16, amount: U256::MAX }.abi_encode()),
            call(BAYC, nft::setApprovalForAllCall { operator: OPENSEA_CONDUIT, approved: true }.abi_encode()),
        ],
    }
    .abi_encode();
    assert_report_snapshot!("aggregate3_batch", tx::analyze(&call_tx(MULTICALL3, &data, U256::ZERO), &ctx()));
}

#[test]
fn permit2_permit_single() {
    let req = typed(&permit2_single(USDC, &u160_max(), NOW_TS + 2 * 365 * DAY, UNIVERSAL_ROUTER, NOW_TS + 1800));
    assert_report_snapshot!("permit2_permit_single", signature::analyze(&req, &ctx()));
}

#[test]
fn seaport_free_listing() {
    let attacker = crate::common::ATTACKER;
    let req = typed(&seaport(vec![nft_item(BAYC, 8817)], vec![eth_to(attacker, "1")]));
    assert_report_snapshot!("seaport_free_listing", signature::analyze(&req, &ctx()));
}
