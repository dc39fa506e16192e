//! Build artifacts, parsed from strings the caller read: Foundry `out/<File>.sol/<C>.json` and
//! `out/build-info/*.json`, Hardhat `artifacts/**/<C>.json` and `artifacts/build-info/*.json`.
//!
//! What the analysis needs from them: the deployed bytecode, its source map, the ABI's
//! selector → signature table, and the source files by source index (paths and contents) for
//! line numbers. Unlinked library placeholders (`__$…$__`) are replaced by the zero address and
//! reported in [`Artifact::unlinked_libraries`].

use std::collections::BTreeMap;

use alloy_json_abi::JsonAbi;
use serde_json::Value;

use super::sourcemap::{SourceFile, SourceFiles};
use crate::{Error, Result};

/// One contract from an artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifact {
    /// The contract's name.
    pub contract_name: Option<String>,
    /// Its source file (as the compiler saw it, e.g. `src/Token.sol`).
    pub source_path: Option<String>,
    /// The source index of that file in source maps.
    pub source_id: Option<u32>,
    /// The runtime bytecode (empty for interfaces and abstract contracts).
    pub deployed_bytecode: Vec<u8>,
    /// The runtime bytecode's compressed source map.
    pub deployed_source_map: Option<String>,
    /// Selector → signature, from `methodIdentifiers` or the ABI.
    pub method_identifiers: BTreeMap<[u8; 4], String>,
    /// Whether the bytecode had unlinked library placeholders (replaced by zeros).
    pub unlinked_libraries: bool,
}

fn field_err(field: &str, problem: impl std::fmt::Display) -> Error {
    Error::input(field, problem)
}

fn parse_json(what: &str, json: &str) -> Result<Value> {
    serde_json::from_str(json).map_err(|e| field_err(what, format!("not valid JSON: {e}")))
}

/// Decodes artifact hex (`0x` optional, may be empty), replacing 40-character library
/// placeholders with zeros. Returns the bytes and whether placeholders were found.
pub fn decode_artifact_hex(field: &str, s: &str) -> Result<(Vec<u8>, bool)> {
    let t = s.trim();
    let digits = t.strip_prefix("0x").unwrap_or(t);
    let mut linked = String::with_capacity(digits.len());
    let mut unlinked = false;
    let bytes = digits.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'_' && i + 40 <= bytes.len() && bytes[i + 38] == b'_' && bytes[i + 39] == b'_' {
            linked.push_str(&"0".repeat(40));
            unlinked = true;
            i += 40;
        } else {
            linked.push(bytes[i] as char);
            i += 1;
        }
    }
    let code = crate::evm::parse::hex_bytes(field, &linked)?;
    Ok((code, unlinked))
}

/// Selector → signature from a JSON ABI value.
pub fn abi_selectors(abi: &Value) -> Result<BTreeMap<[u8; 4], String>> {
    let abi: JsonAbi = serde_json::from_value(abi.clone()).map_err(|e| field_err("abi", e))?;
    Ok(abi.functions().map(|f| (f.selector().0, f.signature())).collect())
}

/// Selector → signature from a `methodIdentifiers` object (`{"transfer(address,uint256)": "a9059cbb"}`).
fn method_identifiers(v: &Value, field: &str) -> Result<BTreeMap<[u8; 4], String>> {
    let Some(obj) = v.as_object() else {
        return Err(field_err(field, "expected an object of signature → selector"));
    };
    let mut out = BTreeMap::new();
    for (sig, sel) in obj {
        let sel = sel.as_str().unwrap_or_default();
        let bytes = hex::decode(sel.trim_start_matches("0x")).ok().filter(|b| b.len() == 4);
        let Some(b) = bytes else {
            return Err(field_err(field, format!("selector of {sig} is not 4 bytes of hex: {sel:?}")));
        };
        out.insert([b[0], b[1], b[2], b[3]], sig.clone());
    }
    Ok(out)
}

fn names(v: &Value, ids_field: &str) -> Result<BTreeMap<[u8; 4], String>> {
    match (v.get("methodIdentifiers"), v.get("abi")) {
        (Some(ids), _) if ids.is_object() => method_identifiers(ids, ids_field),
        (_, Some(abi)) if abi.is_array() => abi_selectors(abi),
        _ => Ok(BTreeMap::new()),
    }
}

