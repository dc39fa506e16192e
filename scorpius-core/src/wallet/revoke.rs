//! Revoke plans: the unsigned transactions that withdraw risky permissions, one per kind of
//! permission. Scorpius never signs and never broadcasts; a wallet shows these to its user.

use std::collections::BTreeMap;

use alloy_primitives::{Address, Bytes, U256, aliases::U48, aliases::U160};
use alloy_sol_types::SolCall;
use serde::Serialize;

use super::{
    abi::{IERC20, IERC721, IPermit2},
    analyze::{Permission, PermissionKind},
};
use crate::model::Severity;

/// The format tag of revoke plans.
pub const PLAN_FORMAT: &str = "scorpius-revoke-plan/v1";

/// One unsigned transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokeTx {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The wallet (the only account that can send it).
    #[serde(serialize_with = "super::checksummed")]
    pub from: Address,
    /// Token, collection or Permit2 contract.
    #[serde(serialize_with = "super::checksummed")]
    pub to: Address,
    /// Calldata.
    pub data: Bytes,
    /// Always zero.
    pub value: String,
    /// The function called (`approve(address,uint256)`, …).
    pub function: &'static str,
    /// What it revokes, in words.
    pub description: String,
    /// The most severe finding among the permissions it revokes.
    pub severity: Severity,
    /// Rule ids behind it.
    pub risk_factors: Vec<String>,
}

/// The plan for one wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokePlan {
    /// [`PLAN_FORMAT`].
    pub format: &'static str,
    /// The wallet.
    #[serde(serialize_with = "super::checksummed")]
    pub wallet: Address,
    /// The chain.
    pub chain_id: u64,
    /// The block the permissions were read at.
    pub block: u64,
    /// Lowest severity included.
    pub min_severity: Severity,
    /// The transactions, riskiest first.
    pub transactions: Vec<RevokeTx>,
}

