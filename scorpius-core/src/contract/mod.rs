//! Contract analysis from EVM bytecode: the engine behind `scorpius scan contract`.
//!
//! Pure: the caller reads the code (from a node, a file or build artifacts) and, for proxies,
//! the storage slots [`proxy::ProxyKind::slots_to_read`] names; this module does the rest.
//!
//! | module | what |
//! | --- | --- |
//! | [`disasm`] | opcode table through Osaka, disassembler (truncated PUSH data, invalid bytes) |
//! | [`metadata`] | the CBOR metadata trailer: stripped before analysis, compiler version |
//! | [`cfg`] | instructions, constants, basic blocks, the resolved control-flow graph |
//! | [`exec`] | the abstract interpreter every other part builds on |
//! | [`selectors`] | function selectors from the dispatcher |
//! | [`analysis`] | one contract analysed: functions, walks, coverage, proxy kind |
//! | [`proxy`] | proxy patterns, the slots to read, proxy findings |
//! | [`detectors`] | the `contract-*` rules |
//! | [`artifacts`], [`sourcemap`] | Foundry/Hardhat artifacts and pc → file:line |
//!
//! Entry points: [`parse_bytecode`] / [`parse_runtime_bytecode`] for user input,
//! [`selectors::extract`] for selectors alone, [`analyze_contract`] for a full report.

pub mod analysis;
pub mod artifacts;
pub mod cfg;
pub mod detectors;
pub mod disasm;
pub mod exec;
pub mod metadata;
pub mod proxy;
pub mod selectors;
pub mod sourcemap;
pub mod units;

use std::{collections::BTreeMap, time::Instant};

use alloy_primitives::{Address, keccak256};
use serde_json::json;
use time::OffsetDateTime;

pub use analysis::Analysis;
pub use disasm::Fork;
pub use proxy::{ProxyFacts, ProxyKind};

use crate::{
    Error, Result,
    chain::Chain,
    context::Context,
    evm::signatures,
    intel::screen,
    model::{DatasetRef, Finding, ScanKind, ScanReport, ScanStatus, Subject},
    rules,
};
use exec::{Event, Explorer};
use sourcemap::{SourceFiles, SourceMapper};

/// The message for empty code.
pub const NO_CODE: &str = "no code: the address is an EOA or the contract self-destructed";

/// Parses user-supplied bytecode: hex with or without `0x`, surrounding whitespace ignored.
/// Odd length, non-hex characters and empty code are errors naming the field `bytecode`.
pub fn parse_bytecode(s: &str) -> Result<Vec<u8>> {
    parse_bytecode_field("bytecode", s)
}

/// [`parse_bytecode`] with the field named by the caller (a file name, a JSON path).
pub fn parse_bytecode_field(field: &str, s: &str) -> Result<Vec<u8>> {
    let code = crate::evm::parse::hex_bytes(field, s)?;
    if code.is_empty() {
        return Err(Error::input(field, NO_CODE));
    }
    Ok(code)
}

/// Parses runtime bytecode and rejects creation (deployment) code with an error that says so
/// and where the embedded runtime code is (see [`extract_runtime`]).
pub fn parse_runtime_bytecode(field: &str, s: &str) -> Result<Vec<u8>> {
    let code = parse_bytecode_field(field, s)?;
    if let CodeKind::Creation { runtime_offset, runtime_len } = classify(&code) {
        return Err(Error::input(
            field,
            format!(
                "this is creation (deployment) code, not runtime code: the runtime code is embedded at byte \
                 {runtime_offset} ({runtime_len} bytes). Pass the deployed bytecode (`deployedBytecode` in \
                 artifacts, `eth_getCode` on chain), or let Scorpius extract the embedded runtime"
            ),
        ));
    }
    Ok(code)
}

