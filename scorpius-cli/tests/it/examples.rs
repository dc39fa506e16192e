//! The GitHub Actions example (`examples/github-actions/scorpius.yml`) runs only commands that
//! exist: every `scorpius …` line of the workflow is run here against the Foundry fixtures.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::common::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The `scorpius …` command lines of the workflow's `run:` steps, split into words.
fn workflow_commands() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(repo().join("examples/github-actions/scorpius.yml")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("scorpius "))
        .map(|l| l.split_whitespace().skip(1).map(str::to_owned).collect())
        .collect()
}

#[test]
fn github_actions_example_commands_run() {
    let commands = workflow_commands();
    assert!(commands.len() >= 2, "{commands:?}");
    assert!(
        commands.iter().any(|c| c.join(" ") == "scan contract out/ --format sarif -o scorpius.sarif --fail-on high")
    );
    let env = Env::new();
    copy_dir(&repo().join("tests/contracts/out"), &env.work().join("out"));
    for args in &commands {
        let out = Command::from_std(env.std_cmd_in(&env.work())).args(args).write_stdin("").output().unwrap();
        let code = out.status.code();
        // 1 is "findings at or above --fail-on": the workflow handles it (the fixtures have some).
        assert!(
            matches!(code, Some(0 | 1)),
            "scorpius {} exited {code:?}:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.work().join("scorpius.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["runs"][0]["automationDetails"]["id"], "scorpius/contracts/");
    let yml = std::fs::read_to_string(repo().join("examples/github-actions/scorpius.yml")).unwrap();
    assert!(yml.contains("category: scorpius/contracts/"), "the upload's category matches the run's");
    let md = std::fs::read_to_string(env.work().join("scorpius.md")).unwrap();
    assert!(md.starts_with("## Scorpius contract scan"), "{md}");
}
