//! `scorpius scan wallet`, `snapshot wallet` and `revoke plan` against a real local chain
//! (anvil with the compiled fixtures): every kind of standing permission, revoked and partly
//! spent approvals, flagged spenders, Permit2, EIP-7702 delegation, address poisoning; the
//! Multicall3 and JSON-RPC-batch paths; offline snapshots; revoke plans executed on chain; and
//! the faults of real nodes (capped log ranges, a node failing mid-scan, no node at all).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::{chain::*, common::*};

/// The wallet under test: anvil's first dev account.
const W: &str = DEV[0];
/// A real counterparty the wallet pays, and a look-alike (same 6 leading and 6 trailing hex
/// digits) that a poisoner plants with a zero-value transferFrom.
const REAL: &str = "0x1234567890AbcdEF1234567890aBcdef12345678";
const LOOKALIKE: &str = "0x1234560000000000000000000000000000345678";
/// Canonical Permit2 and Multicall3 addresses (the chain registry's, also for chain 31337).
const PERMIT2: &str = "0x000000000022D473030F116dDEE9F6B43aC78BA3";
const MULTICALL3: &str = "0xcA11bde05977b3631167028862bE2a173976CA11";
const E18: &str = "000000000000000000";

fn approve(spender: &str, amount: Word) -> String {
    calldata("approve(address,uint256)", &[Word::addr(spender), amount])
}

fn uint(v: &str) -> Word {
    Word::uint(v)
}

/// The chain state of the scenario.
struct Scenario {
    anvil: Anvil,
    tka: String,
    nrt: String,
    nft: String,
    multi: String,
    /// A contract used as a marketplace-like spender and operator.
    market: String,
}

