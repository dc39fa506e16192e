//! Collecting a [`WalletSnapshot`] from a node: which logs to ask for, how to cover a long
//! block range, which state to read and how to batch it. The network itself is behind the
//! [`ChainReader`] trait that the binaries implement (the CLI over alloy's HTTP provider), so
//! this logic is tested without a node and shared by every front end.
//!
//! # Cost
//!
//! Logs: two `eth_getLogs` per block chunk (events where the wallet is topic 1, transfers
//! where it is topic 2), chunks run [`CollectOptions::concurrency`] at a time and are halved
//! when the node answers "range too large" / "too many results". State: every `eth_call` goes
//! through Multicall3's `aggregate3` when it is deployed ([`CollectOptions::calls_per_multicall`]
//! calls per `eth_call`) and those `eth_call`s travel in JSON-RPC batches, so a wallet with
//! hundreds of approvals needs a handful of HTTP requests for its state.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    future::Future,
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, SolEvent};
use futures_util::{StreamExt, stream};

use super::{
    abi::{self, IERC20, IERC721, IMulticall3, IPermit2},
    snapshot::*,
};
use crate::intel::poisoning::Transfer;

/// One log as the node returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLog {
    /// Emitting contract.
    pub address: Address,
    /// Topics.
    pub topics: Vec<B256>,
    /// Data.
    pub data: Bytes,
    /// Block number.
    pub block_number: u64,
    /// Index in the block.
    pub log_index: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Block time, when the node includes it.
    pub block_timestamp: Option<u64>,
}

/// An `eth_getLogs` filter: each topic position is "any" (`None`) or one of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// First block (inclusive).
    pub from: u64,
    /// Last block (inclusive).
    pub to: u64,
    /// Topic filters by position.
    pub topics: [Option<Vec<B256>>; 3],
}

/// Why a read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadErrorKind {
    /// The node refuses this block range or result size: ask for a smaller range.
    RangeTooLarge,
    /// Anything else, after the reader's own retries.
    Failed,
}

/// A failed read, with a message that holds no secrets (the reader redacts URLs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    /// Range problem or other failure.
    pub kind: ReadErrorKind,
    /// What happened.
    pub message: String,
}

impl ReadError {
    /// A failure that is not about the range.
    pub fn failed(message: impl Into<String>) -> Self {
        ReadError { kind: ReadErrorKind::Failed, message: message.into() }
    }
}

/// Read access to a chain. Implementations retry transient failures (429, 5xx, timeouts)
/// themselves and report what is left as [`ReadError`].
pub trait ChainReader {
    /// `eth_chainId`.
    fn chain_id(&self) -> impl Future<Output = Result<u64, ReadError>> + Send;
    /// The latest block's number and timestamp.
    fn head(&self) -> impl Future<Output = Result<(u64, u64), ReadError>> + Send;
    /// `eth_getLogs`; [`ReadErrorKind::RangeTooLarge`] when the node wants a smaller range.
    fn logs(&self, query: &LogQuery) -> impl Future<Output = Result<Vec<RawLog>, ReadError>> + Send;
    /// `eth_call`s at `block` in one JSON-RPC batch; `None` for a call that reverted.
    fn calls(
        &self,
        calls: &[(Address, Bytes)],
        block: u64,
    ) -> impl Future<Output = Result<Vec<Option<Bytes>>, ReadError>> + Send;
    /// Code and nonce of each address at `block`, in one JSON-RPC batch.
    fn accounts(
        &self,
        addresses: &[Address],
        block: u64,
    ) -> impl Future<Output = Result<Vec<AccountFacts>, ReadError>> + Send;
    /// Timestamps of blocks, in one JSON-RPC batch.
    fn timestamps(&self, blocks: &[u64]) -> impl Future<Output = Result<Vec<u64>, ReadError>> + Send;
    /// The sender (`from`) of each transaction, in one JSON-RPC batch; `None` when unknown.
    fn tx_senders(&self, hashes: &[B256]) -> impl Future<Output = Result<Vec<Option<Address>>, ReadError>> + Send;
}

