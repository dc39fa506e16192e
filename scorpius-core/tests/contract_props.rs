//! Property tests: the bytecode engine never panics on arbitrary bytes, and is deterministic.

use proptest::prelude::*;
use scorpius_core::{
    chain::Chain,
    context::Context,
    contract::{self, ContractInput, Fork, sourcemap},
};

/// Bytes biased towards the opcodes the analysis interprets (jumps, pushes, calls, storage).
fn evm_bytes() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop_oneof![
        Just(0x56u8),
        Just(0x57),
        Just(0x5b),
        Just(0x5f),
        Just(0x60),
        Just(0x61),
        Just(0x7f),
        Just(0x80),
        Just(0x90),
        Just(0x14),
        Just(0x15),
        Just(0x1c),
        Just(0x20),
        Just(0x33),
        Just(0x35),
        Just(0x54),
        Just(0x55),
        Just(0xf1),
        Just(0xf4),
        Just(0xff),
        any::<u8>(),
    ];
    prop::collection::vec(interesting, 0..600)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(code in evm_bytes()) {
        let _ = contract::disasm::disassemble(&code);
        let sels = contract::selectors::extract(&code);
        let again = contract::selectors::extract(&code);
        prop_assert_eq!(sels, again);
        let _ = contract::classify(&code);
        let _ = contract::metadata::split(&code);
        let mut input = ContractInput::new(code);
        input.fork = Some(Fork::Frontier);
        input.source_map = Some("0:1:0;;:2;-1:-1:-1".into());
        let report = contract::analyze_contract(&input, &Context::new(Chain::ethereum()));
        prop_assert!(report.risk.score <= 100);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,200}") {
        let _ = contract::parse_bytecode(&s);
        let _ = contract::parse_runtime_bytecode("bytecode", &s);
        let _ = sourcemap::parse(&s);
        let _ = contract::artifacts::parse_artifact(&s);
        let _ = contract::artifacts::BuildInfo::parse(&s);
    }

    #[test]
    fn random_metadata_trailers_never_panic(body in prop::collection::vec(any::<u8>(), 0..80)) {
        let mut code = body.clone();
        code.extend_from_slice(&(body.len() as u16).to_be_bytes());
        let _ = contract::metadata::split(&code);
    }
}
