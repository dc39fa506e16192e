//! The EVM opcode table (through Osaka) and a disassembler that never fails: truncated `PUSH`
//! data at the end of the code is kept as a short immediate, and bytes that are not opcodes
//! decode as [`Instruction::is_invalid`] instructions so that the walk continues.

use std::{fmt, str::FromStr};

use crate::Error;

/// The hardforks that introduced opcodes, oldest first. Ordered, so `fork >= Fork::Cancun`
/// asks "does this chain have the Cancun opcodes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fork {
    /// The original opcode set.
    Frontier,
    /// `DELEGATECALL` (EIP-7).
    Homestead,
    /// `REVERT`, `RETURNDATASIZE`, `RETURNDATACOPY`, `STATICCALL`.
    Byzantium,
    /// `SHL`, `SHR`, `SAR`, `CREATE2`, `EXTCODEHASH`.
    Constantinople,
    /// `CHAINID`, `SELFBALANCE`.
    Istanbul,
    /// `BASEFEE`.
    London,
    /// The merge (`DIFFICULTY` becomes `PREVRANDAO`; no new opcode).
    Paris,
    /// `PUSH0` (EIP-3855).
    Shanghai,
    /// `TLOAD`/`TSTORE` (EIP-1153), `MCOPY` (EIP-5656), `BLOBHASH`, `BLOBBASEFEE`.
    Cancun,
    /// EIP-7702 delegations (no new opcode).
    Prague,
    /// `CLZ` (EIP-7939).
    Osaka,
}

impl Fork {
    /// Every fork, oldest first.
    pub const ALL: [Fork; 11] = [
        Fork::Frontier,
        Fork::Homestead,
        Fork::Byzantium,
        Fork::Constantinople,
        Fork::Istanbul,
        Fork::London,
        Fork::Paris,
        Fork::Shanghai,
        Fork::Cancun,
        Fork::Prague,
        Fork::Osaka,
    ];

    /// The lowercase name (`shanghai`), as solc's `evmVersion` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Fork::Frontier => "frontier",
            Fork::Homestead => "homestead",
            Fork::Byzantium => "byzantium",
            Fork::Constantinople => "constantinople",
            Fork::Istanbul => "istanbul",
            Fork::London => "london",
            Fork::Paris => "paris",
            Fork::Shanghai => "shanghai",
            Fork::Cancun => "cancun",
            Fork::Prague => "prague",
            Fork::Osaka => "osaka",
        }
    }
}

impl fmt::Display for Fork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Fork {
    type Err = Error;

    /// Parses a fork name, case-insensitively; `petersburg` counts as Constantinople, `berlin`
    /// as Istanbul, `merge` as Paris, `dencun` as Cancun, `pectra` as Prague, `fusaka` as Osaka.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let alias = match lower.as_str() {
            "petersburg" => Some(Fork::Constantinople),
            "berlin" => Some(Fork::Istanbul),
            "merge" => Some(Fork::Paris),
            "dencun" => Some(Fork::Cancun),
            "pectra" => Some(Fork::Prague),
            "fusaka" => Some(Fork::Osaka),
            "spuriousdragon" | "tangerinewhistle" => Some(Fork::Homestead),
            _ => None,
        };
        alias.or_else(|| Fork::ALL.into_iter().find(|f| f.as_str() == lower)).ok_or_else(|| {
            let names: Vec<_> = Fork::ALL.iter().map(|f| f.as_str()).collect();
            Error::input("evm version", format!("`{s}` is not a known hardfork (one of: {})", names.join(", ")))
        })
    }
}

/// Static facts about one opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// Mnemonic (`PUSH1`, `SSTORE`); `INVALID` for undefined bytes.
    pub name: &'static str,
    /// Stack items consumed.
    pub pops: u8,
    /// Stack items produced.
    pub pushes: u8,
    /// Bytes of immediate data that follow (`PUSHn`: n).
    pub immediate: u8,
    /// The fork that introduced it.
    pub since: Fork,
    /// Whether the byte is a defined opcode (0xfe, the designated `INVALID`, counts as defined).
    pub defined: bool,
}

const UNDEFINED: OpInfo =
    OpInfo { name: "INVALID", pops: 0, pushes: 0, immediate: 0, since: Fork::Frontier, defined: false };

const fn op(name: &'static str, pops: u8, pushes: u8, since: Fork) -> OpInfo {
    OpInfo { name, pops, pushes, immediate: 0, since, defined: true }
}

