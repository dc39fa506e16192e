//! Solidity source maps: from a pc to a file and lines.
//!
//! A deployed-bytecode source map is a `;`-separated list with one entry per *instruction*
//! (not per byte): `s:l:f:j:m` = start byte offset, length, source index, jump type, modifier
//! depth. Empty fields, and missing trailing fields, repeat the previous entry's value. Source
//! index `-1` marks compiler-generated code with no source. Offsets count UTF-8 bytes.
//!
//! A pc maps to an instruction index by walking the instructions (PUSH data skipped) of the
//! code without its metadata trailer, exactly as the compiler numbered them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{disasm, metadata};
use crate::{Error, Result, model::Location};

/// One decompressed source-map entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceMapEntry {
    /// Byte offset of the range in the source file.
    pub start: i64,
    /// Length of the range in bytes.
    pub length: i64,
    /// Source index (`-1`: no source).
    pub file: i64,
    /// `i` (into a function), `o` (out of one) or `-` (regular).
    pub jump: char,
    /// Modifier depth.
    pub modifier_depth: i64,
}

/// Decompresses a source map.
pub fn parse(map: &str) -> Result<Vec<SourceMapEntry>> {
    let mut out = Vec::new();
    let mut prev = SourceMapEntry { start: -1, length: -1, file: -1, jump: '-', modifier_depth: 0 };
    if map.trim().is_empty() {
        return Ok(out);
    }
    for (i, item) in map.trim().split(';').enumerate() {
        let mut cur = prev;
        for (j, field) in item.split(':').enumerate() {
            if field.is_empty() {
                continue;
            }
            let bad = || Error::input("source map", format!("entry {i}: field {} is not valid: {field:?}", j + 1));
            match j {
                0 => cur.start = field.parse().map_err(|_| bad())?,
                1 => cur.length = field.parse().map_err(|_| bad())?,
                2 => cur.file = field.parse().map_err(|_| bad())?,
                3 => {
                    let mut chars = field.chars();
                    cur.jump = match (chars.next(), chars.next()) {
                        (Some(c @ ('i' | 'o' | '-')), None) => c,
                        _ => return Err(bad()),
                    }
                }
                4 => cur.modifier_depth = field.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            }
        }
        out.push(cur);
        prev = cur;
    }
    Ok(out)
}

/// A source file of a compilation: its path (as the compiler saw it) and, when available, its
/// content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceFile {
    /// Path, relative to the project root (`src/Token.sol`).
    pub path: String,
    /// The text, for line numbers.
    #[serde(skip)]
    pub content: Option<String>,
}

/// Source files by source index.
pub type SourceFiles = BTreeMap<u32, SourceFile>;

/// Where a pc comes from in the sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLocation {
    /// The file's path.
    pub file: String,
    /// Byte offset of the range.
    pub start: u32,
    /// Length of the range in bytes.
    pub length: u32,
    /// First line (1-based), when the content is known.
    pub start_line: Option<u32>,
    /// Last line (1-based, inclusive), when the content is known.
    pub end_line: Option<u32>,
}

impl SourceLocation {
    /// As a report [`Location`].
    pub fn to_location(&self) -> Location {
        Location {
            file: Some(self.file.clone()),
            start_line: self.start_line,
            end_line: self.end_line,
            ..Location::default()
        }
    }
}

/// Maps pcs of one deployed bytecode to source locations.
#[derive(Debug, Clone)]
pub struct SourceMapper {
    entries: Vec<SourceMapEntry>,
    pcs: Vec<u32>,
    files: BTreeMap<u32, (String, Option<Vec<usize>>)>,
}

impl SourceMapper {
    /// Prepares the mapping for runtime `code` (with or without its metadata trailer), its
    /// deployed source map and the compilation's source files.
    pub fn new(code: &[u8], map: &str, files: &SourceFiles) -> Result<Self> {
        let entries = parse(map)?;
        let (exec, _) = metadata::split(code);
        let pcs: Vec<u32> = disasm::disassemble(exec).iter().map(|i| i.pc).collect();
        let files = files
            .iter()
            .map(|(id, f)| {
                let lines = f.content.as_ref().map(|c| {
                    std::iter::once(0)
                        .chain(c.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1))
                        .collect()
                });
                (*id, (f.path.clone(), lines))
            })
            .collect();
        Ok(SourceMapper { entries, pcs, files })
    }

    /// The instruction index of `pc`, if an instruction starts there.
    pub fn instruction_index(&self, pc: u32) -> Option<usize> {
        self.pcs.binary_search(&pc).ok()
    }

    /// The source location of the instruction at `pc`.
    pub fn locate(&self, pc: u32) -> Option<SourceLocation> {
        let entry = self.entries.get(self.instruction_index(pc)?)?;
        if entry.file < 0 || entry.start < 0 || entry.length < 0 {
            return None;
        }
        let (path, lines) = self.files.get(&u32::try_from(entry.file).ok()?)?;
        let start = usize::try_from(entry.start).ok()?;
        let length = usize::try_from(entry.length).ok()?;
        let line_of = |offset: usize| -> Option<u32> {
            let lines = lines.as_ref()?;
            u32::try_from(lines.partition_point(|&l| l <= offset)).ok()
        };
        let end = start + length.saturating_sub(1);
        Some(SourceLocation {
            file: path.clone(),
            start: u32::try_from(start).ok()?,
            length: u32::try_from(length).ok()?,
            start_line: line_of(start),
            end_line: line_of(end),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompresses_with_inheritance() {
        let e = parse("1:2:0:-:0;;3;:9::i;-1:-1:-1:o").unwrap();
        assert_eq!(e.len(), 5);
        assert_eq!((e[1].start, e[1].length, e[1].file), (1, 2, 0));
        assert_eq!((e[2].start, e[2].length), (3, 2));
        assert_eq!((e[3].start, e[3].length, e[3].jump), (3, 9, 'i'));
        assert_eq!((e[4].start, e[4].file, e[4].jump), (-1, -1, 'o'));
        assert!(parse("1:x").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn locates_lines_by_utf8_offsets() {
        // PUSH1 0 (2 bytes), CALLER, SELFDESTRUCT: three instructions.
        let code = [0x60, 0x00, 0x33, 0xff];
        let src = "// é\nline two\nselfdestruct(x);\n";
        let sd = src.find("selfdestruct").unwrap();
        let map = format!("0:4:0;6:8;{sd}:16");
        let files = SourceFiles::from([(0, SourceFile { path: "src/A.sol".into(), content: Some(src.into()) })]);
        let m = SourceMapper::new(&code, &map, &files).unwrap();
        let loc = m.locate(3).unwrap();
        assert_eq!((loc.start_line, loc.end_line), (Some(3), Some(3)));
        assert_eq!(m.locate(2).unwrap().start_line, Some(2));
        assert_eq!(m.locate(1), None, "pc 1 is PUSH data");
    }
}
