//! Output formats and `--output FILE`.

use predicates::prelude::*;

use crate::common::*;

fn approve_args() -> Vec<&'static str> {
    vec!["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED]
}

#[test]
fn json_format_follows_the_versioned_schema() {
    let env = Env::new();
    let mut args = approve_args();
    args.extend(["--format", "json"]);
    let r = stdout_json(&env.run(args).success());
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["kind"], "transaction");
    assert_eq!(rule_ids(&r), ["approval-unlimited"]);
    assert_eq!(r["chain"], serde_json::json!({"id": 1, "name": "ethereum"}));
    assert_eq!(r["status"]["state"], "complete");
    assert!(r["scan_id"].is_string() && r["started_at"].is_string() && r["duration_us"].is_u64(), "{r:#}");
    let f = &r["findings"][0];
    for key in ["severity", "title", "message", "evidence", "recommendation"] {
        assert!(!f[key].is_null(), "finding lacks {key}: {f:#}");
    }
}

#[test]
fn table_format_shows_findings_and_decoded_calls() {
    let env = Env::new();
    let mut args = approve_args();
    args.extend(["--format", "table"]);
    let a = env.run(args).success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    for want in ["approval-unlimited", "Decoded calls", "approve(address,uint256)", "spender (address)", "MEDIUM"] {
        assert!(out.contains(want), "table lacks {want:?}:\n{out}");
    }
    assert!(serde_json::from_str::<serde_json::Value>(&out).is_err());
}

#[test]
fn default_format_off_a_terminal_is_json() {
    // assert_cmd captures stdout through a pipe, so stdout is not a terminal here.
    let env = Env::new();
    let r = stdout_json(&env.run(approve_args()).success());
    assert_eq!(r["schema_version"], 1);
}

#[test]
fn output_file_gets_the_result_and_stdout_stays_empty() {
    let env = Env::new();
    let mut args = approve_args();
    args.extend(["--output", "report.json"]);
    env.run(args).success().stdout(predicate::str::is_empty());
    let text = std::fs::read_to_string(env.work().join("report.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rule_ids(&r), ["approval-unlimited"]);
    let mut names: Vec<_> =
        std::fs::read_dir(env.work()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["report.json"], "no temporary file left beside the output");
}

#[test]
fn output_file_with_table_format() {
    let env = Env::new();
    let mut args = approve_args();
    args.extend(["-o", "report.txt", "-f", "table"]);
    env.run(args).success().stdout(predicate::str::is_empty());
    let text = std::fs::read_to_string(env.work().join("report.txt")).unwrap();
    assert!(text.contains("Decoded calls") && text.contains("approval-unlimited"), "{text}");
}

#[test]
fn output_file_replaces_an_existing_file() {
    let env = Env::new();
    env.write("report.json", "old contents");
    let mut args = approve_args();
    args.extend(["--output", "report.json"]);
    env.run(args).success();
    let text = std::fs::read_to_string(env.work().join("report.json")).unwrap();
    assert!(text.starts_with('{') && text.contains("approval-unlimited"), "{text}");
}

#[test]
fn output_into_a_missing_directory_is_exit_3_and_leaves_nothing() {
    let env = Env::new();
    let mut args = approve_args();
    args.extend(["--output", "no-such-dir/report.json"]);
    env.run(args)
        .code(3)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("no-such-dir/report.json"));
    assert!(!env.work().join("no-such-dir").exists());
    assert_eq!(std::fs::read_dir(env.work()).unwrap().count(), 0, "nothing written in the working directory");
}

#[test]
fn output_onto_a_directory_is_exit_3_and_removes_the_temp_file() {
    // Here the temporary file is created and only the final rename fails: it must be cleaned up.
    let env = Env::new();
    std::fs::create_dir(env.work().join("out")).unwrap();
    let mut args = approve_args();
    args.extend(["--output", "out"]);
    env.run(args).code(3).stdout(predicate::str::is_empty()).stderr(predicate::str::contains("writing out"));
    let names: Vec<_> =
        std::fs::read_dir(env.work()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["out"], "no temporary file left behind");
    assert_eq!(std::fs::read_dir(env.work().join("out")).unwrap().count(), 0);
}

#[test]
fn markdown_html_and_csv_reports() {
    let env = Env::new();
    let mut args = approve_args();
    args.extend(["--format", "markdown", "--no-intel"]);
    let out = env.run(&args).success().get_output().stdout.clone();
    let md = String::from_utf8(out).unwrap();
    assert!(md.starts_with("## Scorpius transaction scan: 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), "{md}");
    assert!(md.contains("| MEDIUM | `approval-unlimited` |"), "{md}");

    let mut args = approve_args();
    args.extend(["--format", "html", "-o", "report.html"]);
    env.run(&args).success().stdout(predicate::str::is_empty());
    let html = std::fs::read_to_string(env.work().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("approval-unlimited") && html.ends_with("</html>\n"));

    let mut args = approve_args();
    args.extend(["--format", "csv"]);
    let out = env.run(&args).success().get_output().stdout.clone();
    let mut rd = csv::Reader::from_reader(out.as_slice());
    assert_eq!(rd.headers().unwrap().get(5), Some("rule_id"));
    let rows: Vec<_> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][5], "approval-unlimited");

    // --fail-on works the same whatever the format.
    let mut args = approve_args();
    args.extend(["--format", "markdown", "--fail-on", "medium"]);
    env.run(&args).code(1);
    let mut args = approve_args();
    args.extend(["--format", "docx"]);
    env.run(&args).code(2).stderr(predicate::str::contains("not a report format"));
}