/// Parses a Foundry artifact (`out/<File>.sol/<Contract>.json`). `contract_name` defaults to
/// the compilation target in `metadata`.
pub fn parse_foundry_artifact(json: &str) -> Result<Artifact> {
    let v = parse_json("artifact", json)?;
    let Some(deployed) = v.get("deployedBytecode") else {
        return Err(field_err("artifact", "no `deployedBytecode`: not a Foundry artifact"));
    };
    let object = deployed
        .get("object")
        .and_then(Value::as_str)
        .ok_or_else(|| field_err("artifact: deployedBytecode.object", "missing or not a string"))?;
    let (deployed_bytecode, unlinked_libraries) = decode_artifact_hex("artifact: deployedBytecode.object", object)?;
    let target = v
        .pointer("/metadata/settings/compilationTarget")
        .and_then(Value::as_object)
        .and_then(|o| o.iter().next())
        .map(|(p, n)| (p.clone(), n.as_str().unwrap_or_default().to_owned()));
    let source_path = v
        .pointer("/ast/absolutePath")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| target.as_ref().map(|(p, _)| p.clone()));
    Ok(Artifact {
        contract_name: target.map(|(_, n)| n).filter(|n| !n.is_empty()),
        source_path,
        source_id: v.get("id").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()),
        deployed_bytecode,
        deployed_source_map: deployed.get("sourceMap").and_then(Value::as_str).map(str::to_owned),
        method_identifiers: names(&v, "artifact: methodIdentifiers")?,
        unlinked_libraries,
    })
}

/// Parses a Hardhat artifact (`artifacts/contracts/<File>.sol/<Contract>.json`). It has no
/// source map: get it from the build info ([`BuildInfo::contract`]).
pub fn parse_hardhat_artifact(json: &str) -> Result<Artifact> {
    let v = parse_json("artifact", json)?;
    let object = v
        .get("deployedBytecode")
        .and_then(Value::as_str)
        .ok_or_else(|| field_err("artifact: deployedBytecode", "missing or not a string: not a Hardhat artifact"))?;
    let (deployed_bytecode, unlinked_libraries) = decode_artifact_hex("artifact: deployedBytecode", object)?;
    Ok(Artifact {
        contract_name: v.get("contractName").and_then(Value::as_str).map(str::to_owned),
        source_path: v.get("sourceName").and_then(Value::as_str).map(str::to_owned),
        source_id: None,
        deployed_bytecode,
        deployed_source_map: None,
        method_identifiers: names(&v, "artifact: abi")?,
        unlinked_libraries,
    })
}

/// Parses an artifact of either layout.
pub fn parse_artifact(json: &str) -> Result<Artifact> {
    let v = parse_json("artifact", json)?;
    if v.get("deployedBytecode").is_some_and(Value::is_string) {
        parse_hardhat_artifact(json)
    } else {
        parse_foundry_artifact(json)
    }
}

/// A build-info file (Foundry or Hardhat): the sources of one compilation by source index,
/// and (Hardhat, older Foundry) the compiler output per contract.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    /// Source files by source index.
    pub sources: SourceFiles,
    /// The compiler version, when recorded.
    pub solc_version: Option<String>,
    contracts: Option<Value>,
}

