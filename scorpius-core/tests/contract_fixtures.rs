//! The contract-analysis fixtures compiled in this repository (`tests/contracts/out/`, Foundry
//! layout): selectors equal `methodIdentifiers`, each malicious fixture is caught by its rule,
//! the clean ones get no high or critical finding, and findings map to the right source lines.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use alloy_primitives::address;
use scorpius_core::{
    chain::Chain,
    context::Context,
    contract::{self, ContractInput, ProxyFacts, artifacts, sourcemap::SourceFiles},
    model::{ScanReport, Severity},
};

fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/contracts")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every artifact `(path, artifact)` under `out/` except build-info.
fn all_artifacts() -> Vec<(PathBuf, artifacts::Artifact)> {
    let out = contracts_dir().join("out");
    let mut list = Vec::new();
    for dir in std::fs::read_dir(&out).expect("tests/contracts/out exists") {
        let dir = dir.unwrap().path();
        if dir.file_name().is_some_and(|n| n == "build-info") {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let a = artifacts::parse_artifact(&read(&f)).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            list.push((f, a));
        }
    }
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list
}

fn sources() -> SourceFiles {
    let dir = contracts_dir().join("out/build-info");
    let file = std::fs::read_dir(&dir).unwrap().next().expect("one build-info file").unwrap().path();
    let mut info = artifacts::BuildInfo::parse(&read(&file)).unwrap();
    // Paths in build info are relative to tests/contracts; contents are embedded.
    for s in info.sources.values_mut() {
        assert!(s.content.is_some(), "{} has no content in build info", s.path);
    }
    std::mem::take(&mut info.sources)
}

fn artifact(file: &str, name: &str) -> artifacts::Artifact {
    let path = contracts_dir().join(format!("out/{file}.sol/{name}.json"));
    artifacts::parse_artifact(&read(&path)).unwrap()
}

fn scan_with(file: &str, name: &str, facts: ProxyFacts) -> ScanReport {
    let a = artifact(file, name);
    let mut input = ContractInput::from_artifact(&a, sources());
    input.proxy_facts = facts;
    let report = contract::analyze_contract(&input, &Context::new(Chain::ethereum()));
    for f in &report.findings {
        let loc = f.location.as_ref().map(|l| format!("{:?}:{:?}", l.file, l.start_line)).unwrap_or_default();
        println!("{name}: {} {} {} {loc}", f.severity, f.rule_id, f.message);
    }
    report
}

fn scan(file: &str, name: &str) -> ScanReport {
    scan_with(file, name, ProxyFacts::default())
}

fn rule_ids(r: &ScanReport) -> BTreeSet<String> {
    r.findings.iter().map(|f| f.rule_id.to_string()).collect()
}

fn max_severity(r: &ScanReport) -> Option<Severity> {
    r.findings.iter().map(|f| f.severity).max()
}

