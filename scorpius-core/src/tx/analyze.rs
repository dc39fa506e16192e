//! The transaction rules. Each check reads decoded calls and emits findings with evidence;
//! the order of findings in a report is fixed by [`crate::model::sort_findings`].

use std::time::Instant;

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::{Address, U256};
use serde_json::json;
use time::OffsetDateTime;

use super::input::{TxInput, TxSource};
use crate::{
    checks::{describe_amount, format_units18, long_expiration, spender_finding, u256_decimal},
    context::Context,
    evm::{
        UNLIMITED_THRESHOLD_DEC,
        calldata::{self, DecodedCall, Operation},
        is_unlimited,
        signatures::{self, DRAINER_FUNCTIONS},
    },
    intel::{poisoning, screen},
    model::{DatasetRef, Finding, ScanKind, ScanReport, ScanStatus, Subject},
    rules,
};

/// Analyses a transaction and returns the report.
pub fn analyze(tx: &TxInput, ctx: &Context) -> ScanReport {
    let started_at = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let root = calldata::decode(tx.to, tx.value, &tx.data);
    let calls = root.walk();
    // About one finding per call in a batch: reserve once instead of growing a vector of
    // large values.
    let mut findings = Vec::with_capacity(calls.len() + 2);
    check_envelope(tx, ctx, &mut findings);
    check_authorizations(tx, ctx, &mut findings);
    let mut cx = Cx { ctx, names: Vec::new() };
    for call in &calls {
        check_call(call, &mut cx, &mut findings);
    }
    check_intel(tx, &root, ctx, &mut findings);
    let target = match tx.to {
        Some(to) => to.to_checksum(None),
        None => "contract creation".to_owned(),
    };
    // A batch whose arguments decoded but whose nested calls were not (all) decoded hides
    // calls the rules never saw: the findings are a lower bound.
    let undecoded: Vec<String> = calls
        .into_iter()
        .filter(|c| !c.values.is_empty())
        .filter_map(|c| c.decode_error.as_ref().map(|e| format!("{}: {e}", c.path)))
        .collect();
    let subject = Subject::transaction(tx.clone(), root);
    let (name, version) = signatures::DATASET;
    let mut report = ScanReport::new(
        ScanKind::Transaction,
        target,
        &ctx.chain,
        findings,
        subject,
        started_at,
        clock.elapsed(),
        std::iter::once(DatasetRef { name: name.to_owned(), version: version.to_owned() })
            .chain(screen::datasets_used(ctx))
            .collect(),
    );
    if !undecoded.is_empty() {
        report.status =
            ScanStatus::Incomplete { reason: format!("nested calls not decoded: {}", undecoded.join("; ")) };
    }
    report
}

/// Threat-intel checks: every address the transaction touches (targets, address arguments by
/// parameter name, EIP-7702 delegates), the requesting site, and recipients against the
/// wallet's history (address poisoning). Known-good spenders soften approval findings.
fn check_intel(tx: &TxInput, root: &DecodedCall, ctx: &Context, out: &mut Vec<Finding>) {
    if ctx.intel.is_none() && ctx.origin.is_none() && ctx.history.is_none() {
        return;
    }
    let mut targets: Vec<(Address, &str, String)> = Vec::new();
    let mut recipients: Vec<(Address, String)> = Vec::new();
    for call in root.walk() {
        if let Some(to) = call.to {
            targets.push((to, "target", call.path.clone()));
            if call.data_len == 0 && !call.value.is_zero() {
                recipients.push((to, call.path.clone()));
            }
        }
        if let Some(entry) = call.entry {
            for (param, value) in entry.function.inputs.iter().zip(&call.values) {
                collect_addresses(param, value, &call.path, &mut targets);
            }
            if matches!(entry.signature.as_str(), "transfer(address,uint256)" | "transferFrom(address,address,uint256)")
            {
                let i = usize::from(entry.signature.starts_with("transferFrom"));
                if let Some(to) = call.address_arg(i) {
                    recipients.push((to, call.path.clone()));
                }
            }
        }
    }
    for (i, a) in tx.authorizations.iter().enumerate() {
        targets.push((a.address, "delegate", format!("authorizations[{i}]")));
    }
    out.extend(screen::screen_all(ctx, targets));
    out.extend(screen::origin_findings(ctx));
    if let Some(h) = &ctx.history {
        let (history, known) = &**h;
        for (to, path) in recipients {
            out.extend(poisoning::check_recipient(history, known, to).into_iter().map(|f| f.at(path.clone())));
        }
    }
    screen::soften_known_spenders(ctx, out);
}