/// Bytecode given as hex (a file, a request body) ready for [`analyze_contract`]: creation code
/// is replaced by the runtime code it deploys, with a note saying so (immutable variables
/// then read as zero).
pub fn hex_input(field: &str, s: &str) -> Result<(ContractInput, Option<String>)> {
    let code = parse_bytecode_field(field, s)?;
    Ok(match classify(&code) {
        CodeKind::Creation { runtime_offset, runtime_len } => {
            let note = format!(
                "creation (deployment) code: analysed the runtime code it deploys (bytes {runtime_offset}..{}, \
                 {runtime_len} bytes); immutable variables read as zero",
                runtime_offset + runtime_len
            );
            (ContractInput::new(code[runtime_offset..runtime_offset + runtime_len].to_vec()), Some(note))
        }
        CodeKind::Runtime | CodeKind::Eip7702Delegation(_) => (ContractInput::new(code), None),
    })
}

/// What a piece of bytecode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Runtime (deployed) code.
    Runtime,
    /// Creation code that copies `runtime_len` bytes from `runtime_offset` and returns them.
    Creation {
        /// Where the runtime code starts.
        runtime_offset: usize,
        /// Its length.
        runtime_len: usize,
    },
    /// An EIP-7702 delegation designator.
    Eip7702Delegation(Address),
}

/// Tells runtime code from creation code: creation code runs straight from pc 0 (no
/// dispatcher) into a `CODECOPY` of a constant range of itself followed by a `RETURN` of the
/// same length (solc, Vyper), or of a range that ends in a metadata trailer.
pub fn classify(code: &[u8]) -> CodeKind {
    if let Some(d) = proxy::eip7702_delegate(code) {
        return CodeKind::Eip7702Delegation(d);
    }
    let (exec, _) = metadata::split(code);
    let mut ex = Explorer::new(exec, code);
    let walk = ex.dispatcher(5_000);
    if !walk.entries.is_empty() {
        return CodeKind::Runtime;
    }
    let konst = |v: &exec::Val| ex.value(v.k);
    let returns: Vec<_> = walk
        .events
        .iter()
        .filter_map(|e| if let Event::Return { size, .. } = e { konst(size) } else { None })
        .collect();
    let copies: Vec<(usize, usize)> = walk
        .events
        .iter()
        .filter_map(|e| {
            let Event::CodeCopy { offset, size, .. } = e else { return None };
            let off = usize::try_from(konst(offset)?).ok()?;
            let len = usize::try_from(konst(size)?).ok()?;
            (off > 0 && len > 0 && off.checked_add(len).is_some_and(|end| end <= code.len())).then_some((off, len))
        })
        .collect();
    // Best: the copy whose length is the length returned. Otherwise a copied range that ends in
    // a metadata trailer (the last one: constructors may copy other contracts' creation code
    // for `new` first).
    let returned = copies.iter().find(|(_, len)| returns.iter().any(|r| usize::try_from(*r).ok() == Some(*len)));
    let with_trailer =
        || copies.iter().rev().find(|(off, len)| metadata::parse_trailer(&code[*off..off + len]).is_some());
    match returned.or_else(with_trailer) {
        Some(&(runtime_offset, runtime_len)) => CodeKind::Creation { runtime_offset, runtime_len },
        None => CodeKind::Runtime,
    }
}

/// The runtime code embedded in creation code, if `code` is creation code. Immutable
/// variables read as zero in the extracted code (the constructor fills them in at deployment).
pub fn extract_runtime(code: &[u8]) -> Option<&[u8]> {
    match classify(code) {
        CodeKind::Creation { runtime_offset, runtime_len } => Some(&code[runtime_offset..runtime_offset + runtime_len]),
        _ => None,
    }
}

/// The EVM version known to be live on a chain of the registry (the minimum that the chain
/// has had for a while; `None` for chains outside the registry).
pub fn chain_fork(chain: &Chain) -> Option<Fork> {
    match chain.id {
        1 | 11_155_111 | 31_337 => Some(Fork::Osaka),
        10 | 56 | 137 | 8453 | 42_161 => Some(Fork::Cancun),
        _ => None,
    }
}