/// Knobs of the collector.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// First block to search (default 0).
    pub from_block: u64,
    /// Blocks per `eth_getLogs` to start with; halved on "range too large".
    pub chunk: u64,
    /// `eth_getLogs` requests in flight at once.
    pub concurrency: usize,
    /// Multicall3 to batch reads through (used only when it has code).
    pub multicall3: Option<Address>,
    /// The Permit2 contract to record in the snapshot (events from any contract with Permit2's
    /// event signatures are collected).
    pub permit2: Option<Address>,
    /// Calls per `aggregate3`.
    pub calls_per_multicall: usize,
    /// `eth_call`s, or account / block lookups, per JSON-RPC batch.
    pub batch_size: usize,
    /// Most counterparties whose code is read.
    pub max_counterparties: usize,
    /// Most outgoing transfers whose transaction sender is looked up.
    pub max_sender_lookups: usize,
    /// RFC 3339 time of collection (recorded in the snapshot).
    pub collected_at: String,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            from_block: 0,
            chunk: 50_000,
            concurrency: 4,
            multicall3: None,
            permit2: None,
            calls_per_multicall: 250,
            batch_size: 50,
            max_counterparties: 500,
            max_sender_lookups: 2_000,
            collected_at: String::new(),
        }
    }
}

/// Progress of the log scan: blocks covered so far and in all.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// A collection failure that leaves nothing to analyse (the chain or head could not be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// The node could not be reached or answered nonsense.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// The start block is past the head.
    #[error("--from-block {from} is after the latest block {head}")]
    FromAfterHead {
        /// Requested start.
        from: u64,
        /// Head.
        head: u64,
    },
}

