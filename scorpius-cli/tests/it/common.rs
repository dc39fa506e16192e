//! The isolated environment every test runs the real `scorpius` binary in, and the inputs the
//! tests share.
//!
//! Isolation: HOME and XDG_CONFIG_HOME point into a fresh temporary directory, the working
//! directory is another directory inside it, and every `SCORPIUS_*` variable and `RUST_LOG` is
//! removed, so nothing from the developer's machine (a user config file, a `scorpius.toml`, an
//! exported variable) can change a result. SCORPIUS_DATA_DIR is then set to a third directory
//! inside it, so that each test has its own (initially absent) intel store and never reads or
//! writes the developer's.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::Output,
};

use assert_cmd::{Command, assert::Assert};
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

/// The `scorpius` binary Cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_scorpius");

/// USDC on Ethereum mainnet (checksummed).
pub const USDC: &str = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
/// The same address with the checksum broken (last `B` lowercased).
pub const USDC_BAD_CHECKSUM: &str = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eb48";
/// BAYC (an ERC-721 collection).
pub const BAYC: &str = "0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D";
/// A spender / operator that is no particular contract.
pub const SPENDER: &str = "0x1111111111111111111111111111111111111111";
/// anvil's first dev account: the address of the well-known, public test key
/// `0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80` used to sign the raw
/// transactions below.
pub const ANVIL_0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// `approve(SPENDER, 2^256 - 1)`.
pub const APPROVE_UNLIMITED: &str = "0x095ea7b30000000000000000000000001111111111111111111111111111111111111111\
ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// `setApprovalForAll(SPENDER, true)`.
pub const SET_APPROVAL_FOR_ALL: &str = "0xa22cb4650000000000000000000000001111111111111111111111111111111111111111\
0000000000000000000000000000000000000000000000000000000000000001";

/// A signed EIP-1559 transaction: `approve(SPENDER, 2^256 - 1)` on USDC, chain 1, from ANVIL_0.
/// Produced offline (ECDSA signatures are deterministic, RFC 6979) with cast 1.7.1 from the
/// pinned npm package `@foundry-rs/cast-linux-amd64`:
///
/// ```sh
/// cast mktx --private-key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \
///   --chain 1 --nonce 0 --gas-limit 100000 --gas-price 1 --priority-gas-price 1 \
///   0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48 'approve(address,uint256)' \
///   0x1111111111111111111111111111111111111111 \
///   115792089237316195423570985008687907853269984665640564039457584007913129639935
/// ```
///
/// `scan_tx::raw_fixtures_match_cast` regenerates it when cast is installed.
pub const RAW_1559_APPROVE: &str = "0x02f8a801800101830186a094a0b86991c6218b36c1d19d4a2e9eb0ce3606eb4880b844095ea7b3\
0000000000000000000000001111111111111111111111111111111111111111\
ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc080a06dc1828e59c9b682d368bbdcd36141efe25757b2e54\
bf36380b3934e9b78082ca02896ee361914a01a169ea532181927e4e8c85db73587b50b254aaab6eab4e2d9";

/// Delegate of the first EIP-7702 authorization in [`RAW_7702`].
pub const DELEGATE_ANY_CHAIN: &str = "0x63c0c19a282a1B52b07dD5a65b58948A07DAE32B";
/// Delegate of the second EIP-7702 authorization in [`RAW_7702`].
pub const DELEGATE_CHAIN_1: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/// A signed type-4 (EIP-7702) transaction from ANVIL_0 to itself on chain 1, carrying two
/// authorizations signed by ANVIL_0: chain id 0 (every chain), nonce 1, delegate
/// DELEGATE_ANY_CHAIN; chain id 1, nonce 2, delegate DELEGATE_CHAIN_1. Produced with cast 1.7.1:
///
/// ```sh
/// K=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
/// A1=$(cast wallet sign-auth --private-key $K --chain 0 --nonce 1 0x63c0c19a282a1B52b07dD5a65b58948A07DAE32B)
/// A2=$(cast wallet sign-auth --private-key $K --chain 1 --nonce 2 0x5FbDB2315678afecb367f032d93F642f64180aa3)
/// cast mktx --private-key $K --chain 1 --nonce 0 --gas-limit 100000 --gas-price 1 \
///   --priority-gas-price 1 --auth $A1 --auth $A2 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
/// ```
pub const RAW_7702: &str = "0x04f9011d01800101830186a094f39fd6e51aad88f6f4ce6ab8827279cfffb922668080c0f8b8f85a80\
9463c0c19a282a1b52b07dd5a65b58948a07dae32b0180a0b792cd6df2eda1f002cce7ae58c8772dc4dcdd8c615841d87007753add088b84\
a02541479178e8cc10b5d4d9c8ea9d3d00a2e9235865aedc4c396e83b01f6f9dc2f85a01945fbdb2315678afecb367f032d93f642f64180a\
a30201a003aae1d1697354321011cc737392c4fd5f2cde8114d89256283a92990da6fc1fa046f6764e509076e86f7eba52ccff47b86aae10f\
2b06552e2b6b2cdfa8acde2f301a073b6496059d1d6f11d53294050e5f3d982d0bcaf4570b0da7c6e16136abc3cdfa03481ba26252a58948\
31dfc193a1d1fcbd620f3c54d52ce3c611a5589578eebfb";

/// A 32-byte hash for `eth_sign`.
pub const RAW_HASH: &str = "0x7a1c2f3e4d5b6a798897a6b5c4d3e2f1a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5";

