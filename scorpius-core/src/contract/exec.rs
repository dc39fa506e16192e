//! The abstract interpreter behind selector extraction, the CFG and the detectors.
//!
//! It walks the program block by block with an abstract stack. A stack value ([`Val`]) keeps:
//! the PUSH constant it is (if any), where its bits come from (caller, origin, calldata,
//! storage, ...: a taint set), the storage slot it was loaded from or denotes, the call whose
//! success flag it carries, and, for comparison results, what was compared (the selector with
//! a constant, the caller with a stored owner, ...). Pushed constants are never folded, so
//! every jump target the walk resolves is a constant that the code itself pushed.
//!
//! States are `(block, stack, scratch memory, path flags)`; a state seen before is not walked
//! again, which makes loops terminate (taints form a finite lattice and no new constants are
//! created). Path flags record the guards a path has passed: an owner or role check, a
//! `tx.origin` check, a balance check keyed by the caller. A per-walk budget bounds the work on
//! adversarial code; a walk that runs out says so.

use std::{
    collections::{HashMap, HashSet},
    hash::{BuildHasherDefault, Hash, Hasher},
};

use alloy_primitives::U256;

use super::{
    cfg::Program,
    disasm::{self, opcodes::*},
};

/// A fast, non-cryptographic hasher for the walk's own sets (FxHash's multiply-rotate).
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuild = BuildHasherDefault<FxHasher>;
/// A hash set with [`FxHasher`].
pub type FxSet<T> = HashSet<T, FxBuild>;
/// A hash map with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, FxBuild>;

/// Where a value's bits come from.
pub mod taint {
    /// `msg.sender`.
    pub const CALLER: u16 = 1;
    /// `tx.origin`.
    pub const ORIGIN: u16 = 1 << 1;
    /// Calldata (function arguments).
    pub const CALLDATA: u16 = 1 << 2;
    /// `msg.value`.
    pub const CALLVALUE: u16 = 1 << 3;
    /// Storage (`SLOAD`).
    pub const STORAGE: u16 = 1 << 4;
    /// An ether balance (`SELFBALANCE`, `BALANCE`).
    pub const BALANCE: u16 = 1 << 5;
    /// The result or return data of an external call or create.
    pub const RETURNDATA: u16 = 1 << 6;
    /// Block and transaction environment (timestamp, gas, transient storage, ...).
    pub const ENV: u16 = 1 << 7;
    /// `CALLDATASIZE`.
    pub const CALLDATASIZE: u16 = 1 << 8;
    /// Exactly the function selector (`calldataload(0) >> 224`).
    pub const SELECTOR: u16 = 1 << 9;
    /// The raw first calldata word.
    pub const CALLDATA0: u16 = 1 << 10;
    /// Memory the walk does not track.
    pub const MEMORY: u16 = 1 << 11;
    /// `address(this)`.
    pub const THIS: u16 = 1 << 12;
    /// Who can choose the value: the bits that make a value attacker-controlled or
    /// caller-identifying.
    pub const WHO: u16 = CALLER | ORIGIN | CALLDATA | CALLVALUE;
}

/// What a comparison compared. The high bit ([`cmp::NEG`]) marks a value that is non-zero when
/// the two sides differ (`SUB`, `XOR`, `ISZERO(EQ)`).
pub mod cmp {
    /// Set when the value is non-zero when the compared sides *differ*.
    pub const NEG: u8 = 0x80;
    /// Nothing known.
    pub const NONE: u8 = 0;
    /// The selector against a constant (`arg`: 1 + const index, or [`super::ZERO_ARG`]).
    pub const SEL_EQ: u8 = 1;
    /// The selector ordered against a constant (binary-search dispatch).
    pub const SEL_RANGE: u8 = 2;
    /// `msg.sender` against an address in a fixed place: a constant slot (`owner`), a mapping
    /// entry not keyed by the caller or the arguments, or a code constant (`arg`: the slot, 0
    /// when not storage). An owner/admin gate.
    pub const CALLER_AUTH: u8 = 3;
    /// `tx.origin` against a stored or fixed address (`arg`: the slot).
    pub const ORIGIN_AUTH: u8 = 4;
    /// `tx.origin` against `msg.sender`.
    pub const ORIGIN_CALLER: u8 = 5;
    /// A boolean read from a storage mapping keyed by `msg.sender` (role membership), under a
    /// role that is not the caller or an argument (`roles[ADMIN][msg.sender]`).
    pub const ROLE: u8 = 6;
    /// A storage word keyed by `msg.sender`, not yet known to be a boolean.
    pub const ROLE_CANDIDATE: u8 = 7;
    /// An ordering comparison (`arg`: a storage slot one side was loaded from, or 0).
    pub const ORDERED: u8 = 8;
    /// A comparison involving `msg.value`.
    pub const VALUE: u8 = 9;
    /// An authorisation of a holder or of someone the holder approved, not a privilege:
    /// `msg.sender` against an address stored per argument (`_owners[tokenId]`,
    /// `_tokenApprovals[tokenId]`), or a boolean keyed by `msg.sender` under an argument
    /// (`_operatorApprovals[from][msg.sender]`). `arg`: the slot compared or read.
    pub const APPROVAL: u8 = 10;
}

/// `arg` of a selector comparison with zero (`ISZERO(selector)`).
pub const ZERO_ARG: u32 = u32::MAX;

/// Path flags: guards passed on the way to an instruction.
pub mod flags {
    /// Still in the dispatcher (only selector, calldata-size and call-value tests so far).
    pub const DISPATCH: u8 = 1;
    /// Passed an owner/admin check (`msg.sender == stored address`) or a role check.
    pub const OWNER: u8 = 1 << 1;
    /// Passed a `tx.origin == stored address` check.
    pub const ORIGIN: u8 = 1 << 2;
    /// Passed an ordering check on storage keyed by `msg.sender` (e.g. a deposit balance).
    pub const CALLER_CHECK: u8 = 1 << 3;
    /// Passed a comparison involving `msg.value`.
    pub const VALUE_CHECK: u8 = 1 << 4;
}