const PUSH_NAMES: [&str; 32] = [
    "PUSH1", "PUSH2", "PUSH3", "PUSH4", "PUSH5", "PUSH6", "PUSH7", "PUSH8", "PUSH9", "PUSH10", "PUSH11", "PUSH12",
    "PUSH13", "PUSH14", "PUSH15", "PUSH16", "PUSH17", "PUSH18", "PUSH19", "PUSH20", "PUSH21", "PUSH22", "PUSH23",
    "PUSH24", "PUSH25", "PUSH26", "PUSH27", "PUSH28", "PUSH29", "PUSH30", "PUSH31", "PUSH32",
];
const DUP_NAMES: [&str; 16] = [
    "DUP1", "DUP2", "DUP3", "DUP4", "DUP5", "DUP6", "DUP7", "DUP8", "DUP9", "DUP10", "DUP11", "DUP12", "DUP13",
    "DUP14", "DUP15", "DUP16",
];
const SWAP_NAMES: [&str; 16] = [
    "SWAP1", "SWAP2", "SWAP3", "SWAP4", "SWAP5", "SWAP6", "SWAP7", "SWAP8", "SWAP9", "SWAP10", "SWAP11", "SWAP12",
    "SWAP13", "SWAP14", "SWAP15", "SWAP16",
];
const LOG_NAMES: [&str; 5] = ["LOG0", "LOG1", "LOG2", "LOG3", "LOG4"];

