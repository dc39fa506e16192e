//! Exit codes: 0 clean (or findings below `--fail-on`), 1 findings at or above `--fail-on`,
//! 2 usage or bad input (with a message naming the field and the problem), 3 operational
//! failure. Nothing ever panics.

use predicates::prelude::*;

use crate::common::*;

/// `approve(…, 2^256-1)`: exactly one finding, of medium severity.
fn approve(fail_on: Option<&str>) -> Vec<&str> {
    let mut args = vec!["scan", "tx", "--to", USDC, "--data", APPROVE_UNLIMITED];
    if let Some(s) = fail_on {
        args.extend(["--fail-on", s]);
    }
    args
}

#[test]
fn findings_without_fail_on_exit_0() {
    let env = Env::new();
    let r = stdout_json(&env.run(approve(None)).code(0));
    assert_eq!(r["findings"][0]["severity"], "medium");
}

#[test]
fn fail_on_at_or_below_the_max_severity_exits_1_and_still_prints_the_report() {
    let env = Env::new();
    for level in ["info", "low", "medium", "MEDIUM"] {
        let r = stdout_json(&env.run(approve(Some(level))).code(1));
        assert_eq!(rule_ids(&r), ["approval-unlimited"], "--fail-on {level}");
    }
}

#[test]
fn fail_on_above_the_max_severity_exits_0() {
    let env = Env::new();
    for level in ["high", "critical"] {
        env.run(approve(Some(level))).code(0);
    }
}

#[test]
fn fail_on_with_no_findings_exits_0() {
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--to", USDC, "--fail-on", "info"]).code(0));
    assert_eq!(rule_ids(&r), Vec::<String>::new());
}

#[test]
fn fail_on_applies_to_signature_scans() {
    let env = Env::new();
    env.run_stdin(["scan", "signature", "--eth-sign", "-", "--fail-on", "critical"], RAW_HASH).code(1);
}