/// Everything the caller knows about a contract to analyse.
#[derive(Debug, Clone, Default)]
pub struct ContractInput {
    /// Runtime bytecode (see [`parse_runtime_bytecode`]).
    pub code: Vec<u8>,
    /// The contract's name (from an artifact).
    pub name: Option<String>,
    /// Where the code came from (artifact path, file), for the report's target.
    pub origin: Option<String>,
    /// The deployed address, when scanned on chain.
    pub address: Option<Address>,
    /// Selector → signature from the ABI (preferred over the built-in table).
    pub abi_names: BTreeMap<[u8; 4], String>,
    /// The deployed bytecode's source map (`deployedBytecode.sourceMap`).
    pub source_map: Option<String>,
    /// The compilation's source files by source index (for file and line locations).
    pub sources: SourceFiles,
    /// Proxy resolution read from chain by the caller.
    pub proxy_facts: ProxyFacts,
    /// The target chain's EVM version; defaults to [`chain_fork`] of the context's chain.
    pub fork: Option<Fork>,
}

impl ContractInput {
    /// Input for runtime code alone.
    pub fn new(code: Vec<u8>) -> Self {
        ContractInput { code, ..ContractInput::default() }
    }

    /// Input from a parsed artifact (and optionally its build info's sources).
    pub fn from_artifact(artifact: &artifacts::Artifact, sources: SourceFiles) -> Self {
        ContractInput {
            code: artifact.deployed_bytecode.clone(),
            name: artifact.contract_name.clone(),
            origin: artifact.source_path.clone(),
            abi_names: artifact.method_identifiers.clone(),
            source_map: artifact.deployed_source_map.clone(),
            sources,
            ..ContractInput::default()
        }
    }

    fn name_of(&self, selector: [u8; 4]) -> Option<String> {
        self.abi_names.get(&selector).cloned().or_else(|| selectors::builtin_name(selector).map(str::to_owned))
    }
}

/// Analyses a contract and returns the report ([`ScanKind::Contract`]). Findings carry the pc
/// and, with a source map and sources, the file and lines.
pub fn analyze_contract(input: &ContractInput, ctx: &Context) -> ScanReport {
    let started_at = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let target = match (&input.address, &input.name, &input.origin) {
        (Some(a), Some(n), _) => format!("{n} at {}", a.to_checksum(None)),
        (Some(a), None, _) => a.to_checksum(None),
        (None, Some(n), Some(o)) => format!("{o}:{n}"),
        (None, Some(n), None) => n.clone(),
        (None, None, Some(o)) => o.clone(),
        (None, None, None) => format!("bytecode ({} bytes)", input.code.len()),
    };
    let mut findings = Vec::new();
    let mut status = ScanStatus::Complete;
    let code_hash = keccak256(&input.code);
    let (subject, analysed) = if input.code.is_empty() {
        status = ScanStatus::Incomplete { reason: NO_CODE.to_owned() };
        (json!({"code_size": 0}), None)
    } else if let Some(delegate) = proxy::eip7702_delegate(&input.code) {
        findings.push(
            Finding::new(
                &rules::CONTRACT_EIP7702_DELEGATED,
                format!(
                    "This account is an EOA delegated with EIP-7702 to {delegate}: that contract's code runs for it."
                ),
            )
            .with("delegate", delegate.to_checksum(None)),
        );
        if let Some(index) = &ctx.intel {
            findings.extend(screen::screen(index, ctx.chain.id, delegate, "eip7702 delegate"));
        }
        (
            json!({
                "code_size": input.code.len(),
                "code_hash": code_hash.to_string(),
                "eip7702_delegate": delegate.to_checksum(None),
            }),
            None,
        )
    } else {
        let name_of = |s: [u8; 4]| input.name_of(s);
        let an = Analysis::new(&input.code, &name_of);
        let fork = input.fork.or_else(|| chain_fork(&ctx.chain));
        findings.extend(detectors::run(&an, fork));
        if let Some(kind) = &an.proxy {
            findings.extend(proxy::findings(kind, &input.proxy_facts));
            if kind.is_upgradeable() && input.proxy_facts.implementation.is_none() {
                status = ScanStatus::Incomplete {
                    reason: format!(
                        "{} proxy: the implementation was not analysed (read the proxy's slots with an RPC URL)",
                        kind.name()
                    ),
                };
            }
            if let Some(i) = kind.fixed_implementation()
                && let Some(index) = &ctx.intel
            {
                findings.extend(screen::screen(index, ctx.chain.id, i, "implementation"));
            }
        }
        if !an.complete() {
            status = ScanStatus::Incomplete {
                reason: format!(
                    "{} jump(s) could not be resolved{}: code behind them was not analysed",
                    an.coverage.unresolved_jumps,
                    if an.coverage.exhausted { " and the analysis budget ran out" } else { "" }
                ),
            };
        }
        let subject = subject(input, &an, &code_hash.to_string(), fork);
        (subject, Some(()))
    };
    if analysed.is_some()
        && let Some(map) = &input.source_map
        && let Ok(mapper) = SourceMapper::new(&input.code, map, &input.sources)
    {
        attach_locations(&mut findings, &mapper);
    }
    if let Some(a) = input.address {
        findings = findings.into_iter().map(|f| f.about(a.to_checksum(None))).collect();
    }
    let (name, version) = signatures::DATASET;
    let mut report = ScanReport::new(
        ScanKind::Contract,
        target,
        &ctx.chain,
        findings,
        Subject::json(subject),
        started_at,
        clock.elapsed(),
        std::iter::once(DatasetRef { name: name.to_owned(), version: version.to_owned() })
            .chain(screen::datasets_used(ctx))
            .collect(),
    );
    report.status = status;
    report
}