const fn build_table() -> [OpInfo; 256] {
    use Fork::*;
    let mut t = [UNDEFINED; 256];
    t[0x00] = op("STOP", 0, 0, Frontier);
    t[0x01] = op("ADD", 2, 1, Frontier);
    t[0x02] = op("MUL", 2, 1, Frontier);
    t[0x03] = op("SUB", 2, 1, Frontier);
    t[0x04] = op("DIV", 2, 1, Frontier);
    t[0x05] = op("SDIV", 2, 1, Frontier);
    t[0x06] = op("MOD", 2, 1, Frontier);
    t[0x07] = op("SMOD", 2, 1, Frontier);
    t[0x08] = op("ADDMOD", 3, 1, Frontier);
    t[0x09] = op("MULMOD", 3, 1, Frontier);
    t[0x0a] = op("EXP", 2, 1, Frontier);
    t[0x0b] = op("SIGNEXTEND", 2, 1, Frontier);
    t[0x10] = op("LT", 2, 1, Frontier);
    t[0x11] = op("GT", 2, 1, Frontier);
    t[0x12] = op("SLT", 2, 1, Frontier);
    t[0x13] = op("SGT", 2, 1, Frontier);
    t[0x14] = op("EQ", 2, 1, Frontier);
    t[0x15] = op("ISZERO", 1, 1, Frontier);
    t[0x16] = op("AND", 2, 1, Frontier);
    t[0x17] = op("OR", 2, 1, Frontier);
    t[0x18] = op("XOR", 2, 1, Frontier);
    t[0x19] = op("NOT", 1, 1, Frontier);
    t[0x1a] = op("BYTE", 2, 1, Frontier);
    t[0x1b] = op("SHL", 2, 1, Constantinople);
    t[0x1c] = op("SHR", 2, 1, Constantinople);
    t[0x1d] = op("SAR", 2, 1, Constantinople);
    t[0x1e] = op("CLZ", 1, 1, Osaka);
    t[0x20] = op("KECCAK256", 2, 1, Frontier);
    t[0x30] = op("ADDRESS", 0, 1, Frontier);
    t[0x31] = op("BALANCE", 1, 1, Frontier);
    t[0x32] = op("ORIGIN", 0, 1, Frontier);
    t[0x33] = op("CALLER", 0, 1, Frontier);
    t[0x34] = op("CALLVALUE", 0, 1, Frontier);
    t[0x35] = op("CALLDATALOAD", 1, 1, Frontier);
    t[0x36] = op("CALLDATASIZE", 0, 1, Frontier);
    t[0x37] = op("CALLDATACOPY", 3, 0, Frontier);
    t[0x38] = op("CODESIZE", 0, 1, Frontier);
    t[0x39] = op("CODECOPY", 3, 0, Frontier);
    t[0x3a] = op("GASPRICE", 0, 1, Frontier);
    t[0x3b] = op("EXTCODESIZE", 1, 1, Frontier);
    t[0x3c] = op("EXTCODECOPY", 4, 0, Frontier);
    t[0x3d] = op("RETURNDATASIZE", 0, 1, Byzantium);
    t[0x3e] = op("RETURNDATACOPY", 3, 0, Byzantium);
    t[0x3f] = op("EXTCODEHASH", 1, 1, Constantinople);
    t[0x40] = op("BLOCKHASH", 1, 1, Frontier);
    t[0x41] = op("COINBASE", 0, 1, Frontier);
    t[0x42] = op("TIMESTAMP", 0, 1, Frontier);
    t[0x43] = op("NUMBER", 0, 1, Frontier);
    t[0x44] = op("PREVRANDAO", 0, 1, Frontier);
    t[0x45] = op("GASLIMIT", 0, 1, Frontier);
    t[0x46] = op("CHAINID", 0, 1, Istanbul);
    t[0x47] = op("SELFBALANCE", 0, 1, Istanbul);
    t[0x48] = op("BASEFEE", 0, 1, London);
    t[0x49] = op("BLOBHASH", 1, 1, Cancun);
    t[0x4a] = op("BLOBBASEFEE", 0, 1, Cancun);
    t[0x50] = op("POP", 1, 0, Frontier);
    t[0x51] = op("MLOAD", 1, 1, Frontier);
    t[0x52] = op("MSTORE", 2, 0, Frontier);
    t[0x53] = op("MSTORE8", 2, 0, Frontier);
    t[0x54] = op("SLOAD", 1, 1, Frontier);
    t[0x55] = op("SSTORE", 2, 0, Frontier);
    t[0x56] = op("JUMP", 1, 0, Frontier);
    t[0x57] = op("JUMPI", 2, 0, Frontier);
    t[0x58] = op("PC", 0, 1, Frontier);
    t[0x59] = op("MSIZE", 0, 1, Frontier);
    t[0x5a] = op("GAS", 0, 1, Frontier);
    t[0x5b] = op("JUMPDEST", 0, 0, Frontier);
    t[0x5c] = op("TLOAD", 1, 1, Cancun);
    t[0x5d] = op("TSTORE", 2, 0, Cancun);
    t[0x5e] = op("MCOPY", 3, 0, Cancun);
    t[0x5f] = op("PUSH0", 0, 1, Shanghai);
    let mut i = 0;
    while i < 32 {
        t[0x60 + i] =
            OpInfo { name: PUSH_NAMES[i], pops: 0, pushes: 1, immediate: i as u8 + 1, since: Frontier, defined: true };
        i += 1;
    }
    let mut i = 0;
    while i < 16 {
        t[0x80 + i] = op(DUP_NAMES[i], i as u8 + 1, i as u8 + 2, Frontier);
        t[0x90 + i] = op(SWAP_NAMES[i], i as u8 + 2, i as u8 + 2, Frontier);
        i += 1;
    }
    let mut i = 0;
    while i < 5 {
        t[0xa0 + i] = op(LOG_NAMES[i], i as u8 + 2, 0, Frontier);
        i += 1;
    }
    t[0xf0] = op("CREATE", 3, 1, Frontier);
    t[0xf1] = op("CALL", 7, 1, Frontier);
    t[0xf2] = op("CALLCODE", 7, 1, Frontier);
    t[0xf3] = op("RETURN", 2, 0, Frontier);
    t[0xf4] = op("DELEGATECALL", 6, 1, Homestead);
    t[0xf5] = op("CREATE2", 4, 1, Constantinople);
    t[0xfa] = op("STATICCALL", 6, 1, Byzantium);
    t[0xfd] = op("REVERT", 2, 0, Byzantium);
    t[0xfe] = op("INVALID", 0, 0, Frontier);
    t[0xff] = op("SELFDESTRUCT", 1, 0, Frontier);
    t
}

static TABLE: [OpInfo; 256] = build_table();

