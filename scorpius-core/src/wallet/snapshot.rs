//! The wallet snapshot: every on-chain fact a wallet scan rests on, collected once
//! ([`super::collect`]) and analysed offline ([`super::analyze`]).
//!
//! A snapshot is versioned JSON (`format`: [`SNAPSHOT_FORMAT`]). The same snapshot and the same
//! datasets always give the same findings, because analysis reads time from the snapshot (the
//! head block's timestamp), never from the clock.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::intel::poisoning::Transfer;

/// The format tag of version 1 snapshots.
pub const SNAPSHOT_FORMAT: &str = "scorpius-wallet-snapshot/v1";

/// Where an event was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventRef {
    /// Block number.
    pub block: u64,
    /// Index of the log in its block.
    pub log_index: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Block time (unix seconds), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
}

/// A permission-related event in which the wallet is the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PermissionEvent {
    /// ERC-20 `Approval(owner, spender, value)` (three topics).
    Erc20Approval {
        /// Token contract.
        token: Address,
        /// Spender.
        spender: Address,
        /// Approved amount.
        value: U256,
        /// Where.
        at: EventRef,
    },
    /// ERC-721 `Approval(owner, approved, tokenId)` (four topics).
    Erc721Approval {
        /// Collection contract.
        token: Address,
        /// Approved address (zero clears).
        approved: Address,
        /// Token id.
        token_id: U256,
        /// Where.
        at: EventRef,
    },
    /// ERC-721 / ERC-1155 `ApprovalForAll(owner, operator, approved)`.
    ApprovalForAll {
        /// Collection contract.
        token: Address,
        /// Operator.
        operator: Address,
        /// Granted or withdrawn.
        approved: bool,
        /// Where.
        at: EventRef,
    },
    /// Permit2 `Approval`, `Permit` (signature-based) or `Lockdown` (amount set to zero).
    Permit2 {
        /// The Permit2 contract that emitted it.
        permit2: Address,
        /// `approval`, `permit` or `lockdown`.
        action: Permit2Action,
        /// Token.
        token: Address,
        /// Spender.
        spender: Address,
        /// Amount (zero for lockdown).
        amount: U256,
        /// Expiration (unix seconds; zero for lockdown).
        expiration: u64,
        /// Where.
        at: EventRef,
    },
}

/// What a Permit2 event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permit2Action {
    /// `approve` by the owner.
    Approval,
    /// `permit` with the owner's signature.
    Permit,
    /// `lockdown` by the owner.
    Lockdown,
}

impl PermissionEvent {
    /// Where the event was emitted.
    pub fn at(&self) -> &EventRef {
        match self {
            PermissionEvent::Erc20Approval { at, .. }
            | PermissionEvent::Erc721Approval { at, .. }
            | PermissionEvent::ApprovalForAll { at, .. }
            | PermissionEvent::Permit2 { at, .. } => at,
        }
    }
}

/// What a token contract reports about itself and the wallet's balance. `None`: the call
/// reverted, returned nothing or could not be decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFacts {
    /// `symbol()` (string or bytes32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// `decimals()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    /// `balanceOf(wallet)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<U256>,
    /// `totalSupply()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_supply: Option<U256>,
}

/// Code and nonce of an account at the snapshot block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFacts {
    /// Runtime code (empty for an EOA or an unused address; `0xef0100 || address` for an
    /// EIP-7702 delegated account).
    pub code: Bytes,
    /// Transaction count.
    pub nonce: u64,
}

impl AccountFacts {
    /// The EIP-7702 delegate, when the code is a delegation designator.
    pub fn delegate(&self) -> Option<Address> {
        delegation_target(&self.code)
    }

    /// Whether the address has contract code (a delegated EOA does not count).
    pub fn is_contract(&self) -> bool {
        !self.code.is_empty() && self.delegate().is_none()
    }

    /// Never used: no code and no transactions.
    pub fn is_uninitialised(&self) -> bool {
        self.code.is_empty() && self.nonce == 0
    }
}

/// The delegate named by an EIP-7702 delegation designator (`0xef0100 || address`).
pub fn delegation_target(code: &[u8]) -> Option<Address> {
    (code.len() == 23 && code.starts_with(&[0xef, 0x01, 0x00])).then(|| Address::from_slice(&code[3..]))
}

