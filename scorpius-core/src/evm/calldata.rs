//! Recursive calldata decoding: turns a call into a tree of [`DecodedCall`]s, following
//! batching wrappers (Multicall3, router `multicall`, Safe `multiSend` and `execTransaction`,
//! `upgradeToAndCall`) so that rules see every call that will really run.

use alloy_dyn_abi::DynSolValue;
use alloy_json_abi::Param;
use alloy_primitives::{Address, Selector, U256};
use serde::{Serialize, Serializer, ser::SerializeStruct};

use super::signatures::{self, Entry};

/// How deep batching wrappers are followed. Deeper nesting is reported, not decoded.
pub const MAX_DEPTH: usize = 8;

/// Whether a call runs in the callee's context or (Safe operation 1) in the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A normal CALL.
    Call,
    /// DELEGATECALL: the target's code runs with the caller's storage and balance.
    Delegatecall,
}

/// One named, decoded argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Argument {
    /// Parameter name from the signature table (`arg<N>` when unnamed).
    pub name: String,
    /// Solidity type.
    #[serde(rename = "type")]
    pub ty: String,
    /// The value: addresses checksummed, integers as decimal strings, bytes as 0x hex, tuples
    /// as objects keyed by component name.
    pub value: serde_json::Value,
}

/// A call and everything nested in it.
///
/// Its JSON form (see the [`Serialize`] impl) has the fields `path`, `to`, `value`,
/// `operation`, `selector`, `function`, `arguments`, `calls` (omitted when empty), `data_len`
/// and `decode_error` (omitted when `None`). `arguments` is rendered from [`Self::values`] only
/// when the call is serialised (or [`Self::arguments`] is called), so decoding stays cheap.
#[derive(Debug, Clone)]
pub struct DecodedCall {
    /// Where this call sits: `call`, `call.calls[0]`, `call.calls[0].calls[3]`.
    pub path: String,
    /// The callee (`None` for contract creation).
    pub to: Option<Address>,
    /// Native value in wei.
    pub value: U256,
    /// CALL or DELEGATECALL.
    pub operation: Operation,
    /// The 4-byte selector, when the calldata has one.
    pub selector: Option<Selector>,
    /// Canonical signature when the selector is in the table.
    pub function: Option<String>,
    /// Calls this one makes on the user's behalf (batch entries).
    pub calls: Vec<DecodedCall>,
    /// Length of the calldata in bytes.
    pub data_len: usize,
    /// Why the calldata could not be (fully) decoded, if it could not.
    pub decode_error: Option<String>,
    /// The table entry the selector matched (not serialised).
    pub entry: Option<&'static Entry>,
    /// Decoded argument values, for the rules (not serialised; see [`Self::arguments`]).
    pub values: Vec<DynSolValue>,
}

impl Serialize for DecodedCall {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let has_calls = !self.calls.is_empty();
        let has_error = self.decode_error.is_some();
        let len = 8 + usize::from(has_calls) + usize::from(has_error);
        let mut st = s.serialize_struct("DecodedCall", len)?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("to", &OptAddress(self.to))?;
        st.serialize_field("value", &Decimal(&self.value))?;
        st.serialize_field("operation", &self.operation)?;
        st.serialize_field("selector", &OptSelector(self.selector))?;
        st.serialize_field("function", &self.function)?;
        st.serialize_field("arguments", &self.arguments())?;
        if has_calls {
            st.serialize_field("calls", &self.calls)?;
        } else {
            st.skip_field("calls")?;
        }
        st.serialize_field("data_len", &self.data_len)?;
        if has_error {
            st.serialize_field("decode_error", &self.decode_error)?;
        } else {
            st.skip_field("decode_error")?;
        }
        st.end()
    }
}

/// `to`, checksummed (see [`super::ser::opt_address`]).
struct OptAddress(Option<Address>);

impl Serialize for OptAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::ser::opt_address(&self.0, s)
    }
}

/// `value` as a decimal string (see [`super::ser::u256`]).
struct Decimal<'a>(&'a U256);

impl Serialize for Decimal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::ser::u256(self.0, s)
    }
}

/// `selector` as 0x hex (see [`super::ser::opt_selector`]).
struct OptSelector(Option<Selector>);

impl Serialize for OptSelector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::ser::opt_selector(&self.0, s)
    }
}

