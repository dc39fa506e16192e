//! The executable code as a program: instructions, their constants, basic blocks, and the
//! control-flow graph that the abstract interpreter ([`super::exec`]) discovers.
//!
//! Jump targets in compiled Solidity are almost always constants pushed somewhere before the
//! jump (directly before it, or much earlier for an internal function's return address), so the
//! edges of a `JUMP` are resolved by propagating pushed constants through the blocks rather than
//! by looking at the instruction before the jump only. A jump whose target the propagation does
//! not know is left unresolved and reported as such: the analysis never pretends it saw code it
//! did not reach.

use alloy_primitives::U256;

use super::disasm::{self, Instruction, opcodes};

/// A straight-line run of instructions with one entry (its first instruction) and one exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicBlock {
    /// Byte offset of the first instruction.
    pub start_pc: u32,
    /// Byte offset just past the last instruction.
    pub end_pc: u32,
    /// Index of the first instruction in [`Program::instructions`].
    pub first: u32,
    /// Index of the last instruction (inclusive).
    pub last: u32,
}

/// The code prepared for analysis.
#[derive(Debug, Clone)]
pub struct Program<'c> {
    /// The executable code (metadata trailer already removed).
    pub code: &'c [u8],
    /// The whole code including data after the executable part (what `CODECOPY` reads).
    pub full: &'c [u8],
    /// Every instruction, in order.
    pub instructions: Vec<Instruction>,
    /// The value of each PUSH, indexed by `const_of[instruction] - 1`.
    pub consts: Vec<U256>,
    /// Per instruction: `0`, or 1 + the index of its PUSH value in [`Program::consts`].
    pub const_of: Vec<u32>,
    /// The basic blocks, in code order.
    pub blocks: Vec<BasicBlock>,
}

impl<'c> Program<'c> {
    /// Disassembles `code` and splits it into basic blocks. A block starts at the first
    /// instruction, at every `JUMPDEST` and after every `JUMPI` or terminating instruction.
    pub fn new(code: &'c [u8]) -> Self {
        Self::with_data(code, code)
    }

    /// Like [`Program::new`] for `code`, a prefix of `full` (the code with its metadata trailer).
    pub fn with_data(code: &'c [u8], full: &'c [u8]) -> Self {
        let instructions = disasm::disassemble(code);
        let mut consts = Vec::new();
        let mut const_of = vec![0u32; instructions.len()];
        let mut blocks = Vec::new();
        let mut start: Option<u32> = None;
        for (i, ins) in instructions.iter().enumerate() {
            let i = i as u32;
            let info = ins.info();
            if info.immediate > 0 || ins.opcode == opcodes::PUSH0 {
                let imm = ins.immediate(code);
                // Truncated PUSH data is zero-padded on the right, as the EVM reads it.
                let mut word = [0u8; 32];
                let width = info.immediate as usize;
                word[32 - width..32 - width + imm.len()].copy_from_slice(imm);
                consts.push(U256::from_be_bytes(word));
                const_of[i as usize] = consts.len() as u32;
            }
            if ins.opcode == opcodes::JUMPDEST
                && let Some(s) = start
                && s < i
            {
                blocks.push(block(&instructions, s, i - 1));
                start = None;
            }
            if start.is_none() {
                start = Some(i);
            }
            if ins.opcode == opcodes::JUMPI || disasm::is_terminator(ins.opcode) {
                blocks.push(block(&instructions, start.take().unwrap_or(i), i));
            }
        }
        if let Some(s) = start {
            blocks.push(block(&instructions, s, instructions.len() as u32 - 1));
        }
        Program { code, full, instructions, consts, const_of, blocks }
    }

    /// The block that starts at `pc`, when `pc` is the start of one.
    pub fn block_at(&self, pc: u32) -> Option<u32> {
        let i = self.blocks.partition_point(|b| b.start_pc < pc);
        (i < self.blocks.len() && self.blocks[i].start_pc == pc).then_some(i as u32)
    }

    /// The block containing `pc`.
    pub fn block_containing(&self, pc: u32) -> Option<u32> {
        let i = self.blocks.partition_point(|b| b.start_pc <= pc);
        (i > 0 && pc < self.blocks[i - 1].end_pc).then(|| i as u32 - 1)
    }