fn collect_addresses<'a>(
    param: &'a alloy_json_abi::Param,
    value: &DynSolValue,
    path: &str,
    out: &mut Vec<(Address, &'a str, String)>,
) {
    match value {
        DynSolValue::Address(a) => out.push((*a, param.name.as_str(), path.to_owned())),
        DynSolValue::Tuple(fields) => {
            for (c, f) in param.components.iter().zip(fields) {
                collect_addresses(c, f, path, out);
            }
        }
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            for item in items {
                collect_addresses(param, item, path, out);
            }
        }
        _ => {}
    }
}

fn check_envelope(tx: &TxInput, ctx: &Context, out: &mut Vec<Finding>) {
    if tx.to.is_none() {
        out.push(
            Finding::new(
                &rules::CONTRACT_CREATION,
                format!("Deploys a contract from {} bytes of creation code.", tx.data.len()),
            )
            .with("code_size", tx.data.len())
            .with("value_wei", tx.value.to_string())
            .at("call"),
        );
    }
    match tx.chain_id {
        Some(id) if id != ctx.chain.id => out.push(
            Finding::new(
                &rules::TX_CHAIN_MISMATCH,
                format!("The transaction is for chain {id}, but the scan expected {}.", ctx.chain),
            )
            .with("transaction_chain_id", id)
            .with("expected_chain_id", ctx.chain.id),
        ),
        None if tx.source == TxSource::Raw => out.push(
            Finding::new(
                &rules::TX_NO_REPLAY_PROTECTION,
                "This legacy transaction was signed without a chain id (pre-EIP-155).",
            )
            .with("type", tx.tx_type.unwrap_or(0)),
        ),
        _ => {}
    }
}

fn check_authorizations(tx: &TxInput, ctx: &Context, out: &mut Vec<Finding>) {
    let auths = &tx.authorizations;
    for (i, a) in auths.iter().enumerate() {
        let path = format!("authorizations[{i}]");
        let authority = a.authority.map(|x| x.to_checksum(None));
        let who = authority.clone().unwrap_or_else(|| "the signing account".to_owned());
        if a.address.is_zero() {
            out.push(
                Finding::new(
                    &rules::APPROVAL_REVOKE,
                    format!("Authorization removes the EIP-7702 delegation of {who}."),
                )
                .with("authority", authority.clone())
                .at(&path),
            );
        } else {
            out.push(
                Finding::new(
                    &rules::EIP7702_DELEGATION,
                    format!("{who} will run the code of {} for every call until the delegation is removed.", a.address),
                )
                .with("delegate", a.address.to_checksum(None))
                .with("authority", authority.clone())
                .with("chain_id", a.chain_id.to_string())
                .with("nonce", a.nonce)
                .at(&path)
                .about(a.address),
            );
        }
        if a.chain_id.is_zero() {
            out.push(
                Finding::new(
                    &rules::EIP7702_ANY_CHAIN_AUTHORIZATION,
                    format!("Authorization {i} has chain id 0: it can be replayed on every EIP-7702 chain."),
                )
                .with("delegate", a.address.to_checksum(None))
                .with("authority", authority)
                .with("chain_id", 0)
                .at(&path),
            );
        } else if a.chain_id != U256::from(ctx.chain.id) {
            out.push(
                Finding::new(
                    &rules::TX_CHAIN_MISMATCH,
                    format!("Authorization {i} is for chain {}, but the scan expected {}.", a.chain_id, ctx.chain),
                )
                .with("authorization_chain_id", a.chain_id.to_string())
                .with("expected_chain_id", ctx.chain.id)
                .at(&path),
            );
        }
    }
    if auths.len() > 1 {
        let list: Vec<_> = auths
            .iter()
            .map(|a| json!({ "authority": a.authority.map(|x| x.to_checksum(None)), "delegate": a.address.to_checksum(None), "chain_id": a.chain_id.to_string() }))
            .collect();
        out.push(
            Finding::new(
                &rules::EIP7702_MULTIPLE_AUTHORIZATIONS,
                format!("The transaction carries {} EIP-7702 authorizations.", auths.len()),
            )
            .with("count", auths.len())
            .with("authorizations", list),
        );
    }
}