impl Scenario {
    fn build() -> Self {
        let anvil = Anvil::start();
        let tka =
            anvil.deploy(&creation_code("TestToken"), &["constructor(string,string,uint8)", "Token A", "TKA", "18"]);
        let nrt = anvil.deploy(&creation_code("NoReturnToken"), &[]);
        let nft = anvil.deploy(&creation_code("TestNFT"), &["constructor(string,string)", "Test NFT", "TNFT"]);
        let multi = anvil.deploy(&creation_code("TestMultiToken"), &[]);
        let market = anvil.deploy(&creation_code("BoxV1"), &[]);
        anvil.set_code(PERMIT2, &runtime_code("Permit2Lite"));
        let mint = |token: &str, amount: &str| {
            anvil.send(W, token, &calldata("mint(address,uint256)", &[Word::addr(W), uint(amount)]));
        };
        mint(&tka, &format!("1000{E18}"));
        mint(&nrt, "5000000000");
        mint(&nft, "1");
        mint(&nft, "2");

        // A stale permission: granted, then 200 days without use.
        anvil.send(W, &nrt, &approve(&market, Word::max()));
        anvil.advance(200 * 86_400);

        // Unlimited to a never-used plain account.
        anvil.send(W, &tka, &approve(DEV[1], Word::max()));
        // To an address the test's intel flags as a drainer.
        anvil.send(W, &tka, &approve(DEV[2], uint(&format!("500{E18}"))));
        // Granted, then revoked: must not be reported.
        anvil.send(W, &tka, &approve(DEV[3], Word::max()));
        anvil.send(W, &tka, &approve(DEV[3], uint("0")));
        // Partly spent: 1000 approved, 300 taken; the on-chain 700 is what counts.
        anvil.send(W, &tka, &approve(DEV[4], uint("1000")));
        anvil.send(
            DEV[4],
            &tka,
            &calldata("transferFrom(address,address,uint256)", &[Word::addr(W), Word::addr(DEV[4]), uint("300")]),
        );
        // NFTs: an operator for the whole collection, one single-token approval, and one
        // approval cleared by transferring the token away.
        anvil.send(W, &nft, &calldata("setApprovalForAll(address,bool)", &[Word::addr(&market), Word::bool(true)]));
        anvil.send(W, &nft, &approve(DEV[6], uint("1")));
        anvil.send(W, &nft, &approve(DEV[7], uint("2")));
        anvil.send(
            W,
            &nft,
            &calldata("transferFrom(address,address,uint256)", &[Word::addr(W), Word::addr(DEV[8]), uint("2")]),
        );
        // ERC-1155 operator that is a plain account.
        anvil.send(W, &multi, &calldata("setApprovalForAll(address,bool)", &[Word::addr(DEV[9]), Word::bool(true)]));
        // Permit2: unlimited (max uint160), expiring in two years.
        let now = u64::from_str_radix(
            anvil.rpc("eth_getBlockByNumber", json!(["latest", false]))["timestamp"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap();
        let max160 = "1461501637330902918203684832716283019655932542975";
        anvil.send(
            W,
            PERMIT2,
            &calldata(
                "approve(address,address,uint160,uint48)",
                &[Word::addr(&tka), Word::addr(&market), uint(max160), uint(&(now + 2 * 365 * 86_400).to_string())],
            ),
        );
        // Poisoning: the wallet pays REAL; an attacker plants LOOKALIKE with a zero-value
        // transferFrom out of the wallet.
        anvil.send(W, &tka, &calldata("transfer(address,uint256)", &[Word::addr(REAL), uint(&format!("100{E18}"))]));
        anvil.send(
            DEV[5],
            &tka,
            &calldata("transferFrom(address,address,uint256)", &[Word::addr(W), Word::addr(LOOKALIKE), uint("0")]),
        );
        Scenario { anvil, tka, nrt, nft, multi, market }
    }
}

fn env_with_flagged_spender() -> Env {
    let env = Env::new();
    env.write("flags.csv", format!("address,labels,chain,name\n{},drainer,31337,Test Drainer\n", DEV[2]));
    env.run(["intel", "import", "flags.csv", "--format", "csv", "--source", "test-flags"]).success();
    env
}

fn scan(env: &Env, url: &str) -> Value {
    stdout_json(&env.run(["scan", "wallet", W, "--rpc-url", url, "--format", "json"]).success())
}

/// (rule id, location path) of every finding.
fn finding_keys(r: &Value) -> BTreeSet<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule_id"].as_str().unwrap().to_owned(), f["location"]["path"].as_str().unwrap_or("").to_owned()))
        .collect()
}

fn approvals(r: &Value) -> &Vec<Value> {
    r["subject"]["approvals"].as_array().unwrap()
}

fn approval<'a>(r: &'a Value, token: &str, spender: &str) -> Option<&'a Value> {
    approvals(r).iter().find(|a| {
        a["token"].as_str().unwrap().eq_ignore_ascii_case(token)
            && a["spender"].as_str().unwrap().eq_ignore_ascii_case(spender)
    })
}