/// An abstract stack value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Val {
    /// The constant id when the value is a constant the code pushed or loaded ([`const_value`]), else 0.
    pub k: u32,
    /// Taint bits ([`taint`]).
    pub t: u16,
    /// Comparison kind ([`cmp`]).
    pub cmp: u8,
    /// The storage slot this value *is* (a mapping slot computed with `KECCAK256`), or 0.
    pub s: u32,
    /// The storage slot this value was loaded from, or 0.
    pub l: u32,
    /// 1 + pc of the call whose success flag this value carries, or 0.
    pub c: u32,
    /// Payload of the comparison.
    pub arg: u32,
}

impl Val {
    fn taint(t: u16) -> Self {
        Val { t, ..Val::default() }
    }
}

/// How a mapping key was derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `msg.sender`.
    Caller,
    /// `tx.origin`.
    Origin,
    /// A function argument.
    Calldata,
    /// A constant.
    Const,
    /// Another storage value.
    Storage,
    /// Anything else.
    Other,
}

/// A storage slot as the code computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// A fixed slot (state variable, EIP-1967 slot, ...).
    Const(U256),
    /// `keccak256(key . base)`: a mapping entry (`base` is a slot id, 0 when unknown).
    Mapping {
        /// The mapping's own slot id.
        base: u32,
        /// Where the key came from.
        key: Key,
    },
    /// `keccak256(base)`: the data of a dynamic array or long string.
    Array {
        /// The array's own slot id.
        base: u32,
    },
}

/// Interned storage slots of one contract; ids start at 1 (0 means "unknown slot").
#[derive(Debug, Default, Clone)]
pub struct Slots {
    list: Vec<(Slot, u8)>,
    index: FxMap<Slot, u32>,
}

impl Slots {
    fn intern(&mut self, slot: Slot) -> u32 {
        if let Some(&id) = self.index.get(&slot) {
            return id;
        }
        let depth = match slot {
            Slot::Const(_) => 0,
            Slot::Mapping { base, .. } | Slot::Array { base } => self.depth(base) + 1,
        };
        // Deeper nesting only comes from loops hashing their own results: stop there.
        if depth > 4 {
            return 0;
        }
        self.list.push((slot, depth));
        let id = self.list.len() as u32;
        self.index.insert(slot, id);
        id
    }

    fn depth(&self, id: u32) -> u8 {
        if id == 0 { 0 } else { self.list[id as usize - 1].1 }
    }

    /// The slot with this id.
    pub fn get(&self, id: u32) -> Option<&Slot> {
        if id == 0 { None } else { self.list.get(id as usize - 1).map(|(s, _)| s) }
    }

    /// The id of a constant slot, if the contract uses it.
    pub fn find_const(&self, value: U256) -> Option<u32> {
        self.index.get(&Slot::Const(value)).copied()
    }

    /// The fixed slot a mapping (possibly nested, possibly a struct member) ultimately lives
    /// at, with the key of the outermost lookup.
    pub fn mapping_root(&self, id: u32) -> Option<(U256, Key)> {
        let Slot::Mapping { base, key } = *self.get(id)? else { return None };
        let mut cur = base;
        loop {
            match *self.get(cur)? {
                Slot::Const(v) => return Some((v, key)),
                Slot::Mapping { base, .. } | Slot::Array { base } => cur = base,
            }
        }
    }

    /// The base slot of the outermost mapping lookup (`m[a]` for `m[a][b]`).
    pub fn mapping_base(&self, id: u32) -> Option<u32> {
        match *self.get(id)? {
            Slot::Mapping { base, .. } => Some(base),
            _ => None,
        }
    }

    /// Whether the slot is a mapping entry keyed (in its outermost lookup) by `msg.sender`.
    pub fn keyed_by_caller(&self, id: u32) -> bool {
        matches!(self.get(id), Some(Slot::Mapping { key: Key::Caller, .. }))
    }

    /// Whether some lookup on the way to the slot (at any nesting level) is keyed by a value
    /// the caller chooses or is: `msg.sender`, `tx.origin` or a function argument. Such an
    /// entry is per-holder data (a token's owner, an approval), not a fixed place.
    pub fn keyed_by_who(&self, id: u32) -> bool {
        let mut cur = id;
        for _ in 0..8 {
            match self.get(cur) {
                Some(Slot::Mapping { key: Key::Caller | Key::Origin | Key::Calldata, .. }) => return true,
                Some(Slot::Mapping { base, .. } | Slot::Array { base }) => cur = *base,
                _ => return false,
            }
        }
        false
    }

    /// Whether the mapping that the outermost lookup of the slot indexes is itself keyed by
    /// the caller or an argument: `m[from][msg.sender]` (an operator approval or allowance),
    /// as opposed to `m[ROLE][msg.sender]`.
    pub fn inner_keyed_by_who(&self, id: u32) -> bool {
        self.mapping_base(id).is_some_and(|b| self.keyed_by_who(b))
    }

    /// The fixed slot, when the slot is a constant.
    pub fn as_const(&self, id: u32) -> Option<U256> {
        match self.get(id)? {
            Slot::Const(v) => Some(*v),
            _ => None,
        }
    }
}