/// Collects everything a wallet scan needs. Failures of individual reads become
/// [`DataGap`]s (the scan is then reported incomplete); only failing to read the chain id or
/// the head is an error.
pub async fn collect<R: ChainReader + Sync>(
    reader: &R,
    wallet: Address,
    opts: &CollectOptions,
    progress: Progress<'_>,
) -> Result<WalletSnapshot, CollectError> {
    let chain_id = reader.chain_id().await?;
    let (head, head_ts) = reader.head().await?;
    if opts.from_block > head {
        return Err(CollectError::FromAfterHead { from: opts.from_block, head });
    }
    let mut gaps = Vec::new();

    // 1. Logs.
    let logs = scan_logs(reader, wallet, opts, head, progress, &mut gaps).await;
    let mut events = Vec::new();
    let mut transfers = Vec::new();
    for log in &logs {
        decode_log(log, wallet, &mut events, &mut transfers);
    }
    events.sort_by_key(|e| (e.at().block, e.at().log_index));
    transfers.sort_by_key(|t: &Transfer| (t.block, t.log_index));
    transfers.dedup();

    // 2. Which state to read.
    let mut tokens: BTreeSet<Address> = BTreeSet::new();
    let mut erc20_pairs = BTreeSet::new();
    let mut nft_ids = BTreeSet::new();
    let mut operator_pairs = BTreeSet::new();
    let mut permit2_triples = BTreeSet::new();
    let mut accounts: BTreeSet<Address> = BTreeSet::new();
    accounts.insert(wallet);
    for e in &events {
        match e {
            PermissionEvent::Erc20Approval { token, spender, .. } => {
                tokens.insert(*token);
                erc20_pairs.insert((*token, *spender));
                accounts.insert(*spender);
            }
            PermissionEvent::Erc721Approval { token, approved, token_id, .. } => {
                tokens.insert(*token);
                nft_ids.insert((*token, *token_id));
                accounts.insert(*approved);
            }
            PermissionEvent::ApprovalForAll { token, operator, .. } => {
                tokens.insert(*token);
                operator_pairs.insert((*token, *operator));
                accounts.insert(*operator);
            }
            PermissionEvent::Permit2 { permit2, token, spender, .. } => {
                tokens.insert(*token);
                permit2_triples.insert((*permit2, *token, *spender));
                accounts.insert(*spender);
            }
        }
    }
    let mut counterparties = BTreeSet::new();
    for t in &transfers {
        if let Some(token) = t.token {
            tokens.insert(token);
        }
        let other = if t.from == wallet { t.to } else { t.from };
        if !other.is_zero() && other != wallet {
            counterparties.insert(other);
        }
    }
    if counterparties.len() > opts.max_counterparties {
        gaps.push(DataGap {
            what: "counterparty accounts".into(),
            reason: format!(
                "{} counterparties; code and nonce read for the first {} only",
                counterparties.len(),
                opts.max_counterparties
            ),
        });
    }
    accounts.extend(counterparties.into_iter().take(opts.max_counterparties));
    accounts.remove(&Address::ZERO);

    // 3. State reads, batched.
    let mut calls: Vec<(Address, Bytes)> = Vec::new();
    for &token in &tokens {
        calls.push((token, IERC20::symbolCall {}.abi_encode().into()));
        calls.push((token, IERC20::decimalsCall {}.abi_encode().into()));
        calls.push((token, IERC20::balanceOfCall { owner: wallet }.abi_encode().into()));
        calls.push((token, IERC20::totalSupplyCall {}.abi_encode().into()));
    }
    for &(token, spender) in &erc20_pairs {
        calls.push((token, IERC20::allowanceCall { owner: wallet, spender }.abi_encode().into()));
    }
    for &(token, id) in &nft_ids {
        calls.push((token, IERC721::getApprovedCall { tokenId: id }.abi_encode().into()));
        calls.push((token, IERC721::ownerOfCall { tokenId: id }.abi_encode().into()));
    }
    for &(token, operator) in &operator_pairs {
        calls.push((token, IERC721::isApprovedForAllCall { owner: wallet, operator }.abi_encode().into()));
    }
    for &(permit2, token, spender) in &permit2_triples {
        calls.push((permit2, IPermit2::allowanceCall { owner: wallet, token, spender }.abi_encode().into()));
    }
    let account_list: Vec<Address> = accounts.into_iter().collect();
    let (results, mut account_facts) = futures_util::future::join(
        read_calls(reader, opts, &calls, head, &mut gaps),
        read_accounts(reader, opts, &account_list, head),
    )
    .await;
    let mut accounts_map: BTreeMap<Address, AccountFacts> = BTreeMap::new();
    match account_facts.as_mut() {
        Ok(facts) => {
            accounts_map.extend(account_list.iter().copied().zip(facts.drain(..)));
        }
        Err(e) => gaps.push(DataGap { what: "account code and nonces".into(), reason: e.message.clone() }),
    }
    // The wallet's delegate, if it is a delegated EOA.
    if let Some(delegate) = accounts_map.get(&wallet).and_then(AccountFacts::delegate)
        && !accounts_map.contains_key(&delegate)
    {
        match read_accounts(reader, opts, &[delegate], head).await {
            Ok(mut f) => {
                if let Some(f) = f.pop() {
                    accounts_map.insert(delegate, f);
                }
            }
            Err(e) => gaps.push(DataGap { what: format!("code of the delegate {delegate}"), reason: e.message }),
        }
    }
    let wallet_account = match accounts_map.remove(&wallet) {
        Some(a) => a,
        None => {
            gaps.push(DataGap { what: "the wallet's code and nonce".into(), reason: "not read".into() });
            AccountFacts::default()
        }
    };

    let mut results = results.into_iter();
    let mut next = || results.next().flatten();
    let mut token_facts = BTreeMap::new();
    for &token in &tokens {
        let facts = TokenFacts {
            symbol: next().and_then(|r| abi::symbol(&r)),
            decimals: next().and_then(|r| abi::decimals(&r)),
            balance: next().and_then(|r| abi::word(&r)),
            total_supply: next().and_then(|r| abi::word(&r)),
        };
        token_facts.insert(token, facts);
    }
    let allowances: Vec<AllowanceState> = erc20_pairs
        .iter()
        .map(|&(token, spender)| AllowanceState { token, spender, allowance: next().and_then(|r| abi::word(&r)) })
        .collect();
    let nft_approvals: Vec<NftApprovalState> = nft_ids
        .iter()
        .map(|&(token, token_id)| NftApprovalState {
            token,
            token_id,
            approved: next().and_then(|r| abi::address(&r)),
            owner: next().and_then(|r| abi::address(&r)),
        })
        .collect();
    let operators: Vec<OperatorState> = operator_pairs
        .iter()
        .map(|&(token, operator)| OperatorState { token, operator, approved: next().and_then(|r| abi::boolean(&r)) })
        .collect();
    let permit2_allowances: Vec<Permit2State> = permit2_triples
        .iter()
        .map(|&(permit2, token, spender)| Permit2State {
            permit2,
            token,
            spender,
            allowance: next().and_then(|r| {
                IPermit2::allowanceCall::abi_decode_returns(&r).ok().map(|a| Permit2Allowance {
                    amount: U256::from(a.amount),
                    expiration: a.expiration.to::<u64>(),
                    nonce: a.nonce.to::<u64>(),
                })
            }),
        })
        .collect();
    for a in &allowances {
        if a.allowance.is_none() {
            gaps.push(DataGap {
                what: format!("allowance of {} on token {}", a.spender, a.token),
                reason: "allowance() reverted or returned no value".into(),
            });
        }
    }
    for (what, missing) in [
        ("NFT approval state", nft_approvals.iter().filter(|n| n.approved.is_none() && n.owner.is_some()).count()),
        ("operator approval state", operators.iter().filter(|o| o.approved.is_none()).count()),
        ("Permit2 allowances", permit2_allowances.iter().filter(|p| p.allowance.is_none()).count()),
    ] {
        if missing > 0 {
            gaps.push(DataGap { what: what.into(), reason: format!("{missing} read(s) failed") });
        }
    }

    // 4. Timestamps the logs did not carry, and senders of outgoing transfers.
    for t in &mut transfers {
        if let Some(f) = t.token.and_then(|a| token_facts.get(&a)) {
            t.token_symbol.clone_from(&f.symbol);
        }
    }
    fill_timestamps(reader, opts, &mut events, &mut transfers, &mut gaps).await;
    fill_senders(reader, opts, wallet, &mut transfers, &mut gaps).await;

    Ok(WalletSnapshot {
        format: SNAPSHOT_FORMAT.to_owned(),
        wallet,
        chain_id,
        from_block: opts.from_block,
        to_block: head,
        to_block_timestamp: head_ts,
        collected_at: opts.collected_at.clone(),
        permit2: opts.permit2,
        wallet_account,
        events,
        transfers,
        tokens: token_facts,
        allowances,
        nft_approvals,
        operators,
        permit2_allowances,
        accounts: accounts_map,
        gaps,
    })
}