/// Per-analysis state of the call rules: the context and the EIP-55 names of the addresses
/// seen so far. A batch that touches one token or spender in every call hashes it once.
struct Cx<'a> {
    ctx: &'a Context,
    /// A few dozen entries at most; a linear scan beats hashing at this size.
    names: Vec<(Address, String)>,
}

/// How many names [`Cx`] remembers; later addresses are hashed every time.
const NAME_CACHE: usize = 64;

impl Cx<'_> {
    /// The checksummed form of `a`.
    fn name(&mut self, a: Address) -> String {
        if let Some((_, name)) = self.names.iter().find(|(k, _)| *k == a) {
            return name.clone();
        }
        let name = a.to_checksum(None);
        if self.names.len() < NAME_CACHE {
            self.names.push((a, name.clone()));
        }
        name
    }

    fn addr(&mut self, a: Address) -> serde_json::Value {
        self.name(a).into()
    }
}

/// Common evidence for a call: where it goes and what it calls.
fn base(cx: &mut Cx, rule: &rules::Rule, call: &DecodedCall, message: String) -> Finding {
    let mut f = Finding::new(rule, message).at(&call.path);
    if let Some(sig) = call.signature() {
        f = f.with("function", sig);
    }
    if let Some(sel) = call.selector {
        f = f.with("selector", sel.to_string());
    }
    if let Some(to) = call.to {
        let cs = cx.name(to);
        f.location.get_or_insert_with(Default::default).address = Some(cs.clone());
        f = f.with("target", cs);
    }
    f
}

/// Spender/operator sanity shared by every approval-like call.
fn check_spender(cx: &mut Cx, call: &DecodedCall, role: &'static str, spender: Address, out: &mut Vec<Finding>) {
    if let Some(f) = spender_finding(role, spender) {
        let mut f = f.at(&call.path);
        if let Some(sig) = call.signature() {
            f = f.with("function", sig);
        }
        let target = call.to.map(|a| cx.addr(a));
        out.push(f.with("target", target));
    }
}

