//! `scorpius scan tx` with each input form: fields, contract creation, signed raw transactions
//! (EIP-1559 and EIP-7702) and eth_sendTransaction JSON from a file or stdin.

use std::path::Path;

use crate::common::*;

#[test]
fn fields_to_data_value_from() {
    let env = Env::new();
    // claim() with 1 ETH attached: the classic drainer pattern.
    let a = env
        .run(["scan", "tx", "--to", USDC, "--data", "0x4e71d92d", "--value", "1000000000000000000", "--from", ANVIL_0])
        .success();
    let r = stdout_json(&a);
    assert_eq!(r["kind"], "transaction");
    assert_eq!(r["target"], USDC);
    assert_eq!(severity_of(&r, "native-value-drainer-selector"), "critical");
    let tx = &r["subject"]["transaction"];
    assert_eq!(tx["source"], "fields");
    assert_eq!(tx["from"], ANVIL_0);
    assert_eq!(tx["to"], USDC);
    assert_eq!(tx["value"], "1000000000000000000");
    assert_eq!(r["subject"]["call"]["function"], "claim()");
}

#[test]
fn fields_approve_shows_the_decoded_call() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED]).success());
    assert_eq!(rule_ids(&r), ["approval-unlimited"]);
    let call = &r["subject"]["call"];
    assert_eq!(call["function"], "approve(address,uint256)");
    assert_eq!(call["selector"], "0x095ea7b3");
    assert_eq!(call["arguments"][0]["name"], "spender");
    assert_eq!(call["arguments"][0]["value"], SPENDER);
    assert_eq!(call["arguments"][1]["name"], "amount");
    assert!(r["subject"]["transaction"]["from"].is_null());
}

#[test]
fn data_only_is_a_contract_creation() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--data", "0x6080604052348015600f57600080fd5b50"]).success());
    assert_eq!(rule_ids(&r), ["contract-creation"]);
    assert_eq!(r["target"], "contract creation");
    assert!(r["subject"]["transaction"]["to"].is_null());
    assert_eq!(r["subject"]["call"]["data_len"], 17);
}

#[test]
fn raw_eip1559_recovers_the_signer() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--raw", RAW_1559_APPROVE]).success());
    assert_eq!(rule_ids(&r), ["approval-unlimited"]);
    let tx = &r["subject"]["transaction"];
    assert_eq!(tx["source"], "raw");
    assert_eq!(tx["type"], 2);
    assert_eq!(tx["from"], ANVIL_0, "signer recovered from the signature");
    assert_eq!(tx["to"], USDC);
    assert_eq!(tx["chain_id"], 1);
    assert_eq!(tx["nonce"], 0);
    assert_eq!(tx["gas_limit"], 100_000);
    assert_eq!(tx["hash"], "0xedc40b01555c5f4a5c25cc484fa99d20ba4f633e5f61b9ee58b362c5692040c0");
}

#[test]
fn raw_eip7702_lists_authorizations_and_flags_them() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--raw", RAW_7702]).success());
    let tx = &r["subject"]["transaction"];
    assert_eq!(tx["type"], 4);
    assert_eq!(tx["from"], ANVIL_0);
    let auths = tx["authorizations"].as_array().expect("authorizations");
    assert_eq!(auths.len(), 2);
    assert_eq!(auths[0]["address"], DELEGATE_ANY_CHAIN);
    assert_eq!(auths[0]["chain_id"], "0");
    assert_eq!(auths[0]["authority"], ANVIL_0);
    assert_eq!(auths[1]["address"], DELEGATE_CHAIN_1);
    assert_eq!(auths[1]["chain_id"], "1");
    assert_eq!(auths[1]["nonce"], 2);

    let ids = rule_ids(&r);
    assert_eq!(severity_of(&r, "eip7702-any-chain-authorization"), "critical");
    assert_eq!(ids.iter().filter(|id| *id == "eip7702-delegation").count(), 2, "{ids:?}");
    assert!(ids.contains(&"eip7702-multiple-authorizations".to_owned()), "{ids:?}");
    assert_eq!(r["risk"]["level"], "critical");
}

