//! `scorpius scan contract`: the compiled fixtures in `tests/contracts/out/` by artifact, by
//! directory and as project directories (Foundry and Hardhat layouts), hex bytecode files
//! (runtime and creation code), bad input, and deployed contracts on a real local chain
//! (anvil): proxies resolved, EOA admins flagged, EIP-7702 delegations, unreachable endpoints.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use assert_cmd::Command;
use serde_json::{Value, json};

use crate::{chain::*, common::*};

/// The repository root (`tests/contracts` lives there).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

fn fixture_json(file: &str, name: &str) -> Value {
    let p = repo().join(format!("tests/contracts/out/{file}.sol/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn deployed_hex(file: &str, name: &str) -> String {
    fixture_json(file, name)["deployedBytecode"]["object"].as_str().unwrap().to_owned()
}

fn creation_hex(file: &str, name: &str) -> String {
    fixture_json(file, name)["bytecode"]["object"].as_str().unwrap().to_owned()
}

/// Runs `scorpius ARGS` from the repository root (so that paths are repo-relative).
fn run_in_repo(env: &Env, args: &[&str]) -> assert_cmd::assert::Assert {
    no_panic(Command::from_std(env.std_cmd_in(&repo())).args(args).write_stdin("").assert())
}

fn findings_of<'a>(r: &'a Value, rule: &str) -> Vec<&'a Value> {
    r["findings"].as_array().unwrap().iter().filter(|f| f["rule_id"] == rule).collect()
}

fn line_of(path: &Path, needle: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    let i =
        text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} not in {}", path.display()));
    i as u64 + 1
}

/// `(file, contract, rule that must fire)`, as in scorpius-core/tests/contract_fixtures.rs.
const CAUGHT: &[(&str, &str, &str)] = &[
    ("HoneypotToken", "HoneypotToken", "contract-blacklist"),
    ("HiddenMintToken", "HiddenMintToken", "contract-hidden-mint"),
    ("TaxToken", "TaxToken", "contract-adjustable-fee"),
    ("OwnerMovesBalances", "OwnerMovesBalances", "contract-owner-moves-balances"),
    ("SelfDestructible", "SelfDestructible", "contract-selfdestruct"),
    ("Metamorphic", "MetamorphicFactory", "contract-metamorphic"),
    ("Metamorphic", "MetamorphicChild", "contract-selfdestruct"),
    ("DelegateCalldata", "DelegateCalldata", "contract-delegatecall-calldata-target"),
    ("DelegateStorage", "DelegateStorage", "contract-delegatecall-storage-target"),
    ("TxOriginAuth", "TxOriginAuth", "contract-tx-origin-auth"),
    ("UnsafeCall", "UnsafeCall", "contract-unchecked-call"),
    ("UnsafeCall", "UnsafeCall", "contract-arbitrary-send"),
    ("UpgradeableProxy", "UpgradeableProxy", "contract-proxy-upgradeable"),
];