fn factors(a: &Value) -> Vec<&str> {
    a["risk_factors"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

#[test]
fn wallet_scan_on_a_real_chain() {
    let s = Scenario::build();
    let env = env_with_flagged_spender();
    let proxy = Proxy::start(&s.anvil.url, Fault::None);

    // Without Multicall3 on the chain: JSON-RPC batches.
    let r = scan(&env, &proxy.url);
    assert_eq!(r["kind"], "wallet");
    assert_eq!(r["status"]["state"], "complete", "{:#}", r["status"]);
    assert_eq!(r["chain"]["id"], 31337);
    let direct_calls = proxy.eth_calls.swap(0, std::sync::atomic::Ordering::SeqCst);

    // Unlimited ERC-20 allowance to a never-used account.
    let a = approval(&r, &s.tka, DEV[1]).expect("the unlimited approval");
    assert_eq!(a["unlimited"], true);
    assert_eq!(a["spender_type"], "uninitialised");
    assert!(
        factors(a).contains(&"wallet-approval-unlimited") && factors(a).contains(&"wallet-approval-eoa-spender"),
        "{a:#}"
    );
    assert_eq!(a["token_symbol"], "TKA");
    // min(allowance, balance): 1000 minted, 100 paid, 300 base units taken by DEV[4].
    assert_eq!(a["value_at_risk"], "899999999999999999700", "{a:#}");
    // The flagged spender.
    let a = approval(&r, &s.tka, DEV[2]).expect("the flagged spender's approval");
    assert!(factors(a).contains(&"address-malicious"), "{a:#}");
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["amount_display"], "500 TKA");
    // Revoked: absent. Partly spent: the on-chain remainder.
    assert!(approval(&r, &s.tka, DEV[3]).is_none(), "a revoked approval is reported");
    assert_eq!(approval(&r, &s.tka, DEV[4]).expect("partly spent approval")["amount"], "700");
    // Non-standard token (bytes32 symbol, no return values), unused for 200 days.
    let a = approval(&r, &s.nrt, &s.market).expect("the NoReturnToken approval");
    assert_eq!(a["token_symbol"], "NRT");
    assert_eq!(a["spender_type"], "contract");
    assert!(factors(a).contains(&"wallet-approval-stale"), "{a:#}");
    assert!(a["idle_days"].as_u64().unwrap() >= 200, "{a:#}");
    // NFTs.
    let a = approval(&r, &s.nft, &s.market).expect("the NFT operator");
    assert_eq!(a["kind"], "operator");
    assert_eq!(factors(a), vec!["wallet-nft-operator"]);
    let a = approval(&r, &s.nft, DEV[6]).expect("the single NFT approval");
    assert_eq!((a["kind"].as_str(), a["token_id"].as_str()), (Some("erc721"), Some("1")));
    assert!(approval(&r, &s.nft, DEV[7]).is_none(), "an approval cleared by a transfer is reported");
    assert_eq!(approval(&r, &s.multi, DEV[9]).expect("the ERC-1155 operator")["kind"], "operator");
    // Permit2.
    let a = approvals(&r).iter().find(|a| a["kind"] == "permit2").expect("the Permit2 allowance");
    assert_eq!(a["permit2"].as_str().unwrap(), PERMIT2);
    assert!(
        factors(a).contains(&"wallet-permit2-unlimited") && factors(a).contains(&"wallet-permit2-long-expiry"),
        "{a:#}"
    );
    // Poisoning in the history.
    let rules: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["rule_id"].as_str().unwrap()).collect();
    assert!(rules.contains(&"poisoning-zero-transfer"), "{rules:?}");
    assert!(
        r["findings"].as_array().unwrap().iter().any(|f| f["rule_id"] == "poisoning-lookalike"
            && f["evidence"]["lookalike"].as_str().is_some_and(|l| l.eq_ignore_ascii_case(LOOKALIKE))),
        "{rules:?}"
    );
    assert_eq!(approvals(&r).len(), 8, "{:#}", r["subject"]["approvals"]);
    assert!(!rules.contains(&"wallet-eip7702-delegated"));

    // With Multicall3 deployed: the same findings, the reads folded into one aggregate3 call.
    s.anvil.set_code(MULTICALL3, &runtime_code("Multicall3"));
    let with_multicall = scan(&env, &proxy.url);
    assert_eq!(finding_keys(&with_multicall), finding_keys(&r));
    assert_eq!(with_multicall["subject"]["approvals"], r["subject"]["approvals"]);
    let multicall_calls = proxy.eth_calls.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        direct_calls > 20 && multicall_calls == 1,
        "eth_calls: {direct_calls} direct, {multicall_calls} with Multicall3"
    );

    // Offline from a snapshot: the same findings with no node.
    env.run(["snapshot", "wallet", W, "--rpc-url", &s.anvil.url, "-o", "w.json"]).success();
    let offline = stdout_json(&env.run(["scan", "wallet", W, "--snapshot", "w.json", "--format", "json"]).success());
    assert_eq!(offline["findings"], with_multicall["findings"]);
    assert_eq!(offline["subject"]["approvals"], with_multicall["subject"]["approvals"]);
    assert_eq!(offline["risk"], with_multicall["risk"]);

    // The table shows the approval inventory.
    let table = String::from_utf8(
        env.run(["scan", "wallet", W, "--snapshot", "w.json", "--format", "table"])
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    assert!(table.contains("Approvals in force: 8") && table.contains("TKA") && table.contains("NRT"), "{table}");

    // The revoke plan, executed on chain, leaves nothing at or above its threshold.
    let plan =
        stdout_json(&env.run(["revoke", "plan", W, "--rpc-url", &s.anvil.url, "--min-severity", "low"]).success());
    assert_eq!(plan["format"], "scorpius-revoke-plan/v1");
    let txs = plan["transactions"].as_array().unwrap();
    let functions: BTreeSet<&str> = txs.iter().map(|t| t["function"].as_str().unwrap()).collect();
    assert_eq!(
        functions,
        BTreeSet::from([
            "approve(address,uint256)",
            "setApprovalForAll(address,bool)",
            "approve(address,address,uint160,uint48)"
        ]),
        "{plan:#}"
    );
    for t in txs {
        assert_eq!(t["from"].as_str().unwrap(), W);
        assert_eq!(t["value"], "0x0");
        s.anvil.send(W, t["to"].as_str().unwrap(), t["data"].as_str().unwrap());
    }
    let after = scan(&env, &s.anvil.url);
    let left: Vec<&Value> = approvals(&after).iter().filter(|a| a["severity"] != "info").collect();
    assert!(left.is_empty(), "still in force after the revoke plan: {left:#?}");
    // The history findings stay: they are about transfers, not permissions.
    assert!(after["findings"].as_array().unwrap().iter().any(|f| f["rule_id"] == "poisoning-zero-transfer"));
}

