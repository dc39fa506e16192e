//! Integration tests of the `scorpius` binary: every test runs the real executable in an
//! isolated environment (see [`common::Env`]) and checks its stdout, stderr and exit code.

mod audit;
mod chain;
mod common;
mod config;
mod examples;
mod exit_codes;
mod formats;
mod history;
mod intel;
mod pdf;
mod remote;
mod report;
mod rules;
mod sarif;
mod scan_contract;
mod scan_signature;
mod scan_tx;
mod scan_wallet;
mod snapshots;
mod streams;