impl BuildInfo {
    /// Parses a build-info JSON.
    pub fn parse(json: &str) -> Result<Self> {
        let mut v = parse_json("build info", json)?;
        if !v.is_object() {
            return Err(field_err("build info", "expected a JSON object"));
        }
        let mut paths: BTreeMap<u32, String> = BTreeMap::new();
        if let Some(map) = v.get("source_id_to_path").and_then(Value::as_object) {
            for (id, path) in map {
                let id: u32 = id
                    .parse()
                    .map_err(|_| field_err("build info: source_id_to_path", format!("key {id:?} is not a number")))?;
                paths.insert(id, path.as_str().unwrap_or_default().to_owned());
            }
        }
        if let Some(srcs) = v.pointer("/output/sources").and_then(Value::as_object) {
            for (path, s) in srcs {
                if let Some(id) = s.get("id").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()) {
                    paths.entry(id).or_insert_with(|| path.clone());
                }
            }
        }
        if paths.is_empty() {
            return Err(field_err(
                "build info",
                "no source ids: expected `source_id_to_path` (Foundry) or `output.sources.<path>.id` (Hardhat)",
            ));
        }
        let contents = v.pointer("/input/sources").and_then(Value::as_object);
        let sources = paths
            .into_iter()
            .map(|(id, path)| {
                let content = contents
                    .and_then(|c| c.get(&path))
                    .and_then(|s| s.get("content"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (id, SourceFile { path, content })
            })
            .collect();
        let solc_version =
            v.get("solcLongVersion").or_else(|| v.get("solcVersion")).and_then(Value::as_str).map(str::to_owned);
        let contracts = v.pointer_mut("/output/contracts").map(Value::take);
        Ok(BuildInfo { sources, solc_version, contracts })
    }

    /// `(source path, contract name)` of every contract in the compiler output.
    pub fn contract_names(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(files) = self.contracts.as_ref().and_then(Value::as_object) {
            for (file, cs) in files {
                if let Some(cs) = cs.as_object() {
                    out.extend(cs.keys().map(|n| (file.clone(), n.clone())));
                }
            }
        }
        out
    }

    /// A contract from the compiler output (`output.contracts[file][name]`): deployed bytecode,
    /// its source map and method identifiers.
    pub fn contract(&self, file: &str, name: &str) -> Result<Artifact> {
        let field = format!("build info: output.contracts[{file:?}][{name:?}]");
        let c = self
            .contracts
            .as_ref()
            .and_then(|cs| cs.get(file))
            .and_then(|f| f.get(name))
            .ok_or_else(|| field_err(&field, "no such contract in the compiler output"))?;
        let deployed = c.pointer("/evm/deployedBytecode");
        let object = deployed.and_then(|d| d.get("object")).and_then(Value::as_str).unwrap_or_default();
        let (deployed_bytecode, unlinked_libraries) =
            decode_artifact_hex(&format!("{field}.evm.deployedBytecode.object"), object)?;
        let method_identifiers = match c.pointer("/evm/methodIdentifiers") {
            Some(ids) => method_identifiers(ids, &format!("{field}.evm.methodIdentifiers"))?,
            None => c.get("abi").map(abi_selectors).transpose()?.unwrap_or_default(),
        };
        Ok(Artifact {
            contract_name: Some(name.to_owned()),
            source_path: Some(file.to_owned()),
            source_id: self.sources.iter().find(|(_, s)| s.path == file).map(|(id, _)| *id),
            deployed_bytecode,
            deployed_source_map: deployed.and_then(|d| d.get("sourceMap")).and_then(Value::as_str).map(str::to_owned),
            method_identifiers,
            unlinked_libraries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foundry_artifact() {
        let json = r#"{
            "abi": [],
            "deployedBytecode": {"object": "0x6080604052", "sourceMap": "1:2:0:-:0", "linkReferences": {}},
            "methodIdentifiers": {"owner()": "8da5cb5b"},
            "id": 3,
            "metadata": {"settings": {"compilationTarget": {"src/A.sol": "A"}}}
        }"#;
        let a = parse_artifact(json).unwrap();
        assert_eq!(a.contract_name.as_deref(), Some("A"));
        assert_eq!(a.source_path.as_deref(), Some("src/A.sol"));
        assert_eq!(a.source_id, Some(3));
        assert_eq!(a.deployed_bytecode, [0x60, 0x80, 0x60, 0x40, 0x52]);
        assert_eq!(a.method_identifiers[&[0x8d, 0xa5, 0xcb, 0x5b]], "owner()");
    }

    #[test]
    fn hardhat_artifact_and_build_info() {
        let art = r#"{"_format":"hh-sol-artifact-1","contractName":"T","sourceName":"contracts/T.sol",
            "abi":[{"type":"function","name":"owner","inputs":[],"outputs":[{"type":"address"}],"stateMutability":"view"}],
            "bytecode":"0x00","deployedBytecode":"0x73__$0123456789abcdef0123456789abcdef01$__00"}"#;
        let a = parse_artifact(art).unwrap();
        assert!(a.unlinked_libraries);
        assert_eq!(a.deployed_bytecode.len(), 22);
        assert_eq!(a.method_identifiers[&[0x8d, 0xa5, 0xcb, 0x5b]], "owner()");
        let bi = r#"{"_format":"hh-sol-build-info-1","solcVersion":"0.8.24",
            "input":{"sources":{"contracts/T.sol":{"content":"contract T {}\n"}}},
            "output":{"sources":{"contracts/T.sol":{"id":0}},
              "contracts":{"contracts/T.sol":{"T":{"abi":[],"evm":{"deployedBytecode":{"object":"6001","sourceMap":"0:13:0"},"methodIdentifiers":{}}}}}}}"#;
        let b = BuildInfo::parse(bi).unwrap();
        assert_eq!(b.sources[&0].path, "contracts/T.sol");
        assert!(b.sources[&0].content.is_some());
        let c = b.contract("contracts/T.sol", "T").unwrap();
        assert_eq!(c.deployed_bytecode, [0x60, 0x01]);
        assert_eq!(c.deployed_source_map.as_deref(), Some("0:13:0"));
        assert_eq!(c.source_id, Some(0));
        assert!(b.contract("contracts/T.sol", "U").is_err());
    }

    #[test]
    fn bad_artifacts_name_the_problem() {
        let e = parse_artifact("{").unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = parse_artifact("{}").unwrap_err().to_string();
        assert!(e.contains("deployedBytecode"), "{e}");
        let e = parse_artifact(r#"{"deployedBytecode":{"object":"0xzz"}}"#).unwrap_err().to_string();
        assert!(e.contains("not hex"), "{e}");
        let e = BuildInfo::parse("{}").unwrap_err().to_string();
        assert!(e.contains("source ids"), "{e}");
    }
}