#[test]
fn delegated_wallet_is_flagged_and_worse_when_the_delegate_is_known_bad() {
    let anvil = Anvil::start();
    let delegate = anvil.deploy(&creation_code("SelfDestructible"), &[]);
    let account = DEV[7];
    anvil.set_code(account, &format!("0xef0100{}", delegate.trim_start_matches("0x")));
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "wallet", account, "--rpc-url", &anvil.url, "--format", "json"]).success());
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "wallet-eip7702-delegated")
        .expect("delegation");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["evidence"]["delegate"], delegate);
    assert_eq!(r["subject"]["delegate"], delegate);

    env.write("sweepers.csv", format!("address,labels,chain,name\n{delegate},scam-delegate,31337,Sweeper\n"));
    env.run(["intel", "import", "sweepers.csv", "--format", "csv", "--source", "sweepers"]).success();
    let r = stdout_json(
        &env.run(["scan", "wallet", account, "--rpc-url", &anvil.url, "--format", "json", "--fail-on", "critical"])
            .code(1),
    );
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["rule_id"] == "wallet-eip7702-delegated").unwrap();
    assert_eq!(f["severity"], "critical");
}

#[test]
fn capped_log_ranges_are_split_adaptively() {
    let s = Scenario::build();
    // Spread the history over more blocks than the cap allows in one request.
    s.anvil.rpc("anvil_mine", json!(["0x40"]));
    let env = env_with_flagged_spender();
    let direct = scan(&env, &s.anvil.url);
    let capped = Proxy::start(&s.anvil.url, Fault::CapLogRange(4));
    let r = scan(&env, &capped.url);
    assert!(capped.refused.load(std::sync::atomic::Ordering::SeqCst) > 0, "the cap was never hit");
    assert_eq!(r["status"]["state"], "complete", "{:#}", r["status"]);
    assert_eq!(finding_keys(&r), finding_keys(&direct));
    assert_eq!(r["subject"]["approvals"], direct["subject"]["approvals"]);
}