/// Opcode constants used by the analysis.
#[allow(missing_docs)]
pub mod opcodes {
    pub const STOP: u8 = 0x00;
    pub const ADD: u8 = 0x01;
    pub const MUL: u8 = 0x02;
    pub const SUB: u8 = 0x03;
    pub const DIV: u8 = 0x04;
    pub const SDIV: u8 = 0x05;
    pub const MOD: u8 = 0x06;
    pub const EXP: u8 = 0x0a;
    pub const LT: u8 = 0x10;
    pub const GT: u8 = 0x11;
    pub const SLT: u8 = 0x12;
    pub const SGT: u8 = 0x13;
    pub const EQ: u8 = 0x14;
    pub const ISZERO: u8 = 0x15;
    pub const AND: u8 = 0x16;
    pub const OR: u8 = 0x17;
    pub const XOR: u8 = 0x18;
    pub const NOT: u8 = 0x19;
    pub const SHL: u8 = 0x1b;
    pub const SHR: u8 = 0x1c;
    pub const KECCAK256: u8 = 0x20;
    pub const ADDRESS: u8 = 0x30;
    pub const BALANCE: u8 = 0x31;
    pub const ORIGIN: u8 = 0x32;
    pub const CALLER: u8 = 0x33;
    pub const CALLVALUE: u8 = 0x34;
    pub const CALLDATALOAD: u8 = 0x35;
    pub const CALLDATASIZE: u8 = 0x36;
    pub const CALLDATACOPY: u8 = 0x37;
    pub const CODECOPY: u8 = 0x39;
    pub const EXTCODESIZE: u8 = 0x3b;
    pub const EXTCODECOPY: u8 = 0x3c;
    pub const RETURNDATASIZE: u8 = 0x3d;
    pub const RETURNDATACOPY: u8 = 0x3e;
    pub const SELFBALANCE: u8 = 0x47;
    pub const POP: u8 = 0x50;
    pub const MLOAD: u8 = 0x51;
    pub const MSTORE: u8 = 0x52;
    pub const SLOAD: u8 = 0x54;
    pub const SSTORE: u8 = 0x55;
    pub const JUMP: u8 = 0x56;
    pub const JUMPI: u8 = 0x57;
    pub const JUMPDEST: u8 = 0x5b;
    pub const TLOAD: u8 = 0x5c;
    pub const TSTORE: u8 = 0x5d;
    pub const MCOPY: u8 = 0x5e;
    pub const PUSH0: u8 = 0x5f;
    pub const PUSH1: u8 = 0x60;
    pub const PUSH4: u8 = 0x63;
    pub const PUSH20: u8 = 0x73;
    pub const PUSH32: u8 = 0x7f;
    pub const DUP1: u8 = 0x80;
    pub const DUP16: u8 = 0x8f;
    pub const SWAP1: u8 = 0x90;
    pub const SWAP16: u8 = 0x9f;
    pub const LOG0: u8 = 0xa0;
    pub const LOG4: u8 = 0xa4;
    pub const CREATE: u8 = 0xf0;
    pub const CALL: u8 = 0xf1;
    pub const CALLCODE: u8 = 0xf2;
    pub const RETURN: u8 = 0xf3;
    pub const DELEGATECALL: u8 = 0xf4;
    pub const CREATE2: u8 = 0xf5;
    pub const STATICCALL: u8 = 0xfa;
    pub const REVERT: u8 = 0xfd;
    pub const INVALID: u8 = 0xfe;
    pub const SELFDESTRUCT: u8 = 0xff;
}

/// The table entry for an opcode byte.
pub fn info(opcode: u8) -> &'static OpInfo {
    &TABLE[opcode as usize]
}

/// Whether the opcode ends a basic block with no fall-through.
pub fn is_terminator(opcode: u8) -> bool {
    use opcodes::*;
    matches!(opcode, STOP | JUMP | RETURN | REVERT | INVALID | SELFDESTRUCT) || !info(opcode).defined
}

/// One decoded instruction. The immediate is a range into the code it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instruction {
    /// Byte offset of the opcode.
    pub pc: u32,
    /// The opcode byte.
    pub opcode: u8,
    /// Length of the immediate actually present (shorter than the opcode's when the code ends
    /// inside the PUSH data).
    pub imm_len: u8,
}

