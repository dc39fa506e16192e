//! Configuration layering, one test per layer: defaults < user config file < project
//! `scorpius.toml` (in the working directory or an ancestor, or `--config FILE`) <
//! `SCORPIUS_*` environment < flags. `config show` must name each value's source.

use std::path::Path;

use predicates::prelude::*;
use serde_json::Value;

use crate::common::*;

/// `config show --format json`, run in `dir`.
fn show(env: &Env, dir: &Path, envs: &[(&str, &str)], extra: &[&str]) -> Value {
    let mut c = assert_cmd::Command::from_std(env.std_cmd_in(dir));
    c.envs(envs.iter().copied()).args(extra).args(["config", "show", "--format", "json"]);
    stdout_json(&no_panic(c.assert()).success())
}

/// The chain a scan reports, run in `dir`.
fn scan_chain(env: &Env, dir: &Path, envs: &[(&str, &str)], extra: &[&str]) -> String {
    let mut c = assert_cmd::Command::from_std(env.std_cmd_in(dir));
    c.envs(envs.iter().copied()).args(["scan", "tx", "--to", USDC]).args(extra);
    let r = stdout_json(&no_panic(c.assert()).success());
    r["chain"]["name"].as_str().unwrap().to_owned()
}

fn setting<'a>(shown: &'a Value, key: &str) -> (&'a Value, &'a str) {
    let s = &shown["settings"][key];
    (&s["value"], s["source"].as_str().unwrap_or_else(|| panic!("no source for {key}: {shown:#}")))
}

#[test]
fn default_chain_is_ethereum() {
    let env = Env::new();
    let shown = show(&env, &env.work(), &[], &[]);
    assert_eq!(setting(&shown, "chain"), (&Value::from("ethereum"), "default"));
    assert_eq!(setting(&shown, "fail_on"), (&Value::Null, "default"));
    assert_eq!(setting(&shown, "format"), (&Value::Null, "default"));
    assert!(shown["project_config_file"].is_null(), "{shown:#}");
    assert_eq!(shown["user_config_file"], env.user_config_path().to_str().unwrap());
    assert_eq!(scan_chain(&env, &env.work(), &[], &[]), "ethereum");
}

#[test]
fn user_config_file_sets_the_chain() {
    let env = Env::new();
    let user = env.user_config("chain = \"base\"\n");
    let shown = show(&env, &env.work(), &[], &[]);
    assert_eq!(setting(&shown, "chain"), (&Value::from("base"), format!("file {}", user.display()).as_str()));
    assert_eq!(scan_chain(&env, &env.work(), &[], &[]), "base");
}

#[test]
fn project_file_in_the_working_directory_overrides_the_user_file() {
    let env = Env::new();
    env.user_config("chain = \"base\"\nfail_on = \"critical\"\n");
    let project = env.write("scorpius.toml", "chain = \"optimism\"\n");
    let shown = show(&env, &env.work(), &[], &[]);
    assert_eq!(setting(&shown, "chain"), (&Value::from("optimism"), format!("file {}", project.display()).as_str()));
    // Keys the project file does not set still come from the user file.
    assert_eq!(setting(&shown, "fail_on").0, "critical");
    assert!(setting(&shown, "fail_on").1.ends_with("config.toml"), "{shown:#}");
    assert_eq!(shown["project_config_file"], project.to_str().unwrap());
    assert_eq!(scan_chain(&env, &env.work(), &[], &[]), "optimism");
}

#[test]
fn project_file_in_a_parent_directory_is_found() {
    let env = Env::new();
    env.user_config("chain = \"base\"\n");
    let project = env.write("scorpius.toml", "chain = \"polygon\"\n");
    let deep = env.work().join("contracts").join("src");
    std::fs::create_dir_all(&deep).unwrap();
    let shown = show(&env, &deep, &[], &[]);
    assert_eq!(setting(&shown, "chain"), (&Value::from("polygon"), format!("file {}", project.display()).as_str()));
    assert_eq!(scan_chain(&env, &deep, &[], &[]), "polygon");
}

