//! Wallet analysis: a pure function of a [`WalletSnapshot`] and the intel in a [`Context`].
//!
//! It builds the inventory of permissions still in force (ERC-20 allowances, single-NFT and
//! operator approvals, Permit2 allowances), judges each one, checks the wallet's EIP-7702
//! delegation, screens counterparties and runs the address-poisoning detector over the
//! transfer history. Time comes from the snapshot (the head block's timestamp), so the same
//! snapshot always gives the same findings.

use std::{collections::HashMap, time::Instant};

use alloy_primitives::{Address, U256};
use serde::Serialize;
use serde_json::json;

use super::snapshot::*;
use crate::{
    chain::Chain,
    checks::{describe_amount, format_units},
    context::{Context, ONE_YEAR_SECS},
    evm::{is_unlimited, is_vanity_zero_pattern},
    intel::{
        Label,
        poisoning::{self, History},
        screen,
    },
    model::{Finding, ScanKind, ScanReport, ScanStatus, Severity, Subject},
    rules,
};

/// Seconds after which an unused permission is stale.
pub const STALE_AFTER_SECS: u64 = 180 * 24 * 3600;

/// What kind of permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionKind {
    /// ERC-20 `approve`.
    Erc20,
    /// ERC-721 `approve` of one token id.
    Erc721,
    /// ERC-721 / ERC-1155 `setApprovalForAll`.
    Operator,
    /// Permit2 allowance.
    Permit2,
}

impl PermissionKind {
    /// Short name for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionKind::Erc20 => "erc20",
            PermissionKind::Erc721 => "erc721",
            PermissionKind::Operator => "operator",
            PermissionKind::Permit2 => "permit2",
        }
    }
}

/// One permission still in force: the approval inventory row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Permission {
    /// Kind.
    pub kind: PermissionKind,
    /// Token or collection.
    #[serde(serialize_with = "super::checksummed")]
    pub token: Address,
    /// Its symbol, as the contract reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_symbol: Option<String>,
    /// Spender (ERC-20, Permit2), approved address (ERC-721) or operator.
    #[serde(serialize_with = "super::checksummed")]
    pub spender: Address,
    /// Threat-intel names of the spender (known-good or flagged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spender_label: Option<String>,
    /// `contract`, `eoa`, `uninitialised`, `delegated-eoa` or `unknown`.
    pub spender_type: &'static str,
    /// The ERC-721 token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The Permit2 contract.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "super::checksummed_opt")]
    pub permit2: Option<Address>,
    /// Allowance in base units (decimal string); absent for NFT approvals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The amount for people (`unlimited (2^256 - 1)`, `1.5 USDC`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_display: Option<String>,
    /// Whether the amount counts as unlimited.
    pub unlimited: bool,
    /// Permit2 expiration (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<u64>,
    /// The wallet's balance of the token (base units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// min(allowance, balance) for fungible tokens (base units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_at_risk: Option<String>,
    /// The same for people, with decimals and symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_at_risk_display: Option<String>,
    /// The event that granted the permission in its current form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<EventRef>,
    /// Days since it was granted, at the scanned block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_days: Option<u64>,
    /// Days since the last approval change or outgoing transfer of the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_days: Option<u64>,
    /// Whether the current state was read on chain (false: inferred from the last event
    /// because the read failed).
    pub verified: bool,
    /// Rule ids of the findings about this permission.
    pub risk_factors: Vec<String>,
    /// The most severe of those findings (info when none).
    pub severity: Severity,
}

/// The inventory and findings of one snapshot.
#[derive(Debug, Clone)]
pub struct WalletAnalysis {
    /// Permissions in force, riskiest first.
    pub permissions: Vec<Permission>,
    /// Every finding.
    pub findings: Vec<Finding>,
}