impl Instruction {
    /// The opcode's table entry.
    pub fn info(&self) -> &'static OpInfo {
        info(self.opcode)
    }

    /// The mnemonic.
    pub fn name(&self) -> &'static str {
        self.info().name
    }

    /// Whether the byte is not a defined opcode (or is the designated `INVALID`, 0xfe).
    pub fn is_invalid(&self) -> bool {
        !self.info().defined || self.opcode == opcodes::INVALID
    }

    /// Whether the PUSH data runs past the end of the code.
    pub fn is_truncated(&self) -> bool {
        self.imm_len < self.info().immediate
    }

    /// Byte offset of the next instruction.
    pub fn next_pc(&self) -> u32 {
        self.pc + 1 + u32::from(self.imm_len)
    }

    /// The immediate bytes (empty for non-PUSH instructions).
    pub fn immediate<'c>(&self, code: &'c [u8]) -> &'c [u8] {
        let start = self.pc as usize + 1;
        &code[start..start + self.imm_len as usize]
    }

    /// Renders `PUSH2 0x0102` / `SSTORE`; truncated data is shown as given, with `(truncated)`.
    pub fn render(&self, code: &[u8]) -> String {
        let info = self.info();
        if info.immediate == 0 {
            if info.defined {
                return info.name.to_owned();
            }
            return format!("INVALID(0x{:02x})", self.opcode);
        }
        let data = hex::encode(self.immediate(code));
        if self.is_truncated() {
            format!("{} 0x{data} (truncated)", info.name)
        } else {
            format!("{} 0x{data}", info.name)
        }
    }
}

/// Decodes every instruction of `code` (callers strip the metadata trailer first when they want
/// only executable code). Never fails.
pub fn disassemble(code: &[u8]) -> Vec<Instruction> {
    let mut out = Vec::with_capacity(code.len() / 2 + 1);
    let mut pc = 0usize;
    while pc < code.len() {
        let opcode = code[pc];
        let want = TABLE[opcode as usize].immediate as usize;
        let imm_len = want.min(code.len() - pc - 1);
        out.push(Instruction { pc: pc as u32, opcode, imm_len: imm_len as u8 });
        pc += 1 + imm_len;
    }
    out
}

/// Renders a listing, one `pc: instruction` per line (for humans and debugging).
pub fn listing(code: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for ins in disassemble(code) {
        let _ = writeln!(out, "{:05x}: {}", ins.pc, ins.render(code));
    }
    out
}

/// A bitmap of the valid jump destinations: `JUMPDEST` bytes that are opcodes, not PUSH data.
pub fn jumpdests(code: &[u8]) -> Vec<bool> {
    let mut out = vec![false; code.len()];
    for ins in disassemble(code) {
        if ins.opcode == opcodes::JUMPDEST {
            out[ins.pc as usize] = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_new_opcodes_and_push_data() {
        // PUSH0 TLOAD TSTORE MCOPY BLOBHASH BLOBBASEFEE CLZ PUSH2 0x0102 INVALID(0x0c) STOP
        let code = [0x5f, 0x5c, 0x5d, 0x5e, 0x49, 0x4a, 0x1e, 0x61, 0x01, 0x02, 0x0c, 0x00];
        let names: Vec<_> = disassemble(&code).iter().map(|i| i.render(&code)).collect();
        assert_eq!(
            names,
            [
                "PUSH0",
                "TLOAD",
                "TSTORE",
                "MCOPY",
                "BLOBHASH",
                "BLOBBASEFEE",
                "CLZ",
                "PUSH2 0x0102",
                "INVALID(0x0c)",
                "STOP"
            ]
        );
        assert_eq!(info(0x5f).since, Fork::Shanghai);
        assert_eq!(info(0x5c).since, Fork::Cancun);
        assert_eq!(info(0x1e).since, Fork::Osaka);
    }

    #[test]
    fn truncated_push_at_end() {
        let code = [0x60, 0x01, 0x7f, 0xaa, 0xbb];
        let ins = disassemble(&code);
        assert_eq!(ins.len(), 2);
        assert!(ins[1].is_truncated());
        assert_eq!(ins[1].immediate(&code), &[0xaa, 0xbb]);
        assert_eq!(ins[1].render(&code), "PUSH32 0xaabb (truncated)");
        assert_eq!(ins[1].next_pc(), 5);
    }

    #[test]
    fn jumpdest_inside_push_data_is_not_a_destination() {
        let code = [0x60, 0x5b, 0x5b];
        assert_eq!(jumpdests(&code), [false, false, true]);
    }

    #[test]
    fn forks_parse_and_order() {
        assert_eq!("Cancun".parse::<Fork>().unwrap(), Fork::Cancun);
        assert_eq!("dencun".parse::<Fork>().unwrap(), Fork::Cancun);
        assert!("nope".parse::<Fork>().is_err());
        assert!(Fork::Shanghai < Fork::Cancun);
    }
}
