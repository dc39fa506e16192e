//! Parsing of signature requests, with errors that name the offending field.

use alloy_dyn_abi::{DynSolType, eip712::TypedData};
use alloy_primitives::{Address, B256, eip191_hash_message};

use crate::{
    Error, Result,
    evm::parse::{self, json_type},
};

/// A parsed, validated EIP-712 request.
#[derive(Debug, Clone)]
pub struct TypedDataRequest {
    /// The typed data, validated against its own `types`.
    pub typed: TypedData,
    /// The EIP-712 signing hash (what the wallet actually signs).
    pub signing_hash: B256,
    /// The signer, when the request carried one (`eth_signTypedData_v4` params).
    pub signer: Option<Address>,
}

/// A request to sign something.
#[derive(Debug, Clone)]
pub enum SignatureRequest {
    /// `eth_signTypedData_v4`.
    TypedData(Box<TypedDataRequest>),
    /// `personal_sign` (EIP-191 version 0x45) of these bytes.
    Personal(Vec<u8>),
    /// `eth_sign` of a raw 32-byte hash.
    EthSign(B256),
}

impl SignatureRequest {
    /// Parses `eth_signTypedData_v4` input: the typed-data object, the same object as a JSON
    /// string, the params array `[address, typedData]`, or a whole JSON-RPC request.
    pub fn typed_data(text: &str) -> Result<Self> {
        let root: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::input("typed data", format!("malformed JSON: {e}")))?;
        let (value, signer) = unwrap_params(root)?;
        let value = match value {
            serde_json::Value::String(s) => serde_json::from_str(&s)
                .map_err(|e| Error::input("typed data", format!("string payload is not JSON: {e}")))?,
            v => v,
        };
        let obj = value
            .as_object()
            .ok_or_else(|| Error::input("typed data", format!("expected an object, got {}", json_type(&value))))?;
        for (key, want) in
            [("types", "an object"), ("primaryType", "a string"), ("domain", "an object"), ("message", "an object")]
        {
            let v = obj.get(key).ok_or_else(|| Error::input(key, "missing"))?;
            let ok = match want {
                "a string" => v.is_string(),
                _ => v.is_object(),
            };
            if !ok {
                return Err(Error::input(key, format!("expected {want}, got {}", json_type(v))));
            }
        }
        let types = obj["types"].as_object().into_iter().flatten();
        for (name, fields) in types {
            let Some(fields) = fields.as_array() else {
                return Err(Error::input(
                    format!("types.{name}"),
                    format!("expected an array of {{name, type}}, got {}", json_type(fields)),
                ));
            };
            for (i, f) in fields.iter().enumerate() {
                for k in ["name", "type"] {
                    if !f.get(k).is_some_and(|v| v.is_string()) {
                        return Err(Error::input(format!("types.{name}[{i}].{k}"), "missing or not a string"));
                    }
                }
            }
        }
        let primary = obj["primaryType"].as_str().unwrap_or_default();
        if !obj["types"].as_object().is_some_and(|t| t.contains_key(primary)) {
            return Err(Error::input("primaryType", format!("`{primary}` is not defined in `types`")));
        }
        // Check field by field first, so that errors name the offending path; alloy's own
        // checks below only say which struct failed.
        let no_types = serde_json::Map::new();
        let types = obj["types"].as_object().unwrap_or(&no_types);
        check_type_names(types)?;
        if types.contains_key("EIP712Domain") {
            check_value(types, "EIP712Domain", &obj["domain"], "domain", 0)?;
        }
        check_value(types, primary, &obj["message"], "message", 0)?;
        let typed: TypedData = serde_json::from_value(value.clone())
            .map_err(|e| Error::input("typed data", format!("does not match the EIP-712 structure: {e}")))?;
        let signing_hash = typed
            .eip712_signing_hash()
            .map_err(|e| Error::input("typed data", format!("message does not match its types: {e}")))?;
        Ok(SignatureRequest::TypedData(Box::new(TypedDataRequest { typed, signing_hash, signer })))
    }

    /// A `personal_sign` payload: `0x`-prefixed hex is taken as bytes, anything else as UTF-8
    /// text (as wallets do).
    pub fn personal(text: &str) -> Result<Self> {
        let t = text.strip_suffix('\n').unwrap_or(text);
        if t.starts_with("0x") && t.len() > 2 && t[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(SignatureRequest::Personal(parse::hex_bytes("personal_sign message", t)?));
        }
        Ok(SignatureRequest::Personal(t.as_bytes().to_vec()))
    }

    /// An `eth_sign` payload: exactly 32 bytes of hex.
    pub fn eth_sign(text: &str) -> Result<Self> {
        let bytes = parse::hex_bytes("eth_sign hash", text)?;
        if bytes.len() != 32 {
            return Err(Error::input(
                "eth_sign hash",
                format!("must be 32 bytes (64 hex digits), got {} bytes", bytes.len()),
            ));
        }
        Ok(SignatureRequest::EthSign(B256::from_slice(&bytes)))
    }

    /// The hash the wallet would sign.
    pub fn signing_hash(&self) -> B256 {
        match self {
            SignatureRequest::TypedData(t) => t.signing_hash,
            SignatureRequest::Personal(m) => eip191_hash_message(m),
            SignatureRequest::EthSign(h) => *h,
        }
    }
}