/// Current ERC-20 allowance read on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowanceState {
    /// Token.
    pub token: Address,
    /// Spender.
    pub spender: Address,
    /// `allowance(wallet, spender)`; `None` when the call failed.
    pub allowance: Option<U256>,
}

/// Current state of one ERC-721 token the wallet approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NftApprovalState {
    /// Collection.
    pub token: Address,
    /// Token id.
    pub token_id: U256,
    /// `getApproved(tokenId)`.
    pub approved: Option<Address>,
    /// `ownerOf(tokenId)`.
    pub owner: Option<Address>,
}

/// Current state of an operator approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorState {
    /// Collection.
    pub token: Address,
    /// Operator.
    pub operator: Address,
    /// `isApprovedForAll(wallet, operator)`.
    pub approved: Option<bool>,
}

/// Current Permit2 allowance (`allowance(owner, token, spender)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permit2State {
    /// The Permit2 contract.
    pub permit2: Address,
    /// Token.
    pub token: Address,
    /// Spender.
    pub spender: Address,
    /// Amount, expiration (unix seconds) and nonce; `None` when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowance: Option<Permit2Allowance>,
}

/// A Permit2 packed allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permit2Allowance {
    /// uint160 amount.
    pub amount: U256,
    /// uint48 expiration.
    pub expiration: u64,
    /// uint48 nonce.
    pub nonce: u64,
}

/// Something the collector could not get: the scan is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataGap {
    /// What is missing (`logs 1000-1999`, `allowance of 0x… on 0x…`).
    pub what: String,
    /// Why (the error, without secrets).
    pub reason: String,
}

/// Everything a wallet scan knows about the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletSnapshot {
    /// [`SNAPSHOT_FORMAT`].
    pub format: String,
    /// The wallet.
    pub wallet: Address,
    /// EIP-155 chain id reported by the node.
    pub chain_id: u64,
    /// First block searched for events.
    pub from_block: u64,
    /// Block every state read was made at (the head when the scan started).
    pub to_block: u64,
    /// Timestamp of `to_block` (unix seconds): analysis's "now".
    pub to_block_timestamp: u64,
    /// When the snapshot was collected (RFC 3339).
    pub collected_at: String,
    /// The Permit2 contract the collector looked at, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permit2: Option<Address>,
    /// The wallet's own code and nonce.
    pub wallet_account: AccountFacts,
    /// Permission events in which the wallet is the owner, in chain order.
    pub events: Vec<PermissionEvent>,
    /// Token transfers to and from the wallet (the poisoning detector's history).
    pub transfers: Vec<Transfer>,
    /// Facts about each token and collection that appears in the events.
    pub tokens: BTreeMap<Address, TokenFacts>,
    /// Current ERC-20 allowances.
    pub allowances: Vec<AllowanceState>,
    /// Current single-NFT approvals.
    pub nft_approvals: Vec<NftApprovalState>,
    /// Current operator approvals.
    pub operators: Vec<OperatorState>,
    /// Current Permit2 allowances.
    pub permit2_allowances: Vec<Permit2State>,
    /// Code and nonce of spenders, operators, delegates and counterparties.
    pub accounts: BTreeMap<Address, AccountFacts>,
    /// What could not be collected.
    pub gaps: Vec<DataGap>,
}

impl WalletSnapshot {
    /// Parses a snapshot file, naming the offending field on error.
    pub fn from_json(text: &str) -> crate::Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let snap: WalletSnapshot = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() { "snapshot".to_owned() } else { format!("snapshot.{path}") };
            crate::Error::input(field, e.into_inner())
        })?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(crate::Error::input(
                "snapshot.format",
                format!("`{}` is not a supported snapshot format (expected `{SNAPSHOT_FORMAT}`)", snap.format),
            ));
        }
        if snap.from_block > snap.to_block {
            return Err(crate::Error::input(
                "snapshot.from_block",
                format!("{} is after to_block {}", snap.from_block, snap.to_block),
            ));
        }
        Ok(snap)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
