//! `scorpius scan signature`: EIP-712 typed data, personal_sign (SIWE) and eth_sign.

use crate::common::*;

#[test]
fn permit2_permit_single_unlimited_from_a_file() {
    let env = Env::new();
    env.write("permit2.json", PERMIT2_SINGLE_UNLIMITED);
    let r = stdout_json(&env.run(["scan", "signature", "permit2.json"]).success());
    assert_eq!(r["kind"], "signature");
    assert_eq!(rule_ids(&r), ["permit2-unlimited-allowance"]);
    assert_eq!(severity_of(&r, "permit2-unlimited-allowance"), "medium");
    let s = &r["subject"];
    assert_eq!(s["type"], "typed_data");
    assert_eq!(s["primary_type"], "PermitSingle");
    assert_eq!(s["message"]["spender"], SPENDER);
}

#[test]
fn permit2_far_expiration_is_flagged_too() {
    let env = Env::new();
    // 2100-01-01: far more than a year away.
    let typed = PERMIT2_SINGLE_UNLIMITED.replace(r#""expiration": "1700000000""#, r#""expiration": "4102444800""#);
    assert_ne!(typed, PERMIT2_SINGLE_UNLIMITED);
    let r = stdout_json(&env.run_stdin(["scan", "signature", "-"], &typed).success());
    let ids = rule_ids(&r);
    assert!(ids.contains(&"permit2-unlimited-allowance".to_owned()), "{ids:?}");
    assert!(ids.contains(&"permit2-long-expiration".to_owned()), "{ids:?}");
}

#[test]
fn typed_data_as_an_rpc_request_with_a_string_payload() {
    // What a wallet receives: eth_signTypedData_v4 with [address, JSON string].
    let env = Env::new();
    let request = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_signTypedData_v4",
        "params": [ANVIL_0, PERMIT2_SINGLE_UNLIMITED],
    });
    let r = stdout_json(&env.run_stdin(["scan", "signature", "-"], &request.to_string()).success());
    assert_eq!(rule_ids(&r), ["permit2-unlimited-allowance"]);
}

#[test]
fn siwe_with_a_different_origin_is_a_domain_mismatch() {
    let env = Env::new();
    env.write("siwe.txt", SIWE_EXAMPLE_COM);
    let r = stdout_json(
        &env.run(["scan", "signature", "--personal", "siwe.txt", "--origin", "https://evil.example.net"]).success(),
    );
    assert_eq!(rule_ids(&r), ["siwe-domain-mismatch"]);
    assert_eq!(severity_of(&r, "siwe-domain-mismatch"), "high");
    let msg = r["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("example.com") && msg.contains("evil.example.net"), "{msg}");
    assert_eq!(r["subject"]["type"], "personal_sign");
}

#[test]
fn siwe_with_the_same_origin_is_clean() {
    let env = Env::new();
    env.write("siwe.txt", SIWE_EXAMPLE_COM);
    let r = stdout_json(
        &env.run(["scan", "signature", "--personal", "siwe.txt", "--origin", "https://example.com"]).success(),
    );
    assert_eq!(rule_ids(&r), Vec::<String>::new());
    assert_eq!(r["risk"]["score"], 0);
}

#[test]
fn eth_sign_from_stdin_is_critical() {
    let env = Env::new();
    let r = stdout_json(&env.run_stdin(["scan", "signature", "--eth-sign", "-"], &format!("{RAW_HASH}\n")).success());
    assert_eq!(rule_ids(&r), ["eth-sign-raw-hash"]);
    assert_eq!(severity_of(&r, "eth-sign-raw-hash"), "critical");
    assert_eq!(r["risk"]["level"], "critical");
    assert_eq!(r["target"], RAW_HASH);
    assert_eq!(r["subject"]["type"], "eth_sign");
}
