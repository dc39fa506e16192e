//! The signature rules: permits, Permit2 messages, marketplace orders, domain checks, SIWE
//! and blind signing.

use std::{collections::BTreeMap, time::Instant};

use alloy_dyn_abi::DynSolType;
use alloy_primitives::{Address, U256, address};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{
    input::{SignatureRequest, TypedDataRequest},
    siwe::{self, SiweMessage},
};
use crate::{
    checks::{describe_amount, long_expiration, spender_finding},
    context::Context,
    evm::{UNLIMITED_THRESHOLD_DEC, is_unlimited},
    intel::screen,
    model::{Finding, ScanKind, ScanReport, Subject},
    rules,
};

/// Canonical Permit2 deployment (same address on every chain).
pub const PERMIT2: Address = address!("000000000022d473030f116ddee9f6b43ac78ba3");

/// Seaport deployments (1.1, 1.4, 1.5, 1.6), same address on every chain.
pub const SEAPORT: &[Address] = &[
    address!("00000000006c3852cbef3e08e8df289169ede581"),
    address!("00000000000001ad428e4906ae43d8f9852d0dd6"),
    address!("00000000000000adc04c56bf30ac9d3c0aaf14dc"),
    address!("0000000000000068f116a894984e2db1123eb395"),
];

/// Payments below this many base units (0.001 of an 18-decimals unit) count as "nothing".
pub const DUST: u64 = 1_000_000_000_000_000;

/// Analyses a signature request.
pub fn analyze(req: &SignatureRequest, ctx: &Context) -> ScanReport {
    let started_at = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let mut findings = Vec::new();
    let (target, mut subject) = match req {
        SignatureRequest::TypedData(t) => typed_data(t, ctx, &mut findings),
        SignatureRequest::Personal(bytes) => personal(bytes, ctx, &mut findings),
        SignatureRequest::EthSign(hash) => {
            findings.push(
                Finding::new(
                    &rules::ETH_SIGN_RAW_HASH,
                    format!("The request asks for a signature over the raw hash {hash}."),
                )
                .with("hash", hash.to_string()),
            );
            (hash.to_string(), json!({ "type": "eth_sign", "hash": hash.to_string() }))
        }
    };
    if let SignatureRequest::TypedData(t) = req {
        let mut targets: Vec<(Address, &str, String)> = Vec::new();
        if let Some(v) = t.typed.domain.verifying_contract {
            targets.push((v, "verifying_contract", "domain.verifyingContract".to_owned()));
        }
        collect_addresses(&t.typed.message, "message", "message", &mut targets);
        findings.extend(screen::screen_all(ctx, targets));
    }
    findings.extend(screen::origin_findings(ctx));
    screen::soften_known_spenders(ctx, &mut findings);
    subject["signing_hash"] = json!(req.signing_hash().to_string());
    if let Some(origin) = &ctx.origin {
        subject["origin"] = json!(origin);
    }
    ScanReport::new(
        ScanKind::Signature,
        target,
        &ctx.chain,
        findings,
        Subject::json(subject),
        started_at,
        clock.elapsed(),
        vec![],
    )
}

fn personal(bytes: &[u8], ctx: &Context, out: &mut Vec<Finding>) -> (String, Value) {
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')));
    let Some(text) = text else {
        let hex = format!("0x{}", hex::encode(bytes));
        out.push(
            Finding::new(
                &rules::PERSONAL_SIGN_UNREADABLE,
                format!("The {}-byte payload is not readable text.", bytes.len()),
            )
            .with("bytes", hex.clone())
            .with("length", bytes.len()),
        );
        return ("personal_sign message".to_owned(), json!({ "type": "personal_sign", "hex": hex }));
    };
    let mut subject = json!({ "type": "personal_sign", "text": text });
    let Some(msg) = SiweMessage::parse(text) else {
        return ("personal_sign message".to_owned(), subject);
    };
    match &ctx.origin {
        Some(origin) if !siwe::same_site(&msg.domain, origin) => out.push(
            Finding::new(
                &rules::SIWE_DOMAIN_MISMATCH,
                format!(
                    "The sign-in message is for `{}` but `{}` is asking for it.",
                    msg.domain,
                    siwe::origin_authority(origin)
                ),
            )
            .with("siwe_domain", msg.domain.clone())
            .with("origin", origin.clone())
            .at("message.domain"),
        ),
        Some(_) => {}
        None => {
            subject["note"] = json!("no --origin given: the sign-in domain was not compared with the requesting site")
        }
    }
    let target = format!("sign-in to {}", msg.domain);
    subject["siwe"] = json!(msg);
    (target, subject)
}

