//! One contract's bytecode analysed: metadata, dispatcher, per-function walks, CFG, proxy kind.
//! Detectors ([`super::detectors`]) read this; it has no opinion about what is dangerous.

use alloy_primitives::U256;
use serde::Serialize;

use super::{
    cfg::{Cfg, Program},
    disasm::opcodes,
    exec::{Entry, Event, Explorer, Slots, Val, Walk},
    metadata::{self, Metadata},
    proxy::{self, ProxyKind},
    selectors::DISPATCH_BUDGET,
};

/// States one function's walk may visit.
pub(crate) const FUNCTION_BUDGET: usize = 20_000;

/// A function of the contract (or the code reached without a selector match: receive and
/// fallback).
#[derive(Debug, Clone)]
pub struct Function {
    /// The selector; `None` for the fallback/receive pseudo-function.
    pub selector: Option<[u8; 4]>,
    /// Where its code starts.
    pub entry_pc: u32,
    /// The signature, when known (from the artifact's ABI or the built-in table).
    pub name: Option<String>,
    /// What the walk from its entry saw.
    pub walk: Walk,
}

impl Function {
    /// `transfer(address,uint256)`, `0x12345678` when the name is unknown, or `fallback`.
    pub fn label(&self) -> String {
        match (&self.name, self.selector) {
            (Some(n), _) => n.clone(),
            (None, Some(s)) => format!("0x{}", hex::encode(s)),
            (None, None) => "fallback".to_owned(),
        }
    }

    /// The selector as `0x…` hex, or `None` for the fallback.
    pub fn selector_hex(&self) -> Option<String> {
        self.selector.map(|s| format!("0x{}", hex::encode(s)))
    }

    /// Whether the function changes state (storage, ether, code) on some path.
    pub fn changes_state(&self) -> bool {
        self.walk.events.iter().any(is_state_change)
    }

    /// Whether every state change of the function happens after an owner, role or origin
    /// check, and there is at least one.
    pub fn is_gated(&self) -> bool {
        let mut any = false;
        for e in self.walk.events.iter().filter(|e| is_state_change(e)) {
            any = true;
            if event_flags(e) & (super::exec::flags::OWNER | super::exec::flags::ORIGIN) == 0 {
                return false;
            }
        }
        any
    }
}

/// Whether an event changes state.
pub(crate) fn is_state_change(e: &Event) -> bool {
    match e {
        Event::Sstore { .. } | Event::SelfDestruct { .. } | Event::Create { .. } => true,
        Event::Call { op, .. } => *op != opcodes::STATICCALL,
        _ => false,
    }
}

/// The path flags of an event (0 for events that do not carry them).
pub(crate) fn event_flags(e: &Event) -> u8 {
    match e {
        Event::Sstore { flags, .. }
        | Event::Cond { flags, .. }
        | Event::Call { flags, .. }
        | Event::SelfDestruct { flags, .. }
        | Event::Create { flags, .. } => *flags,
        _ => 0,
    }
}

/// Size and resolution statistics of the analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Basic blocks in the executable code.
    pub blocks: usize,
    /// Blocks some walk reached.
    pub reached_blocks: usize,
    /// Resolved CFG edges.
    pub edges: usize,
    /// Blocks ending in a jump whose target was not resolved on some path.
    pub unresolved_jumps: usize,
    /// Whether some walk stopped on its budget.
    pub exhausted: bool,
}

/// The analysis of one runtime bytecode.
#[derive(Debug)]
pub struct Analysis<'c> {
    /// The whole code as given (executable part plus metadata trailer).
    pub code: &'c [u8],
    /// The executable part as a program.
    pub prog: Program<'c>,
    /// The metadata trailer, when present.
    pub metadata: Option<Metadata>,
    /// The functions from the dispatcher, sorted by selector, then the fallback pseudo-function.
    pub functions: Vec<Function>,
    /// The proxy pattern the code implements, if any.
    pub proxy: Option<ProxyKind>,
    /// The storage slots the code computes.
    pub slots: Slots,
    /// The control-flow graph.
    pub cfg: Cfg,
    /// How much of the code the walks covered.
    pub coverage: Coverage,
}