#[test]
fn raw_eip7702_table_shows_the_authorizations() {
    let env = Env::new();
    env.run(["scan", "tx", "--raw", RAW_7702, "--format", "table"])
        .success()
        .stdout(predicates::str::contains("EIP-7702 authorizations:"))
        .stdout(predicates::str::contains(DELEGATE_ANY_CHAIN))
        .stdout(predicates::str::contains("eip7702-any-chain-authorization"));
}

/// An eth_sendTransaction params object: `setApprovalForAll(SPENDER, true)` on BAYC.
fn send_tx_params() -> String {
    format!(
        r#"{{
  "from": "{ANVIL_0}",
  "to": "{BAYC}",
  "data": "{SET_APPROVAL_FOR_ALL}",
  "value": "0x0",
  "gas": "0x186a0",
  "chainId": "0x1"
}}"#
    )
}

fn json_rpc_request(params: &str) -> String {
    format!(r#"{{"jsonrpc": "2.0", "id": 7, "method": "eth_sendTransaction", "params": [{params}]}}"#)
}

fn check_set_approval_for_all(r: &serde_json::Value) {
    assert_eq!(severity_of(r, "nft-approval-for-all"), "high");
    let tx = &r["subject"]["transaction"];
    assert_eq!(tx["source"], "json");
    assert_eq!(tx["from"], ANVIL_0);
    assert_eq!(tx["to"], BAYC);
    assert_eq!(tx["gas_limit"], 100_000);
    assert_eq!(tx["chain_id"], 1);
    assert_eq!(r["subject"]["call"]["function"], "setApprovalForAll(address,bool)");
}

#[test]
fn json_params_object_from_a_file() {
    let env = Env::new();
    env.write("tx.json", send_tx_params());
    check_set_approval_for_all(&stdout_json(&env.run(["scan", "tx", "--json", "tx.json"]).success()));
}

#[test]
fn json_full_request_from_stdin() {
    let env = Env::new();
    let request = json_rpc_request(&send_tx_params());
    check_set_approval_for_all(&stdout_json(&env.run_stdin(["scan", "tx", "--json", "-"], &request).success()));
}

#[test]
fn json_chain_id_differing_from_chain_is_flagged() {
    let env = Env::new();
    let request = json_rpc_request(&send_tx_params());
    let r = stdout_json(&env.run_stdin(["scan", "tx", "--json", "-", "--chain", "base"], &request).success());
    assert_eq!(r["chain"]["id"], 8453);
    assert!(rule_ids(&r).contains(&"tx-chain-mismatch".to_owned()), "{:?}", rule_ids(&r));
}

const CAST: &str = "node_modules/@foundry-rs/cast-linux-amd64/bin/cast";
const ANVIL_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn cast(args: &[&str]) -> String {
    let cast = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(CAST);
    let out = std::process::Command::new(cast).args(args).output().expect("running cast");
    assert!(out.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The committed raw transactions are exactly what the commands documented beside them print
/// (the signatures are deterministic). Needs the pinned cast from `npm ci`; without it there is
/// nothing to compare against and the test says so on stderr.
#[test]
fn raw_fixtures_match_cast() {
    if !Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(CAST).is_file() {
        eprintln!("skipping: {CAST} is not installed (run `npm ci`)");
        return;
    }
    let common = ["--private-key", ANVIL_KEY, "--chain", "1", "--nonce", "0", "--gas-limit", "100000"];
    let fees = ["--gas-price", "1", "--priority-gas-price", "1"];
    let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    let mut args = vec!["mktx"];
    args.extend(common);
    args.extend(fees);
    args.extend([USDC, "approve(address,uint256)", SPENDER, max]);
    assert_eq!(cast(&args), RAW_1559_APPROVE);

    let a1 =
        cast(&["wallet", "sign-auth", "--private-key", ANVIL_KEY, "--chain", "0", "--nonce", "1", DELEGATE_ANY_CHAIN]);
    let a2 =
        cast(&["wallet", "sign-auth", "--private-key", ANVIL_KEY, "--chain", "1", "--nonce", "2", DELEGATE_CHAIN_1]);
    let mut args = vec!["mktx"];
    args.extend(common);
    args.extend(fees);
    args.extend(["--auth", &a1, "--auth", &a2, ANVIL_0]);
    assert_eq!(cast(&args), RAW_7702);
}
