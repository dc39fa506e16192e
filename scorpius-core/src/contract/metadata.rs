//! The compiler metadata trailer: Solidity and Vyper append a CBOR item to the runtime code,
//! followed by its length as a big-endian `u16`. It is data, not code, so the analysis strips it;
//! the compiler version comes from its `solc` (three bytes, or a text string for pre-releases)
//! or `vyper` (an array of three integers) entry.
//!
//! A tiny CBOR reader is enough: the trailer uses unsigned integers, byte and text strings,
//! arrays, maps and the simple values `true`/`false`/`null`.

use serde::Serialize;

/// The compiler that produced the code, from the trailer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compiler {
    /// `solc` or `vyper`.
    pub name: &'static str,
    /// `0.8.37`, or the full pre-release string.
    pub version: String,
}

/// What the trailer says.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Metadata {
    /// Bytes the trailer occupies at the end of the code, including the two length bytes.
    pub len: usize,
    /// The compiler and its version, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compiler: Option<Compiler>,
    /// The IPFS (or Swarm `bzzr0`/`bzzr1`) hash of the metadata JSON, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_hash: Option<String>,
    /// Set when solc's `experimental` flag is present.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub experimental: bool,
}

/// Splits `code` into the executable part and the metadata trailer, when there is a valid one.
pub fn split(code: &[u8]) -> (&[u8], Option<Metadata>) {
    match parse_trailer(code) {
        Some(meta) => (&code[..code.len() - meta.len], Some(meta)),
        None => (code, None),
    }
}

/// Parses the trailer at the end of `code`: the last two bytes give the CBOR length, and the
/// CBOR item must be a map (Solidity, Vyper 0.3.4–0.3.9) or an array holding one (Vyper ≥ 0.3.10)
/// that ends exactly at the length bytes and carries at least one known key.
pub fn parse_trailer(code: &[u8]) -> Option<Metadata> {
    if code.len() < 3 {
        return None;
    }
    let n = usize::from(u16::from_be_bytes([code[code.len() - 2], code[code.len() - 1]]));
    if n == 0 || n + 2 > code.len() {
        return None;
    }
    let cbor = &code[code.len() - 2 - n..code.len() - 2];
    let mut reader = Reader { data: cbor, pos: 0, depth: 0 };
    let item = reader.item()?;
    if reader.pos != cbor.len() {
        return None;
    }
    let mut meta = Metadata { len: n + 2, ..Metadata::default() };
    let map = match item {
        Item::Map(entries) => entries,
        Item::Array(items) => items.into_iter().find_map(|i| if let Item::Map(m) = i { Some(m) } else { None })?,
        _ => return None,
    };
    let mut known = false;
    for (key, value) in map {
        let Item::Text(key) = key else { return None };
        match (key.as_str(), value) {
            ("solc", Item::Bytes(v)) if v.len() == 3 => {
                meta.compiler = Some(Compiler { name: "solc", version: format!("{}.{}.{}", v[0], v[1], v[2]) });
                known = true;
            }
            ("solc", Item::Text(v)) => {
                meta.compiler = Some(Compiler { name: "solc", version: v });
                known = true;
            }
            ("vyper", Item::Array(parts)) => {
                let nums: Option<Vec<String>> =
                    parts.iter().map(|p| if let Item::Uint(u) = p { Some(u.to_string()) } else { None }).collect();
                meta.compiler = nums.map(|n| Compiler { name: "vyper", version: n.join(".") });
                known = true;
            }
            ("ipfs" | "bzzr0" | "bzzr1", Item::Bytes(v)) => {
                meta.source_hash = Some(hex::encode(v));
                known = true;
            }
            ("experimental", Item::Bool(b)) => {
                meta.experimental = b;
                known = true;
            }
            _ => {}
        }
    }
    known.then_some(meta)
}