impl DecodedCall {
    /// Canonical signature, if known.
    pub fn signature(&self) -> Option<&str> {
        self.entry.map(|e| e.signature.as_str())
    }

    /// The decoded arguments with names and types, values rendered as JSON (see
    /// [`Argument::value`]); empty when the selector is unknown or the arguments did not
    /// decode. Rendered on each call: rules should read [`Self::values`] instead.
    pub fn arguments(&self) -> Vec<Argument> {
        let Some(entry) = self.entry else { return Vec::new() };
        entry
            .function
            .inputs
            .iter()
            .zip(&self.values)
            .enumerate()
            .map(|(i, (p, v))| Argument {
                name: if p.name.is_empty() { format!("arg{i}") } else { p.name.clone() },
                ty: p.selector_type().into_owned(),
                value: value_json(v, Some(p)),
            })
            .collect()
    }

    /// This call and all nested calls, depth first.
    pub fn walk(&self) -> Vec<&DecodedCall> {
        let mut out = vec![self];
        for c in &self.calls {
            out.extend(c.walk());
        }
        out
    }

    /// Argument `i` as an address.
    pub fn address_arg(&self, i: usize) -> Option<Address> {
        self.values.get(i).and_then(DynSolValue::as_address)
    }

    /// Argument `i` as an unsigned integer.
    pub fn uint_arg(&self, i: usize) -> Option<U256> {
        self.values.get(i).and_then(|v| v.as_uint()).map(|(u, _)| u)
    }

    /// Argument `i` as a bool.
    pub fn bool_arg(&self, i: usize) -> Option<bool> {
        self.values.get(i).and_then(DynSolValue::as_bool)
    }
}

/// Decodes a top-level call.
pub fn decode(to: Option<Address>, value: U256, data: &[u8]) -> DecodedCall {
    // ABI offsets may point several array elements at the same bytes, so a few kilobytes of
    // calldata can describe millions of nested calls. Honest encodings give every nested call
    // its own bytes: across all levels they add up to at most `MAX_DEPTH + 1` times the input.
    let mut budget = data.len().saturating_mul(MAX_DEPTH + 1);
    decode_at("call".to_owned(), to, value, Operation::Call, data, 0, &mut budget)
}

fn decode_at(
    path: String,
    to: Option<Address>,
    value: U256,
    operation: Operation,
    data: &[u8],
    depth: usize,
    budget: &mut usize,
) -> DecodedCall {
    let mut call = DecodedCall {
        path,
        to,
        value,
        operation,
        selector: None,
        function: None,
        calls: Vec::new(),
        data_len: data.len(),
        decode_error: None,
        entry: None,
        values: Vec::new(),
    };
    if to.is_none() || data.is_empty() {
        // Contract creation (data is creation code) or a plain transfer.
        return call;
    }
    if data.len() < 4 {
        call.decode_error = Some(format!("calldata is {} bytes, shorter than a 4-byte selector", data.len()));
        return call;
    }
    let selector = Selector::from_slice(&data[..4]);
    call.selector = Some(selector);
    let Some(entry) = signatures::lookup(selector) else {
        return call;
    };
    call.entry = Some(entry);
    call.function = Some(entry.signature.clone());
    match entry.decode_input(&data[4..]) {
        Ok(values) => call.values = values,
        Err(e) => {
            call.decode_error = Some(format!("arguments do not match {}: {e}", entry.signature));
            return call;
        }
    }
    if depth >= MAX_DEPTH {
        if nested_targets(&call).is_some_and(|n| n.is_ok_and(|n| !n.is_empty())) {
            call.decode_error = Some(format!("batch nested deeper than {MAX_DEPTH} levels is not decoded"));
        }
        return call;
    }
    // The nested calldata is borrowed from `call.values`: decode the children first, then
    // attach them once that borrow has ended.
    let (calls, decode_error) = match nested_targets(&call) {
        Some(Ok(inner)) => {
            let total = inner.len();
            let mut calls = Vec::new();
            let mut error = None;
            for (i, n) in inner.into_iter().enumerate() {
                let Some(left) = budget.checked_sub(n.data.len()) else {
                    error =
                        Some(format!("nested calls reuse the same bytes; decoding stopped after {i} of {total} calls"));
                    break;
                };
                *budget = left;
                let path = child_path(&call.path, i);
                calls.push(decode_at(path, Some(n.to), n.value, n.operation, n.data, depth + 1, budget));
            }
            (calls, error)
        }
        Some(Err(e)) => (Vec::new(), Some(e)),
        None => (Vec::new(), None),
    };
    call.calls = calls;
    call.decode_error = decode_error;
    call
}

