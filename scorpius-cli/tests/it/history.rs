//! `scorpius history`: scans are saved unless `--no-save`, listed with filters, shown again
//! in any format, deleted (and the deletion audited).

use predicates::prelude::*;

use crate::common::{APPROVE_UNLIMITED, Env, USDC, stdout_json};

#[test]
fn scans_are_saved_listed_shown_and_deleted() {
    let env = Env::new();
    let scan = stdout_json(
        &env.run(["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED, "--format", "json", "--no-intel"]).success(),
    );
    env.run(["scan", "address", USDC, "--format", "json"]).success();
    env.run(["scan", "tx", "--to", USDC, "--data", "0x", "--format", "json", "--no-save"]).success();

    let all = stdout_json(&env.run(["history", "list", "--format", "json"]).success());
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "--no-save scans are not kept: {all:?}");
    assert_eq!(all[1]["scan_id"], scan["scan_id"]);
    assert_eq!(all[1]["kind"], "transaction");
    assert_eq!(all[1]["risk_level"], "medium");

    let medium = stdout_json(&env.run(["history", "list", "--level", "medium", "--format", "json"]).success());
    assert_eq!(medium.as_array().unwrap().len(), 1);
    let addr = stdout_json(&env.run(["history", "list", "--kind", "address", "--format", "json"]).success());
    assert_eq!(addr[0]["target"], USDC);
    let none = stdout_json(&env.run(["history", "list", "--since", "2999-01-01", "--format", "json"]).success());
    assert_eq!(none, serde_json::json!([]));

    // Shown again, identical to the original JSON, and in other formats.
    let id = scan["scan_id"].as_str().unwrap();
    let again = stdout_json(&env.run(["history", "show", id, "--format", "json"]).success());
    assert_eq!(again, scan);
    env.run(["history", "show", &id[..8], "--format", "markdown"])
        .success()
        .stdout(predicate::str::contains("`approval-unlimited`"));

    env.run(["history", "delete", id]).success().stderr(predicate::str::contains(id));
    env.run(["history", "show", id]).code(2).stderr(predicate::str::contains("no saved scan"));
    let log = stdout_json(&env.run(["audit", "log", "--action", "history.delete", "--format", "json"]).success());
    assert_eq!(log[0]["resource"], id);
}

#[test]
fn bad_filters_are_exit_2() {
    let env = Env::new();
    for args in [
        vec!["history", "list", "--kind", "wallet-ish"],
        vec!["history", "list", "--level", "severe"],
        vec!["history", "list", "--since", "last week"],
        vec!["history", "delete", "not-an-id"],
    ] {
        env.run(&args).code(2).stderr(predicate::str::starts_with("error: "));
    }
    env.run(["history", "list", "--format", "table"]).success().stdout("No saved scans.\n");
}