/// Sets each finding's file and lines from its `pc` evidence.
pub fn attach_locations(findings: &mut [Finding], mapper: &SourceMapper) {
    for f in findings {
        let Some(pc) = f.evidence.get("pc").and_then(serde_json::Value::as_u64) else { continue };
        let Some(loc) = u32::try_from(pc).ok().and_then(|pc| mapper.locate(pc)) else { continue };
        let l = f.location.get_or_insert_with(Default::default);
        l.file = Some(loc.file);
        l.start_line = loc.start_line;
        l.end_line = loc.end_line;
    }
}

fn subject(input: &ContractInput, an: &Analysis<'_>, code_hash: &str, fork: Option<Fork>) -> serde_json::Value {
    let functions: Vec<_> = an
        .dispatched()
        .map(|f| {
            json!({
                "selector": f.selector_hex(),
                "name": f.name,
                "entry_pc": f.entry_pc,
                "privileged": f.is_gated(),
            })
        })
        .collect();
    json!({
        "name": input.name,
        "address": input.address.map(|a| a.to_checksum(None)),
        "code_size": input.code.len(),
        "code_hash": code_hash,
        "compiler": an.metadata.as_ref().and_then(|m| m.compiler.clone()),
        "metadata_len": an.metadata.as_ref().map_or(0, |m| m.len),
        "functions": functions,
        "proxy": an.proxy,
        "proxy_slots": an.proxy.as_ref().map(ProxyKind::slots_to_read),
        "proxy_facts": input.proxy_facts,
        "evm_version_checked": fork.map(Fork::as_str),
        "coverage": an.coverage,
    })
}

#[cfg(test)]
pub(crate) mod test_asm {
    //! A tiny assembler for unit tests: mnemonics, `0x..` immediates, `label:` (a JUMPDEST) and
    //! `@label` (PUSH2 of the label's offset).

    use super::disasm::info;