fn check_call(call: &DecodedCall, cx: &mut Cx, out: &mut Vec<Finding>) {
    if call.operation == Operation::Delegatecall {
        out.push(
            base(
                cx,
                &rules::BATCH_DELEGATECALL,
                call,
                format!(
                    "This batch entry DELEGATECALLs {}: its code runs with the Safe's storage and funds.",
                    call.to.map(|a| a.to_string()).unwrap_or_default()
                ),
            )
            .with("operation", 1),
        );
    }
    if call.to.is_none() {
        return;
    }
    if call.data_len == 0 {
        if !call.value.is_zero() {
            out.push(
                base(
                    cx,
                    &rules::NATIVE_TRANSFER,
                    call,
                    format!(
                        "Sends {} wei ({} {}) to {}.",
                        call.value,
                        format_units18(call.value),
                        cx.ctx.chain.native_symbol,
                        call.to.unwrap_or_default()
                    ),
                )
                .with("value_wei", call.value.to_string()),
            );
        }
        return;
    }
    let Some(sig) = call.signature() else {
        if let Some(sel) = call.selector {
            out.push(
                base(
                    cx,
                    &rules::UNKNOWN_SELECTOR,
                    call,
                    format!("Selector 0x{} is not in the signature table.", hex::encode(sel.as_slice())),
                )
                .with("value_wei", call.value.to_string())
                .with("data_len", call.data_len),
            );
        } else if let Some(err) = &call.decode_error {
            out.push(
                base(cx, &rules::CALLDATA_MALFORMED, call, format!("The calldata could not be decoded: {err}."))
                    .with("data_len", call.data_len),
            );
        }
        return;
    };
    if call.decode_error.is_some() && call.values.is_empty() {
        // Known selector, arguments that do not decode: say so, apply nothing else.
        out.push(
            base(
                cx,
                &rules::CALLDATA_MALFORMED,
                call,
                format!("The calldata {}.", call.decode_error.as_deref().unwrap_or("does not decode")),
            )
            .with("data_len", call.data_len),
        );
        return;
    }
    if DRAINER_FUNCTIONS.contains(&sig) && !call.value.is_zero() {
        out.push(
            base(
                cx,
                &rules::NATIVE_VALUE_DRAINER_SELECTOR,
                call,
                format!(
                    "Sends {} {} to `{sig}`, a function name drainer kits use as bait.",
                    format_units18(call.value),
                    cx.ctx.chain.native_symbol
                ),
            )
            .with("value_wei", call.value.to_string()),
        );
    }
    match sig {
        "approve(address,uint256)" | "increaseAllowance(address,uint256)" => {
            let (Some(spender), Some(amount)) = (call.address_arg(0), call.uint_arg(1)) else { return };
            if amount.is_zero() && sig.starts_with("approve") {
                out.push(
                    base(cx, &rules::APPROVAL_REVOKE, call, format!("Sets the allowance of {spender} to 0."))
                        .with("spender", cx.addr(spender)),
                );
                return;
            }
            check_spender(cx, call, "spender", spender, out);
            if is_unlimited(amount) {
                let spender = cx.name(spender);
                let f = base(cx, &rules::APPROVAL_UNLIMITED, call, String::new());
                let token = f.evidence.get("target").and_then(|t| t.as_str()).unwrap_or_default();
                let message = format!(
                    "Lets {spender} spend an unlimited amount of token {token} (amount {}). If the target is an ERC-721 collection, the amount is a token id and only that token is approved.",
                    describe_amount(amount)
                );
                out.push(
                    Finding { message, ..f }
                        .with("spender", spender)
                        .with("amount", u256_decimal(amount))
                        .with("threshold", UNLIMITED_THRESHOLD_DEC),
                );
            }
        }
        "setApprovalForAll(address,bool)" => {
            let (Some(operator), Some(approved)) = (call.address_arg(0), call.bool_arg(1)) else { return };
            if !approved {
                out.push(
                    base(cx, &rules::APPROVAL_REVOKE, call, format!("Removes {operator} as operator."))
                        .with("operator", cx.addr(operator)),
                );
                return;
            }
            check_spender(cx, call, "operator", operator, out);
            out.push(
                base(
                    cx,
                    &rules::NFT_APPROVAL_FOR_ALL,
                    call,
                    format!(
                        "Lets {operator} transfer every token of collection {} that the account owns.",
                        call.to.unwrap_or_default()
                    ),
                )
                .with("operator", cx.addr(operator))
                .with("approved", true),
            );
        }
        "approve(address,address,uint160,uint48)" => {
            let (Some(token), Some(spender), Some(amount), Some(expiration)) =
                (call.address_arg(0), call.address_arg(1), call.uint_arg(2), call.uint_arg(3))
            else {
                return;
            };
            if amount.is_zero() {
                out.push(
                    base(
                        cx,
                        &rules::APPROVAL_REVOKE,
                        call,
                        format!("Sets the Permit2 allowance of {spender} for {token} to 0."),
                    )
                    .with("token", cx.addr(token))
                    .with("spender", cx.addr(spender)),
                );
                return;
            }
            check_spender(cx, call, "spender", spender, out);
            permit2_allowance(call, cx, token, spender, amount, expiration, &call.path, out);
        }
        "lockdown((address,address)[])" => {
            let pairs = call.values.first().and_then(DynSolValue::as_array).unwrap_or(&[]);
            out.push(
                base(
                    cx,
                    &rules::APPROVAL_REVOKE,
                    call,
                    format!("Permit2 lockdown revokes {} allowance(s).", pairs.len()),
                )
                .with("count", pairs.len()),
            );
        }
        "permit(address,((address,uint160,uint48,uint48),address,uint256),bytes)"
        | "permit(address,((address,uint160,uint48,uint48)[],address,uint256),bytes)" => {
            let Some(permit) = call.values.get(1).and_then(DynSolValue::as_tuple) else { return };
            let spender = permit.get(1).and_then(DynSolValue::as_address).unwrap_or_default();
            check_spender(cx, call, "spender", spender, out);
            let details: Vec<&DynSolValue> = match permit.first() {
                Some(DynSolValue::Array(items)) => items.iter().collect(),
                Some(single) => vec![single],
                None => vec![],
            };
            for (i, d) in details.into_iter().enumerate() {
                let Some(f) = d.as_tuple() else { continue };
                let token = f.first().and_then(DynSolValue::as_address).unwrap_or_default();
                let amount = f.get(1).and_then(|v| v.as_uint()).map(|x| x.0).unwrap_or_default();
                let expiration = f.get(2).and_then(|v| v.as_uint()).map(|x| x.0).unwrap_or_default();
                let path = format!("{}.details[{i}]", call.path);
                permit2_allowance(call, cx, token, spender, amount, expiration, &path, out);
            }
        }
        "transferOwnership(address)"
        | "swapOwner(address,address,address)"
        | "addOwnerWithThreshold(address,uint256)" => {
            let new_owner = if sig.starts_with("swapOwner") { call.address_arg(2) } else { call.address_arg(0) };
            let Some(new_owner) = new_owner else { return };
            out.push(
                base(
                    cx,
                    &rules::OWNERSHIP_TRANSFER,
                    call,
                    format!("Gives owner powers over {} to {new_owner}.", call.to.unwrap_or_default()),
                )
                .with("new_owner", cx.addr(new_owner)),
            );
        }
        "renounceOwnership()" => out.push(base(
            cx,
            &rules::OWNERSHIP_RENOUNCE,
            call,
            format!("Leaves {} without an owner, permanently.", call.to.unwrap_or_default()),
        )),
        "upgradeTo(address)" | "upgradeToAndCall(address,bytes)" => {
            let Some(implementation) = call.address_arg(0) else { return };
            out.push(
                base(
                    cx,
                    &rules::PROXY_UPGRADE,
                    call,
                    format!("Replaces the code of proxy {} with {implementation}.", call.to.unwrap_or_default()),
                )
                .with("proxy", call.to.map(|a| cx.addr(a)))
                .with("new_implementation", cx.addr(implementation)),
            );
        }
        "upgrade(address,address)" | "upgradeAndCall(address,address,bytes)" => {
            let (Some(proxy), Some(implementation)) = (call.address_arg(0), call.address_arg(1)) else { return };
            out.push(
                base(
                    cx,
                    &rules::PROXY_UPGRADE,
                    call,
                    format!("Replaces the code of proxy {proxy} with {implementation}."),
                )
                .with("proxy", cx.addr(proxy))
                .with("new_implementation", cx.addr(implementation)),
            );
        }
        "changeAdmin(address)" | "changeProxyAdmin(address,address)" => {
            let (proxy, admin) = if sig.starts_with("changeAdmin") {
                (call.to, call.address_arg(0))
            } else {
                (call.address_arg(0), call.address_arg(1))
            };
            let Some(admin) = admin else { return };
            out.push(
                base(
                    cx,
                    &rules::PROXY_ADMIN_CHANGE,
                    call,
                    format!("Gives the power to upgrade proxy {} to {admin}.", proxy.unwrap_or_default()),
                )
                .with("proxy", proxy.map(|a| cx.addr(a)))
                .with("new_admin", cx.addr(admin)),
            );
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
fn permit2_allowance(
    call: &DecodedCall,
    cx: &mut Cx,
    token: Address,
    spender: Address,
    amount: U256,
    expiration: U256,
    path: &str,
    out: &mut Vec<Finding>,
) {
    if is_unlimited(amount) {
        out.push(
            base(
                cx,
                &rules::PERMIT2_UNLIMITED_ALLOWANCE,
                call,
                format!("Permit2 lets {spender} spend an unlimited amount of {token}."),
            )
            .with("token", cx.addr(token))
            .with("spender", cx.addr(spender))
            .with("amount", u256_decimal(amount))
            .with("threshold", UNLIMITED_THRESHOLD_DEC)
            .at(path),
        );
    }
    if let Some(f) = long_expiration(&rules::PERMIT2_LONG_EXPIRATION, cx.ctx, expiration, "expiration") {
        out.push(
            f.with("token", cx.addr(token))
                .with("spender", cx.addr(spender))
                .at(path)
                .with("function", call.signature().unwrap_or_default()),
        );
    }
}
