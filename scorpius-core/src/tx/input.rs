//! The three ways a transaction reaches Scorpius, normalised into one [`TxInput`]:
//! explicit fields, a signed raw transaction (any EIP-2718 type, signer recovered), or the
//! `eth_sendTransaction` params object a wallet receives.

use alloy_consensus::{Transaction as _, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::{eip2718::Decodable2718, eip7702::SignedAuthorization};
use alloy_primitives::{Address, B256, U256};
use serde::Serialize;

use crate::{
    Error, Result,
    evm::{
        parse::{self, json_type},
        ser,
    },
};

/// Where a [`TxInput`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxSource {
    /// `--to/--data/--value/--from`.
    Fields,
    /// A signed raw transaction.
    Raw,
    /// An `eth_sendTransaction` params object.
    Json,
}

/// An EIP-7702 authorization tuple, with its recovered authority when it was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authorization {
    /// Chain id the authorization is valid on (0 = every chain).
    #[serde(serialize_with = "ser::u256")]
    pub chain_id: U256,
    /// The delegate contract whose code the account will run (zero = remove delegation).
    #[serde(serialize_with = "ser::address")]
    pub address: Address,
    /// The authority's nonce at signing.
    pub nonce: u64,
    /// The account being delegated, recovered from the signature.
    #[serde(serialize_with = "ser::opt_address")]
    pub authority: Option<Address>,
    /// Why the authority could not be recovered, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_error: Option<String>,
}

impl Authorization {
    fn from_signed(a: &SignedAuthorization) -> Self {
        let (authority, authority_error) = match a.recover_authority() {
            Ok(addr) => (Some(addr), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Authorization { chain_id: *a.chain_id(), address: *a.address(), nonce: a.nonce(), authority, authority_error }
    }
}

/// A transaction to check, however it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxInput {
    /// Where it came from.
    pub source: TxSource,
    /// EIP-2718 type (0 legacy, 1 access list, 2 EIP-1559, 3 blob, 4 EIP-7702), when known.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub tx_type: Option<u8>,
    /// Declared or recovered sender.
    #[serde(serialize_with = "ser::opt_address")]
    pub from: Option<Address>,
    /// Recipient; `None` means contract creation.
    #[serde(serialize_with = "ser::opt_address")]
    pub to: Option<Address>,
    /// Native value in wei.
    #[serde(serialize_with = "ser::u256")]
    pub value: U256,
    /// Calldata (or creation code).
    #[serde(serialize_with = "ser::bytes")]
    pub data: Vec<u8>,
    /// Chain id the transaction is signed or declared for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// Nonce, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// Gas limit, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gas_limit: Option<u64>,
    /// Transaction hash (raw transactions only).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser::opt_b256")]
    pub hash: Option<B256>,
    /// EIP-7702 authorizations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorizations: Vec<Authorization>,
}

impl TxInput {
    /// A transaction from explicit fields. `data` and `value` default to empty and zero.
    pub fn from_fields(from: Option<&str>, to: Option<&str>, data: Option<&str>, value: Option<&str>) -> Result<Self> {
        Ok(TxInput {
            source: TxSource::Fields,
            tx_type: None,
            from: from.map(|s| parse::address("--from", s)).transpose()?,
            to: to.map(|s| parse::address("--to", s)).transpose()?,
            value: value.map(|s| parse::quantity("--value", s)).transpose()?.unwrap_or_default(),
            data: data.map(|s| parse::hex_bytes("--data", s)).transpose()?.unwrap_or_default(),
            chain_id: None,
            nonce: None,
            gas_limit: None,
            hash: None,
            authorizations: Vec::new(),
        })
    }

    /// Decodes a signed raw transaction (EIP-2718 envelope or legacy RLP) and recovers its
    /// signer and any EIP-7702 authorities.
    pub fn from_raw(hex_str: &str) -> Result<Self> {
        let bytes = parse::hex_bytes("--raw", hex_str)?;
        if bytes.is_empty() {
            return Err(Error::input("--raw", "empty transaction"));
        }
        let env = TxEnvelope::decode_2718_exact(&bytes)
            .map_err(|e| Error::input("--raw", format!("not a valid signed transaction: {e}")))?;
        let from = env
            .recover_signer()
            .map_err(|e| Error::input("--raw", format!("signature does not recover a signer: {e}")))?;
        let authorizations =
            env.authorization_list().map(|l| l.iter().map(Authorization::from_signed).collect()).unwrap_or_default();
        Ok(TxInput {
            source: TxSource::Raw,
            tx_type: Some(env.tx_type() as u8),
            from: Some(from),
            to: env.to(),
            value: env.value(),
            data: env.input().to_vec(),
            chain_id: env.chain_id(),
            nonce: Some(env.nonce()),
            gas_limit: Some(env.gas_limit()),
            hash: Some(*env.tx_hash()),
            authorizations,
        })
    }