/// Something the walk saw, with the path flags at that point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    /// `SSTORE` to `slot` (0 = unknown) of `value`.
    Sstore {
        /// Where.
        pc: u32,
        /// Slot id.
        slot: u32,
        /// The stored value.
        value: Val,
        /// Path flags.
        flags: u8,
    },
    /// `SLOAD` of `slot`.
    Sload {
        /// Where.
        pc: u32,
        /// Slot id.
        slot: u32,
    },
    /// A conditional jump on `cond`.
    Cond {
        /// Where.
        pc: u32,
        /// The condition.
        cond: Val,
        /// Path flags before the branch.
        flags: u8,
    },
    /// `CALL`, `CALLCODE`, `DELEGATECALL` or `STATICCALL`.
    Call {
        /// Where.
        pc: u32,
        /// The opcode.
        op: u8,
        /// The callee.
        target: Val,
        /// The ether sent (`CALL`, `CALLCODE`; default otherwise).
        value: Val,
        /// Path flags.
        flags: u8,
    },
    /// `SELFDESTRUCT`.
    SelfDestruct {
        /// Where.
        pc: u32,
        /// Who receives the balance.
        beneficiary: Val,
        /// Path flags.
        flags: u8,
    },
    /// `CREATE` or `CREATE2`.
    Create {
        /// Where.
        pc: u32,
        /// The opcode.
        op: u8,
        /// Path flags.
        flags: u8,
    },
    /// `LOG1`..`LOG4` with its first topic.
    Log {
        /// Where.
        pc: u32,
        /// The event signature topic.
        topic0: Val,
    },
    /// Multiplication or division with a value loaded from `slot`.
    Arith {
        /// Where.
        pc: u32,
        /// Slot id.
        slot: u32,
    },
    /// The success flag of the call at `call_pc` is used (tested, stored or returned).
    CallUsed {
        /// The call's pc.
        call_pc: u32,
    },
    /// `CODECOPY` (for creation-code detection).
    CodeCopy {
        /// Where.
        pc: u32,
        /// Source offset in the code.
        offset: Val,
        /// Length.
        size: Val,
    },
    /// `RETURN`.
    Return {
        /// Where.
        pc: u32,
        /// Length of the returned data.
        size: Val,
    },
    /// A jump whose target the walk could not resolve.
    Unresolved {
        /// Where.
        pc: u32,
    },
}

/// A function entry found in the dispatcher.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The 4-byte selector.
    pub selector: u32,
    /// Where the function's code starts.
    pub pc: u32,
    /// The abstract stack on entry.
    pub stack: Vec<Val>,
}

/// The result of one walk.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Start pcs of the blocks visited, sorted.
    pub blocks: Vec<u32>,
    /// Everything seen, sorted by pc and deduplicated.
    pub events: Vec<Event>,
    /// Dispatcher entries (dispatcher walks only), in discovery order, one per selector.
    pub entries: Vec<Entry>,
    /// Whether the walk stopped on its budget before exploring everything.
    pub exhausted: bool,
}

#[derive(Clone)]
struct State {
    block: u32,
    stack: Vec<Val>,
    mem: [Val; 2],
    flags: u8,
}

impl State {
    fn key(&self) -> u64 {
        let mut h = FxHasher::default();
        h.write_u32(self.block);
        h.write_u8(self.flags);
        self.mem.hash(&mut h);
        self.stack.hash(&mut h);
        h.finish()
    }
}

const MAX_STACK: usize = 1024;

/// The value of constant id `k` in `code` (executable part) and `full` (with data): a PUSH at
/// pc `k - 1`, or, with [`CODE_WORD`] set, the 32-byte word at that offset of `full`.
pub fn const_value(code: &[u8], full: &[u8], k: u32) -> Option<U256> {
    if k == 0 {
        return None;
    }
    if k & CODE_WORD != 0 {
        let offset = (k & !CODE_WORD) as usize - 1;
        let mut word = [0u8; 32];
        if offset < full.len() {
            let end = full.len().min(offset + 32);
            word[..end - offset].copy_from_slice(&full[offset..end]);
        }
        return Some(U256::from_be_bytes(word));
    }
    let pc = k as usize - 1;
    let op = *code.get(pc)?;
    let n = disasm::info(op).immediate as usize;
    if n == 0 {
        return (op == PUSH0).then_some(U256::ZERO);
    }
    // Truncated PUSH data is zero-padded on the right, as the EVM reads it.
    let imm = &code[pc + 1..code.len().min(pc + 1 + n)];
    let mut word = [0u8; 32];
    word[32 - n..32 - n + imm.len()].copy_from_slice(imm);
    Some(U256::from_be_bytes(word))
}

/// Constant ids with this bit set name a code word read by `CODECOPY` (offset + 1 below it).
pub const CODE_WORD: u32 = 1 << 31;

/// Walks a program. One per contract: slots and resolved edges accumulate over walks.
///
/// Code is decoded lazily from the walked pcs, so that selector extraction touches only the
/// dispatcher. Blocks are identified by their start pc; they coincide with
/// [`Program::blocks`](super::cfg::Program): a block starts at pc 0, at a `JUMPDEST` and after a
/// `JUMPI`, and ends at a jump or terminator.
#[derive(Debug)]
pub struct Explorer<'c> {
    code: &'c [u8],
    full: &'c [u8],
    /// The storage slots seen so far.
    pub slots: Slots,
    /// Resolved control-flow edges `(from_pc << 32) | to_pc` between block starts.
    pub edges: FxSet<u64>,
    /// Start pcs of blocks whose final jump was not resolved on some path.
    pub unresolved: FxSet<u32>,
    /// Valid jump destinations, computed up to `scanned` (an instruction boundary).
    jumpdests: Vec<bool>,
    scanned: usize,
    /// Record events and edges (off for selector extraction alone).
    record: bool,
    /// Walk only while still in the dispatcher (selector extraction alone).
    dispatch_only: bool,
}

/// Events of one walk (a set, or nothing when recording is off).
struct Sink {
    on: bool,
    set: FxSet<Event>,
}

impl Sink {
    fn add(&mut self, e: Event) {
        if self.on {
            self.set.insert(e);
        }
    }
}

impl<'c> Explorer<'c> {
    /// An explorer for the executable `code`, a prefix of `full` (the code with its metadata
    /// trailer and data, which `CODECOPY` may read).
    pub fn new(code: &'c [u8], full: &'c [u8]) -> Self {
        Explorer {
            code,
            full,
            slots: Slots::default(),
            edges: FxSet::default(),
            unresolved: FxSet::default(),
            jumpdests: Vec::new(),
            scanned: 0,
            record: true,
            dispatch_only: false,
        }
    }