#[test]
fn node_failing_mid_scan_gives_an_incomplete_report_never_a_clean_one() {
    let anvil = Anvil::start();
    // eth_chainId twice and the head block succeed; everything after fails with 503.
    let proxy = Proxy::start(&anvil.url, Fault::FailAfter(3));
    let env = Env::new();
    let a = env.run(["scan", "wallet", W, "--rpc-url", &proxy.url, "--format", "json", "--fail-on", "medium"]).code(1);
    let r = stdout_json(&a);
    assert_eq!(r["status"]["state"], "incomplete", "{:#}", r["status"]);
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "wallet-data-incomplete")
        .expect("gap finding");
    assert!(f["evidence"]["gaps"].as_array().is_some_and(|g| !g.is_empty()));
    // The failing reads were retried before they were given up.
    let sent = proxy.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent >= 3 + 4, "only {sent} requests: no retries");
}

#[test]
fn unreachable_node_exits_3_with_a_clear_message() {
    let env = Env::new();
    // The discard port: nobody listens, and no other test's server can take it meanwhile.
    let url = "http://127.0.0.1:9/v2/SECRETKEY";
    let err = stderr_of(&env.run(["scan", "wallet", W, "--rpc-url", url]).code(3));
    assert!(err.contains("unreachable"), "{err}");
    assert!(!err.contains("SECRETKEY"), "the URL's secret part leaked: {err}");
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let env = Env::new();
    let err = stderr_of(&env.run(["scan", "wallet", "0x1234", "--rpc-url", "http://127.0.0.1:1"]).code(2));
    assert!(err.contains("ADDRESS"), "{err}");
    let err = stderr_of(&env.run(["scan", "wallet", W]).code(2));
    assert!(err.contains("--rpc-url") && err.contains("--snapshot"), "{err}");
    env.write("bad.json", r#"{"format": "scorpius-wallet-snapshot/v1", "wallet": 7}"#);
    let err = stderr_of(&env.run(["scan", "wallet", W, "--snapshot", "bad.json"]).code(2));
    assert!(err.contains("snapshot.wallet"), "{err}");
    env.write("v9.json", r#"{"format": "scorpius-wallet-snapshot/v9"}"#);
    let err = stderr_of(&env.run(["scan", "wallet", W, "--snapshot", "v9.json"]).code(2));
    assert!(err.contains("format") || err.contains("missing field"), "{err}");
    let err = stderr_of(&env.run(["scan", "wallet", W, "--snapshot", "missing.json"]).code(2));
    assert!(err.contains("missing.json"), "{err}");
    env.run(["scan", "wallet", W, "--snapshot", "x.json", "--rpc-url", "http://127.0.0.1:1"]).code(2);
    let err = stderr_of(&env.run(["revoke", "plan", W, "--snapshot", "bad.json", "--min-severity", "severe"]).code(2));
    assert!(err.contains("severe"), "{err}");
}

#[test]
fn snapshot_of_another_wallet_or_chain_is_refused() {
    let anvil = Anvil::start();
    let env = Env::new();
    env.run(["snapshot", "wallet", DEV[3], "--rpc-url", &anvil.url, "-o", "s.json"]).success();
    let err = stderr_of(&env.run(["scan", "wallet", W, "--snapshot", "s.json"]).code(2));
    assert!(err.contains("not"), "{err}");
    let err = stderr_of(&env.run(["scan", "wallet", DEV[3], "--snapshot", "s.json", "--chain", "base"]).code(2));
    assert!(err.contains("31337"), "{err}");
    let err = stderr_of(&env.run(["scan", "wallet", DEV[3], "--rpc-url", &anvil.url, "--chain", "ethereum"]).code(2));
    assert!(err.contains("31337"), "{err}");
}

#[test]
fn rpc_url_from_the_config_file_or_the_per_chain_variable() {
    let anvil = Anvil::start();
    let env = Env::new();
    // [rpc] in the project file, keyed by chain name; the URL's path stays private.
    env.write("scorpius.toml", format!("chain = \"local\"\n[rpc]\nlocal = \"{}/?apikey=KEY123\"\n", anvil.url));
    let r = stdout_json(&env.run(["scan", "wallet", W, "--format", "json"]).success());
    assert_eq!(r["chain"]["id"], 31337);
    let shown = String::from_utf8(env.run(["config", "show"]).success().get_output().stdout.clone()).unwrap();
    assert!(shown.contains("local=http://127.0.0.1") && !shown.contains("KEY123"), "{shown}");
    // The per-chain variable wins over the file.
    env.write("scorpius.toml", "chain = \"local\"\n[rpc]\nlocal = \"http://127.0.0.1:1\"\n");
    let a =
        env.cmd().args(["scan", "wallet", W, "--format", "json"]).env("SCORPIUS_RPC_URL_LOCAL", &anvil.url).assert();
    assert_eq!(stdout_json(&a.success())["chain"]["id"], 31337);
    // A key that is not a chain, or a URL that is not HTTP, is a configuration error.
    env.write("scorpius.toml", "[rpc]\netherum = \"https://x\"\n");
    let err = stderr_of(&env.run(["scan", "wallet", W, "--snapshot", "none.json"]).code(2));
    assert!(err.contains("etherum"), "{err}");
    env.write("scorpius.toml", "[rpc]\nbase = \"ws://x\"\n");
    let err = stderr_of(&env.run(["scan", "wallet", W]).code(2));
    assert!(err.contains("http"), "{err}");
}

#[test]
fn scan_with_no_kind_scans_the_targets_of_scorpius_toml_into_one_document() {
    let anvil = Anvil::start();
    let token =
        anvil.deploy(&creation_code("TestToken"), &["constructor(string,string,uint8)", "Token A", "TKA", "18"]);
    anvil.send(W, &token, &approve(DEV[1], Word::max()));
    let env = Env::new();
    env.write("build/Honeypot.json", artifact("HoneypotToken", "HoneypotToken").to_string());
    env.write(
        "scorpius.toml",
        format!(
            "chain = \"local\"\n\n[rpc]\nlocal = \"{}\"\n\n# the treasury\n[[targets]]\nwallet = \"{W}\"\n\n[[targets]]\ncontract = \"build/Honeypot.json\"\n\n[[targets]]\ncontract = \"{token}\"\n",
            anvil.url
        ),
    );
    let a = env.run(["scan", "--format", "json", "--fail-on", "high"]).code(1);
    let reports = stdout_json(&a);
    let reports = reports.as_array().expect("one document with every target's report");
    let kinds: Vec<&str> = reports.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["wallet", "contract", "contract"]);
    // Wallet findings point at the line that declared the wallet.
    let f = reports[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "wallet-approval-unlimited")
        .unwrap();
    assert_eq!(f["location"]["file"], "scorpius.toml");
    assert_eq!(f["location"]["start_line"], 7);
    assert!(
        reports[1]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "high" || f["severity"] == "critical")
    );
    // As SARIF: one run per kind; the wallet's results sit on the declaring line.
    let sarif = env.run(["scan", "--format", "sarif"]).code(0);
    let text = String::from_utf8(sarif.get_output().stdout.clone()).unwrap();
    let log = crate::sarif::assert_valid(&env, "targets.sarif", &text);
    let wallets =
        log["runs"].as_array().unwrap().iter().find(|r| r["automationDetails"]["id"] == "scorpius/wallets/").unwrap();
    let loc = &wallets["results"][0]["locations"][0];
    assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "scorpius.toml", "{loc:#}");
    assert_eq!(loc["physicalLocation"]["region"]["startLine"], 7, "{loc:#}");
    // Each target's scan is in the history.
    let listed = stdout_json(&env.run(["history", "list", "--format", "json"]).success());
    assert_eq!(listed.as_array().map(Vec::len), Some(6), "two runs of three targets: {listed:#}");

    // No targets: a usage error that says what to do.
    env.write("scorpius.toml", "chain = \"local\"\n");
    let err = stderr_of(&env.run(["scan"]).code(2));
    assert!(err.contains("[[targets]]"), "{err}");
    // A target with both kinds, or neither, is refused.
    env.write("scorpius.toml", format!("[[targets]]\nwallet = \"{W}\"\ncontract = \"out\"\n"));
    let err = stderr_of(&env.run(["scan"]).code(2));
    assert!(err.contains("targets[0]") && err.contains("exactly one"), "{err}");
}