/// The full report of a wallet scan.
pub fn analyze(snap: &WalletSnapshot, ctx: &Context) -> ScanReport {
    let started = Instant::now();
    let analysis = analyze_parts(snap, ctx);
    let chain = Chain::from_id(snap.chain_id);
    let mut datasets = screen::datasets_used(ctx);
    if let Ok(known) = crate::intel::bundled::known_tokens(snap.chain_id)
        && let Some(d) = known.dataset()
        && !datasets.contains(&d)
    {
        datasets.push(d);
    }
    let subject = Subject::json(json!({
        "type": "wallet",
        "wallet": snap.wallet.to_checksum(None),
        "delegate": snap.wallet_account.delegate().map(|d| d.to_checksum(None)),
        "coverage": {
            "chain_id": snap.chain_id,
            "from_block": snap.from_block,
            "to_block": snap.to_block,
            "to_block_timestamp": snap.to_block_timestamp,
            "collected_at": snap.collected_at,
            "permission_events": snap.events.len(),
            "transfers": snap.transfers.len(),
            "gaps": snap.gaps,
            "not_covered": "native-coin transfers (eth_getLogs does not see them) and ERC-1155 transfers",
        },
        "approvals": analysis.permissions,
    }));
    let mut report = ScanReport::new(
        ScanKind::Wallet,
        snap.wallet.to_checksum(None),
        &chain,
        analysis.findings,
        subject,
        ctx.now,
        started.elapsed(),
        datasets,
    );
    if !snap.gaps.is_empty() {
        let what: Vec<&str> = snap.gaps.iter().take(3).map(|g| g.what.as_str()).collect();
        let more = snap.gaps.len().saturating_sub(3);
        let mut reason = format!("{} data gap(s): {}", snap.gaps.len(), what.join("; "));
        if more > 0 {
            reason.push_str(&format!("; and {more} more"));
        }
        report.status = ScanStatus::Incomplete { reason };
    }
    report
}