/// The transactions that revoke every permission at or above `min` severity. Several Permit2
/// allowances on the same Permit2 contract become one `lockdown`.
pub fn plan(permissions: &[Permission], wallet: Address, chain_id: u64, block: u64, min: Severity) -> RevokePlan {
    let mut txs = Vec::new();
    let mut permit2: BTreeMap<Address, Vec<&Permission>> = BTreeMap::new();
    let tx = |to, data: Vec<u8>, function, description, p: &[&Permission]| RevokeTx {
        chain_id,
        from: wallet,
        to,
        data: data.into(),
        value: "0x0".into(),
        function,
        description,
        severity: p.iter().map(|p| p.severity).max().unwrap_or(Severity::Info),
        risk_factors: {
            let mut r: Vec<String> = p.iter().flat_map(|p| p.risk_factors.iter().cloned()).collect();
            r.sort();
            r.dedup();
            r
        },
    };
    for p in permissions.iter().filter(|p| p.severity >= min) {
        let token = p.token_symbol.clone().unwrap_or_else(|| p.token.to_checksum(None));
        match p.kind {
            PermissionKind::Erc20 => txs.push(tx(
                p.token,
                IERC20::approveCall { spender: p.spender, amount: U256::ZERO }.abi_encode(),
                "approve(address,uint256)",
                format!("Set the {token} allowance of {} to 0", p.spender),
                &[p],
            )),
            PermissionKind::Erc721 => {
                let id: U256 = p.token_id.as_deref().and_then(|s| s.parse().ok()).unwrap_or_default();
                txs.push(tx(
                    p.token,
                    IERC721::approveCall { to: Address::ZERO, tokenId: id }.abi_encode(),
                    "approve(address,uint256)",
                    format!("Clear the approval of {token} #{id} (was {})", p.spender),
                    &[p],
                ));
            }
            PermissionKind::Operator => txs.push(tx(
                p.token,
                IERC721::setApprovalForAllCall { operator: p.spender, approved: false }.abi_encode(),
                "setApprovalForAll(address,bool)",
                format!("Withdraw {} as operator of {token}", p.spender),
                &[p],
            )),
            PermissionKind::Permit2 => {
                permit2.entry(p.permit2.unwrap_or_default()).or_default().push(p);
            }
        }
    }
    for (contract, ps) in permit2 {
        if let [p] = ps.as_slice() {
            let token = p.token_symbol.clone().unwrap_or_else(|| p.token.to_checksum(None));
            txs.push(tx(
                contract,
                IPermit2::approveCall { token: p.token, spender: p.spender, amount: U160::ZERO, expiration: U48::ZERO }
                    .abi_encode(),
                "approve(address,address,uint160,uint48)",
                format!("Set the Permit2 allowance of {} for {token} to 0", p.spender),
                &ps,
            ));
        } else {
            let pairs = ps
                .iter()
                .map(|p| IPermit2::TokenSpenderPair { token: p.token, spender: p.spender })
                .collect::<Vec<_>>();
            txs.push(tx(
                contract,
                IPermit2::lockdownCall { approvals: pairs }.abi_encode(),
                "lockdown((address,address)[])",
                format!("Lock down {} Permit2 allowances in one transaction", ps.len()),
                &ps,
            ));
        }
    }
    txs.sort_by_key(|t| std::cmp::Reverse(t.severity));
    RevokePlan { format: PLAN_FORMAT, wallet, chain_id, block, min_severity: min, transactions: txs }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, hex};

    use super::*;
    use crate::wallet::analyze::PermissionKind;

    fn permission(kind: PermissionKind, severity: Severity) -> Permission {
        Permission {
            kind,
            token: address!("00000000000000000000000000000000000000cc"),
            token_symbol: Some("TKN".into()),
            spender: address!("1111111111111111111111111111111111111111"),
            spender_label: None,
            spender_type: "eoa",
            token_id: (kind == PermissionKind::Erc721).then(|| "7".to_owned()),
            permit2: (kind == PermissionKind::Permit2).then_some(crate::chain::PERMIT2),
            amount: None,
            amount_display: None,
            unlimited: true,
            expiration: None,
            balance: None,
            value_at_risk: None,
            value_at_risk_display: None,
            granted: None,
            age_days: None,
            idle_days: None,
            verified: true,
            risk_factors: vec!["wallet-approval-eoa-spender".into()],
            severity,
        }
    }

    #[test]
    fn each_kind_gets_its_revoke_call_and_the_threshold_applies() {
        let wallet = address!("00000000000000000000000000000000000000aa");
        let perms = [
            permission(PermissionKind::Erc20, Severity::High),
            permission(PermissionKind::Erc721, Severity::High),
            permission(PermissionKind::Operator, Severity::High),
            permission(PermissionKind::Permit2, Severity::High),
            permission(PermissionKind::Erc20, Severity::Low),
        ];
        let plan = plan(&perms, wallet, 1, 10, Severity::Medium);
        assert_eq!(plan.transactions.len(), 4, "the low one stays");
        let data: Vec<String> = plan.transactions.iter().map(|t| hex::encode(&t.data)).collect();
        let spender = "0000000000000000000000001111111111111111111111111111111111111111";
        let zero = "0".repeat(64);
        assert!(data.contains(&format!("095ea7b3{spender}{zero}")), "ERC-20 approve(spender, 0): {data:?}");
        assert!(data.contains(&format!("095ea7b3{zero}{:0>64}", "7")), "ERC-721 approve(0, id): {data:?}");
        assert!(data.contains(&format!("a22cb465{spender}{zero}")), "setApprovalForAll(op, false): {data:?}");
        assert!(data.iter().any(|d| d.starts_with("87517c45")), "Permit2 approve: {data:?}");
        // Two Permit2 allowances on one contract become one lockdown.
        let two =
            [permission(PermissionKind::Permit2, Severity::High), permission(PermissionKind::Permit2, Severity::High)];
        let plan = super::plan(&two, wallet, 1, 10, Severity::Info);
        assert_eq!(plan.transactions.len(), 1);
        assert_eq!(plan.transactions[0].function, "lockdown((address,address)[])");
        assert!(hex::encode(&plan.transactions[0].data).starts_with("cc53287f"));
    }
}