/// Reads a uint from a typed-data message field (already validated by EIP-712 coercion).
/// Parsed exactly as the signing hash parses it (which also accepts `0b`/`0o` prefixes and
/// `_` separators), so that the value analysed is the value signed.
fn uint(v: Option<&Value>) -> U256 {
    v.and_then(|v| DynSolType::Uint(256).coerce_json(v).ok())
        .and_then(|v| v.as_uint())
        .map(|(u, _)| u)
        .unwrap_or_default()
}

/// Reads a bool the way the signing hash does (`"true"` as a string is `true`).
fn boolean(v: Option<&Value>) -> bool {
    v.and_then(|v| DynSolType::Bool.coerce_json(v).ok()).and_then(|v| v.as_bool()).unwrap_or(false)
}

fn addr_of(v: Option<&Value>) -> Address {
    v.and_then(Value::as_str).and_then(|s| s.trim().parse::<Address>().ok()).unwrap_or_default()
}

fn has(o: &Value, fields: &[&str]) -> bool {
    fields.iter().all(|f| o.get(f).is_some())
}

fn cs(a: Address) -> String {
    a.to_checksum(None)
}

fn typed_data(t: &TypedDataRequest, ctx: &Context, out: &mut Vec<Finding>) -> (String, Value) {
    let typed = &t.typed;
    let d = &typed.domain;
    let m = &typed.message;
    let primary = typed.primary_type.as_str();
    let verifying = d.verifying_contract;

    if let Some(chain_id) = d.chain_id
        && chain_id != U256::from(ctx.chain.id)
    {
        out.push(
            Finding::new(
                &rules::TYPED_DATA_CHAIN_MISMATCH,
                format!("The signature is for chain {chain_id}, but the wallet is on {}.", ctx.chain),
            )
            .with("domain_chain_id", chain_id.to_string())
            .with("expected_chain_id", ctx.chain.id)
            .at("domain.chainId"),
        );
    }
    let permit2_types = [
        "PermitSingle",
        "PermitBatch",
        "PermitTransferFrom",
        "PermitBatchTransferFrom",
        "PermitWitnessTransferFrom",
        "PermitBatchWitnessTransferFrom",
    ];
    let is_permit2 = permit2_types.contains(&primary) || d.name.as_deref() == Some("Permit2");
    let is_seaport = primary == "OrderComponents" || primary == "BulkOrder";
    let unusual = |msg: String, v: Address| {
        Finding::new(&rules::TYPED_DATA_UNUSUAL_VERIFYING_CONTRACT, msg)
            .with("verifying_contract", cs(v))
            .at("domain.verifyingContract")
            .about(v)
    };
    match verifying {
        Some(v) if v.is_zero() => out.push(unusual("The verifying contract is the zero address.".into(), v)),
        Some(v) if is_permit2 && v != PERMIT2 => out.push(
            unusual(format!("A Permit2 `{primary}` message names {v} instead of the canonical Permit2 {PERMIT2}."), v)
                .with("expected", cs(PERMIT2)),
        ),
        Some(v) if is_seaport && !SEAPORT.contains(&v) => out.push(
            unusual(format!("A Seaport order names {v}, which is not a known Seaport deployment."), v)
                .with("expected_one_of", SEAPORT.iter().map(|a| cs(*a)).collect::<Vec<_>>()),
        ),
        _ => {}
    }

    let token = verifying.map(cs);
    let token_name = token.clone().unwrap_or_else(|| "(no verifying contract)".to_owned());
    let mut summary = json!({});
    match primary {
        "Permit" if has(m, &["owner", "spender", "value", "deadline"]) => {
            let spender = addr_of(m.get("spender"));
            let value = uint(m.get("value"));
            spender_at(spender, "message.spender", out);
            let f = if is_unlimited(value) {
                Finding::new(
                    &rules::PERMIT_UNLIMITED,
                    format!(
                        "Lets {spender} spend an unlimited amount of token {token_name} (value {}).",
                        describe_amount(value)
                    ),
                )
                .with("threshold", UNLIMITED_THRESHOLD_DEC)
            } else {
                Finding::new(
                    &rules::PERMIT_SIGNATURE,
                    format!("Lets {spender} spend {value} base units of token {token_name}."),
                )
            };
            out.push(
                f.with("spender", cs(spender))
                    .with("value", value.to_string())
                    .with("token", token.clone())
                    .at("message.value"),
            );
            if let Some(f) = long_expiration(&rules::PERMIT_LONG_DEADLINE, ctx, uint(m.get("deadline")), "deadline") {
                out.push(f.with("token", token.clone()).at("message.deadline"));
            }
            summary =
                json!({ "kind": "erc2612-permit", "token": token, "spender": cs(spender), "value": value.to_string() });
        }
        "Permit" if has(m, &["holder", "spender", "expiry", "allowed"]) => {
            let spender = addr_of(m.get("spender"));
            let allowed = boolean(m.get("allowed"));
            let expiry = uint(m.get("expiry"));
            spender_at(spender, "message.spender", out);
            if allowed {
                out.push(
                    Finding::new(
                        &rules::PERMIT_UNLIMITED,
                        format!("DAI-style permit: `allowed: true` gives {spender} an unlimited allowance of token {token_name}."),
                    )
                    .with("spender", cs(spender))
                    .with("allowed", true)
                    .with("token", token.clone())
                    .at("message.allowed"),
                );
                if expiry.is_zero() {
                    out.push(
                        Finding::new(
                            &rules::PERMIT_LONG_DEADLINE,
                            "The permit's expiry is 0, which DAI treats as never expiring.",
                        )
                        .with("expiry", "0")
                        .with("token", token.clone())
                        .at("message.expiry"),
                    );
                } else if let Some(f) = long_expiration(&rules::PERMIT_LONG_DEADLINE, ctx, expiry, "expiry") {
                    out.push(f.with("token", token.clone()).at("message.expiry"));
                }
            }
            summary = json!({ "kind": "dai-permit", "token": token, "spender": cs(spender), "allowed": allowed });
        }
        "PermitSingle" | "PermitBatch" if has(m, &["details", "spender", "sigDeadline"]) => {
            let spender = addr_of(m.get("spender"));
            spender_at(spender, "message.spender", out);
            let details: Vec<(String, &Value)> = match m.get("details") {
                Some(Value::Array(items)) => {
                    items.iter().enumerate().map(|(i, v)| (format!("message.details[{i}]"), v)).collect()
                }
                Some(v) => vec![("message.details".to_owned(), v)],
                None => vec![],
            };
            let mut allowances = Vec::new();
            for (path, det) in details {
                let tok = addr_of(det.get("token"));
                let amount = uint(det.get("amount"));
                if is_unlimited(amount) {
                    out.push(
                        Finding::new(
                            &rules::PERMIT2_UNLIMITED_ALLOWANCE,
                            format!("Permit2 lets {spender} spend an unlimited amount of {tok}."),
                        )
                        .with("token", cs(tok))
                        .with("spender", cs(spender))
                        .with("amount", amount.to_string())
                        .with("threshold", UNLIMITED_THRESHOLD_DEC)
                        .at(format!("{path}.amount")),
                    );
                }
                if let Some(f) =
                    long_expiration(&rules::PERMIT2_LONG_EXPIRATION, ctx, uint(det.get("expiration")), "expiration")
                {
                    out.push(f.with("token", cs(tok)).with("spender", cs(spender)).at(format!("{path}.expiration")));
                }
                allowances.push(json!({ "token": cs(tok), "amount": amount.to_string(), "expiration": uint(det.get("expiration")).to_string() }));
            }
            if let Some(f) =
                long_expiration(&rules::PERMIT2_LONG_EXPIRATION, ctx, uint(m.get("sigDeadline")), "sigDeadline")
            {
                out.push(f.with("spender", cs(spender)).at("message.sigDeadline"));
            }
            summary = json!({ "kind": "permit2-allowance", "spender": cs(spender), "allowances": allowances });
        }
        p if p.starts_with("Permit") && p.contains("TransferFrom") && has(m, &["permitted", "spender", "deadline"]) => {
            let spender = addr_of(m.get("spender"));
            spender_at(spender, "message.spender", out);
            let permitted: Vec<(String, &Value)> = match m.get("permitted") {
                Some(Value::Array(items)) => {
                    items.iter().enumerate().map(|(i, v)| (format!("message.permitted[{i}]"), v)).collect()
                }
                Some(v) => vec![("message.permitted".to_owned(), v)],
                None => vec![],
            };
            let mut tokens = Vec::new();
            for (path, p) in &permitted {
                let tok = addr_of(p.get("token"));
                let amount = uint(p.get("amount"));
                if is_unlimited(amount) {
                    out.push(
                        Finding::new(
                            &rules::PERMIT2_UNLIMITED_ALLOWANCE,
                            format!("The signature lets {spender} transfer an unlimited amount of {tok}."),
                        )
                        .with("token", cs(tok))
                        .with("spender", cs(spender))
                        .with("amount", amount.to_string())
                        .with("threshold", UNLIMITED_THRESHOLD_DEC)
                        .at(format!("{path}.amount")),
                    );
                }
                tokens.push(json!({ "token": cs(tok), "amount": amount.to_string() }));
            }
            out.push(
                Finding::new(
                    &rules::PERMIT2_SIGNATURE_TRANSFER,
                    format!(
                        "`{primary}` lets {spender} transfer {} token amount(s) out of the account immediately.",
                        tokens.len()
                    ),
                )
                .with("spender", cs(spender))
                .with("permitted", tokens.clone())
                .at("message.permitted"),
            );
            if let Some(f) = long_expiration(&rules::PERMIT2_LONG_EXPIRATION, ctx, uint(m.get("deadline")), "deadline")
            {
                out.push(f.with("spender", cs(spender)).at("message.deadline"));
            }
            summary = json!({ "kind": "permit2-transfer", "spender": cs(spender), "permitted": tokens, "witness": m.get("witness") });
        }
        "OrderComponents" | "BulkOrder" => {
            let mut orders = Vec::new();
            collect_seaport_orders(m, "message", &mut orders);
            for (path, order) in &orders {
                seaport_order(order, path, out);
            }
            summary = json!({ "kind": "seaport-order", "orders": orders.len() });
        }
        "Order" if has(m, &["trader", "side", "collection", "price", "paymentToken"]) => {
            // Blur: side 1 = sell.
            if uint(m.get("side")) == U256::from(1) {
                let price = uint(m.get("price"));
                let trader = addr_of(m.get("trader"));
                let fees = m.get("fees").and_then(Value::as_array).cloned().unwrap_or_default();
                let fee_bps: U256 =
                    fees.iter().map(|f| uint(f.get("rate"))).fold(U256::ZERO, |a, b| a.saturating_add(b));
                if price < U256::from(DUST) {
                    out.push(
                        undervalued("Blur", &cs(trader), price, "message.price")
                            .with("collection", cs(addr_of(m.get("collection")))),
                    );
                } else if fee_bps > U256::from(5000) {
                    out.push(
                        Finding::new(
                            &rules::NFT_ORDER_THIRD_PARTY_CONSIDERATION,
                            format!(
                                "Blur listing pays {}% of the price as fees to other addresses.",
                                fee_bps / U256::from(100)
                            ),
                        )
                        .with("fee_bps", fee_bps.to_string())
                        .with("fees", Value::Array(fees))
                        .at("message.fees"),
                    );
                }
            }
            summary = json!({ "kind": "blur-order", "side": uint(m.get("side")).to_string(), "price": uint(m.get("price")).to_string() });
        }
        "Maker" if has(m, &["quoteType", "signer", "collection", "price", "currency"]) => {
            // LooksRare v2: quoteType 1 = ask (sell).
            if uint(m.get("quoteType")) == U256::from(1) {
                let price = uint(m.get("price"));
                if price < U256::from(DUST) {
                    out.push(
                        undervalued("LooksRare", &cs(addr_of(m.get("signer"))), price, "message.price")
                            .with("collection", cs(addr_of(m.get("collection")))),
                    );
                }
            }
            summary = json!({ "kind": "looksrare-maker", "quoteType": uint(m.get("quoteType")).to_string(), "price": uint(m.get("price")).to_string() });
        }
        _ => {}
    }
    let target = token.unwrap_or_else(|| d.name.as_deref().unwrap_or("typed data").to_owned());
    let subject = json!({
        "type": "typed_data",
        "primary_type": primary,
        "domain": d,
        "message": m,
        "signer": t.signer.map(cs),
        "summary": summary,
    });
    (target, subject)
}