#[test]
fn environment_overrides_the_files() {
    let env = Env::new();
    env.user_config("chain = \"base\"\n");
    env.write("scorpius.toml", "chain = \"optimism\"\n");
    let vars = [("SCORPIUS_CHAIN", "bsc")];
    let shown = show(&env, &env.work(), &vars, &[]);
    assert_eq!(setting(&shown, "chain"), (&Value::from("bsc"), "environment variable SCORPIUS_CHAIN"));
    assert_eq!(scan_chain(&env, &env.work(), &vars, &[]), "bsc");
}

#[test]
fn flag_overrides_the_environment() {
    let env = Env::new();
    env.write("scorpius.toml", "chain = \"optimism\"\n");
    let vars = [("SCORPIUS_CHAIN", "bsc")];
    assert_eq!(scan_chain(&env, &env.work(), &vars, &["--chain", "arbitrum"]), "arbitrum");
    // The source of a flag value shows in errors about it.
    env.cmd()
        .envs(vars)
        .args(["scan", "tx", "--to", USDC, "--chain", "arbitrum-two"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("arbitrum-two").and(predicate::str::contains("command-line flag")));
}

#[test]
fn chain_ids_are_accepted_in_every_layer() {
    // Regression: `SCORPIUS_CHAIN=137` and `chain = 10` (bare integers) were rejected with
    // "expected a string" although `--chain 137` works.
    let env = Env::new();
    assert_eq!(scan_chain(&env, &env.work(), &[("SCORPIUS_CHAIN", "137")], &[]), "polygon");
    env.write("scorpius.toml", "chain = 10\n");
    assert_eq!(scan_chain(&env, &env.work(), &[], &[]), "optimism");
    assert_eq!(setting(&show(&env, &env.work(), &[], &[]), "chain").0, "10");
    assert_eq!(scan_chain(&env, &env.work(), &[], &["--chain", "8453"]), "base");
    assert_eq!(scan_chain(&env, &env.work(), &[], &["--chain", "0x89"]), "polygon");
}

#[test]
fn explicit_config_file_replaces_the_discovered_one() {
    let env = Env::new();
    env.user_config("chain = \"base\"\n");
    env.write("scorpius.toml", "chain = \"optimism\"\n");
    let explicit = env.write("ci/scorpius-ci.toml", "chain = \"sepolia\"\n");
    let shown = show(&env, &env.work(), &[], &["--config", "ci/scorpius-ci.toml"]);
    assert_eq!(setting(&shown, "chain").0, "sepolia");
    assert!(setting(&shown, "chain").1.ends_with("scorpius-ci.toml"), "{shown:#}");
    assert!(shown["project_config_file"].as_str().unwrap().ends_with("scorpius-ci.toml"), "{shown:#}");
    assert!(explicit.is_file());
    // --config is global: it works after the subcommand too.
    assert_eq!(scan_chain(&env, &env.work(), &[], &["--config", "ci/scorpius-ci.toml"]), "sepolia");
}

#[test]
fn missing_explicit_config_file_is_exit_2() {
    let env = Env::new();
    env.run(["--config", "nope.toml", "scan", "tx", "--to", USDC])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("--config nope.toml").and(predicate::str::contains("not found")));
}