#[test]
fn selectors_equal_method_identifiers() {
    let mut checked = 0;
    for (path, a) in all_artifacts() {
        if a.deployed_bytecode.is_empty() {
            continue;
        }
        let got: BTreeSet<[u8; 4]> =
            contract::selectors::extract(&a.deployed_bytecode).iter().map(|f| f.selector).collect();
        let want: BTreeSet<[u8; 4]> = a.method_identifiers.keys().copied().collect();
        assert_eq!(got, want, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} artifacts with code");
}

/// `(file, contract, rule that must fire)` for each malicious fixture.
const CAUGHT: &[(&str, &str, &str)] = &[
    ("HoneypotToken", "HoneypotToken", "contract-blacklist"),
    ("HiddenMintToken", "HiddenMintToken", "contract-hidden-mint"),
    ("TaxToken", "TaxToken", "contract-adjustable-fee"),
    ("PausableToken", "PausableToken", "contract-pausable"),
    ("MintableToken", "MintableToken", "contract-owner-mint"),
    ("SellLimitToken", "SellLimitToken", "contract-sell-limit"),
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
fn each_malicious_fixture_is_caught_by_its_rule() {
    let mut missed = Vec::new();
    for (file, name, rule) in CAUGHT {
        let r = scan(file, name);
        if !rule_ids(&r).contains(*rule) {
            missed.push(format!("{name}: {rule} not reported (got {:?})", rule_ids(&r)));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn details_of_the_catches() {
    // Anyone can call DelegateCalldata.execute: critical.
    let r = scan("DelegateCalldata", "DelegateCalldata");
    let f = r.findings.iter().find(|f| f.rule_id == "contract-delegatecall-calldata-target").unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.evidence["function"], "execute(address,bytes)");
    // The honeypot's list is set by setBlacklist.
    let r = scan("HoneypotToken", "HoneypotToken");
    let f = r.findings.iter().find(|f| f.rule_id == "contract-blacklist").unwrap();
    assert_eq!(f.evidence["setter"], "setBlacklist(address,bool)");
    // The hidden mint is syncRewards, with no Transfer event.
    let r = scan("HiddenMintToken", "HiddenMintToken");
    let f = r.findings.iter().find(|f| f.rule_id == "contract-hidden-mint").unwrap();
    assert_eq!(f.evidence["function"], "syncRewards(uint256)");
    assert_eq!(f.evidence["emits_transfer"], false);
    // The fee setter is setTaxRate.
    let r = scan("TaxToken", "TaxToken");
    let f = r.findings.iter().find(|f| f.rule_id == "contract-adjustable-fee").unwrap();
    assert_eq!(f.evidence["setter"], "setTaxRate(uint256)");
    // adminTransfer moves balances.
    let r = scan("OwnerMovesBalances", "OwnerMovesBalances");
    let f = r.findings.iter().find(|f| f.rule_id == "contract-owner-moves-balances").unwrap();
    assert_eq!(f.evidence["function"], "adminTransfer(address,address,uint256)");
    // SelfDestructible.destroy is owner-gated: medium.
    let r = scan("SelfDestructible", "SelfDestructible");
    let f = r.findings.iter().find(|f| f.rule_id == "contract-selfdestruct").unwrap();
    assert_eq!((f.severity, &f.evidence["gated"]), (Severity::Medium, &serde_json::json!(true)));
    assert_eq!(f.evidence["function"], "destroy()");
    // UnsafeCall: sweep drains, withdrawTo and ping do not check the result.
    let r = scan("UnsafeCall", "UnsafeCall");
    let sends: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == "contract-arbitrary-send")
        .map(|f| f.evidence["function"].clone())
        .collect();
    assert_eq!(sends, [serde_json::json!("sweep(address)")]);
    let unchecked: BTreeSet<String> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == "contract-unchecked-call")
        .map(|f| f.evidence["function"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unchecked, BTreeSet::from(["ping(address,bytes)".to_owned(), "withdrawTo(address,uint256)".to_owned()]));
}

#[test]
fn clean_fixtures_get_no_high_or_critical() {
    for (file, name) in [("CleanToken", "CleanToken"), ("BoxV1", "BoxV1"), ("BoxV2", "BoxV2")] {
        let r = scan(file, name);
        assert!(max_severity(&r) < Some(Severity::High), "{name}: {:?}", rule_ids(&r));
    }
    let r = scan("CleanToken", "CleanToken");
    let inv = r.findings.iter().find(|f| f.rule_id == "contract-privileged-functions").expect("inventory");
    let names: BTreeSet<&str> =
        inv.evidence["functions"].as_array().unwrap().iter().map(|f| f["function"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["renounceOwnership()", "transferOwnership(address)"]));
}

/// The benign wallet-scan fixtures: standard tokens (ERC-20, ERC-721, ERC-1155, a token whose
/// transfers return nothing), Multicall3 and a Permit2-style allowance contract. A holder's or
/// approved operator's authorisation (`msg.sender == _owners[tokenId]`,
/// `_operatorApprovals[owner][msg.sender]`) is not an owner gate: none of them gets a high or
/// critical finding, and no transfer function is "owner-only".
#[test]
fn benign_wallet_fixtures_get_no_high_or_critical() {
    let fixtures = [
        ("TestNFT", "TestNFT"),
        ("TestToken", "TestToken"),
        ("TestMultiToken", "TestMultiToken"),
        ("NoReturnToken", "NoReturnToken"),
        ("Multicall3", "Multicall3"),
        ("Permit2Lite", "Permit2Lite"),
    ];
    let mut bad = Vec::new();
    for (file, name) in fixtures {
        let r = scan(file, name);
        for f in r.findings.iter().filter(|f| f.severity >= Severity::High) {
            bad.push(format!("{name}: {} {} {}", f.severity, f.rule_id, f.message));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The ERC-721's transfers and approvals are open to holders and their operators, not
    // privileged.
    let r = scan("TestNFT", "TestNFT");
    assert!(!rule_ids(&r).contains("contract-privileged-functions"), "{:?}", rule_ids(&r));
}

#[test]
fn proxy_resolution_flags_an_eoa_admin() {
    let facts = ProxyFacts {
        implementation: Some(address!("5fbdb2315678afecb367f032d93f642f64180aa3")),
        admin: Some(address!("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")),
        admin_has_code: Some(false),
        beacon: None,
    };
    let r = scan_with("UpgradeableProxy", "UpgradeableProxy", facts);
    let ids = rule_ids(&r);
    assert!(ids.contains("contract-proxy-upgradeable") && ids.contains("contract-proxy-admin-eoa"), "{ids:?}");
    assert_eq!(r.subject.to_value()["proxy"]["kind"], "eip1967");
}

/// Findings point at the source line of the statement that causes them.
#[test]
fn findings_map_to_source_lines() {
    let line_of = |file: &str, needle: &str| -> u32 {
        let src = read(&contracts_dir().join(format!("src/{file}.sol")));
        let off = src.find(needle).unwrap_or_else(|| panic!("{needle} not in {file}"));
        src[..off].matches('\n').count() as u32 + 1
    };
    let cases = [
        ("TxOriginAuth", "TxOriginAuth", "contract-tx-origin-auth", "require(tx.origin == owner"),
        ("SelfDestructible", "SelfDestructible", "contract-selfdestruct", "selfdestruct(payable(owner))"),
        ("Metamorphic", "MetamorphicChild", "contract-selfdestruct", "selfdestruct(payable(msg.sender))"),
        ("DelegateCalldata", "DelegateCalldata", "contract-delegatecall-calldata-target", "target.delegatecall(data)"),
        ("UnsafeCall", "UnsafeCall", "contract-arbitrary-send", "to.call{value: address(this).balance}"),
    ];
    for (file, name, rule, needle) in cases {
        let r = scan(file, name);
        let f = r.findings.iter().find(|f| f.rule_id == rule).unwrap_or_else(|| panic!("{name}: no {rule}"));
        let loc = f.location.as_ref().unwrap_or_else(|| panic!("{name}: {rule} has no location"));
        assert_eq!(loc.file.as_deref(), Some(format!("src/{file}.sol").as_str()), "{name}: {rule}");
        let want = line_of(file, needle);
        let (start, end) = (loc.start_line.unwrap(), loc.end_line.unwrap());
        assert!(start <= want && want <= end, "{name}: {rule} at lines {start}-{end}, expected line {want}");
    }
}

/// Creation code is recognised as such, and the embedded runtime is the deployed bytecode
/// (immutables aside, which the constructor fills in).
#[test]
fn creation_code_is_detected_and_runtime_extracted() {
    let mut checked = 0;
    for (path, _) in all_artifacts() {
        let v: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
        let creation = v["bytecode"]["object"].as_str().unwrap();
        let runtime = v["deployedBytecode"]["object"].as_str().unwrap();
        if runtime.len() <= 2 {
            continue;
        }
        let creation = contract::parse_bytecode(creation).unwrap();
        let runtime = contract::parse_bytecode(runtime).unwrap();
        let extracted =
            contract::extract_runtime(&creation).unwrap_or_else(|| panic!("{}: not creation code", path.display()));
        assert_eq!(extracted.len(), runtime.len(), "{}", path.display());
        let e = contract::parse_runtime_bytecode("bytecode", &hex::encode(&creation)).unwrap_err();
        assert!(e.to_string().contains("creation (deployment) code"), "{e}");
        assert_eq!(contract::classify(&runtime), contract::CodeKind::Runtime, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 20);
}

/// The fixtures are compiled for Cancun: on a pre-Shanghai chain PUSH0 is flagged, on the
/// chains of the registry nothing is.
#[test]
fn unsupported_opcodes_depend_on_the_chain() {
    let a = artifact("TxOriginAuth", "TxOriginAuth");
    let mut input = ContractInput::from_artifact(&a, SourceFiles::new());
    let r = contract::analyze_contract(&input, &Context::new(Chain::ethereum()));
    assert!(!rule_ids(&r).contains("contract-unsupported-opcode"));
    input.fork = Some(contract::Fork::Paris);
    let r = contract::analyze_contract(&input, &Context::new(Chain::ethereum()));
    let f = r.findings.iter().find(|f| f.rule_id == "contract-unsupported-opcode").expect("PUSH0 flagged");
    assert_eq!(f.evidence["opcode"], "PUSH0");
    assert_eq!(f.evidence["introduced_in"], "shanghai");
}