/// An inclusive block range.
type Range = (u64, u64);

/// The two log queries for one block range.
fn queries(wallet: Address, from: u64, to: u64) -> [LogQuery; 2] {
    let owner = B256::left_padding_from(wallet.as_slice());
    [
        LogQuery {
            from,
            to,
            topics: [
                Some(vec![
                    IERC20::Approval::SIGNATURE_HASH,
                    IERC721::ApprovalForAll::SIGNATURE_HASH,
                    IERC20::Transfer::SIGNATURE_HASH,
                    IPermit2::Approval::SIGNATURE_HASH,
                    IPermit2::Permit::SIGNATURE_HASH,
                    IPermit2::Lockdown::SIGNATURE_HASH,
                ]),
                Some(vec![owner]),
                None,
            ],
        },
        LogQuery { from, to, topics: [Some(vec![IERC20::Transfer::SIGNATURE_HASH]), None, Some(vec![owner])] },
    ]
}

/// Covers `[opts.from_block, head]` in chunks, splitting a chunk the node refuses; a chunk of
/// one block that still fails, or any other failure, becomes a gap.
async fn scan_logs<R: ChainReader + Sync>(
    reader: &R,
    wallet: Address,
    opts: &CollectOptions,
    head: u64,
    progress: Progress<'_>,
    gaps: &mut Vec<DataGap>,
) -> Vec<RawLog> {
    let total = head - opts.from_block + 1;
    let mut chunk = opts.chunk.max(1);
    let mut pending: Vec<(u64, u64)> = Vec::new();
    let mut next_start = opts.from_block;
    let mut covered = 0u64;
    let mut out = Vec::new();
    progress(0, total);
    loop {
        // Refill the queue up to the concurrency limit with fresh chunks.
        while pending.len() < opts.concurrency.max(1) && next_start <= head {
            let end = next_start.saturating_add(chunk - 1).min(head);
            pending.push((next_start, end));
            next_start = end + 1;
        }
        if pending.is_empty() {
            break;
        }
        let wave: Vec<(u64, u64)> = std::mem::take(&mut pending);
        let results: Vec<(Range, Result<Vec<RawLog>, ReadError>)> = stream::iter(wave)
            .map(|(from, to)| async move {
                let [a, b] = queries(wallet, from, to);
                let r = match reader.logs(&a).await {
                    Ok(mut logs) => reader.logs(&b).await.map(|more| {
                        logs.extend(more);
                        logs
                    }),
                    Err(e) => Err(e),
                };
                ((from, to), r)
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
        for ((from, to), r) in results {
            match r {
                Ok(logs) => {
                    out.extend(logs);
                    covered += to - from + 1;
                    progress(covered, total);
                }
                Err(e) if e.kind == ReadErrorKind::RangeTooLarge && to > from => {
                    let mid = from + (to - from) / 2;
                    pending.push((from, mid));
                    pending.push((mid + 1, to));
                    // Later chunks start at the size that the node accepts.
                    chunk = chunk.min((mid - from + 1).max(1));
                }
                Err(e) => {
                    gaps.push(DataGap { what: format!("logs of blocks {from}-{to}"), reason: e.message });
                    covered += to - from + 1;
                    progress(covered, total);
                }
            }
        }
    }
    // Two queries may both return a log (a self-transfer); keep one of each.
    out.sort_by_key(|l| (l.block_number, l.log_index));
    out.dedup_by_key(|l| (l.block_number, l.log_index));
    out
}

/// Decodes one log into a permission event or a transfer; logs that do not match the
/// standard shapes are ignored.
pub fn decode_log(log: &RawLog, wallet: Address, events: &mut Vec<PermissionEvent>, transfers: &mut Vec<Transfer>) {
    let Some(&topic0) = log.topics.first() else { return };
    let topic_addr = |i: usize| log.topics.get(i).and_then(|t| abi::address(t.as_slice()));
    let at = EventRef {
        block: log.block_number,
        log_index: log.log_index,
        tx_hash: log.tx_hash,
        timestamp: log.block_timestamp,
    };
    let data = log.data.as_ref();
    let is_owner = topic_addr(1) == Some(wallet);
    if topic0 == IERC20::Approval::SIGNATURE_HASH && is_owner {
        match (log.topics.len(), topic_addr(2)) {
            (3, Some(spender)) => {
                if let Some(value) = abi::word(data) {
                    events.push(PermissionEvent::Erc20Approval { token: log.address, spender, value, at });
                }
            }
            (4, Some(approved)) => events.push(PermissionEvent::Erc721Approval {
                token: log.address,
                approved,
                token_id: U256::from_be_bytes(log.topics[3].0),
                at,
            }),
            _ => {}
        }
    } else if topic0 == IERC721::ApprovalForAll::SIGNATURE_HASH && is_owner && log.topics.len() == 3 {
        if let (Some(operator), Some(approved)) = (topic_addr(2), abi::boolean(data)) {
            events.push(PermissionEvent::ApprovalForAll { token: log.address, operator, approved, at });
        }
    } else if topic0 == IERC20::Transfer::SIGNATURE_HASH && log.topics.len() == 3 {
        let (Some(from), Some(to), Some(value)) = (topic_addr(1), topic_addr(2), abi::word(data)) else { return };
        if from == wallet || to == wallet {
            transfers.push(Transfer {
                tx_hash: log.tx_hash,
                log_index: Some(log.log_index),
                block: log.block_number,
                timestamp: log.block_timestamp,
                token: Some(log.address),
                token_symbol: None,
                from,
                to,
                value,
                initiator: None,
            });
        }
    } else if is_owner {
        let permit2 = |action, token, spender, amount, expiration| PermissionEvent::Permit2 {
            permit2: log.address,
            action,
            token,
            spender,
            amount,
            expiration,
            at,
        };
        if topic0 == IPermit2::Approval::SIGNATURE_HASH && log.topics.len() == 4 {
            if let Ok(e) = IPermit2::Approval::decode_raw_log(log.topics.iter().copied(), data) {
                events.push(permit2(
                    Permit2Action::Approval,
                    e.token,
                    e.spender,
                    U256::from(e.amount),
                    e.expiration.to::<u64>(),
                ));
            }
        } else if topic0 == IPermit2::Permit::SIGNATURE_HASH && log.topics.len() == 4 {
            if let Ok(e) = IPermit2::Permit::decode_raw_log(log.topics.iter().copied(), data) {
                events.push(permit2(
                    Permit2Action::Permit,
                    e.token,
                    e.spender,
                    U256::from(e.amount),
                    e.expiration.to::<u64>(),
                ));
            }
        } else if topic0 == IPermit2::Lockdown::SIGNATURE_HASH
            && log.topics.len() == 2
            && let Ok(e) = IPermit2::Lockdown::decode_raw_log(log.topics.iter().copied(), data)
        {
            events.push(permit2(Permit2Action::Lockdown, e.token, e.spender, U256::ZERO, 0));
        }
    }
}

/// Runs `calls` at `block`: through Multicall3 when it is deployed, else directly, in
/// JSON-RPC batches. A failed batch becomes a gap and `None` results.
async fn read_calls<R: ChainReader + Sync>(
    reader: &R,
    opts: &CollectOptions,
    calls: &[(Address, Bytes)],
    block: u64,
    gaps: &mut Vec<DataGap>,
) -> Vec<Option<Bytes>> {
    if calls.is_empty() {
        return Vec::new();
    }
    let multicall = match opts.multicall3 {
        Some(m) => match reader.accounts(&[m], block).await {
            Ok(a) => a.first().is_some_and(AccountFacts::is_contract).then_some(m),
            Err(_) => None,
        },
        None => None,
    };
    let batch = opts.batch_size.max(1);
    let mut out: Vec<Option<Bytes>> = Vec::with_capacity(calls.len());
    match multicall {
        Some(m) => {
            let per = opts.calls_per_multicall.max(1);
            let groups: Vec<&[(Address, Bytes)]> = calls.chunks(per).collect();
            for wave in groups.chunks(batch) {
                let encoded: Vec<(Address, Bytes)> = wave
                    .iter()
                    .map(|group| {
                        let call = IMulticall3::aggregate3Call {
                            calls: group
                                .iter()
                                .map(|(target, data)| IMulticall3::Call3 {
                                    target: *target,
                                    allowFailure: true,
                                    callData: data.clone(),
                                })
                                .collect(),
                        };
                        (m, Bytes::from(call.abi_encode()))
                    })
                    .collect();
                let results = reader.calls(&encoded, block).await;
                for (i, group) in wave.iter().enumerate() {
                    let decoded = match &results {
                        Ok(r) => r
                            .get(i)
                            .cloned()
                            .flatten()
                            .and_then(|ret| IMulticall3::aggregate3Call::abi_decode_returns(&ret).ok())
                            .filter(|d| d.len() == group.len()),
                        Err(_) => None,
                    };
                    match decoded {
                        Some(d) => out.extend(d.into_iter().map(|r| r.success.then_some(r.returnData))),
                        // The aggregate itself failed (gas, a node limit): read this group directly.
                        None => out.extend(direct(reader, batch, group, block, gaps).await),
                    }
                }
            }
        }
        None => out.extend(direct(reader, batch, calls, block, gaps).await),
    }
    out
}

async fn direct<R: ChainReader + Sync>(
    reader: &R,
    batch: usize,
    calls: &[(Address, Bytes)],
    block: u64,
    gaps: &mut Vec<DataGap>,
) -> Vec<Option<Bytes>> {
    let mut out = Vec::with_capacity(calls.len());
    for group in calls.chunks(batch) {
        match reader.calls(group, block).await {
            Ok(r) if r.len() == group.len() => out.extend(r),
            Ok(_) => {
                gaps.push(DataGap {
                    what: format!("{} contract reads", group.len()),
                    reason: "batch answer of the wrong length".into(),
                });
                out.extend(std::iter::repeat_n(None, group.len()));
            }
            Err(e) => {
                gaps.push(DataGap { what: format!("{} contract reads", group.len()), reason: e.message });
                out.extend(std::iter::repeat_n(None, group.len()));
            }
        }
    }
    out
}

async fn read_accounts<R: ChainReader + Sync>(
    reader: &R,
    opts: &CollectOptions,
    addresses: &[Address],
    block: u64,
) -> Result<Vec<AccountFacts>, ReadError> {
    let mut out = Vec::with_capacity(addresses.len());
    for group in addresses.chunks(opts.batch_size.max(1)) {
        let facts = reader.accounts(group, block).await?;
        if facts.len() != group.len() {
            return Err(ReadError::failed("account batch answer of the wrong length"));
        }
        out.extend(facts);
    }
    Ok(out)
}

async fn fill_timestamps<R: ChainReader + Sync>(
    reader: &R,
    opts: &CollectOptions,
    events: &mut [PermissionEvent],
    transfers: &mut [Transfer],
    gaps: &mut Vec<DataGap>,
) {
    let mut known: HashMap<u64, u64> = HashMap::new();
    for e in events.iter() {
        if let Some(ts) = e.at().timestamp {
            known.insert(e.at().block, ts);
        }
    }
    for t in transfers.iter() {
        if let Some(ts) = t.timestamp {
            known.insert(t.block, ts);
        }
    }
    let missing: BTreeSet<u64> = events
        .iter()
        .map(|e| e.at().block)
        .chain(transfers.iter().map(|t| t.block))
        .filter(|b| !known.contains_key(b))
        .collect();
    let missing: Vec<u64> = missing.into_iter().collect();
    for group in missing.chunks(opts.batch_size.max(1)) {
        match reader.timestamps(group).await {
            Ok(ts) if ts.len() == group.len() => known.extend(group.iter().copied().zip(ts)),
            Ok(_) | Err(_) => {
                gaps.push(DataGap {
                    what: format!("timestamps of {} blocks", group.len()),
                    reason: "block lookups failed; ages of some approvals are unknown".into(),
                });
            }
        }
    }
    for e in events.iter_mut() {
        let at = match e {
            PermissionEvent::Erc20Approval { at, .. }
            | PermissionEvent::Erc721Approval { at, .. }
            | PermissionEvent::ApprovalForAll { at, .. }
            | PermissionEvent::Permit2 { at, .. } => at,
        };
        at.timestamp = at.timestamp.or_else(|| known.get(&at.block).copied());
    }
    for t in transfers.iter_mut() {
        t.timestamp = t.timestamp.or_else(|| known.get(&t.block).copied());
    }
}

/// Looks up who sent the transactions of transfers out of the wallet: a `transferFrom` by a
/// third party (a zero-value poisoning transfer) is told apart from the wallet's own payment.
async fn fill_senders<R: ChainReader + Sync>(
    reader: &R,
    opts: &CollectOptions,
    wallet: Address,
    transfers: &mut [Transfer],
    gaps: &mut Vec<DataGap>,
) {
    let hashes: BTreeSet<B256> = transfers.iter().filter(|t| t.from == wallet).map(|t| t.tx_hash).collect();
    if hashes.len() > opts.max_sender_lookups {
        gaps.push(DataGap {
            what: "senders of outgoing transfers".into(),
            reason: format!("{} transactions; the first {} looked up", hashes.len(), opts.max_sender_lookups),
        });
    }
    let hashes: Vec<B256> = hashes.into_iter().take(opts.max_sender_lookups).collect();
    let mut senders: HashMap<B256, Address> = HashMap::new();
    for group in hashes.chunks(opts.batch_size.max(1)) {
        match reader.tx_senders(group).await {
            Ok(s) if s.len() == group.len() => {
                senders.extend(group.iter().copied().zip(s).filter_map(|(h, s)| s.map(|s| (h, s))));
            }
            Ok(_) | Err(_) => gaps.push(DataGap {
                what: format!("senders of {} transactions", group.len()),
                reason: "transaction lookups failed".into(),
            }),
        }
    }
    for t in transfers.iter_mut() {
        if t.from == wallet {
            t.initiator = senders.get(&t.tx_hash).copied();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use alloy_primitives::address;
    use futures_util::FutureExt as _;

    use super::*;

    const WALLET: Address = address!("00000000000000000000000000000000000000aa");
    const TOKEN: Address = address!("00000000000000000000000000000000000000cc");

    /// An in-memory chain: ERC-20 approvals by the wallet at given blocks, a node that refuses
    /// log ranges wider than `cap` and fails outright for ranges touching `broken`.
    struct FakeChain {
        approvals: Vec<(u64, Address)>,
        cap: u64,
        broken: Option<u64>,
        allowance_reverts: bool,
        log_calls: Mutex<Vec<(u64, u64)>>,
    }

    impl FakeChain {
        fn new(approvals: Vec<(u64, Address)>) -> Self {
            FakeChain {
                approvals,
                cap: u64::MAX,
                broken: None,
                allowance_reverts: false,
                log_calls: Mutex::new(Vec::new()),
            }
        }
    }

    impl ChainReader for FakeChain {
        async fn chain_id(&self) -> Result<u64, ReadError> {
            Ok(31337)
        }
        async fn head(&self) -> Result<(u64, u64), ReadError> {
            Ok((100, 1_000_000))
        }
        async fn logs(&self, q: &LogQuery) -> Result<Vec<RawLog>, ReadError> {
            self.log_calls.lock().unwrap().push((q.from, q.to));
            if q.to - q.from + 1 > self.cap {
                return Err(ReadError { kind: ReadErrorKind::RangeTooLarge, message: "range too large".into() });
            }
            if self.broken.is_some_and(|b| (q.from..=q.to).contains(&b)) {
                return Err(ReadError::failed("HTTP status 503"));
            }
            // Only the first query (wallet as topic 1) matches approvals.
            if q.topics[1].is_none() {
                return Ok(Vec::new());
            }
            Ok(self
                .approvals
                .iter()
                .filter(|(b, _)| (q.from..=q.to).contains(b))
                .map(|&(block, spender)| RawLog {
                    address: TOKEN,
                    topics: vec![
                        IERC20::Approval::SIGNATURE_HASH,
                        B256::left_padding_from(WALLET.as_slice()),
                        B256::left_padding_from(spender.as_slice()),
                    ],
                    data: U256::MAX.to_be_bytes::<32>().to_vec().into(),
                    block_number: block,
                    log_index: 0,
                    tx_hash: B256::with_last_byte(block as u8),
                    block_timestamp: Some(block * 12),
                })
                .collect())
        }
        async fn calls(&self, calls: &[(Address, Bytes)], _: u64) -> Result<Vec<Option<Bytes>>, ReadError> {
            Ok(calls
                .iter()
                .map(|(_, data)| {
                    let allowance = data.starts_with(&IERC20::allowanceCall::SELECTOR);
                    if allowance && self.allowance_reverts {
                        None
                    } else {
                        Some(U256::from(if allowance { 5u64 } else { 6 }).to_be_bytes::<32>().to_vec().into())
                    }
                })
                .collect())
        }
        async fn accounts(&self, addresses: &[Address], _: u64) -> Result<Vec<AccountFacts>, ReadError> {
            Ok(addresses.iter().map(|_| AccountFacts::default()).collect())
        }
        async fn timestamps(&self, blocks: &[u64]) -> Result<Vec<u64>, ReadError> {
            Ok(blocks.iter().map(|b| b * 12).collect())
        }
        async fn tx_senders(&self, hashes: &[B256]) -> Result<Vec<Option<Address>>, ReadError> {
            Ok(hashes.iter().map(|_| None).collect())
        }
    }

    fn run(chain: &FakeChain, opts: &CollectOptions) -> WalletSnapshot {
        collect(chain, WALLET, opts, &|_, _| {}).now_or_never().expect("the fake chain never waits").unwrap()
    }

    fn spender(n: u8) -> Address {
        Address::with_last_byte(n)
    }

    #[test]
    fn refused_ranges_are_halved_until_the_node_accepts_them() {
        let mut chain = FakeChain::new(vec![(5, spender(1)), (50, spender(2)), (95, spender(3))]);
        chain.cap = 10;
        let snap = run(&chain, &CollectOptions::default());
        assert!(snap.gaps.is_empty(), "{:?}", snap.gaps);
        assert_eq!(snap.events.len(), 3);
        assert_eq!(snap.allowances.len(), 3);
        let calls = chain.log_calls.lock().unwrap();
        assert!(calls.iter().any(|(f, t)| t - f + 1 > 10), "the first request uses the configured chunk");
        // Every block was covered by an accepted request.
        let mut covered = [false; 101];
        for &(f, t) in calls.iter().filter(|(f, t)| t - f < 10) {
            for b in f..=t {
                covered[b as usize] = true;
            }
        }
        assert!(covered.iter().all(|c| *c));
    }

    #[test]
    fn a_failing_range_is_a_gap_and_the_rest_is_kept() {
        let mut chain = FakeChain::new(vec![(5, spender(1)), (50, spender(2)), (95, spender(3))]);
        chain.broken = Some(50);
        let snap = run(&chain, &CollectOptions { chunk: 10, ..CollectOptions::default() });
        assert_eq!(snap.gaps.len(), 1, "{:?}", snap.gaps);
        assert_eq!(snap.gaps[0].what, "logs of blocks 50-59");
        assert_eq!(snap.events.len(), 2);
    }

    #[test]
    fn reverting_reads_become_gaps_and_unverified_inventory() {
        let mut chain = FakeChain::new(vec![(5, spender(1))]);
        chain.allowance_reverts = true;
        let snap = run(&chain, &CollectOptions::default());
        assert!(snap.gaps.iter().any(|g| g.what.starts_with("allowance of")), "{:?}", snap.gaps);
        let inv = crate::wallet::inventory(&snap);
        assert_eq!(inv.len(), 1);
        assert!(!inv[0].verified, "the amount comes from the last event, not the chain");
        assert!(inv[0].unlimited);
    }

    #[test]
    fn from_block_after_head_is_an_error() {
        let chain = FakeChain::new(Vec::new());
        let err = collect(&chain, WALLET, &CollectOptions { from_block: 101, ..CollectOptions::default() }, &|_, _| {})
            .now_or_never()
            .unwrap()
            .unwrap_err();
        assert_eq!(err, CollectError::FromAfterHead { from: 101, head: 100 });
    }
}