/// One bad invocation: arguments, optional stdin, files to create first, and substrings the
/// error on stderr must contain.
struct Bad {
    args: Vec<String>,
    stdin: &'static str,
    files: Vec<(&'static str, String)>,
    want: Vec<&'static str>,
}

fn bad(args: &[&str], want: &[&'static str]) -> Bad {
    Bad { args: args.iter().map(|s| s.to_string()).collect(), stdin: "", files: Vec::new(), want: want.to_vec() }
}

impl Bad {
    fn stdin(mut self, s: &'static str) -> Self {
        self.stdin = s;
        self
    }

    fn file(mut self, name: &'static str, content: impl Into<String>) -> Self {
        self.files.push((name, content.into()));
        self
    }
}

fn check_bad(cases: Vec<Bad>) {
    for case in cases {
        let env = Env::new();
        for (name, content) in &case.files {
            env.write(name, content);
        }
        let a = env.run_stdin(&case.args, case.stdin).code(2).stdout(predicate::str::is_empty());
        let err = stderr_of(&a);
        for want in &case.want {
            assert!(err.contains(want), "scorpius {:?}: stderr lacks {want:?}:\n{err}", case.args);
        }
    }
}

#[test]
fn bad_transaction_fields_exit_2_naming_the_flag() {
    check_bad(vec![
        bad(&["scan", "tx", "--to", "0xzz"], &["--to", "not hex"]),
        bad(&["scan", "tx", "--to", USDC, "--data", "0x123"], &["--data", "odd number of hex digits"]),
        bad(&["scan", "tx", "--to", USDC, "--data", "hello"], &["--data", "not hex"]),
        bad(&["scan", "tx", "--to", "0x1234"], &["--to", "20 bytes", "got 2 bytes"]),
        bad(
            &["scan", "tx", "--to", USDC, "--from", "0x11111111111111111111111111111111111111"],
            &["--from", "20 bytes"],
        ),
        bad(&["scan", "tx", "--to", USDC_BAD_CHECKSUM], &["--to", "checksum", USDC]),
        bad(&["scan", "tx", "--to", USDC, "--value", "1e18"], &["--value", "not a number"]),
    ]);
}

#[test]
fn undecodable_raw_transactions_exit_2() {
    let truncated = &RAW_1559_APPROVE[..RAW_1559_APPROVE.len() - 10];
    // r = 0 written as 32 zero bytes: not a canonical RLP integer, and no valid signature.
    let r = "a06dc1828e59c9b682d368bbdcd36141efe25757b2e54bf36380b3934e9b78082c";
    assert!(RAW_1559_APPROVE.contains(r));
    let zero_r = RAW_1559_APPROVE.replace(r, &format!("a0{}", "00".repeat(32)));
    check_bad(vec![
        bad(&["scan", "tx", "--raw", "0x02c0"], &["--raw", "not a valid signed transaction"]),
        bad(&["scan", "tx", "--raw", "0xdeadbeef"], &["--raw", "not a valid signed transaction"]),
        bad(&["scan", "tx", "--raw", truncated], &["--raw", "not a valid signed transaction"]),
        bad(&["scan", "tx", "--raw", &zero_r], &["--raw"]),
        bad(&["scan", "tx", "--raw", "0x"], &["--raw", "empty"]),
        bad(&["scan", "tx", "--raw", "0x02f"], &["--raw", "odd number of hex digits"]),
    ]);
}

#[test]
fn tampered_raw_signature_recovers_someone_else() {
    // Changing a byte of `s` still gives a valid-looking signature, but of another account:
    // the report must show that account, not the original sender.
    let mut tampered = RAW_1559_APPROVE.to_owned();
    tampered.truncate(tampered.len() - 2);
    tampered.push_str("00");
    let env = Env::new();
    let r = stdout_json(&env.run(["scan", "tx", "--raw", &tampered]).success());
    let from = r["subject"]["transaction"]["from"].as_str().unwrap();
    assert_ne!(from, ANVIL_0);
    assert_eq!(from.len(), 42);
}

#[test]
fn bad_transaction_json_exits_2_naming_the_field() {
    check_bad(vec![
        bad(&["scan", "tx", "--json", "-"], &["transaction JSON", "malformed JSON"]).stdin("{\"to\": "),
        bad(&["scan", "tx", "--json", "-"], &["to", "expected an address string"]).stdin(r#"{"to": 5}"#),
        bad(&["scan", "tx", "--json", "-"], &["params[0].to", "20 bytes"])
            .stdin(r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction","params":[{"to":"0x1234"}]}"#),
        bad(&["scan", "tx", "--json", "-"], &["params[0].data", "odd number of hex digits"])
            .stdin(r#"{"method":"eth_sendTransaction","params":[{"to":"0x1111111111111111111111111111111111111111","data":"0xabc"}]}"#),
        bad(&["scan", "tx", "--json", "-"], &["params", "expected an array"]).stdin(r#"{"params": {}}"#),
        bad(&["scan", "tx", "--json", "missing.json"], &["transaction JSON", "missing.json", "No such file"]),
        bad(&["scan", "tx", "--json", "tx.json"], &["transaction JSON", "malformed JSON"]).file("tx.json", "{"),
    ]);
}

#[test]
fn non_utf8_input_is_bad_input_not_an_io_failure() {
    // Regression: non-UTF-8 bytes on stdin used to exit 3 ("stream did not contain valid
    // UTF-8", an I/O error) while the same bytes in a file exited 2.
    let env = Env::new();
    std::fs::write(env.work().join("msg.bin"), [0xff, 0xfe, 0x00]).unwrap();
    env.run(["scan", "signature", "--personal", "msg.bin"]).code(2).stderr(predicate::str::contains("not UTF-8"));
    let a = env.cmd().args(["scan", "signature", "--personal", "-"]).write_stdin(vec![0xffu8, 0xfe, 0x00]).assert();
    no_panic(a)
        .code(2)
        .stderr(predicate::str::contains("standard input"))
        .stderr(predicate::str::contains("not UTF-8"));
}

const TYPED_MISSING_TYPES: &str = r#"{"primaryType": "Mail", "domain": {}, "message": {}}"#;
const TYPED_UNDEFINED_PRIMARY: &str =
    r#"{"types": {"EIP712Domain": []}, "primaryType": "Mail", "domain": {}, "message": {}}"#;
const TYPED_BAD_FIELD: &str = r#"{"types": {"EIP712Domain": [], "Mail": [{"name": "amount"}]},
    "primaryType": "Mail", "domain": {}, "message": {"amount": "1"}}"#;
const TYPED_WRONG_VALUE: &str = r#"{"types": {"EIP712Domain": [], "Mail": [{"name": "amount", "type": "uint256"}]},
    "primaryType": "Mail", "domain": {}, "message": {"amount": "lots"}}"#;

#[test]
fn bad_signature_requests_exit_2_naming_the_field() {
    check_bad(vec![
        bad(&["scan", "signature", "-"], &["typed data", "malformed JSON"]).stdin("{\"types\": "),
        bad(&["scan", "signature", "-"], &["types", "missing"]).stdin(TYPED_MISSING_TYPES),
        bad(&["scan", "signature", "-"], &["primaryType", "Mail", "not defined"]).stdin(TYPED_UNDEFINED_PRIMARY),
        bad(&["scan", "signature", "-"], &["types.Mail[0].type", "missing"]).stdin(TYPED_BAD_FIELD),
        bad(&["scan", "signature", "-"], &["message.amount", "uint256", "lots"]).stdin(TYPED_WRONG_VALUE),
        bad(&["scan", "signature", "-"], &["typed data", "expected an object"]).stdin("42"),
        bad(&["scan", "signature", "-"], &["params[0]", "expected an address"]).stdin("[1, 2]"),
        bad(&["scan", "signature", "--eth-sign", "-"], &["eth_sign hash", "32 bytes", "got 2 bytes"]).stdin("0x1234"),
        bad(&["scan", "signature", "--eth-sign", "-"], &["eth_sign hash", "not hex"]).stdin("hello"),
        bad(&["scan", "signature", "nope.json"], &["signature request", "nope.json", "No such file"]),
    ]);
}

#[test]
fn usage_errors_exit_2_naming_the_flag() {
    check_bad(vec![
        bad(&["scan", "tx", "--to", USDC, "--chain", "etherum"], &["unknown chain", "etherum", "ethereum"]),
        bad(&["scan", "tx", "--to", USDC, "--chain", "0"], &["unknown chain", "`0`"]),
        bad(&["scan", "tx", "--to", USDC, "--fail-on", "severe"], &["--fail-on", "severe", "critical"]),
        bad(&["scan", "tx", "--to", USDC, "--format", "xml"], &["--format", "xml"]),
        bad(&["scan", "tx"], &["required", "--to", "--raw", "--json"]),
        bad(&["scan", "tx", "--value", "5"], &["required", "--to"]),
        bad(&["scan", "tx", "--raw", RAW_1559_APPROVE, "--to", USDC], &["--raw", "cannot be used with", "--to"]),
        bad(&["scan", "tx", "--json", "-", "--data", "0x00"], &["--json", "cannot be used with", "--data"]),
        bad(&["scan", "tx", "--raw", RAW_1559_APPROVE, "--json", "-"], &["--raw", "cannot be used with", "--json"]),
        bad(&["scan", "signature"], &["required", "FILE"]),
        bad(
            &["scan", "signature", "--personal", "--eth-sign", "-"],
            &["--personal", "cannot be used with", "--eth-sign"],
        ),
        bad(&["scan", "signature", "-", "-v", "-q"], &["--quiet", "cannot be used with", "--verbose"]),
        bad(&["rules", "no-such-rule"], &["unknown rule id", "no-such-rule"]),
        bad(&["completions", "cmd.exe"], &["cmd.exe", "bash"]),
        bad(&["frobnicate"], &["unrecognized subcommand", "frobnicate"]),
        bad(&["--config", "missing.toml", "config", "show"], &["--config", "missing.toml", "not found"]),
    ]);
}

#[test]
fn output_failure_is_operational_exit_3() {
    let env = Env::new();
    env.run(["scan", "tx", "--to", USDC, "--output", "missing-dir/out.json"])
        .code(3)
        .stderr(predicate::str::contains("writing missing-dir/out.json"));
}