    /// An explorer for a prepared program.
    pub fn for_program(prog: &Program<'c>) -> Self {
        Explorer::new(prog.code, prog.full)
    }

    /// An explorer that only finds dispatcher entries: no events, no edges, and paths that
    /// leave the dispatcher are not followed. Entry stacks are left empty.
    pub fn selectors_only(code: &'c [u8], full: &'c [u8]) -> Self {
        Explorer { record: false, dispatch_only: true, ..Explorer::new(code, full) }
    }

    fn edge(&mut self, from: u32, to: u32) {
        if self.record {
            self.edges.insert((u64::from(from) << 32) | u64::from(to));
        }
    }

    fn konst(&self, v: &Val) -> Option<U256> {
        const_value(self.code, self.full, v.k)
    }

    /// The constant with id `k` (see [`const_value`]).
    pub fn value(&self, k: u32) -> Option<U256> {
        const_value(self.code, self.full, k)
    }

    fn is_const(&self, v: &Val, x: u64) -> bool {
        self.konst(v).is_some_and(|c| c == U256::from(x))
    }

    /// Whether `target` is a `JUMPDEST` at an instruction boundary.
    fn jumpdest(&mut self, target: U256) -> Option<u32> {
        let t = usize::try_from(target).ok().filter(|t| *t < self.code.len())?;
        if self.code[t] != JUMPDEST {
            return None;
        }
        if self.jumpdests.is_empty() {
            self.jumpdests = vec![false; self.code.len()];
        }
        while self.scanned <= t {
            let op = self.code[self.scanned];
            if op == JUMPDEST {
                self.jumpdests[self.scanned] = true;
            }
            self.scanned += 1 + disasm::info(op).immediate as usize;
        }
        self.jumpdests[t].then_some(t as u32)
    }

    /// Walks from the program start in dispatcher mode: selector comparisons made while only
    /// the selector, the calldata size and the call value have been tested are function
    /// entries; their bodies are not walked. Everything else (receive, fallback) is.
    pub fn dispatcher(&mut self, budget: usize) -> Walk {
        if self.code.is_empty() {
            return Walk::default();
        }
        self.run(0, Vec::new(), flags::DISPATCH, budget)
    }

    /// Walks one function from its entry.
    pub fn function(&mut self, entry: &Entry, budget: usize) -> Walk {
        if (entry.pc as usize) < self.code.len() {
            self.run(entry.pc, entry.stack.clone(), 0, budget)
        } else {
            Walk::default()
        }
    }

    fn run(&mut self, start: u32, stack: Vec<Val>, flags0: u8, budget: usize) -> Walk {
        let code = self.code;
        let mut seen: FxSet<u64> = FxSet::default();
        let mut visited: Vec<u32> = Vec::new();
        let mut events = Sink { on: self.record, set: FxSet::default() };
        let mut entries: Vec<Entry> = Vec::new();
        let mut work = vec![State { block: start, stack, mem: [Val::default(); 2], flags: flags0 }];
        let mut steps = 0usize;
        let mut exhausted = false;
        while let Some(mut st) = work.pop() {
            if self.dispatch_only && st.flags & flags::DISPATCH == 0 {
                continue;
            }
            if !seen.insert(st.key()) {
                continue;
            }
            steps += 1;
            if steps > budget {
                exhausted = true;
                break;
            }
            let block = st.block;
            visited.push(block);
            let mut pc = block as usize;
            let mut ended = false;
            while pc < code.len() {
                let op = code[pc];
                if op == JUMPDEST && pc != block as usize {
                    // The next block starts here: fall through into it.
                    self.edge(block, pc as u32);
                    st.block = pc as u32;
                    work.push(st.clone());
                    ended = true;
                    break;
                }
                let next = pc + 1 + disasm::info(op).immediate as usize;
                let pc32 = pc as u32;
                match op {
                    JUMP => {
                        let target = pop(&mut st.stack);
                        match self.konst(&target).and_then(|t| self.jumpdest(t)) {
                            Some(b) => {
                                self.edge(block, b);
                                st.block = b;
                                work.push(st.clone());
                            }
                            None => {
                                self.unresolved.insert(block);
                                events.add(Event::Unresolved { pc: pc32 });
                            }
                        }
                        ended = true;
                    }
                    JUMPI => {
                        let target = pop(&mut st.stack);
                        let cond = pop(&mut st.stack);
                        events.add(Event::Cond { pc: pc32, cond, flags: st.flags });
                        if cond.c != 0 {
                            events.add(Event::CallUsed { call_pc: cond.c - 1 });
                        }
                        let taken_block = self.konst(&target).and_then(|t| self.jumpdest(t));
                        let fall_block = (next < code.len()).then_some(next as u32);
                        let (mut take, mut fall) = (true, true);
                        if let Some(c) = self.konst(&cond) {
                            take = !c.is_zero();
                            fall = c.is_zero();
                        }
                        let (tf, ff) = self.branch_flags(&cond, st.flags);
                        let base = cond.cmp & !cmp::NEG;
                        if st.flags & flags::DISPATCH != 0 && base == cmp::SEL_EQ {
                            let selector = self.selector_value(cond.arg);
                            let neg = cond.cmp & cmp::NEG != 0;
                            let (entry_block, go_on) =
                                if neg { (fall_block, taken_block) } else { (taken_block, fall_block) };
                            if let (Some(sel), Some(eb)) = (selector, entry_block) {
                                self.edge(block, eb);
                                if !entries.iter().any(|e| e.selector == sel) {
                                    let stack = if self.record { st.stack.clone() } else { Vec::new() };
                                    entries.push(Entry { selector: sel, pc: eb, stack });
                                }
                            }
                            if let Some(b) = go_on {
                                self.edge(block, b);
                                work.push(State { block: b, ..st.clone() });
                            }
                        } else {
                            if take {
                                match taken_block {
                                    Some(b) => {
                                        self.edge(block, b);
                                        work.push(State { block: b, flags: tf, ..st.clone() });
                                    }
                                    None => {
                                        self.unresolved.insert(block);
                                        events.add(Event::Unresolved { pc: pc32 });
                                    }
                                }
                            }
                            if fall && let Some(b) = fall_block {
                                self.edge(block, b);
                                st.flags = ff;
                                st.block = b;
                                work.push(st.clone());
                            }
                        }
                        ended = true;
                    }
                    _ => {
                        if self.step(&mut st, pc32, op, &mut events) {
                            ended = true;
                        }
                    }
                }
                if ended || st.stack.len() > MAX_STACK {
                    ended = true;
                    break;
                }
                pc = next;
            }
            let _ = ended;
        }
        let mut events: Vec<Event> = events.set.into_iter().collect();
        events.sort_unstable();
        visited.sort_unstable();
        visited.dedup();
        Walk { blocks: visited, events, entries, exhausted }
    }