    /// The block a jump to `target` enters: only `JUMPDEST`s (not PUSH data) are valid.
    pub fn jump_target(&self, target: &U256) -> Option<u32> {
        let pc = u32::try_from(*target).ok()?;
        let b = self.block_at(pc)?;
        let ins = &self.instructions[self.blocks[b as usize].first as usize];
        (ins.opcode == opcodes::JUMPDEST).then_some(b)
    }

    /// The constant pushed by instruction `i`, if it is a PUSH.
    pub fn push_value(&self, i: usize) -> Option<&U256> {
        match self.const_of[i] {
            0 => None,
            k => Some(&self.consts[k as usize - 1]),
        }
    }

    /// Whether the code contains the opcode anywhere (as an instruction, not PUSH data).
    pub fn contains_opcode(&self, opcode: u8) -> bool {
        self.instructions.iter().any(|i| i.opcode == opcode)
    }

    /// Whether some PUSH instruction pushes exactly `value`.
    pub fn pushes(&self, value: &U256) -> bool {
        self.consts.iter().any(|c| c == value)
    }

    /// The 32-byte word `CODECOPY` reads at `offset` (zero-padded past the end).
    pub fn code_word(&self, offset: usize) -> U256 {
        let mut word = [0u8; 32];
        if offset < self.full.len() {
            let end = self.full.len().min(offset + 32);
            word[..end - offset].copy_from_slice(&self.full[offset..end]);
        }
        U256::from_be_bytes(word)
    }
}

fn block(instructions: &[Instruction], first: u32, last: u32) -> BasicBlock {
    let a = &instructions[first as usize];
    let b = &instructions[last as usize];
    BasicBlock { start_pc: a.pc, end_pc: b.next_pc(), first, last }
}

/// The control-flow graph: blocks and the edges the analysis resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cfg {
    /// `(start_pc, end_pc)` of every block, in code order.
    pub blocks: Vec<(u32, u32)>,
    /// Resolved edges as `(from block, to block)` indexes, sorted and deduplicated.
    pub edges: Vec<(u32, u32)>,
    /// Blocks ending in a jump whose target could not be resolved.
    pub unresolved: Vec<u32>,
}

impl Cfg {
    /// The successors of a block.
    pub fn successors(&self, block: u32) -> impl Iterator<Item = u32> + '_ {
        let i = self.edges.partition_point(|e| e.0 < block);
        self.edges[i..].iter().take_while(move |e| e.0 == block).map(|e| e.1)
    }

    /// Blocks reachable from `from` over resolved edges (including `from`), sorted.
    pub fn reachable_from(&self, from: u32) -> Vec<u32> {
        let mut seen = vec![false; self.blocks.len()];
        let mut work = vec![from];
        while let Some(b) = work.pop() {
            if (b as usize) < seen.len() && !seen[b as usize] {
                seen[b as usize] = true;
                work.extend(self.successors(b));
            }
        }
        seen.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| i as u32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_at_jumpdest_jumpi_and_terminators() {
        // 0: PUSH1 6, 2: PUSH1 1, 4: JUMPI | 5: STOP | 6: JUMPDEST, 7: PUSH0, 8: PUSH0, 9: REVERT
        let code = [0x60, 0x06, 0x60, 0x01, 0x57, 0x00, 0x5b, 0x5f, 0x5f, 0xfd];
        let p = Program::new(&code);
        let starts: Vec<_> = p.blocks.iter().map(|b| (b.start_pc, b.end_pc)).collect();
        assert_eq!(starts, [(0, 5), (5, 6), (6, 10)]);
        assert_eq!(p.jump_target(&U256::from(6)), Some(2));
        assert_eq!(p.jump_target(&U256::from(5)), None, "STOP is not a JUMPDEST");
        assert_eq!(p.block_containing(8), Some(2));
        assert_eq!(p.consts.len(), 4);
    }

    #[test]
    fn truncated_push_is_right_padded() {
        let p = Program::new(&[0x61, 0x01]);
        assert_eq!(p.consts, [U256::from(0x0100)]);
    }
}