/// The inventory and the findings, without the report around them.
pub fn analyze_parts(snap: &WalletSnapshot, ctx: &Context) -> WalletAnalysis {
    let now = snap.to_block_timestamp;
    let mut permissions = inventory(snap);
    let mut findings = Vec::new();

    // Last outgoing transfer per token: "use" of a permission, for staleness.
    let mut last_out: HashMap<Address, u64> = HashMap::new();
    for t in &snap.transfers {
        if t.from == snap.wallet
            && let (Some(token), Some(ts)) = (t.token, t.timestamp)
        {
            let e = last_out.entry(token).or_default();
            *e = (*e).max(ts);
        }
    }

    for (i, p) in permissions.iter_mut().enumerate() {
        let path = format!("approvals[{i}]");
        let facts = snap.accounts.get(&p.spender);
        p.spender_type = match facts {
            None => "unknown",
            Some(f) if f.delegate().is_some() => "delegated-eoa",
            Some(f) if f.is_contract() => "contract",
            Some(f) if f.is_uninitialised() => "uninitialised",
            Some(_) => "eoa",
        };
        if let Some(index) = &ctx.intel {
            p.spender_label = screen::benign_context(index, snap.chain_id, &p.spender)
                .map(|(_, names)| names)
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    index.lookup(snap.chain_id, &p.spender).map(|r| r.name.to_string()).find(|n| !n.is_empty())
                });
        }
        let last_event = p.granted.and_then(|g| g.timestamp);
        p.age_days = last_event.map(|t| now.saturating_sub(t) / 86_400);
        let last_use = last_event.max(last_out.get(&p.token).copied());
        p.idle_days = last_use.map(|t| now.saturating_sub(t) / 86_400);

        let who = if matches!(p.kind, PermissionKind::Operator) { "operator" } else { "spender" };
        let token_name = p.token_symbol.clone().unwrap_or_else(|| p.token.to_checksum(None));
        let base = |rule: &rules::Rule, message: String| {
            let mut f = Finding::new(rule, message)
                .with("kind", p.kind.as_str())
                .with("token", p.token.to_checksum(None))
                .with(who, p.spender.to_checksum(None))
                .with("spender_type", p.spender_type)
                .with("verified_on_chain", p.verified)
                .at(path.clone())
                .about(p.spender);
            if let Some(s) = &p.token_symbol {
                f = f.with("token_symbol", s.clone());
            }
            if let Some(a) = &p.amount {
                f = f.with("allowance", a.clone());
            }
            if let Some(v) = &p.value_at_risk {
                f = f.with("value_at_risk", v.clone());
            }
            if let Some(id) = &p.token_id {
                f = f.with("token_id", id.clone());
            }
            if let Some(g) = &p.granted {
                f = f.with("granted_block", g.block).with("granted_tx", g.tx_hash.to_string());
            }
            if let Some(p2) = p.permit2 {
                f = f.with("permit2", p2.to_checksum(None));
            }
            f
        };
        let mut mine: Vec<Finding> = Vec::new();
        let risk = p.value_at_risk_display.as_deref().map(|v| format!(" Value at risk now: {v}.")).unwrap_or_default();
        match p.kind {
            PermissionKind::Erc20 if p.unlimited => mine.push(base(
                &rules::WALLET_APPROVAL_UNLIMITED,
                format!("{} may spend an unlimited amount of {token_name} from this wallet.{risk}", p.spender),
            )),
            PermissionKind::Permit2 if p.unlimited => mine.push(base(
                &rules::WALLET_PERMIT2_UNLIMITED,
                format!("{} holds an unlimited Permit2 allowance for {token_name}.{risk}", p.spender),
            )),
            PermissionKind::Operator => mine.push(base(
                &rules::WALLET_NFT_OPERATOR,
                format!("{} may transfer every item of the collection {token_name} held by this wallet.", p.spender),
            )),
            PermissionKind::Erc721 => mine.push(base(
                &rules::WALLET_NFT_TOKEN_APPROVAL,
                format!("{} may transfer {token_name} #{}.", p.spender, p.token_id.as_deref().unwrap_or("?")),
            )),
            _ => {}
        }
        if let (PermissionKind::Permit2, Some(exp)) = (p.kind, p.expiration)
            && exp > now.saturating_add(ONE_YEAR_SECS as u64)
        {
            mine.push(
                base(
                    &rules::WALLET_PERMIT2_LONG_EXPIRY,
                    format!(
                        "The Permit2 allowance of {} for {token_name} expires in {} days.",
                        p.spender,
                        (exp - now) / 86_400
                    ),
                )
                .with("expiration", exp),
            );
        }
        if matches!(p.spender_type, "eoa" | "uninitialised") {
            let what = if p.spender_type == "eoa" {
                "a plain account (no contract code)"
            } else {
                "an address that has never been used (no code, no transactions)"
            };
            mine.push(base(&rules::WALLET_APPROVAL_EOA_SPENDER, format!("The {who} {} is {what}.", p.spender)));
        }
        if is_vanity_zero_pattern(&p.spender) {
            mine.push(base(
                &rules::WALLET_APPROVAL_VANITY_SPENDER,
                format!("The {who} {} has the drainer vanity pattern 0x0000…0000.", p.spender),
            ));
        }
        if let Some(idle) = p.idle_days
            && idle * 86_400 >= STALE_AFTER_SECS
        {
            mine.push(
                base(
                    &rules::WALLET_APPROVAL_STALE,
                    format!("This permission for {token_name} has not been used or changed for {idle} days."),
                )
                .with("idle_days", idle),
            );
        }
        if let Some(index) = &ctx.intel {
            for f in screen::screen(index, snap.chain_id, p.spender, who) {
                mine.push(f.at(path.clone()).with("token", p.token.to_checksum(None)));
            }
        }
        screen::soften_known_spenders(ctx, &mut mine);
        p.risk_factors = mine.iter().map(|f| f.rule_id.to_string()).collect();
        p.severity = mine.iter().map(|f| f.severity).max().unwrap_or(Severity::Info);
        findings.extend(mine);
    }

    // The wallet's own code: an EIP-7702 delegation.
    if let Some(delegate) = snap.wallet_account.delegate() {
        let flagged: Vec<Finding> = ctx
            .intel
            .as_ref()
            .map(|index| screen::screen(index, snap.chain_id, delegate, "delegate"))
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.at("delegate"))
            .collect();
        let known = ctx.intel.as_ref().and_then(|i| screen::benign_context(i, snap.chain_id, &delegate));
        let delegate_code = snap.accounts.get(&delegate).map(|a| a.code.len());
        let (severity, why) = if flagged.iter().any(|f| f.severity >= Severity::High) {
            (Severity::Critical, "a delegate that threat intelligence flags".to_owned())
        } else if let Some((_, names)) = known.filter(|(l, _)| l.contains(Label::WalletDelegate)) {
            (Severity::Low, format!("a known wallet implementation ({names})"))
        } else {
            (Severity::High, "a delegate that no dataset knows".to_owned())
        };
        findings.push(
            Finding::new(
                &rules::WALLET_EIP7702_DELEGATED,
                format!("The wallet is delegated with EIP-7702 to {delegate}, {why}: that code runs for every call to the wallet."),
            )
            .severity(severity)
            .with("delegate", delegate.to_checksum(None))
            .with("designator", snap.wallet_account.code.to_string())
            .with("delegate_code_size", delegate_code)
            .at("delegate")
            .about(delegate),
        );
        findings.extend(flagged);
    }

    // Counterparties and the transfer history.
    let counterparties =
        snap.transfers.iter().enumerate().map(|(i, t)| {
            (if t.from == snap.wallet { t.to } else { t.from }, "counterparty", format!("transfers[{i}]"))
        });
    findings.extend(screen::screen_all(ctx, counterparties));
    if !snap.transfers.is_empty() {
        let history = History { wallet: snap.wallet, transfers: snap.transfers.clone() };
        let known = crate::intel::bundled::known_tokens(snap.chain_id).unwrap_or_default();
        findings.extend(poisoning::analyze(&history, &known));
    }

    if !snap.gaps.is_empty() {
        findings.push(
            Finding::new(
                &rules::WALLET_DATA_INCOMPLETE,
                format!(
                    "{} part(s) of the on-chain data could not be collected; the findings are a lower bound.",
                    snap.gaps.len()
                ),
            )
            .with("gaps", serde_json::to_value(&snap.gaps).unwrap_or_default()),
        );
    }

    permissions.sort_by_key(|p| std::cmp::Reverse(p.severity));
    WalletAnalysis { permissions, findings }
}