#[test]
fn fail_on_and_format_come_from_configuration_too() {
    let env = Env::new();
    let approve = ["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED];
    env.write("scorpius.toml", "fail_on = \"medium\"\nformat = \"table\"\n");
    env.run(approve).code(1).stdout(predicate::str::contains("Decoded calls"));
    // Flags still win over the file.
    let mut args = approve.to_vec();
    args.extend(["--fail-on", "critical", "--format", "json"]);
    stdout_json(&env.run(&args).code(0));
    // And the environment wins over the file.
    let a = no_panic(env.cmd().env("SCORPIUS_FAIL_ON", "high").env("SCORPIUS_FORMAT", "json").args(approve).assert());
    stdout_json(&a.code(0));
}

/// A bad value in `file` must exit 2 and the message must contain each of `want`.
fn assert_invalid(env: &Env, want: &[&str]) {
    let a = env.run(["scan", "tx", "--to", USDC]).code(2).stdout(predicate::str::is_empty());
    let err = stderr_of(&a);
    for w in want {
        assert!(err.contains(w), "stderr lacks {w:?}:\n{err}");
    }
    // config show fails the same way rather than showing a half-valid configuration.
    env.run(["config", "show"]).code(2);
}

#[test]
fn invalid_chain_in_a_file_names_the_key_and_the_file() {
    let env = Env::new();
    env.write("scorpius.toml", "chain = \"etherum\"\n");
    assert_invalid(&env, &["chain", "etherum", "scorpius.toml", "unknown chain"]);
}

#[test]
fn invalid_fail_on_in_a_file_names_the_key_and_the_file() {
    let env = Env::new();
    env.write("scorpius.toml", "fail_on = \"severe\"\n");
    assert_invalid(&env, &["fail_on", "severe", "scorpius.toml"]);
}

#[test]
fn unknown_key_in_a_file_names_the_key_and_the_file() {
    let env = Env::new();
    env.write("scorpius.toml", "colour = \"red\"\n");
    assert_invalid(&env, &["colour", "scorpius.toml"]);
}

#[test]
fn invalid_value_in_the_user_file_names_that_file() {
    let env = Env::new();
    env.user_config("format = \"xml\"\n");
    assert_invalid(&env, &["format", "xml", "scorpius/config.toml"]);
}

#[test]
fn malformed_toml_is_exit_2() {
    let env = Env::new();
    env.write("scorpius.toml", "chain = \n");
    assert_invalid(&env, &["scorpius.toml", "line 1"]);
}

#[test]
fn invalid_environment_values_name_the_variable() {
    let env = Env::new();
    let a = no_panic(env.cmd().env("SCORPIUS_CHAIN", "etherum").args(["scan", "tx", "--to", USDC]).assert()).code(2);
    assert!(stderr_of(&a).contains("etherum") && stderr_of(&a).contains("SCORPIUS_CHAIN"), "{}", stderr_of(&a));
    let a = no_panic(env.cmd().env("SCORPIUS_FAIL_ON", "severe").args(["scan", "tx", "--to", USDC]).assert()).code(2);
    assert!(stderr_of(&a).contains("severe") && stderr_of(&a).contains("SCORPIUS_"), "{}", stderr_of(&a));
}

#[test]
fn config_show_table_lists_every_key_and_the_files() {
    let env = Env::new();
    let project = env.write("scorpius.toml", "chain = \"base\"\n");
    env.run(["config", "show", "--format", "table"])
        .success()
        .stdout(predicate::str::contains("chain").and(predicate::str::contains("fail_on")))
        .stdout(predicate::str::contains(format!("file {}", project.display())))
        .stdout(predicate::str::contains("(not set)"));
}

#[test]
fn project_policy_overrides_and_ignores_shape_the_gate() {
    let env = Env::new();
    let scan = ["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--format", "json", "--no-intel"];
    // approval-unlimited is medium by default: raised to critical, it trips --fail-on high.
    env.write("scorpius.toml", "fail_on = \"high\"\n[policy]\nseverity = { \"approval-unlimited\" = \"critical\" }\n");
    let r = stdout_json(&env.run(scan).code(1));
    assert_eq!(r["findings"][0]["severity"], "critical");
    assert_eq!(r["findings"][0]["evidence"]["policy_default_severity"], "medium");

    // Ignored with a reason: out of the findings and the gate, listed as suppressed.
    env.write(
        "scorpius.toml",
        "fail_on = \"low\"\n[[policy.ignore]]\nrule = \"approval-unlimited\"\nreason = \"vetted spender\"\nexpires = \"2999-01-01\"\n",
    );
    let r = stdout_json(&env.run(scan).code(0));
    assert_eq!(r["findings"], serde_json::json!([]));
    assert_eq!(r["suppressed"][0]["rule_id"], "approval-unlimited");
    assert_eq!(r["suppressed"][0]["reason"], "vetted spender");

    // Expired: reported (and gated) again, with a warning.
    env.write(
        "scorpius.toml",
        "fail_on = \"low\"\n[[policy.ignore]]\nrule = \"approval-unlimited\"\nreason = \"old\"\nexpires = \"2020-01-01\"\n",
    );
    env.run(scan).code(1).stderr(predicate::str::contains("expired"));

    // Mistakes name the field.
    env.write("scorpius.toml", "[[policy.ignore]]\nrule = \"no-such-rule\"\nreason = \"x\"\n");
    env.run(scan).code(2).stderr(predicate::str::contains("policy.ignore[0].rule"));
    env.write("scorpius.toml", "[[policy.ignore]]\nrule = \"approval-unlimited\"\n");
    env.run(scan).code(2).stderr(predicate::str::contains("reason"));
}