#[derive(Debug)]
enum Item {
    Uint(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Item>),
    Map(Vec<(Item, Item)>),
    Bool(bool),
    Null,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    depth: u8,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// The argument of a head byte (definite lengths only).
    fn arg(&mut self, info: u8) -> Option<u64> {
        Some(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            26 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)),
            27 => u64::from_be_bytes(self.take(8)?.try_into().ok()?),
            _ => return None,
        })
    }

    fn item(&mut self) -> Option<Item> {
        if self.depth > 8 {
            return None;
        }
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        let remaining = (self.data.len() - self.pos) as u64;
        Some(match major {
            0 => Item::Uint(self.arg(info)?),
            2 => {
                let n = self.arg(info)?;
                Item::Bytes(self.take(usize::try_from(n).ok()?)?.to_vec())
            }
            3 => {
                let n = self.arg(info)?;
                Item::Text(String::from_utf8(self.take(usize::try_from(n).ok()?)?.to_vec()).ok()?)
            }
            4 | 5 => {
                let n = self.arg(info)?;
                // Every element takes at least one byte: a longer count cannot be valid.
                if n > remaining {
                    return None;
                }
                self.depth += 1;
                let out = if major == 4 {
                    Item::Array((0..n).map(|_| self.item()).collect::<Option<_>>()?)
                } else {
                    Item::Map((0..n).map(|_| Some((self.item()?, self.item()?))).collect::<Option<_>>()?)
                };
                self.depth -= 1;
                out
            }
            7 => match info {
                20 => Item::Bool(false),
                21 => Item::Bool(true),
                22 => Item::Null,
                _ => return None,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solc_trailer() -> Vec<u8> {
        // {"ipfs": h'1220…' (34 bytes), "solc": h'000825'}
        let mut cbor = vec![0xa2, 0x64];
        cbor.extend_from_slice(b"ipfs");
        cbor.extend_from_slice(&[0x58, 0x22, 0x12, 0x20]);
        cbor.extend_from_slice(&[0xab; 32]);
        cbor.push(0x64);
        cbor.extend_from_slice(b"solc");
        cbor.extend_from_slice(&[0x43, 0x00, 0x08, 0x25]);
        let n = cbor.len() as u16;
        cbor.extend_from_slice(&n.to_be_bytes());
        cbor
    }

    #[test]
    fn strips_solc_trailer_and_reads_version() {
        let mut code = vec![0x60, 0x80, 0x60, 0x40, 0x52, 0xfe];
        code.extend(solc_trailer());
        let (exec, meta) = split(&code);
        assert_eq!(exec, &[0x60, 0x80, 0x60, 0x40, 0x52, 0xfe]);
        let meta = meta.unwrap();
        assert_eq!(meta.compiler.unwrap().version, "0.8.37");
        assert!(meta.source_hash.unwrap().starts_with("1220abab"));
    }

    #[test]
    fn vyper_array_trailer() {
        // Vyper 0.3.10+: [runtime_len, [data lens], immutables_len, {"vyper": [0, 4, 0]}]
        let mut cbor = vec![0x84, 0x19, 0x01, 0x00, 0x80, 0x00, 0xa1, 0x65];
        cbor.extend_from_slice(b"vyper");
        cbor.extend_from_slice(&[0x83, 0x00, 0x04, 0x00]);
        let n = cbor.len() as u16;
        let mut code = vec![0x00];
        code.extend(&cbor);
        code.extend(n.to_be_bytes());
        let (exec, meta) = split(&code);
        assert_eq!(exec, &[0x00]);
        assert_eq!(meta.unwrap().compiler.unwrap(), Compiler { name: "vyper", version: "0.4.0".into() });
    }

    #[test]
    fn no_or_bogus_trailer() {
        assert!(split(&[0x60, 0x00]).1.is_none());
        // Length points at bytes that are not a CBOR map with known keys.
        assert!(split(&[0x60, 0x00, 0x60, 0x00, 0x00, 0x03]).1.is_none());
        assert!(split(&[0xff, 0xff, 0xff]).1.is_none());
        assert!(split(&[]).1.is_none());
    }
}