/// Permit2 `PermitSingle` (EIP-712) granting SPENDER the maximum uint160 of USDC. The
/// expiration is in the past so that only the amount is at issue.
pub const PERMIT2_SINGLE_UNLIMITED: &str = r#"{
  "types": {
    "EIP712Domain": [
      {"name": "name", "type": "string"},
      {"name": "chainId", "type": "uint256"},
      {"name": "verifyingContract", "type": "address"}
    ],
    "PermitSingle": [
      {"name": "details", "type": "PermitDetails"},
      {"name": "spender", "type": "address"},
      {"name": "sigDeadline", "type": "uint256"}
    ],
    "PermitDetails": [
      {"name": "token", "type": "address"},
      {"name": "amount", "type": "uint160"},
      {"name": "expiration", "type": "uint48"},
      {"name": "nonce", "type": "uint48"}
    ]
  },
  "primaryType": "PermitSingle",
  "domain": {
    "name": "Permit2",
    "chainId": "1",
    "verifyingContract": "0x000000000022D473030F116dDEE9F6B43aC78BA3"
  },
  "message": {
    "details": {
      "token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
      "amount": "1461501637330902918203684832716283019655932542975",
      "expiration": "1700000000",
      "nonce": "0"
    },
    "spender": "0x1111111111111111111111111111111111111111",
    "sigDeadline": "1700000000"
  }
}"#;

/// An EIP-4361 (Sign-In with Ethereum) message for `example.com`.
pub const SIWE_EXAMPLE_COM: &str = "example.com wants you to sign in with your Ethereum account:
0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266

Sign in to Example.

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
";

/// A fresh, isolated environment: `<tmp>/home` (HOME), `<tmp>/xdg` (XDG_CONFIG_HOME),
/// `<tmp>/work` (the working directory) and `<tmp>/data` (SCORPIUS_DATA_DIR, where the intel
/// store lives; not created, so the binary must create it). Dropped at the end of the test.
#[derive(Debug)]
pub struct Env {
    root: TempDir,
}

impl Env {
    pub fn new() -> Self {
        let root = tempfile::Builder::new().prefix("scorpius-it-").tempdir().expect("creating a temp dir");
        for d in ["home", "xdg", "work"] {
            std::fs::create_dir(root.path().join(d)).expect("creating a temp subdir");
        }
        // A scorpius.toml above the temp dir would be found by the upward search and leak into
        // every test: fail loudly rather than give confusing results.
        if let Some(stray) = root.path().ancestors().skip(1).map(|d| d.join("scorpius.toml")).find(|p| p.is_file()) {
            panic!("{} exists and would leak into the CLI tests; remove it or set TMPDIR", stray.display());
        }
        Env { root }
    }

    /// The working directory the binary runs in.
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// The data directory (SCORPIUS_DATA_DIR) the binary keeps its intel store in.
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Where the user configuration file lives for this environment.
    pub fn user_config_path(&self) -> PathBuf {
        self.root.path().join("xdg").join("scorpius").join("config.toml")
    }

    /// Writes the user configuration file.
    pub fn user_config(&self, toml: &str) -> PathBuf {
        let p = self.user_config_path();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, toml).unwrap();
        p
    }

    /// Writes `content` to `rel` under the working directory, creating parent directories.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.work().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// A `std::process::Command` for the binary, isolated, running in `dir`.
    pub fn std_cmd_in(&self, dir: &Path) -> std::process::Command {
        let mut c = std::process::Command::new(BIN);
        c.current_dir(dir)
            .env("HOME", self.root.path().join("home"))
            .env("XDG_CONFIG_HOME", self.root.path().join("xdg"))
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("SCORPIUS_") {
                c.env_remove(&k);
            }
        }
        // After the removal: a per-test intel store, never the developer's.
        c.env("SCORPIUS_DATA_DIR", self.data_dir());
        c
    }

    /// An assert_cmd `Command` for the binary, isolated, running in the working directory.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd_in(&self.work()))
    }

    /// Runs `scorpius ARGS` with empty stdin and checks that nothing panicked.
    pub fn run<I, S>(&self, args: I) -> Assert
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        no_panic(self.cmd().args(args).write_stdin("").assert())
    }

    /// Runs `scorpius ARGS` with `stdin` and checks that nothing panicked.
    pub fn run_stdin<I, S>(&self, args: I, stdin: &str) -> Assert
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        no_panic(self.cmd().args(args).write_stdin(stdin.to_owned()).assert())
    }
}

/// Fails when stderr shows a panic.
pub fn no_panic(a: Assert) -> Assert {
    a.stderr(predicate::str::contains("panicked").not())
}

/// Parses stdout as JSON.
pub fn stdout_json(a: &Assert) -> Value {
    json_of(a.get_output())
}

/// Parses a process's stdout as JSON, with the output in the message when it is not JSON.
pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Rule ids of a report's findings, in report order.
pub fn rule_ids(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings is an array")
        .iter()
        .map(|f| f["rule_id"].as_str().expect("rule_id is a string").to_owned())
        .collect()
}

/// The severity of the first finding with `rule_id`.
pub fn severity_of(report: &Value, rule_id: &str) -> String {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == rule_id)
        .unwrap_or_else(|| panic!("no {rule_id} finding in {report:#}"))["severity"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// stderr as text.
pub fn stderr_of(a: &Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}