/// Every field type must be an EIP-712 atomic or dynamic type, or a struct defined in `types`.
fn check_type_names(types: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
    for (name, fields) in types {
        for (i, f) in fields.as_array().into_iter().flatten().enumerate() {
            let ty = f["type"].as_str().unwrap_or_default();
            let base = ty.split('[').next().unwrap_or_default();
            let atomic = || DynSolType::parse(base).is_ok_and(|t| !matches!(t, DynSolType::Tuple(_)));
            if ty.is_empty() || !(types.contains_key(base) || atomic()) || element_type(ty).is_err() {
                return Err(Error::input(
                    format!("types.{name}[{i}].type"),
                    format!("`{ty}` is neither an EIP-712 atomic type nor a struct defined in `types`"),
                ));
            }
        }
    }
    Ok(())
}

/// Splits `T[]` / `T[n]` into `T` and the fixed length; `None` when `ty` is not an array.
fn element_type(ty: &str) -> std::result::Result<Option<(&str, Option<usize>)>, ()> {
    let Some(inner) = ty.strip_suffix(']') else { return Ok(None) };
    let (elem, len) = inner.rsplit_once('[').ok_or(())?;
    let len = if len.is_empty() { None } else { Some(len.parse::<usize>().map_err(|_| ())?) };
    Ok(Some((elem, len)))
}

/// Checks that `v` has type `ty`, naming the first field that does not.
fn check_value(
    types: &serde_json::Map<String, serde_json::Value>,
    ty: &str,
    v: &serde_json::Value,
    path: &str,
    depth: usize,
) -> Result<()> {
    if depth > 64 {
        return Err(Error::input(path, "nested more than 64 levels deep"));
    }
    if let Ok(Some((elem, len))) = element_type(ty) {
        let items = v
            .as_array()
            .ok_or_else(|| Error::input(path, format!("expected an array ({ty}), got {}", json_type(v))))?;
        if let Some(n) = len.filter(|n| *n != items.len()) {
            return Err(Error::input(path, format!("expected {n} elements ({ty}), got {}", items.len())));
        }
        return items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_value(types, elem, item, &format!("{path}[{i}]"), depth + 1));
    }
    if let Some(fields) = types.get(ty) {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::input(path, format!("expected a `{ty}` object, got {}", json_type(v))))?;
        for f in fields.as_array().into_iter().flatten() {
            let (name, fty) = (f["name"].as_str().unwrap_or_default(), f["type"].as_str().unwrap_or_default());
            let field = format!("{path}.{name}");
            let value =
                obj.get(name).ok_or_else(|| Error::input(&field, format!("missing (`{ty}` declares it as {fty})")))?;
            check_value(types, fty, value, &field, depth + 1)?;
        }
        return Ok(());
    }
    let parsed = DynSolType::parse(ty).map_err(|e| Error::input(path, format!("unknown type `{ty}`: {e}")))?;
    if parsed.coerce_json(v).is_err() {
        let mut shown = v.to_string();
        if shown.len() > 80 {
            shown = format!("{}…", shown.chars().take(80).collect::<String>());
        }
        return Err(Error::input(path, format!("expected {ty}, got {shown}")));
    }
    Ok(())
}

fn unwrap_params(root: serde_json::Value) -> Result<(serde_json::Value, Option<Address>)> {
    let params = match root {
        serde_json::Value::Object(mut o) if o.contains_key("params") && !o.contains_key("types") => {
            o.remove("params").unwrap_or_default()
        }
        v => v,
    };
    match params {
        serde_json::Value::Array(mut items) => {
            if items.len() != 2 {
                return Err(Error::input(
                    "params",
                    format!("expected [address, typedData], got {} elements", items.len()),
                ));
            }
            let data = items.pop().unwrap_or_default();
            let signer = parse::json_address("params[0]", &items[0])?;
            Ok((data, Some(signer)))
        }
        v => Ok((v, None)),
    }
}