/// `{parent}.calls[{i}]`, built without the formatting machinery (one per nested call).
fn child_path(parent: &str, i: usize) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut n = i;
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &digits[start..];
    let mut path = String::with_capacity(parent.len() + ".calls[]".len() + digits.len());
    path.push_str(parent);
    path.push_str(".calls[");
    path.extend(digits.iter().map(|&d| char::from(d)));
    path.push(']');
    path
}

/// A call a batching function makes; its calldata is borrowed from the batch's decoded values.
#[derive(Debug)]
struct Nested<'a> {
    to: Address,
    value: U256,
    operation: Operation,
    data: &'a [u8],
}

/// The calls a batching function makes, or `None` when the function does not batch.
fn nested_targets(call: &DecodedCall) -> Option<Result<Vec<Nested<'_>>, String>> {
    let sig = call.signature()?;
    let this = call.to?;
    let v = &call.values;
    let tuples = |i: usize| v.get(i).and_then(DynSolValue::as_array).unwrap_or(&[]);
    /// A `(address, [bool,] [uint256,] bytes)` batch entry.
    fn simple(t: &DynSolValue, to_i: usize, value_i: Option<usize>, data_i: usize) -> Option<Nested<'_>> {
        let f = t.as_tuple()?;
        Some(Nested {
            to: f.get(to_i)?.as_address()?,
            value: match value_i {
                Some(i) => f.get(i)?.as_uint()?.0,
                None => U256::ZERO,
            },
            operation: Operation::Call,
            data: f.get(data_i)?.as_bytes()?,
        })
    }
    let out: Vec<Nested<'_>> = match sig {
        "aggregate((address,bytes)[])" | "blockAndAggregate((address,bytes)[])" => {
            tuples(0).iter().filter_map(|t| simple(t, 0, None, 1)).collect()
        }
        "tryAggregate(bool,(address,bytes)[])" | "tryBlockAndAggregate(bool,(address,bytes)[])" => {
            tuples(1).iter().filter_map(|t| simple(t, 0, None, 1)).collect()
        }
        "aggregate3((address,bool,bytes)[])" => tuples(0).iter().filter_map(|t| simple(t, 0, None, 2)).collect(),
        "aggregate3Value((address,bool,uint256,bytes)[])" => {
            tuples(0).iter().filter_map(|t| simple(t, 0, Some(2), 3)).collect()
        }
        "multicall(bytes[])" | "multicall(uint256,bytes[])" | "multicall(bytes32,bytes[])" => {
            let arr = v.last().and_then(DynSolValue::as_array).unwrap_or(&[]);
            arr.iter()
                .filter_map(|b| b.as_bytes())
                .map(|data| Nested { to: this, value: U256::ZERO, operation: Operation::Call, data })
                .collect()
        }
        "multiSend(bytes)" => {
            let packed = v.first().and_then(DynSolValue::as_bytes).unwrap_or(&[]);
            return Some(parse_multisend(packed));
        }
        "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)" => {
            let (Some(to), Some(value), Some(data)) =
                (call.address_arg(0), call.uint_arg(1), v.get(2).and_then(DynSolValue::as_bytes))
            else {
                return None;
            };
            let operation =
                if call.uint_arg(3) == Some(U256::from(1)) { Operation::Delegatecall } else { Operation::Call };
            vec![Nested { to, value, operation, data }]
        }
        "upgradeToAndCall(address,bytes)" => {
            let data = v.get(1).and_then(DynSolValue::as_bytes)?;
            if data.is_empty() {
                return None;
            }
            vec![Nested { to: this, value: U256::ZERO, operation: Operation::Call, data }]
        }
        "upgradeAndCall(address,address,bytes)" => {
            let proxy = call.address_arg(0)?;
            let data = v.get(2).and_then(DynSolValue::as_bytes)?;
            if data.is_empty() {
                return None;
            }
            vec![Nested { to: proxy, value: call.value, operation: Operation::Call, data }]
        }
        _ => return None,
    };
    Some(Ok(out))
}

