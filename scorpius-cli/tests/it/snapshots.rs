//! JSON snapshots of whole reports (insta). Fields that change on every run are redacted.
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always` and `git diff`).

use crate::common::*;

fn assert_report_snapshot(name: &str, report: &serde_json::Value) {
    // Key order of JSON objects is not part of the format (serde_json keeps insertion order
    // in workspace builds, where a dependency turns on `preserve_order`): compare sorted.
    insta::with_settings!({ sort_maps => true }, {
        insta::assert_json_snapshot!(name, report, {
            ".scan_id" => "[scan_id]",
            ".started_at" => "[started_at]",
            ".duration_us" => "[duration_us]",
        });
    });
}

#[test]
fn scan_tx_approve_report() {
    let env = Env::new();
    let r =
        stdout_json(&env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--from", ANVIL_0]).success());
    assert_report_snapshot("scan_tx_approve", &r);
}

#[test]
fn scan_signature_eth_sign_report() {
    let env = Env::new();
    let r = stdout_json(&env.run_stdin(["scan", "signature", "--eth-sign", "-"], RAW_HASH).success());
    assert_report_snapshot("scan_signature_eth_sign", &r);
}
