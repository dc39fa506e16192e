//! Scans that read a chain — `POST /v1/scan/wallet` and `POST /v1/scan/contract` with an
//! `address` — against a real anvil with the compiled fixtures, the RPC check of
//! `/health/deep`, and the answers when the chain has no endpoint or the endpoint is down.

use reqwest::Method;
use scorpius_core::api::keys::Role;
use serde_json::{Value, json};

use crate::{
    chain::{ANVIL_1, Anvil, DEV, Word, calldata, creation_code},
    common::TestServer,
};

fn rule_ids(r: &Value) -> Vec<String> {
    r["findings"].as_array().unwrap().iter().map(|f| f["rule_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_and_deployed_contract_scans_read_the_configured_chain() {
    let (anvil, token, proxy, tx_origin) = tokio::task::spawn_blocking(|| {
        let anvil = Anvil::start();
        let token =
            anvil.deploy(&creation_code("TestToken"), &["constructor(string,string,uint8)", "Token A", "TKA", "18"]);
        // The wallet (DEV[0]) grants an unlimited allowance to a plain account.
        anvil.send(DEV[0], &token, &calldata("approve(address,uint256)", &[Word::addr(ANVIL_1), Word::max()]));
        let tx_origin = anvil.deploy(&creation_code("TxOriginAuth"), &[]);
        let proxy = anvil.deploy(
            &creation_code("UpgradeableProxy"),
            &["constructor(address,address,bytes)", &tx_origin, ANVIL_1, "0x"],
        );
        (anvil, token, proxy, tx_origin)
    })
    .await
    .unwrap();
    let url = anvil.url.clone();
    let s = TestServer::start_with(|c| {
        c.rpc.insert("local".into(), url);
    })
    .await;
    let key = s.key("acme", Role::Security).await;

    // The wallet: its allowance is in the inventory and flagged.
    let r = s.post("/v1/scan/wallet", &key, &json!({"address": DEV[0], "chain": 31337})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let report = r.json();
    assert_eq!(report["kind"], "wallet");
    assert_eq!(report["chain"]["id"], 31337);
    let approvals = report["subject"]["approvals"].as_array().unwrap();
    assert!(
        approvals.iter().any(|a| a["token"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(&token))
            && a["spender"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(ANVIL_1))),
        "{approvals:#?}"
    );
    assert!(rule_ids(&report).contains(&"wallet-approval-unlimited".to_owned()), "{:?}", rule_ids(&report));
    assert_eq!(report["subject"]["coverage"]["endpoint"], anvil.url.as_str());
    // Saved like every scan.
    let list = s.get("/v1/scans?kind=wallet", &key).await.json();
    assert_eq!(list["items"][0]["scan_id"], report["scan_id"], "{list}");

    // A deployed proxy: the proxy and its implementation, with the implementation's finding.
    let r = s.post("/v1/scan/contract", &key, &json!({"address": proxy, "chain": "local"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let c = r.json();
    let ids = rule_ids(&c);
    assert!(ids.contains(&"contract-proxy-upgradeable".to_owned()), "{ids:?}");
    assert!(ids.contains(&"contract-tx-origin-auth".to_owned()), "{ids:?}");
    assert_eq!(c["subject"]["contracts"].as_array().unwrap().len(), 2);
    assert_eq!(c["subject"]["contracts"][1]["address"], tx_origin.as_str());

    // Bad input: an account with no code, both forms at once, a chain without an endpoint.
    let p = s.post("/v1/scan/contract", &key, &json!({"address": ANVIL_1, "chain": 31337})).await;
    let p = p.assert_problem(422, "invalid-input");
    assert!(p["detail"].as_str().unwrap().contains("no code"), "{p}");
    let p = s.post("/v1/scan/contract", &key, &json!({"address": proxy, "bytecode": "0x00", "chain": 31337})).await;
    assert!(p.assert_problem(422, "invalid-input")["detail"].as_str().unwrap().contains("not both"));
    let p = s.post("/v1/scan/wallet", &key, &json!({"address": DEV[0], "chain": "base"})).await;
    let p = p.assert_problem(422, "invalid-input");
    assert!(p["detail"].as_str().unwrap().contains("no RPC endpoint for chain base (8453)"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("31337"), "{p}");
    let p = s.post("/v1/scan/wallet", &key, &json!({"address": "0x1234", "chain": 31337})).await;
    p.assert_problem(422, "invalid-input");

    // The deep health check asks the endpoint for its chain.
    let d = s.get("/health/deep", &key).await;
    assert_eq!(d.status, 200, "{}", d.text);
    let d = d.json();
    assert_eq!(d["status"], "ok");
    assert_eq!(d["rpc"][0]["chain_id"], 31337);
    assert_eq!(d["rpc"][0]["ok"], true, "{d}");

    // The endpoint goes away: scans answer 502, the deep check 503 with the failing endpoint.
    drop(anvil);
    let p = s.post("/v1/scan/wallet", &key, &json!({"address": DEV[0], "chain": 31337})).await;
    let p = p.assert_problem(502, "upstream-failed");
    assert!(p["detail"].as_str().unwrap().contains("unreachable"), "{p}");
    let d = s.call(Method::GET, "/health/deep", Some(&key), None).await;
    assert_eq!(d.status, 503, "{}", d.text);
    let d = d.json();
    assert_eq!(d["status"], "degraded");
    assert_eq!(d["rpc"][0]["ok"], false);
    assert!(d["rpc"][0]["error"].as_str().is_some_and(|e| !e.is_empty()), "{d}");
    s.stop().await;
}

#[tokio::test]
async fn rpc_urls_with_keys_are_never_shown_and_bad_ones_refuse_to_start() {
    // A key in the path stays out of the deep check's answer.
    let s = TestServer::start_with(|c| {
        c.rpc.insert("ethereum".into(), "http://127.0.0.1:9/v2/SECRETKEY".into());
    })
    .await;
    let key = s.key("acme", Role::Admin).await;
    let d = s.get("/health/deep", &key).await;
    assert_eq!(d.status, 503);
    assert!(!d.text.contains("SECRETKEY"), "{}", d.text);
    assert!(d.text.contains("http://127.0.0.1:9/…"), "{}", d.text);
    let p = s.post("/v1/scan/wallet", &key, &json!({"address": DEV[0]})).await;
    p.assert_problem(502, "upstream-failed");
    assert!(!p.text.contains("SECRETKEY"), "{}", p.text);
    s.stop().await;

    let mut config = crate::common::test_config(std::path::Path::new("/nonexistent"));
    config.rpc.insert("nochain".into(), "http://127.0.0.1:8545".into());
    let e = format!("{:#}", config.rpc_endpoints().unwrap_err());
    assert!(e.contains("rpc.nochain"), "{e}");
    config.rpc.clear();
    config.rpc.insert("base".into(), "ftp://host/KEY".into());
    let e = format!("{:#}", config.rpc_endpoints().unwrap_err());
    assert!(e.contains("rpc.base") && !e.contains("KEY"), "{e}");
}