/// Parses Safe's packed `multiSend` encoding: `operation (1) | to (20) | value (32) |
/// dataLength (32) | data`, repeated.
fn parse_multisend(mut b: &[u8]) -> Result<Vec<Nested<'_>>, String> {
    let total = b.len();
    let mut out = Vec::new();
    while !b.is_empty() {
        let at = total - b.len();
        if b.len() < 85 {
            return Err(format!("multiSend entry at byte {at} is truncated ({} bytes left, header needs 85)", b.len()));
        }
        let operation = match b[0] {
            0 => Operation::Call,
            1 => Operation::Delegatecall,
            op => return Err(format!("multiSend entry at byte {at} has operation {op}, expected 0 or 1")),
        };
        let to = Address::from_slice(&b[1..21]);
        let value = U256::from_be_slice(&b[21..53]);
        let len = U256::from_be_slice(&b[53..85]);
        let len = usize::try_from(len).ok().filter(|&l| l <= b.len() - 85).ok_or_else(|| {
            format!("multiSend entry at byte {at} declares {len} data bytes but only {} remain", b.len() - 85)
        })?;
        out.push(Nested { to, value, operation, data: &b[85..85 + len] });
        b = &b[85 + len..];
    }
    Ok(out)
}

/// Renders a decoded value as JSON (see [`Argument::value`]).
pub fn value_json(v: &DynSolValue, param: Option<&Param>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        DynSolValue::Address(a) => J::String(a.to_checksum(None)),
        DynSolValue::Bool(b) => J::Bool(*b),
        DynSolValue::Uint(u, _) => J::String(u.to_string()),
        DynSolValue::Int(i, _) => J::String(i.to_string()),
        DynSolValue::FixedBytes(w, size) => J::String(format!("0x{}", hex::encode(&w[..*size]))),
        DynSolValue::Bytes(b) => J::String(format!("0x{}", hex::encode(b))),
        DynSolValue::String(s) => J::String(s.clone()),
        DynSolValue::Function(f) => J::String(format!("0x{}", hex::encode(f.as_slice()))),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            // Elements of a tuple array share the array's components.
            J::Array(items.iter().map(|i| value_json(i, param)).collect())
        }
        DynSolValue::Tuple(fields) => {
            let comps = param.map(|p| p.components.as_slice()).unwrap_or(&[]);
            if comps.len() == fields.len() && comps.iter().all(|c| !c.name.is_empty()) {
                J::Object(comps.iter().zip(fields).map(|(c, f)| (c.name.clone(), value_json(f, Some(c)))).collect())
            } else {
                J::Array(fields.iter().map(|f| value_json(f, None)).collect())
            }
        }
        #[allow(unreachable_patterns)]
        _ => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, hex};

    #[test]
    fn decodes_approve_with_names() {
        let data = hex!(
            "095ea7b3000000000000000000000000000000000022d473030f116ddee9f6b43ac78ba3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        );
        let c = decode(Some(address!("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")), U256::ZERO, &data);
        assert_eq!(c.function.as_deref(), Some("approve(address,uint256)"));
        let args = c.arguments();
        assert_eq!(args[0].name, "spender");
        assert_eq!(args[0].value, "0x000000000022D473030F116dDEE9F6B43aC78BA3");
        assert_eq!(c.uint_arg(1), Some(U256::MAX));
        assert!(c.decode_error.is_none());
    }

    #[test]
    fn short_and_malformed_calldata_are_reported_not_panics() {
        let c = decode(Some(Address::ZERO), U256::ZERO, &[0x09, 0x5e]);
        assert!(c.decode_error.unwrap().contains("shorter than a 4-byte selector"));
        let c = decode(Some(Address::ZERO), U256::ZERO, &hex!("095ea7b30000"));
        assert!(c.decode_error.unwrap().contains("approve(address,uint256)"));
    }

    #[test]
    fn child_paths() {
        for i in [0, 7, 10, 99, 12345, usize::MAX] {
            assert_eq!(child_path("call.calls[3]", i), format!("call.calls[3].calls[{i}]"));
        }
    }

    #[test]
    fn multisend_truncation_is_an_error() {
        assert!(parse_multisend(&[0u8; 10]).unwrap_err().contains("truncated"));
        let mut entry = vec![0u8; 85];
        entry[84] = 5; // declares 5 bytes, none follow
        assert!(parse_multisend(&entry).unwrap_err().contains("declares 5 data bytes"));
        entry[0] = 7;
        assert!(parse_multisend(&entry).unwrap_err().contains("operation 7"));
    }
}