fn spender_at(spender: Address, path: &str, out: &mut Vec<Finding>) {
    if let Some(f) = spender_finding("spender", spender) {
        out.push(f.at(path));
    }
}

fn undervalued(market: &str, seller: &str, paid: U256, path: &str) -> Finding {
    Finding::new(
        &rules::NFT_ORDER_UNDERVALUED,
        format!("{market} listing by {seller} sells NFTs for {paid} base units: practically nothing."),
    )
    .with("marketplace", market)
    .with("seller", seller)
    .with("payment_to_seller", paid.to_string())
    .with("dust_threshold", DUST.to_string())
    .at(path)
}

/// Finds every `OrderComponents`-shaped object (a BulkOrder nests them in a tree).
fn collect_seaport_orders<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(o) if has(v, &["offerer", "offer", "consideration"]) => {
            let _ = o;
            out.push((path.to_owned(), v));
        }
        Value::Object(o) => {
            for (k, child) in o {
                collect_seaport_orders(child, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_seaport_orders(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn seaport_order(order: &Value, path: &str, out: &mut Vec<Finding>) {
    let offerer = addr_of(order.get("offerer"));
    let items = |k: &str| order.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
    let offer = items("offer");
    let consideration = items("consideration");
    // Item types: 0 native, 1 ERC-20, 2 ERC-721, 3 ERC-1155, 4/5 with criteria.
    let is_nft = |i: &Value| (2..=5).contains(&uint(i.get("itemType")).saturating_to::<u64>());
    let nfts_offered = offer.iter().filter(|i| is_nft(i)).count();
    if nfts_offered == 0 {
        return;
    }
    // Per currency (native = zero address): the worst-case amount to the offerer and to others.
    // Sums saturate: amounts are attacker-chosen and must not wrap around to look small.
    let mut to_offerer: BTreeMap<Address, U256> = BTreeMap::new();
    let mut to_others: BTreeMap<Address, U256> = BTreeMap::new();
    let mut others: Vec<Value> = Vec::new();
    for c in &consideration {
        let ty = uint(c.get("itemType")).saturating_to::<u64>();
        if ty > 1 {
            continue;
        }
        let currency = if ty == 0 { Address::ZERO } else { addr_of(c.get("token")) };
        let amount = uint(c.get("startAmount")).min(uint(c.get("endAmount")));
        let recipient = addr_of(c.get("recipient"));
        // Every currency gets an entry for the offerer, so the check below visits it.
        let mine = to_offerer.entry(currency).or_default();
        if recipient == offerer {
            *mine = mine.saturating_add(amount);
        } else {
            let theirs = to_others.entry(currency).or_default();
            *theirs = theirs.saturating_add(amount);
            others.push(json!({ "recipient": cs(recipient), "currency": cs(currency), "amount": amount.to_string() }));
        }
    }
    let paid_to_offerer = to_offerer.values().copied().max().unwrap_or_default();
    if paid_to_offerer < U256::from(DUST) {
        out.push(
            undervalued("Seaport", &cs(offerer), paid_to_offerer, &format!("{path}.consideration"))
                .with("nfts_offered", nfts_offered)
                .with("payments_to_others", Value::Array(others)),
        );
        return;
    }
    for (currency, mine) in &to_offerer {
        let mine = *mine;
        let theirs = to_others.get(currency).copied().unwrap_or_default();
        let t = mine.saturating_add(theirs);
        if theirs > mine {
            out.push(
                Finding::new(
                    &rules::NFT_ORDER_THIRD_PARTY_CONSIDERATION,
                    format!("Of {t} base units of {currency} paid for this order, {theirs} go to addresses other than the seller {offerer}."),
                )
                .with("seller", cs(offerer))
                .with("currency", cs(*currency))
                .with("total", t.to_string())
                .with("to_seller", mine.to_string())
                .with("payments_to_others", Value::Array(others.clone()))
                .at(format!("{path}.consideration")),
            );
        }
    }
}

/// Every address-shaped string in a typed-data message, with the name of its field as role.
fn collect_addresses<'a>(v: &'a Value, key: &'a str, path: &str, out: &mut Vec<(Address, &'a str, String)>) {
    match v {
        Value::String(s) if s.len() == 42 && s.starts_with("0x") => {
            if let Ok(a) = s.parse::<Address>() {
                out.push((a, key, path.to_owned()));
            }
        }
        Value::Object(o) => {
            for (k, child) in o {
                collect_addresses(child, k, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_addresses(child, key, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}