    /// Parses an `eth_sendTransaction` params object. Also accepts the params array
    /// (`[{...}]`) and a whole JSON-RPC request (`{"method": ..., "params": [{...}]}`).
    pub fn from_json(text: &str) -> Result<Self> {
        let root: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::input("transaction JSON", format!("malformed JSON: {e}")))?;
        let (obj, prefix) = unwrap_request(&root)?;
        let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
        let f = |k: &str| format!("{prefix}{k}");
        let string = |k: &str| -> Result<Option<&str>> {
            match get(k) {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(Error::input(f(k), format!("expected a hex string, got {}", json_type(other)))),
            }
        };
        let data_field = if get("input").is_some() { "input" } else { "data" };
        if let (Some(a), Some(b)) = (get("input"), get("data"))
            && a != b
        {
            return Err(Error::input(f("data"), "both `data` and `input` are set and they differ"));
        }
        let u64_field = |k: &str| -> Result<Option<u64>> {
            get(k)
                .map(|v| parse::json_quantity(&f(k), v))
                .transpose()?
                .map(|v| u64::try_from(v).map_err(|_| Error::input(f(k), "does not fit in 64 bits")))
                .transpose()
        };
        let authorizations = match get("authorizationList") {
            None => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, a)| json_authorization(&format!("{prefix}authorizationList[{i}]"), a))
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(Error::input(
                    f("authorizationList"),
                    format!("expected an array, got {}", json_type(other)),
                ));
            }
        };
        let tx_type = u64_field("type")?
            .map(|t| u8::try_from(t).map_err(|_| Error::input(f("type"), "not a transaction type")))
            .transpose()?;
        Ok(TxInput {
            source: TxSource::Json,
            tx_type,
            from: get("from").map(|v| parse::json_address(&f("from"), v)).transpose()?,
            to: get("to").map(|v| parse::json_address(&f("to"), v)).transpose()?,
            value: get("value").map(|v| parse::json_quantity(&f("value"), v)).transpose()?.unwrap_or_default(),
            data: string(data_field)?.map(|s| parse::hex_bytes(&f(data_field), s)).transpose()?.unwrap_or_default(),
            chain_id: u64_field("chainId")?,
            nonce: u64_field("nonce")?,
            gas_limit: u64_field("gas")?.or(u64_field("gasLimit")?),
            hash: None,
            authorizations,
        })
    }
}

fn unwrap_request(root: &serde_json::Value) -> Result<(&serde_json::Map<String, serde_json::Value>, String)> {
    match root {
        serde_json::Value::Object(o) if o.contains_key("params") => match o.get("params") {
            Some(serde_json::Value::Array(p)) => match p.first() {
                Some(serde_json::Value::Object(tx)) => Ok((tx, "params[0].".to_owned())),
                _ => Err(Error::input("params", "expected an array whose first element is the transaction object")),
            },
            _ => Err(Error::input("params", "expected an array")),
        },
        serde_json::Value::Object(o) => Ok((o, String::new())),
        serde_json::Value::Array(a) => match a.first() {
            Some(serde_json::Value::Object(tx)) => Ok((tx, "[0].".to_owned())),
            _ => {
                Err(Error::input("transaction JSON", "expected an array whose first element is the transaction object"))
            }
        },
        other => Err(Error::input("transaction JSON", format!("expected an object, got {}", json_type(other)))),
    }
}

fn json_authorization(field: &str, v: &serde_json::Value) -> Result<Authorization> {
    let o = v.as_object().ok_or_else(|| Error::input(field, format!("expected an object, got {}", json_type(v))))?;
    let req = |k: &str| o.get(k).ok_or_else(|| Error::input(format!("{field}.{k}"), "missing"));
    let chain_id = parse::json_quantity(&format!("{field}.chainId"), req("chainId")?)?;
    let address = parse::json_address(&format!("{field}.address"), req("address")?)?;
    let nonce = u64::try_from(parse::json_quantity(&format!("{field}.nonce"), req("nonce")?)?)
        .map_err(|_| Error::input(format!("{field}.nonce"), "does not fit in 64 bits"))?;
    let inner = alloy_eips::eip7702::Authorization { chain_id, address, nonce };
    // Unsigned tuples (a wallet about to sign) have no signature: no authority yet.
    let parity = o.get("yParity").or_else(|| o.get("v"));
    let (authority, authority_error) = match (parity, o.get("r"), o.get("s")) {
        (Some(y), Some(r), Some(s)) => {
            let y = parse::json_quantity(&format!("{field}.yParity"), y)?;
            let y = u8::try_from(y)
                .ok()
                .filter(|y| *y <= 1)
                .ok_or_else(|| Error::input(format!("{field}.yParity"), "must be 0 or 1"))?;
            let r = parse::json_quantity(&format!("{field}.r"), r)?;
            let s = parse::json_quantity(&format!("{field}.s"), s)?;
            let signed = SignedAuthorization::new_unchecked(inner, y, r, s);
            match signed.recover_authority() {
                Ok(a) => (Some(a), None),
                Err(e) => (None, Some(e.to_string())),
            }
        }
        _ => (None, Some("unsigned authorization".to_owned())),
    };
    Ok(Authorization { chain_id, address, nonce, authority, authority_error })
}