/// The permissions still in force at the snapshot block, in a stable order (before risk
/// sorting): ERC-20, ERC-721, operators, Permit2.
pub fn inventory(snap: &WalletSnapshot) -> Vec<Permission> {
    let now = snap.to_block_timestamp;
    let mut out = Vec::new();
    let tokens = &snap.tokens;
    let symbol = |t: &Address| tokens.get(t).and_then(|f| f.symbol.clone());
    let blank = |kind, token: Address, spender| Permission {
        kind,
        token,
        token_symbol: symbol(&token),
        spender,
        spender_label: None,
        spender_type: "unknown",
        token_id: None,
        permit2: None,
        amount: None,
        amount_display: None,
        unlimited: false,
        expiration: None,
        balance: None,
        value_at_risk: None,
        value_at_risk_display: None,
        granted: None,
        age_days: None,
        idle_days: None,
        verified: true,
        risk_factors: Vec::new(),
        severity: Severity::Info,
    };
    let fungible = |p: &mut Permission, amount: U256| {
        let facts = tokens.get(&p.token);
        let decimals = facts.and_then(|f| f.decimals);
        let sym = p.token_symbol.clone().unwrap_or_default();
        let show = |v: U256| match decimals {
            Some(d) => format!("{} {sym}", format_units(v, d)).trim_end().to_owned(),
            None => format!("{v} base units {sym}").trim_end().to_owned(),
        };
        p.unlimited = is_unlimited(amount);
        p.amount = Some(amount.to_string());
        p.amount_display =
            Some(if p.unlimited { format!("unlimited ({})", describe_amount(amount)) } else { show(amount) });
        if let Some(balance) = facts.and_then(|f| f.balance) {
            let at_risk = amount.min(balance);
            p.balance = Some(balance.to_string());
            p.value_at_risk = Some(at_risk.to_string());
            p.value_at_risk_display = Some(show(at_risk));
        }
    };

    // ERC-20: the on-chain allowance; the last event only when the read failed.
    for a in &snap.allowances {
        let last = last_event(
            snap,
            |e| matches!(e, PermissionEvent::Erc20Approval { token, spender, .. } if *token == a.token && *spender == a.spender),
        );
        let (amount, verified) = match a.allowance {
            Some(v) => (v, true),
            None => match last {
                Some(PermissionEvent::Erc20Approval { value, .. }) => (*value, false),
                _ => continue,
            },
        };
        if amount.is_zero() {
            continue;
        }
        let mut p = blank(PermissionKind::Erc20, a.token, a.spender);
        p.verified = verified;
        p.granted = last.map(|e| *e.at());
        fungible(&mut p, amount);
        out.push(p);
    }
    // ERC-721 single approvals: approved address set and the wallet still owns the token.
    for n in &snap.nft_approvals {
        let last = last_event(
            snap,
            |e| matches!(e, PermissionEvent::Erc721Approval { token, token_id, .. } if *token == n.token && *token_id == n.token_id),
        );
        let (approved, verified) = match (n.approved, n.owner) {
            (Some(a), Some(owner)) => (if owner == snap.wallet { a } else { Address::ZERO }, true),
            (_, Some(owner)) if owner != snap.wallet => (Address::ZERO, true),
            _ => match last {
                Some(PermissionEvent::Erc721Approval { approved, .. }) => (*approved, false),
                _ => continue,
            },
        };
        if approved.is_zero() {
            continue;
        }
        let mut p = blank(PermissionKind::Erc721, n.token, approved);
        p.verified = verified;
        p.token_id = Some(n.token_id.to_string());
        p.granted = last.map(|e| *e.at());
        out.push(p);
    }
    for o in &snap.operators {
        let last = last_event(
            snap,
            |e| matches!(e, PermissionEvent::ApprovalForAll { token, operator, .. } if *token == o.token && *operator == o.operator),
        );
        let (approved, verified) = match o.approved {
            Some(a) => (a, true),
            None => match last {
                Some(PermissionEvent::ApprovalForAll { approved, .. }) => (*approved, false),
                _ => continue,
            },
        };
        if !approved {
            continue;
        }
        let mut p = blank(PermissionKind::Operator, o.token, o.operator);
        p.verified = verified;
        p.granted = last.map(|e| *e.at());
        out.push(p);
    }
    for s in &snap.permit2_allowances {
        let last = last_event(snap, |e| {
            matches!(e, PermissionEvent::Permit2 { permit2, token, spender, .. }
                if *permit2 == s.permit2 && *token == s.token && *spender == s.spender)
        });
        let (amount, expiration, verified) = match s.allowance {
            Some(a) => (a.amount, a.expiration, true),
            None => match last {
                Some(PermissionEvent::Permit2 { amount, expiration, .. }) => (*amount, *expiration, false),
                _ => continue,
            },
        };
        // Permit2 treats an allowance as spent once block.timestamp > expiration.
        if amount.is_zero() || expiration < now {
            continue;
        }
        let mut p = blank(PermissionKind::Permit2, s.token, s.spender);
        p.verified = verified;
        p.permit2 = Some(s.permit2);
        p.expiration = Some(expiration);
        p.granted = last.map(|e| *e.at());
        fungible(&mut p, amount);
        out.push(p);
    }
    out
}

fn last_event(snap: &WalletSnapshot, pred: impl Fn(&PermissionEvent) -> bool) -> Option<&PermissionEvent> {
    snap.events.iter().rev().find(|e| pred(e))
}