    pub(crate) fn asm(src: &str) -> Vec<u8> {
        let by_name = |n: &str| (0u8..=255).find(|b| info(*b).defined && info(*b).name == n);
        let mut out = Vec::new();
        let mut labels = std::collections::HashMap::new();
        let mut fixups = Vec::new();
        for tok in src.split_whitespace() {
            if let Some(l) = tok.strip_suffix(':') {
                labels.insert(l.to_owned(), out.len());
                out.push(0x5b);
            } else if let Some(l) = tok.strip_prefix('@') {
                out.push(0x61);
                fixups.push((out.len(), l.to_owned()));
                out.extend([0, 0]);
            } else if let Some(h) = tok.strip_prefix("0x") {
                let bytes = hex::decode(h).expect("hex immediate");
                *out.last_mut().expect("immediate after a PUSH") = 0x5f + bytes.len() as u8;
                out.extend(bytes);
            } else {
                out.push(by_name(tok).unwrap_or_else(|| panic!("unknown mnemonic {tok}")));
            }
        }
        for (at, l) in fixups {
            let v = labels[&l] as u16;
            out[at..at + 2].copy_from_slice(&v.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{test_asm::asm, *};

    #[test]
    fn parse_errors_name_the_problem() {
        assert_eq!(parse_bytecode(" 0x6001 \n").unwrap(), [0x60, 0x01]);
        assert_eq!(parse_bytecode("6001").unwrap(), [0x60, 0x01]);
        let e = parse_bytecode("0x600").unwrap_err().to_string();
        assert!(e.starts_with("bytecode: odd number of hex digits"), "{e}");
        let e = parse_bytecode("0x60zz").unwrap_err().to_string();
        assert!(e.contains("not hex"), "{e}");
        let e = parse_bytecode("0x").unwrap_err().to_string();
        assert_eq!(e, format!("bytecode: {NO_CODE}"));
        assert!(parse_bytecode("  ").is_err());
    }

    #[test]
    fn creation_code_is_detected_and_runtime_extracted() {
        // PUSH1 len DUP1 PUSH1 off PUSH0 CODECOPY PUSH0 RETURN INVALID | runtime: CALLER SELFDESTRUCT
        let mut code = asm("PUSH1 0x02 DUP1 PUSH1 0x0a PUSH0 CODECOPY PUSH0 RETURN INVALID");
        assert_eq!(code.len(), 10);
        code.extend([0x33, 0xff]);
        assert_eq!(classify(&code), CodeKind::Creation { runtime_offset: 10, runtime_len: 2 });
        assert_eq!(extract_runtime(&code), Some(&[0x33, 0xff][..]));
        let e = parse_runtime_bytecode("bytecode", &hex::encode(&code)).unwrap_err().to_string();
        assert!(e.contains("creation (deployment) code"), "{e}");
        assert_eq!(classify(&[0x33, 0xff]), CodeKind::Runtime);
    }

    #[test]
    fn eip7702_report() {
        let code = hex::decode("ef010063c0c19a282a1b52b07dd5a65b58948a07dae32b").unwrap();
        let r = analyze_contract(&ContractInput::new(code), &Context::new(Chain::ethereum()));
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].rule_id, "contract-eip7702-delegated");
        assert_eq!(r.kind, ScanKind::Contract);
    }

    #[test]
    fn selfdestruct_and_unsupported_opcode() {
        // Anyone can reach SELFDESTRUCT; PUSH0 on a pre-Shanghai chain.
        let code =
            asm("PUSH0 CALLDATALOAD PUSH1 0xe0 SHR PUSH4 0x83197ef0 EQ @kill JUMPI STOP kill: CALLER SELFDESTRUCT");
        let mut input = ContractInput::new(code);
        input.fork = Some(Fork::London);
        let r = analyze_contract(&input, &Context::new(Chain::ethereum()));
        let ids: Vec<_> = r.findings.iter().map(|f| f.rule_id.as_ref()).collect();
        assert!(ids.contains(&"contract-selfdestruct"), "{ids:?}");
        assert!(ids.contains(&"contract-unsupported-opcode"), "{ids:?}");
        let sd = r.findings.iter().find(|f| f.rule_id == "contract-selfdestruct").unwrap();
        assert_eq!(sd.severity, crate::model::Severity::High);
        assert_eq!(sd.evidence["selector"], "0x83197ef0");
        // Not in the built-in table and no ABI given: the selector stands in for the name.
        assert_eq!(sd.evidence["function"], "0x83197ef0");
        let mut input = ContractInput::new(asm("CALLER SELFDESTRUCT"));
        input.abi_names.insert([0x83, 0x19, 0x7e, 0xf0], "destroy()".into());
        let r = analyze_contract(&input, &Context::new(Chain::ethereum()));
        assert_eq!(r.findings[0].evidence["function"], "fallback");
    }
}
