//! `--format sarif` from every scan kind and from `scorpius report`: each log must match the
//! OASIS SARIF 2.1.0 schema and pass Microsoft's SARIF validator with its GitHub rules.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

use crate::common::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

/// Checks a SARIF log against the schema vendored in the repository.
fn assert_schema_valid(text: &str) -> Value {
    let schema_path = repo().join("tests/fixtures/schemas/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let log: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF does not match the 2.1.0 schema:\n{}", errors.join("\n"));
    log
}

/// The validator's native binary from the pinned npm package (`npm ci`, see package.json).
/// Called directly: the package's `bin.js` goes through a shell, which splits `Gh;Sarif`.
fn multitool() -> Option<PathBuf> {
    let p = repo().join("node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool");
    if p.is_file() {
        return Some(p);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!in_ci, "{} is missing: run `npm ci` (scripts/test-all.sh does)", p.display());
    eprintln!("note: SARIF multitool not installed (npm ci); skipping its validation outside CI");
    None
}

/// Runs `Sarif.Multitool validate --rule-kind Gh;Sarif` and fails on any error-level result.
fn assert_multitool_valid(file: &Path) {
    let Some(tool) = multitool() else { return };
    let out_log = file.with_extension("validation.sarif");
    let out = std::process::Command::new(&tool)
        .args(["validate", "--rule-kind", "Gh;Sarif", "--output"])
        .arg(&out_log)
        .arg(file)
        // .NET needs no ICU for this; keep it from failing on minimal machines.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .expect("run Sarif.Multitool");
    let console = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "Sarif.Multitool failed on {}:\n{console}", file.display());
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&out_log).unwrap()).unwrap();
    let errors: Vec<String> = log["runs"][0]["results"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|r| r["level"] == "error")
        .map(|r| format!("{}: {}", r["ruleId"], r["message"]))
        .collect();
    assert!(errors.is_empty(), "Sarif.Multitool errors in {}:\n{}\n{console}", file.display(), errors.join("\n"));
    assert!(console.contains("Analysis completed successfully"), "{console}");
}

/// Writes the log into the test's working directory and validates it both ways.
pub(crate) fn assert_valid(env: &Env, name: &str, text: &str) -> Value {
    let log = assert_schema_valid(text);
    let file = env.write(name, text);
    assert_multitool_valid(&file);
    log
}

fn sarif_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

fn category(log: &Value) -> Vec<String> {
    log["runs"].as_array().unwrap().iter().map(|r| r["automationDetails"]["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn every_scan_kind_writes_valid_sarif() {
    let env = Env::new();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("tx", vec!["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED], "scorpius/transactions/"),
        ("address", vec!["scan", "address", USDC], "scorpius/addresses/"),
        ("domain", vec!["scan", "domain", "https://app.uniswap.org"], "scorpius/domains/"),
    ];
    for (name, mut args, cat) in cases {
        args.extend(["--format", "sarif"]);
        let text = sarif_of(&env.run(&args).success());
        let log = assert_valid(&env, &format!("{name}.sarif"), &text);
        assert_eq!(category(&log), [cat], "{name}");
    }
    env.write("permit.json", PERMIT2_SINGLE_UNLIMITED);
    let text = sarif_of(&env.run(["scan", "signature", "permit.json", "--format", "sarif"]).success());
    let log = assert_valid(&env, "signature.sarif", &text);
    assert_eq!(category(&log), ["scorpius/signatures/"]);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "permit2-unlimited-allowance"), "{log:#}");
    for r in results {
        let loc = &r["locations"][0];
        assert!(loc["logicalLocations"][0]["name"].as_str().unwrap().ends_with("@ethereum"), "{loc}");
    }
}

#[test]
fn contract_scan_sarif_points_at_source_lines_with_githubs_line_hash() {
    let env = Env::new();
    let a = no_panic(
        Command::from_std(env.std_cmd_in(&repo()))
            .args(["scan", "contract", "tests/contracts/out", "--no-intel", "--no-save", "--format", "sarif"])
            .write_stdin("")
            .assert(),
    )
    .success();
    let text = sarif_of(&a);
    let log = assert_valid(&env, "contracts.sarif", &text);
    assert_eq!(category(&log), ["scorpius/contracts/"]);
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    let tx_origin = results
        .iter()
        .find(|r| r["ruleId"] == "contract-tx-origin-auth")
        .unwrap_or_else(|| panic!("no tx.origin result: {text}"));
    assert_eq!(rules[tx_origin["ruleIndex"].as_u64().unwrap() as usize]["id"], "contract-tx-origin-auth");
    let phys = &tx_origin["locations"][0]["physicalLocation"];
    assert_eq!(phys["artifactLocation"]["uri"], "tests/contracts/src/TxOriginAuth.sol");
    let line = phys["region"]["startLine"].as_u64().unwrap();
    let src = std::fs::read_to_string(repo().join("tests/contracts/src/TxOriginAuth.sol")).unwrap();
    assert!(src.lines().nth(line as usize - 1).unwrap().contains("tx.origin"));
    let hash = tx_origin["partialFingerprints"]["primaryLocationLineHash"].as_str().unwrap();
    assert!(hash.contains(':') && hash.split(':').next().unwrap().chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    assert_eq!(tx_origin["level"], "error");
    // Levels follow severities everywhere.
    for r in results {
        let want = match r["properties"]["severity"].as_str().unwrap() {
            "critical" | "high" => "error",
            "medium" => "warning",
            _ => "note",
        };
        assert_eq!(r["level"], want, "{r}");
    }
    // The incomplete proxy scan is reported as a notification, not hidden.
    let notes = run["invocations"][0]["toolExecutionNotifications"].as_array().unwrap();
    assert!(notes.iter().any(|n| n["message"]["text"].as_str().unwrap().contains("incomplete")));
}

#[test]
fn clean_scan_is_valid_sarif_with_no_results() {
    let env = Env::new();
    let text = sarif_of(&env.run(["scan", "address", SPENDER, "--format", "sarif", "--no-save"]).success());
    let log = assert_valid(&env, "clean.sarif", &text);
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 0);
    // --fail-on still gates, and -o writes the file.
    env.run([
        "scan",
        "tx",
        "--to",
        USDC,
        "--data",
        APPROVE_UNLIMITED,
        "-f",
        "sarif",
        "-o",
        "gate.sarif",
        "--fail-on",
        "medium",
    ])
    .code(1);
    let text = std::fs::read_to_string(env.work().join("gate.sarif")).unwrap();
    assert_valid(&env, "gate-copy.sarif", &text);
}

#[test]
fn report_over_history_groups_runs_by_kind() {
    let env = Env::new();
    env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--no-intel", "-f", "json"]).success();
    env.run(["scan", "address", USDC, "-f", "json"]).success();
    env.run(["scan", "tx", "--to", USDC, "--data", SET_APPROVAL_FOR_ALL, "--no-intel", "-f", "json"]).success();
    let text = sarif_of(&env.run(["report", "--since", "2000-01-01", "--format", "sarif"]).success());
    let log = assert_valid(&env, "history.sarif", &text);
    assert_eq!(category(&log), ["scorpius/transactions/", "scorpius/addresses/"]);
    let tx_run = &log["runs"][0];
    assert_eq!(tx_run["properties"]["scorpius/scans"].as_array().unwrap().len(), 2);
    let ids: Vec<&str> = tx_run["results"].as_array().unwrap().iter().map(|r| r["ruleId"].as_str().unwrap()).collect();
    assert!(ids.contains(&"approval-unlimited") && ids.contains(&"nft-approval-for-all"), "{ids:?}");
}
