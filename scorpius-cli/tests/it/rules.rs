//! `scorpius rules` and `scorpius completions`.

use predicates::prelude::*;
use scorpius_core::rules;

use crate::common::*;

#[test]
fn rules_json_lists_every_rule_of_the_registry() {
    let env = Env::new();
    let listed = stdout_json(&env.run(["rules", "--format", "json"]).success());
    let listed = listed.as_array().expect("a JSON array");
    let ids: Vec<&str> = listed.iter().map(|r| r["id"].as_str().expect("id")).collect();
    let registry: Vec<&str> = rules::ALL.iter().map(|r| r.id).collect();
    assert_eq!(ids, registry);
    for r in listed {
        for key in ["severity", "title", "description", "recommendation"] {
            assert!(r[key].as_str().is_some_and(|s| !s.is_empty()), "rule {} lacks {key}", r["id"]);
        }
    }
}

#[test]
fn rules_default_off_a_terminal_is_json() {
    let env = Env::new();
    assert!(stdout_json(&env.run(["rules"]).success()).is_array());
}

#[test]
fn rules_table_lists_ids_and_titles() {
    let env = Env::new();
    env.run(["rules", "--format", "table"])
        .success()
        .stdout(predicate::str::contains("approval-unlimited"))
        .stdout(predicate::str::contains("eth-sign-raw-hash"))
        .stdout(predicate::str::contains("Unlimited token approval"));
}

#[test]
fn one_rule_in_full() {
    let env = Env::new();
    env.run(["rules", "approval-unlimited", "--format", "table"])
        .success()
        .stdout(predicate::str::starts_with("approval-unlimited"))
        .stdout(predicate::str::contains("Unlimited token approval"))
        .stdout(predicate::str::contains("Recommendation:"))
        .stdout(predicate::str::contains("https://eips.ethereum.org/EIPS/eip-20"));
    let one = stdout_json(&env.run(["rules", "approval-unlimited", "--format", "json"]).success());
    assert_eq!(one["id"], "approval-unlimited");
    assert_eq!(one["severity"], "medium");
}

#[test]
fn rules_markdown_is_the_generated_document() {
    let env = Env::new();
    env.run(["rules", "--format", "markdown"]).success().stdout(format!("{}\n", rules::render_markdown().trim_end()));
}

#[test]
fn unknown_rule_id_is_exit_2() {
    let env = Env::new();
    env.run(["rules", "approval-unlimted"])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("unknown rule id `approval-unlimted`"));
}

#[test]
fn completions_for_each_shell() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let a = env.run(["completions", shell]).success().stderr(predicate::str::is_empty());
        let script = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
        assert!(script.len() > 200, "{shell}: script too short:\n{script}");
        assert!(script.contains("scorpius"), "{shell}: script does not mention scorpius");
        // Subcommands and their flags are completed, not only the top level.
        assert!(script.contains("fail-on"), "{shell}: no --fail-on completion");
    }
}
