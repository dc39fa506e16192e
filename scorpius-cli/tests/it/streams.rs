//! stdout carries only the result; logs go to stderr; a closed stdout pipe is not an error.

use std::{
    io::{Read as _, Write as _},
    process::Stdio,
};

use predicates::prelude::*;

use crate::common::*;

#[test]
fn verbose_logs_go_to_stderr_and_stdout_stays_json() {
    let env = Env::new();
    let a = env.run(["-vv", "scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED]).success();
    let r = stdout_json(&a);
    assert_eq!(rule_ids(&r), ["approval-unlimited"]);
    let err = stderr_of(&a);
    assert!(err.contains("scan finished"), "expected the info log on stderr:\n{err}");
    // Regression: logs used to carry ANSI colour codes even when stderr was a pipe or a file.
    assert!(!err.contains('\u{1b}'), "escape codes in redirected stderr: {err:?}");
}

#[test]
fn rust_log_overrides_verbosity_and_stays_on_stderr() {
    let env = Env::new();
    let a = no_panic(env.cmd().env("RUST_LOG", "info").args(["scan", "tx", "--to", USDC]).assert()).success();
    stdout_json(&a);
    assert!(stderr_of(&a).contains("scan finished"));
}

#[test]
fn quiet_and_default_runs_write_nothing_to_stderr() {
    let env = Env::new();
    for extra in [None, Some("-q")] {
        let mut args = vec!["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED];
        args.extend(extra);
        env.run(args).success().stderr(predicate::str::is_empty());
    }
}

fn assert_clean_exit(out: &std::process::Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit status {:?}, stderr:\n{err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("error"), "a closed pipe is not an error: {err}");
}

#[test]
fn closed_pipe_after_a_few_bytes_is_not_an_error() {
    let env = Env::new();
    let mut child = env
        .std_cmd_in(&env.work())
        .args(["rules", "--format", "markdown"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 7];
    stdout.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"# Rules");
    drop(stdout);
    assert_clean_exit(&child.wait_with_output().unwrap());
}

#[test]
fn closed_pipe_before_anything_is_read_is_not_an_error() {
    let env = Env::new();
    let mut child = env
        .std_cmd_in(&env.work())
        .args(["rules", "--format", "markdown"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert_clean_exit(&child.wait_with_output().unwrap());
}

#[test]
fn closed_pipe_mid_write_is_not_an_error() {
    // The report is larger than a pipe buffer (64 KiB), so closing the reader after a few
    // bytes is guaranteed to make a later write fail with EPIPE.
    let env = Env::new();
    let big_data = format!("0x{}", "ab".repeat(100_000));
    let request = format!(r#"{{"to": "{USDC}", "data": "{big_data}"}}"#);
    let mut child = env
        .std_cmd_in(&env.work())
        .args(["scan", "tx", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(request.as_bytes()).unwrap();
    drop(stdin);
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 16];
    stdout.read_exact(&mut head).unwrap();
    assert!(head.starts_with(b"{"));
    drop(stdout);
    assert_clean_exit(&child.wait_with_output().unwrap());
}