impl<'c> Analysis<'c> {
    /// Analyses runtime `code`. `name_of` names a selector (ABI or signature table).
    pub fn new(code: &'c [u8], name_of: &dyn Fn([u8; 4]) -> Option<String>) -> Self {
        let (exec, metadata) = metadata::split(code);
        let prog = Program::with_data(exec, code);
        let mut ex = Explorer::for_program(&prog);
        let dispatch = ex.dispatcher(DISPATCH_BUDGET);
        let mut entries: Vec<Entry> = dispatch.entries.clone();
        entries.sort_by_key(|e| e.selector);
        let mut functions: Vec<Function> = entries
            .iter()
            .map(|e| {
                let selector = e.selector.to_be_bytes();
                Function {
                    selector: Some(selector),
                    entry_pc: e.pc,
                    name: name_of(selector),
                    walk: ex.function(e, FUNCTION_BUDGET),
                }
            })
            .collect();
        functions.push(Function { selector: None, entry_pc: 0, name: None, walk: dispatch });
        let block = |pc: u32| prog.block_at(pc);
        let mut edges: Vec<(u32, u32)> =
            ex.edges.iter().filter_map(|e| Some((block((e >> 32) as u32)?, block(*e as u32)?))).collect();
        edges.sort_unstable();
        let mut unresolved: Vec<u32> = ex.unresolved.iter().filter_map(|pc| block(*pc)).collect();
        unresolved.sort_unstable();
        let mut reached = vec![false; prog.blocks.len()];
        for f in &functions {
            for b in f.walk.blocks.iter().filter_map(|pc| block(*pc)) {
                reached[b as usize] = true;
            }
        }
        let coverage = Coverage {
            blocks: prog.blocks.len(),
            reached_blocks: reached.iter().filter(|r| **r).count(),
            edges: edges.len(),
            unresolved_jumps: unresolved.len(),
            exhausted: functions.iter().any(|f| f.walk.exhausted),
        };
        let cfg = Cfg { blocks: prog.blocks.iter().map(|b| (b.start_pc, b.end_pc)).collect(), edges, unresolved };
        let slots = ex.slots;
        let mut analysis = Analysis { code, prog, metadata, functions, proxy: None, slots, cfg, coverage };
        analysis.proxy = proxy::detect(&analysis);
        analysis
    }

    /// The dispatcher's functions (without the fallback pseudo-function).
    pub fn dispatched(&self) -> impl Iterator<Item = &Function> {
        self.functions.iter().filter(|f| f.selector.is_some())
    }

    /// The function with this selector.
    pub fn function(&self, selector: u32) -> Option<&Function> {
        self.functions.iter().find(|f| f.selector == Some(selector.to_be_bytes()))
    }

    /// The fallback/receive pseudo-function (the dispatcher walk).
    pub fn fallback(&self) -> &Function {
        self.functions.last().expect("the fallback pseudo-function is always present")
    }

    /// The value of a constant stack value.
    pub fn konst(&self, v: &Val) -> Option<U256> {
        super::exec::const_value(self.prog.code, self.code, v.k)
    }

    /// Whether a value is the constant zero.
    pub fn is_zero(&self, v: &Val) -> bool {
        self.konst(v).is_some_and(|c| c.is_zero())
    }

    /// Whether an instruction at `pc` was reached by some walk.
    pub fn reached(&self, pc: u32) -> bool {
        let Some(b) = self.prog.block_containing(pc) else { return false };
        let start = self.prog.blocks[b as usize].start_pc;
        self.functions.iter().any(|f| f.walk.blocks.binary_search(&start).is_ok())
    }

    /// Whether the walks saw all the code they should have: no unresolved jump and no
    /// exhausted budget.
    pub fn complete(&self) -> bool {
        self.coverage.unresolved_jumps == 0 && !self.coverage.exhausted
    }
}
