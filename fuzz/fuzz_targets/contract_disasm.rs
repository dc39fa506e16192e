//! Arbitrary bytes through the bytecode engine: disassembly, metadata trailer, selector
//! extraction, creation-code detection and the full analysis must never panic, and selector
//! extraction must be deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorpius_core::{
    chain::Chain,
    context::Context,
    contract::{self, ContractInput, Fork},
};

fuzz_target!(|data: &[u8]| {
    let listing = contract::disasm::disassemble(data);
    assert!(listing.iter().all(|i| (i.pc as usize) < data.len()));
    let _ = contract::metadata::split(data);
    let selectors = contract::selectors::extract(data);
    assert_eq!(selectors, contract::selectors::extract(data));
    let _ = contract::classify(data);
    let mut input = ContractInput::new(data.to_vec());
    input.fork = Some(Fork::Paris);
    let report = contract::analyze_contract(&input, &Context::new(Chain::ethereum()));
    assert!(report.risk.score <= 100);
});