    fn selector_value(&self, arg: u32) -> Option<u32> {
        if arg == ZERO_ARG {
            return Some(0);
        }
        u32::try_from(self.value(arg)?).ok()
    }

    /// Flags of the taken and fall-through successors of a conditional jump on `cond`.
    fn branch_flags(&self, cond: &Val, f: u8) -> (u8, u8) {
        let base = cond.cmp & !cmp::NEG;
        let neg = cond.cmp & cmp::NEG != 0;
        let (mut t, mut e) = (f, f);
        if f & flags::DISPATCH != 0 {
            let dispatch_only = base == cmp::SEL_RANGE
                || base == cmp::VALUE
                || (cond.t != 0 && cond.t & !(taint::CALLDATASIZE | taint::CALLVALUE) == 0);
            if !dispatch_only {
                t &= !flags::DISPATCH;
                e &= !flags::DISPATCH;
            }
        }
        let add = match base {
            cmp::CALLER_AUTH | cmp::ROLE => flags::OWNER,
            cmp::ORIGIN_AUTH => flags::ORIGIN,
            _ => 0,
        };
        if neg {
            e |= add;
        } else {
            t |= add;
        }
        if base == cmp::ORDERED && self.slots.keyed_by_caller(cond.arg) {
            t |= flags::CALLER_CHECK;
            e |= flags::CALLER_CHECK;
        }
        if base == cmp::VALUE {
            t |= flags::VALUE_CHECK;
            e |= flags::VALUE_CHECK;
        }
        (t, e)
    }