#[test]
fn each_fixture_artifact_is_caught_by_its_rule() {
    let env = Env::new();
    let mut missed = Vec::new();
    for (file, name, rule) in CAUGHT {
        let artifact = format!("tests/contracts/out/{file}.sol/{name}.json");
        let a = run_in_repo(&env, &["scan", "contract", &artifact, "--no-intel", "--format", "json"]);
        let r = stdout_json(&a);
        assert_eq!(r["kind"], "contract", "{artifact}");
        assert_eq!(r["target"], format!("tests/contracts/src/{file}.sol:{name}"));
        if findings_of(&r, rule).is_empty() {
            missed.push(format!("{name}: no {rule} (got {:?})", rule_ids(&r)));
        }
        // Every finding names its contract.
        for f in r["findings"].as_array().unwrap() {
            let path = f["location"]["path"].as_str().unwrap();
            assert!(path.starts_with(&format!("tests/contracts/src/{file}.sol:{name}")), "{f:#}");
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn whole_out_directory_gives_one_report_with_source_lines() {
    let env = Env::new();
    let a = run_in_repo(&env, &["scan", "contract", "tests/contracts/out", "--no-intel", "--format", "json"]);
    let r = stdout_json(&a);
    assert_eq!(r["kind"], "contract");
    let contracts = r["subject"]["contracts"].as_array().unwrap();
    assert!(contracts.len() >= 20, "{} contracts", contracts.len());
    assert_eq!(r["target"], format!("{} contracts (tests/contracts/out)", contracts.len()));
    let ids = rule_ids(&r);
    for (file, name, rule) in CAUGHT {
        let label = format!("tests/contracts/src/{file}.sol:{name}");
        assert!(
            findings_of(&r, rule).iter().any(|f| f["location"]["path"].as_str().unwrap().starts_with(&label)),
            "{label}: {rule} missing (rules: {ids:?})"
        );
    }
    // Interfaces have no code: skipped, and said so.
    let skipped = r["subject"]["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["path"] == "tests/contracts/out/TestNFT.sol/IERC721Receiver.json"
            && s["reason"] == "no deployed bytecode"),
        "{skipped:?}"
    );
    // SARIF-ready: tx.origin finding at the right file and line, relative to the repo.
    let src = repo().join("tests/contracts/src/TxOriginAuth.sol");
    let f = findings_of(&r, "contract-tx-origin-auth")[0];
    assert_eq!(f["location"]["file"], "tests/contracts/src/TxOriginAuth.sol");
    assert_eq!(f["location"]["start_line"], line_of(&src, "require(tx.origin == owner"));
    // The proxy's implementation is unknown offline: the report says it is incomplete.
    assert_eq!(r["status"]["state"], "incomplete");
    let reason = r["status"]["reason"].as_str().unwrap();
    assert!(reason.contains("UpgradeableProxy.sol:UpgradeableProxy") && reason.contains("implementation"), "{reason}");
    // One contract-signature dataset, not one per contract.
    let names: Vec<_> = r["datasets"].as_array().unwrap().iter().map(|d| d["name"].clone()).collect();
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(names, dedup);
}

#[test]
fn clean_token_passes_fail_on_high() {
    let env = Env::new();
    let a = run_in_repo(
        &env,
        &[
            "scan",
            "contract",
            "tests/contracts/out/CleanToken.sol/CleanToken.json",
            "--fail-on",
            "high",
            "--format",
            "json",
        ],
    )
    .code(0);
    let r = stdout_json(&a);
    for f in r["findings"].as_array().unwrap() {
        assert!(f["severity"] != "high" && f["severity"] != "critical", "{f:#}");
    }
    assert_eq!(r["status"]["state"], "complete");
}

#[test]
fn fail_on_high_exits_1_on_the_honeypot() {
    let env = Env::new();
    let a = run_in_repo(
        &env,
        &[
            "scan",
            "contract",
            "tests/contracts/out/HoneypotToken.sol/HoneypotToken.json",
            "--fail-on",
            "high",
            "-f",
            "json",
        ],
    )
    .code(1);
    assert!(!findings_of(&stdout_json(&a), "contract-blacklist").is_empty());
}

#[test]
fn table_output_shows_contracts_and_source_lines() {
    let env = Env::new();
    let a = run_in_repo(
        &env,
        &["scan", "contract", "tests/contracts/out/TxOriginAuth.sol/TxOriginAuth.json", "-f", "table"],
    );
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(out.contains("Scorpius contract scan: tests/contracts/src/TxOriginAuth.sol:TxOriginAuth"), "{out}");
    assert!(out.contains("Contracts analysed: 1"), "{out}");
    let line = line_of(&repo().join("tests/contracts/src/TxOriginAuth.sol"), "require(tx.origin == owner");
    assert!(
        out.contains(&format!("  tests/contracts/src/TxOriginAuth.sol:{line}  HIGH contract-tx-origin-auth")),
        "{out}"
    );
}

#[test]
fn hex_file_of_runtime_code_and_stdin() {
    let env = Env::new();
    env.write("sd.hex", format!("{}\n", deployed_hex("SelfDestructible", "SelfDestructible")));
    let r = stdout_json(&env.run(["scan", "contract", "sd.hex", "--no-intel"]).success());
    assert_eq!(r["target"], "sd.hex");
    assert!(!findings_of(&r, "contract-selfdestruct").is_empty(), "{:?}", rule_ids(&r));
    assert!(r["subject"]["contracts"][0].get("notes").is_none());
    // The same from stdin, without 0x.
    let hex = deployed_hex("SelfDestructible", "SelfDestructible");
    let r =
        stdout_json(&env.run_stdin(["scan", "contract", "-", "--no-intel"], hex.trim_start_matches("0x")).success());
    assert_eq!(r["target"], "stdin");
    assert!(!findings_of(&r, "contract-selfdestruct").is_empty());
}

#[test]
fn hex_file_of_creation_code_is_detected_and_its_runtime_analysed() {
    let env = Env::new();
    env.write("sd-init.hex", creation_hex("SelfDestructible", "SelfDestructible"));
    let a = env.run(["scan", "contract", "sd-init.hex", "--no-intel"]).success();
    assert!(stderr_of(&a).contains("creation (deployment) code"), "{}", stderr_of(&a));
    let r = stdout_json(&a);
    let notes = r["subject"]["contracts"][0]["notes"].to_string();
    assert!(notes.contains("creation (deployment) code: analysed the runtime code"), "{notes}");
    assert!(!findings_of(&r, "contract-selfdestruct").is_empty(), "{:?}", rule_ids(&r));
    // The analysed code is the deployed code.
    let runtime_len = (deployed_hex("SelfDestructible", "SelfDestructible").len() - 2) / 2;
    assert_eq!(r["subject"]["contracts"][0]["code_size"], runtime_len);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let env = Env::new();
    env.write("odd.hex", "0x600");
    env.write("nothex.hex", "0x60zz");
    env.write("empty.hex", "");
    env.write("other.json", r#"{"name": "not an artifact"}"#);
    env.write("broken.json", r#"{"deployedBytecode": "#);
    env.write("iface.json", json!({"abi": [], "deployedBytecode": {"object": "0x"}}).to_string());
    let cases: &[(&str, &str)] = &[
        ("odd.hex", "odd number of hex digits"),
        ("nothex.hex", "not hex"),
        ("empty.hex", "no code"),
        ("other.json", "deployedBytecode"),
        ("broken.json", "not valid JSON"),
        ("iface.json", "no deployed bytecode"),
        ("missing.hex", "no such file or directory"),
        ("0x12", "no such file or directory"),
    ];
    for (target, message) in cases {
        let a = env.run(["scan", "contract", target, "--no-intel"]).code(2);
        let err = stderr_of(&a);
        assert!(err.contains(message), "{target}: {err}");
        assert!(err.contains(target), "{target}: the message names the target: {err}");
        assert!(a.get_output().stdout.is_empty(), "{target}: no report on bad input");
    }
    // A directory that is neither a project nor build output.
    std::fs::create_dir_all(env.work().join("plain")).unwrap();
    let err = stderr_of(&env.run(["scan", "contract", "plain"]).code(2));
    assert!(err.contains("not a Foundry or Hardhat project"), "{err}");
    // An address without an RPC URL.
    let err = stderr_of(&env.run(["scan", "contract", SPENDER]).code(2));
    assert!(err.contains("needs an RPC URL") && err.contains("SCORPIUS_RPC_URL"), "{err}");
    // A malformed RPC URL.
    let err = stderr_of(&env.run(["scan", "contract", SPENDER, "--rpc-url", "not a url"]).code(2));
    assert!(err.contains("RPC URL: not a valid URL"), "{err}");
}

/// Copies the TxOriginAuth artifact, the build info and the source into a Foundry project at
/// `<work>/proj` whose foundry.toml sets `out = "build"`.
fn foundry_project(env: &Env, built: bool) -> PathBuf {
    let root = env.work().join("proj");
    let fixtures = repo().join("tests/contracts");
    env.write("proj/foundry.toml", "[profile.default]\nsrc = \"src\"\nout = \"build\"\n");
    env.write("proj/src/TxOriginAuth.sol", std::fs::read(fixtures.join("src/TxOriginAuth.sol")).unwrap());
    if built {
        let art = std::fs::read(fixtures.join("out/TxOriginAuth.sol/TxOriginAuth.json")).unwrap();
        env.write("proj/build/TxOriginAuth.sol/TxOriginAuth.json", art);
        for bi in std::fs::read_dir(fixtures.join("out/build-info")).unwrap() {
            let bi = bi.unwrap().path();
            let name = bi.file_name().unwrap().to_string_lossy().into_owned();
            env.write(&format!("proj/build/build-info/{name}"), std::fs::read(&bi).unwrap());
        }
    }
    root
}

#[test]
fn foundry_project_directory() {
    let env = Env::new();
    foundry_project(&env, false);
    let err = stderr_of(&env.run(["scan", "contract", "proj"]).code(2));
    assert!(err.contains("has not been built") && err.contains("forge build"), "{err}");
    foundry_project(&env, true);
    let r = stdout_json(&env.run(["scan", "contract", "proj", "--no-intel"]).success());
    assert_eq!(r["target"], "proj/src/TxOriginAuth.sol:TxOriginAuth");
    let f = findings_of(&r, "contract-tx-origin-auth")[0];
    assert_eq!(f["location"]["file"], "proj/src/TxOriginAuth.sol");
    let line = line_of(&env.work().join("proj/src/TxOriginAuth.sol"), "require(tx.origin == owner");
    assert_eq!(f["location"]["start_line"], line);
}

#[test]
fn hardhat_project_directory() {
    let env = Env::new();
    let art = fixture_json("TxOriginAuth", "TxOriginAuth");
    let source = std::fs::read_to_string(repo().join("tests/contracts/src/TxOriginAuth.sol")).unwrap();
    let id = art["id"].as_u64().unwrap();
    let file = "contracts/TxOriginAuth.sol";
    env.write("hh/hardhat.config.js", "module.exports = { solidity: \"0.8.37\" };\n");
    let err = stderr_of(&env.run(["scan", "contract", "hh"]).code(2));
    assert!(err.contains("npx hardhat compile"), "{err}");
    // Hardhat layout: artifact without source map, .dbg.json pointing at the build info, which
    // holds the compiler output (source map) and the sources.
    let hh_artifact = json!({
        "_format": "hh-sol-artifact-1",
        "contractName": "TxOriginAuth",
        "sourceName": file,
        "abi": art["abi"],
        "bytecode": art["bytecode"]["object"],
        "deployedBytecode": art["deployedBytecode"]["object"],
        "linkReferences": {},
        "deployedLinkReferences": {},
    });
    let build_info = json!({
        "_format": "hh-sol-build-info-1",
        "solcVersion": "0.8.37",
        "solcLongVersion": "0.8.37+commit.f401782d",
        "input": {"language": "Solidity", "sources": {file: {"content": source}}},
        "output": {
            "sources": {file: {"id": id}},
            "contracts": {file: {"TxOriginAuth": {
                "abi": art["abi"],
                "evm": {
                    "deployedBytecode": art["deployedBytecode"],
                    "methodIdentifiers": art["methodIdentifiers"],
                },
            }}},
        },
    });
    env.write("hh/artifacts/contracts/TxOriginAuth.sol/TxOriginAuth.json", hh_artifact.to_string());
    env.write(
        "hh/artifacts/contracts/TxOriginAuth.sol/TxOriginAuth.dbg.json",
        r#"{"_format": "hh-sol-dbg-1", "buildInfo": "../../build-info/abc.json"}"#,
    );
    env.write("hh/artifacts/build-info/abc.json", build_info.to_string());
    for target in ["hh", "hh/artifacts", "hh/artifacts/contracts/TxOriginAuth.sol/TxOriginAuth.json"] {
        let r = stdout_json(&env.run(["scan", "contract", target, "--no-intel"]).success());
        let f = findings_of(&r, "contract-tx-origin-auth")[0];
        assert_eq!(f["location"]["file"], "hh/contracts/TxOriginAuth.sol", "{target}");
        assert_eq!(
            f["location"]["start_line"],
            line_of(&repo().join("tests/contracts/src/TxOriginAuth.sol"), "require(tx.origin == owner")
        );
        assert_eq!(f["evidence"]["function"], "withdraw(address,uint256)", "{target}");
    }
}

#[test]
fn many_targets_one_report() {
    let env = Env::new();
    env.write("sd.hex", deployed_hex("SelfDestructible", "SelfDestructible"));
    let tx = repo().join("tests/contracts/out/TxOriginAuth.sol/TxOriginAuth.json");
    let r = stdout_json(&env.run(["scan", "contract", "sd.hex", tx.to_str().unwrap(), "--no-intel"]).success());
    assert_eq!(r["subject"]["contracts"].as_array().unwrap().len(), 2);
    assert!(r["target"].as_str().unwrap().starts_with("2 contracts (sd.hex, "), "{}", r["target"]);
    let path = findings_of(&r, "contract-selfdestruct")[0]["location"]["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("sd.hex"), "{path}");
    assert!(!findings_of(&r, "contract-tx-origin-auth").is_empty());
}

// ---------------------------------------------------------------------------------------------
// On a local chain

fn scan_deployed(anvil: &Anvil, env: &Env, target: &str) -> assert_cmd::assert::Assert {
    env.run(["scan", "contract", target, "--rpc-url", &anvil.url, "--chain", "local", "--format", "json", "--no-intel"])
}

#[test]
fn deployed_proxy_is_resolved_and_both_contracts_analysed() {
    let anvil = Anvil::start();
    let env = Env::new();
    let box_v1 = anvil.deploy(&creation_hex("BoxV1", "BoxV1"), &[]);
    let ctor = "constructor(address,address,bytes)";
    let proxy = anvil.deploy(&creation_hex("UpgradeableProxy", "UpgradeableProxy"), &[ctor, &box_v1, ANVIL_1, "0x"]);
    let r = stdout_json(&scan_deployed(&anvil, &env, &proxy).success());
    assert_eq!(r["chain"]["id"], 31337);
    assert_eq!(r["status"]["state"], "complete", "{:#}", r["status"]);
    let contracts = r["subject"]["contracts"].as_array().unwrap();
    assert_eq!(contracts.len(), 2);
    assert_eq!(contracts[0]["address"], proxy.as_str());
    assert_eq!(contracts[0]["proxy"]["kind"], "eip1967");
    // Addresses are EIP-55 checksummed, as everywhere in reports.
    let facts = &contracts[0]["proxy_facts"];
    assert!(facts["implementation"].as_str().unwrap().eq_ignore_ascii_case(&box_v1), "{facts}");
    assert_eq!(facts["admin"], ANVIL_1, "{facts}");
    assert_eq!(facts["admin_has_code"], false);
    assert_eq!(contracts[1]["address"], box_v1.as_str());
    // No ABI on chain: selectors (store(uint256) is 0x6057361d).
    let selectors: Vec<_> =
        contracts[1]["functions"].as_array().unwrap().iter().map(|f| f["selector"].clone()).collect();
    assert!(selectors.contains(&json!("0x6057361d")), "{selectors:?}");
    let up = findings_of(&r, "contract-proxy-upgradeable")[0];
    assert_eq!(up["evidence"]["implementation"], box_v1.as_str());
    let admin = findings_of(&r, "contract-proxy-admin-eoa");
    assert_eq!(admin.len(), 1, "{:?}", rule_ids(&r));
    assert_eq!(admin[0]["evidence"]["admin"], ANVIL_1);
    assert_eq!(admin[0]["location"]["address"], proxy.as_str());
    assert!(r["subject"]["chain_state"]["block"].as_u64().is_some());

    // An implementation with findings of its own: they are in the report, at its address.
    let tx_origin = anvil.deploy(&creation_hex("TxOriginAuth", "TxOriginAuth"), &[]);
    let proxy2 =
        anvil.deploy(&creation_hex("UpgradeableProxy", "UpgradeableProxy"), &[ctor, &tx_origin, ANVIL_1, "0x"]);
    let r = stdout_json(&scan_deployed(&anvil, &env, &proxy2).success());
    let f = findings_of(&r, "contract-tx-origin-auth");
    assert_eq!(f.len(), 1, "{:?}", rule_ids(&r));
    assert_eq!(f[0]["location"]["address"], tx_origin.as_str());
    let label = r["subject"]["contracts"][1]["label"].as_str().unwrap();
    assert!(label.contains("implementation of"), "{label}");

    // A proxy whose admin is a contract: no admin-EOA finding.
    let proxy3 = anvil.deploy(&creation_hex("UpgradeableProxy", "UpgradeableProxy"), &[ctor, &box_v1, &box_v1, "0x"]);
    let r = stdout_json(&scan_deployed(&anvil, &env, &proxy3).success());
    assert!(findings_of(&r, "contract-proxy-admin-eoa").is_empty(), "{:?}", rule_ids(&r));

    // A plain contract; the table format names the block read.
    let r = stdout_json(&scan_deployed(&anvil, &env, &tx_origin).success());
    assert_eq!(r["subject"]["contracts"].as_array().unwrap().len(), 1);
    assert!(!findings_of(&r, "contract-tx-origin-auth").is_empty());
}

#[test]
fn eoa_eip7702_and_chain_mismatch_on_a_local_chain() {
    let anvil = Anvil::start();
    let env = Env::new();
    // An EOA: no code, exit 2.
    let err = stderr_of(&scan_deployed(&anvil, &env, ANVIL_1).code(2));
    assert!(err.contains("no code") && err.contains("EOA"), "{err}");
    // An EIP-7702 delegated account: reported with its delegate, whose code is analysed too.
    let delegate = anvil.deploy(&creation_hex("SelfDestructible", "SelfDestructible"), &[]);
    let account = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
    let designator = format!("0xef0100{}", delegate.trim_start_matches("0x").to_lowercase());
    anvil.cast(&["rpc", "anvil_setCode", account, &designator]);
    let r = stdout_json(&scan_deployed(&anvil, &env, account).success());
    let f = findings_of(&r, "contract-eip7702-delegated");
    assert_eq!(f.len(), 1, "{:?}", rule_ids(&r));
    assert_eq!(f[0]["evidence"]["delegate"], delegate.as_str());
    let sd = findings_of(&r, "contract-selfdestruct");
    assert_eq!(sd[0]["location"]["address"], delegate.as_str());
    // --chain that the node does not serve: bad input.
    let err =
        stderr_of(&env.run(["scan", "contract", &delegate, "--rpc-url", &anvil.url, "--chain", "ethereum"]).code(2));
    assert!(err.contains("serves chain 31337"), "{err}");
    // Without --chain the node's chain is used.
    let r = stdout_json(&env.run(["scan", "contract", &delegate, "--rpc-url", &anvil.url, "--no-intel"]).success());
    assert_eq!(r["chain"]["id"], 31337);
}

#[test]
fn unreachable_rpc_exits_3_without_showing_the_key() {
    let env = Env::new();
    // A port nobody listens on: the discard port, below the ephemeral range, so that no other
    // test's server can take it between the attempts.
    let port = 9;
    let url = format!("http://127.0.0.1:{port}/v2/secret-key-123?apikey=hidden-456");
    let t = Instant::now();
    let a = env.run(["scan", "contract", SPENDER, "--rpc-url", &url]).code(3);
    let err = stderr_of(&a);
    assert!(err.contains("unreachable") && err.contains(&format!("http://127.0.0.1:{port}/…")), "{err}");
    assert!(!err.contains("secret-key-123") && !err.contains("hidden-456"), "secret leaked: {err}");
    assert!(t.elapsed() < Duration::from_secs(30), "retries took {:?}", t.elapsed());
    // Also through the environment, and with -vv logs.
    let a =
        no_panic(env.cmd().args(["-vv", "scan", "contract", SPENDER]).env("SCORPIUS_RPC_URL", &url).assert()).code(3);
    let err = stderr_of(&a);
    assert!(!err.contains("secret-key-123") && !err.contains("hidden-456"), "secret leaked: {err}");
}