    /// Executes one non-jump instruction; returns true when the path ends.
    fn step(&mut self, st: &mut State, pc: u32, op: u8, events: &mut Sink) -> bool {
        let stack = &mut st.stack;
        match op {
            PUSH0..=PUSH32 => stack.push(Val { k: pc + 1, ..Val::default() }),
            DUP1..=DUP16 => {
                let n = usize::from(op - DUP1) + 1;
                let v = if stack.len() >= n { stack[stack.len() - n] } else { Val::default() };
                stack.push(v);
            }
            SWAP1..=SWAP16 => {
                let n = usize::from(op - SWAP1) + 1;
                if stack.len() < n + 1 {
                    let pad = n + 1 - stack.len();
                    stack.splice(0..0, std::iter::repeat_n(Val::default(), pad));
                }
                let top = stack.len() - 1;
                stack.swap(top, top - n);
            }
            POP => {
                pop(stack);
            }
            JUMPDEST => {}
            STOP | INVALID => return true,
            RETURN => {
                let _offset = pop(stack);
                let size = pop(stack);
                if size.k != 0 {
                    events.add(Event::Return { pc, size });
                }
                return true;
            }
            REVERT => return true,
            SELFDESTRUCT => {
                let beneficiary = pop(stack);
                events.add(Event::SelfDestruct { pc, beneficiary, flags: st.flags });
                return true;
            }
            CALLER => stack.push(Val::taint(taint::CALLER)),
            ORIGIN => stack.push(Val::taint(taint::ORIGIN)),
            CALLVALUE => stack.push(Val::taint(taint::CALLVALUE)),
            CALLDATASIZE => stack.push(Val::taint(taint::CALLDATASIZE)),
            ADDRESS => stack.push(Val::taint(taint::THIS)),
            SELFBALANCE => stack.push(Val::taint(taint::BALANCE)),
            BALANCE => {
                pop(stack);
                stack.push(Val::taint(taint::BALANCE));
            }
            RETURNDATASIZE => stack.push(Val::taint(taint::RETURNDATA)),
            CALLDATALOAD => {
                let off = pop(stack);
                let mut t = taint::CALLDATA;
                if self.is_const(&off, 0) {
                    t |= taint::CALLDATA0;
                }
                stack.push(Val::taint(t));
            }
            MLOAD => {
                let off = pop(stack);
                let v = if self.is_const(&off, 0) {
                    st.mem[0]
                } else if self.is_const(&off, 0x20) {
                    st.mem[1]
                } else {
                    Val::taint(taint::MEMORY)
                };
                stack.push(v);
            }
            MSTORE => {
                let off = pop(stack);
                let v = pop(stack);
                if v.c != 0 {
                    events.add(Event::CallUsed { call_pc: v.c - 1 });
                }
                if self.is_const(&off, 0) {
                    st.mem[0] = v;
                } else if self.is_const(&off, 0x20) {
                    st.mem[1] = v;
                }
            }
            CALLDATACOPY | CODECOPY | RETURNDATACOPY | MCOPY => {
                let dest = pop(stack);
                let offset = pop(stack);
                let size = pop(stack);
                if op == CODECOPY && offset.k != 0 && size.k != 0 {
                    events.add(Event::CodeCopy { pc, offset, size });
                }
                let word_at = |d: u64| self.is_const(&dest, d) && self.is_const(&size, 0x20);
                let src = self.konst(&offset).and_then(|o| usize::try_from(o).ok());
                if op == CODECOPY && (word_at(0) || word_at(0x20)) && src.is_some() {
                    // A 32-byte constant the optimiser moved into the data section.
                    let slot = usize::from(!self.is_const(&dest, 0));
                    let k = u32::try_from(src.unwrap_or_default() + 1)
                        .ok()
                        .filter(|k| k & CODE_WORD == 0)
                        .map_or(0, |k| k | CODE_WORD);
                    st.mem[slot] = Val { k, ..Val::default() };
                } else if dest.k == 0 || self.konst(&dest).is_some_and(|d| d < U256::from(0x40)) {
                    st.mem = [Val::taint(taint::MEMORY); 2];
                }
            }
            EXTCODECOPY => {
                pop(stack);
                let dest = pop(stack);
                pop(stack);
                pop(stack);
                if dest.k == 0 || self.konst(&dest).is_some_and(|d| d < U256::from(0x40)) {
                    st.mem = [Val::taint(taint::MEMORY); 2];
                }
            }
            KECCAK256 => {
                let off = pop(stack);
                let size = pop(stack);
                let v = if self.is_const(&off, 0) && self.is_const(&size, 0x40) {
                    let (key, base) = (st.mem[0], st.mem[1]);
                    let base_id = self.slot_id(&base);
                    let key = self.key_kind(&key);
                    let s = self.slots.intern(Slot::Mapping { base: base_id, key });
                    Val { s, ..Val::default() }
                } else if self.is_const(&off, 0) && self.is_const(&size, 0x20) {
                    let base_id = self.slot_id(&st.mem[0]);
                    let s = self.slots.intern(Slot::Array { base: base_id });
                    Val { s, ..Val::default() }
                } else {
                    Val::default()
                };
                stack.push(v);
            }
            SLOAD => {
                let slot = pop(stack);
                let id = self.slot_id(&slot);
                if id != 0 {
                    events.add(Event::Sload { pc, slot: id });
                }
                let cmp = if self.slots.keyed_by_caller(id) { cmp::ROLE_CANDIDATE } else { cmp::NONE };
                stack.push(Val { t: taint::STORAGE, l: id, cmp, ..Val::default() });
            }
            SSTORE => {
                let slot = pop(stack);
                let value = pop(stack);
                if value.c != 0 {
                    events.add(Event::CallUsed { call_pc: value.c - 1 });
                }
                let id = self.slot_id(&slot);
                events.add(Event::Sstore { pc, slot: id, value, flags: st.flags });
            }
            TLOAD => {
                pop(stack);
                stack.push(Val::taint(taint::ENV));
            }
            CALL | CALLCODE => {
                let _gas = pop(stack);
                let target = pop(stack);
                let value = pop(stack);
                for _ in 0..4 {
                    pop(stack);
                }
                events.add(Event::Call { pc, op, target, value, flags: st.flags });
                stack.push(Val { t: taint::RETURNDATA, c: pc + 1, ..Val::default() });
            }
            DELEGATECALL | STATICCALL => {
                let _gas = pop(stack);
                let target = pop(stack);
                for _ in 0..4 {
                    pop(stack);
                }
                events.add(Event::Call { pc, op, target, value: Val::default(), flags: st.flags });
                let c = if op == DELEGATECALL { pc + 1 } else { 0 };
                stack.push(Val { t: taint::RETURNDATA, c, ..Val::default() });
            }
            CREATE | CREATE2 => {
                let n = if op == CREATE { 3 } else { 4 };
                for _ in 0..n {
                    pop(stack);
                }
                events.add(Event::Create { pc, op, flags: st.flags });
                stack.push(Val::taint(taint::RETURNDATA));
            }
            LOG0..=LOG4 => {
                pop(stack);
                pop(stack);
                let n = op - LOG0;
                for j in 0..n {
                    let topic = pop(stack);
                    if j == 0 {
                        events.add(Event::Log { pc, topic0: topic });
                    }
                }
            }
            ISZERO => {
                let a = pop(stack);
                let mut r = Val { t: a.t & !(taint::SELECTOR | taint::CALLDATA0), l: a.l, c: a.c, ..Val::default() };
                if a.t & taint::SELECTOR != 0 {
                    r.cmp = cmp::SEL_EQ;
                    r.arg = ZERO_ARG;
                } else if a.cmp != cmp::NONE {
                    r.cmp = a.cmp ^ cmp::NEG;
                    r.arg = a.arg;
                }
                stack.push(r);
            }
            NOT => {
                let a = pop(stack);
                stack.push(Val { t: a.t & !(taint::SELECTOR | taint::CALLDATA0), l: a.l, ..Val::default() });
            }
            _ if disasm::info(op).pops == 2 && disasm::info(op).pushes == 1 => {
                let a = pop(stack);
                let b = pop(stack);
                let r = self.binop(op, &a, &b);
                if matches!(op, MUL | DIV | SDIV)
                    && let Some(l) = [a.l, b.l].into_iter().find(|l| *l != 0)
                {
                    events.add(Event::Arith { pc, slot: l });
                }
                stack.push(r);
            }
            _ => {
                let info = disasm::info(op);
                if !info.defined {
                    return true;
                }
                let mut t = 0;
                for _ in 0..info.pops {
                    t |= pop(stack).t;
                }
                let t = (t & !(taint::SELECTOR | taint::CALLDATA0))
                    | if matches!(op, 0x3a | 0x40..=0x46 | 0x48..=0x4a | 0x58..=0x5a) { taint::ENV } else { 0 };
                for _ in 0..info.pushes {
                    stack.push(Val::taint(t));
                }
            }
        }
        false
    }

    /// The slot id a value denotes as an `SLOAD`/`SSTORE`/`KECCAK256` operand.
    fn slot_id(&mut self, v: &Val) -> u32 {
        if v.s != 0 {
            return v.s;
        }
        match self.konst(v) {
            Some(c) => self.slots.intern(Slot::Const(c)),
            None => 0,
        }
    }

    fn key_kind(&self, v: &Val) -> Key {
        let who = v.t & taint::WHO;
        if who == taint::CALLER {
            Key::Caller
        } else if who & taint::CALLDATA != 0 {
            Key::Calldata
        } else if who == taint::ORIGIN {
            Key::Origin
        } else if v.k != 0 {
            Key::Const
        } else if v.t & taint::STORAGE != 0 {
            Key::Storage
        } else {
            Key::Other
        }
    }

    fn binop(&self, op: u8, a: &Val, b: &Val) -> Val {
        let mut r = Val {
            t: (a.t | b.t) & !(taint::SELECTOR | taint::CALLDATA0),
            l: if a.l != 0 { a.l } else { b.l },
            c: if a.c != 0 { a.c } else { b.c },
            ..Val::default()
        };
        match op {
            // calldataload(0) >> 224, or calldataload(0) / 2**224 (solc < 0.5).
            SHR if b.t & taint::CALLDATA0 != 0 && self.is_const(a, 0xe0) => r.t |= taint::SELECTOR,
            DIV if a.t & taint::CALLDATA0 != 0 && self.konst(b).is_some_and(|c| c == U256::from(1) << 224) => {
                r.t |= taint::SELECTOR;
            }
            AND => {
                let (x, m) = if a.k == 0 { (a, b) } else { (b, a) };
                if let Some(mask) = self.konst(m) {
                    if x.t & taint::SELECTOR != 0 && mask == U256::from(0xffff_ffffu64) {
                        r.t |= taint::SELECTOR;
                    }
                    if x.t & taint::CALLDATA0 != 0 {
                        r.t |= taint::CALLDATA0;
                    }
                    if x.cmp & !cmp::NEG == cmp::ROLE_CANDIDATE && mask == U256::from(0xff) {
                        // A boolean keyed by the caller: a role, unless it sits under a key the
                        // caller chooses (`approved[from][msg.sender]`: the holder's approval).
                        let kind = if self.slots.inner_keyed_by_who(x.l) { cmp::APPROVAL } else { cmp::ROLE };
                        r.cmp = kind | (x.cmp & cmp::NEG);
                        r.arg = if kind == cmp::APPROVAL { x.l } else { x.arg };
                    } else if x.cmp != cmp::NONE {
                        r.cmp = x.cmp;
                        r.arg = x.arg;
                    }
                    r.s = x.s;
                } else if x.cmp != cmp::NONE || m.cmp != cmp::NONE {
                    // Masking with a computed (address) mask keeps what the operand was.
                    let y = if x.cmp != cmp::NONE { x } else { m };
                    if y.cmp & !cmp::NEG != cmp::ROLE_CANDIDATE {
                        r.cmp = y.cmp;
                        r.arg = y.arg;
                    }
                }
            }
            ADD => {
                // A struct member or array element of a mapping entry stays "that entry".
                r.s = if a.s != 0 { a.s } else { b.s };
            }
            EQ => {
                if let Some((c, arg)) = self.classify_eq(a, b) {
                    r.cmp = c;
                    r.arg = arg;
                }
            }
            SUB | XOR => {
                if let Some((c, arg)) = self.classify_eq(a, b) {
                    r.cmp = c | cmp::NEG;
                    r.arg = arg;
                }
            }
            LT | GT | SLT | SGT => {
                let sel = (a.t & taint::SELECTOR != 0 && b.k != 0) || (b.t & taint::SELECTOR != 0 && a.k != 0);
                if sel {
                    r.cmp = cmp::SEL_RANGE;
                } else if (a.t | b.t) & taint::CALLVALUE != 0 {
                    r.cmp = cmp::VALUE;
                } else {
                    // `arg`: a slot keyed by the caller (a per-caller balance check), else a fixed
                    // slot read as-is and compared with an argument (an owner-set limit).
                    r.cmp = cmp::ORDERED;
                    let pure = |v: &Val| v.t == taint::STORAGE && v.cmp == cmp::NONE && v.l != 0;
                    r.arg = if a.l != 0 && self.slots.keyed_by_caller(a.l) {
                        a.l
                    } else if b.l != 0 && self.slots.keyed_by_caller(b.l) {
                        b.l
                    } else if pure(a) && b.t & taint::CALLDATA != 0 && self.slots.as_const(a.l).is_some() {
                        a.l
                    } else if pure(b) && a.t & taint::CALLDATA != 0 && self.slots.as_const(b.l).is_some() {
                        b.l
                    } else {
                        0
                    };
                }
            }
            _ => {}
        }
        r
    }

    /// What an equality between `a` and `b` tests, if it is one of the known patterns.
    fn classify_eq(&self, a: &Val, b: &Val) -> Option<(u8, u32)> {
        for (x, y) in [(a, b), (b, a)] {
            if x.t & taint::SELECTOR != 0 && y.k != 0 && y.t == 0 {
                return Some((cmp::SEL_EQ, y.k));
            }
        }
        if (a.t | b.t) & taint::CALLVALUE != 0 {
            return Some((cmp::VALUE, 0));
        }
        let who = |v: &Val| v.t & taint::WHO;
        let neutral = |v: &Val| who(v) == 0 && !self.konst(v).is_some_and(|c| c.is_zero()) && v.cmp == cmp::NONE;
        for (x, y) in [(a, b), (b, a)] {
            if who(x) == taint::CALLER && neutral(y) {
                // Only an address in a fixed place is an owner: one stored per token id or per
                // address argument is that token's holder or approved operator.
                if y.l != 0 && self.slots.keyed_by_who(y.l) {
                    return Some((cmp::APPROVAL, y.l));
                }
                return Some((cmp::CALLER_AUTH, y.l));
            }
            if who(x) == taint::ORIGIN && neutral(y) {
                return Some((cmp::ORIGIN_AUTH, y.l));
            }
            if who(x) == taint::ORIGIN && who(y) == taint::CALLER {
                return Some((cmp::ORIGIN_CALLER, 0));
            }
        }
        None
    }
}

fn pop(stack: &mut Vec<Val>) -> Val {
    stack.pop().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::test_asm::asm;

    fn walk(code: &[u8]) -> (Walk, Vec<u32>) {
        let mut ex = Explorer::new(code, code);
        let w = ex.dispatcher(10_000);
        let sels = w.entries.iter().map(|e| e.selector).collect();
        (w, sels)
    }

    #[test]
    fn finds_eq_dispatch() {
        let code = asm("PUSH0 CALLDATALOAD PUSH1 0xe0 SHR DUP1 PUSH4 0x12345678 EQ @f JUMPI STOP f: STOP");
        let (_, sels) = walk(&code);
        assert_eq!(sels, [0x1234_5678]);
    }

    #[test]
    fn finds_xor_iszero_and_binary_split_dispatch() {
        let code = asm("PUSH0 CALLDATALOAD PUSH1 0xe0 SHR DUP1 ISZERO @zero JUMPI \
             PUSH4 0xaabbccdd DUP2 XOR @next JUMPI STOP \
             next: PUSH4 0x11223344 DUP2 GT @hi JUMPI STOP \
             hi: DUP1 PUSH4 0x55667788 EQ @f2 JUMPI STOP zero: STOP f2: STOP");
        let (_, mut sels) = walk(&code);
        sels.sort_unstable();
        assert_eq!(sels, [0, 0x5566_7788, 0xaabb_ccdd]);
    }

    #[test]
    fn selector_tests_after_another_guard_are_not_dispatch() {
        // if (msg.sender == admin) { if (msg.sig == 0x12345678) ... }: a proxy's admin path.
        let code = asm("PUSH1 0x00 SLOAD CALLER EQ @admin JUMPI STOP \
             admin: PUSH0 CALLDATALOAD PUSH1 0xe0 SHR PUSH4 0x12345678 EQ @f JUMPI STOP f: STOP");
        let (_, sels) = walk(&code);
        assert!(sels.is_empty(), "{sels:x?}");
    }

    #[test]
    fn owner_check_sets_the_path_flag() {
        let code = asm("PUSH1 0x00 SLOAD CALLER EQ @ok JUMPI PUSH0 PUSH0 REVERT ok: PUSH1 0x01 PUSH1 0x05 SSTORE STOP");
        let mut ex = Explorer::new(&code, &code);
        let w = ex.run(0, Vec::new(), 0, 1000);
        let store = w.events.iter().find_map(|e| if let Event::Sstore { flags, .. } = e { Some(*flags) } else { None });
        assert_eq!(store, Some(flags::OWNER));
    }

    /// The flags of the first `SSTORE` reached when `check` (code that jumps to `ok` when the
    /// caller is authorised) runs before it.
    fn store_flags(check: &str) -> Option<u8> {
        let code = asm(&format!("{check} PUSH0 PUSH0 REVERT ok: PUSH1 0x01 PUSH1 0x05 SSTORE STOP"));
        let mut ex = Explorer::new(&code, &code);
        let w = ex.run(0, Vec::new(), 0, 1000);
        w.events.iter().find_map(|e| if let Event::Sstore { flags, .. } = e { Some(*flags) } else { None })
    }

    #[test]
    fn holder_and_operator_checks_are_not_owner_gates() {
        // msg.sender == _owners[tokenId] (mapping at slot 2 keyed by an argument).
        let holder = "PUSH1 0x04 CALLDATALOAD PUSH0 MSTORE PUSH1 0x02 PUSH1 0x20 MSTORE \
             PUSH1 0x40 PUSH0 KECCAK256 SLOAD CALLER EQ @ok JUMPI";
        assert_eq!(store_flags(holder), Some(0));
        // _operatorApprovals[from][msg.sender] (slot 5, `from` an argument).
        let operator = "PUSH1 0x04 CALLDATALOAD PUSH0 MSTORE PUSH1 0x05 PUSH1 0x20 MSTORE \
             PUSH1 0x40 PUSH0 KECCAK256 PUSH1 0x20 MSTORE CALLER PUSH0 MSTORE \
             PUSH1 0x40 PUSH0 KECCAK256 SLOAD PUSH1 0xff AND @ok JUMPI";
        assert_eq!(store_flags(operator), Some(0));
        // A fixed mapping entry (admins[0]) and a role under a constant (roles[ADMIN][msg.sender])
        // are gates.
        let fixed_entry = "PUSH0 PUSH0 MSTORE PUSH1 0x02 PUSH1 0x20 MSTORE \
             PUSH1 0x40 PUSH0 KECCAK256 SLOAD CALLER EQ @ok JUMPI";
        assert_eq!(store_flags(fixed_entry), Some(flags::OWNER));
        let role = operator.replace("PUSH1 0x04 CALLDATALOAD PUSH0 MSTORE", "PUSH1 0x77 PUSH0 MSTORE");
        assert_eq!(store_flags(&role), Some(flags::OWNER));
    }

    #[test]
    fn internal_return_address_resolves() {
        // PUSH1 ret(0x07) PUSH1 fn(0x0a) JUMP; ret: JUMPDEST CALLER SELFDESTRUCT; fn: JUMPDEST JUMP
        // 0: 60 07  2: 60 0a  4: 56  5: 00 00?  -> lay out exactly:
        // 0 PUSH1 0x06, 2 PUSH1 0x09, 4 JUMP, 5 INVALID, 6 JUMPDEST, 7 CALLER, 8 SELFDESTRUCT, 9 JUMPDEST, 10 JUMP
        let code = hex::decode("6006600956fe5b33ff5b56").unwrap();
        let mut ex = Explorer::new(&code, &code);
        let w = ex.run(0, Vec::new(), 0, 1000);
        assert!(w.events.iter().any(|e| matches!(e, Event::SelfDestruct { pc: 8, .. })), "{:?}", w.events);
        assert!(ex.unresolved.is_empty());
    }
}
