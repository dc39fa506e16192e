//! Scan requests (`POST /v1/scan/{kind}` bodies, mirroring the CLI's inputs) and [`run`],
//! which turns one into a [`ScanReport`] with the same analyzers the CLI calls.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    chain::Chain,
    context::Context,
    contract,
    intel::{IntelIndex, domain::DomainIndex, screen},
    model::{ScanKind, ScanReport},
    signature::{self, SignatureRequest},
    tx::{self, TxInput},
};

/// A chain by registry name (`base`) or EIP-155 id (`8453`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ChainSpec {
    /// EIP-155 chain id.
    Id(u64),
    /// Name or alias, or a decimal / 0x id as text.
    Name(String),
}

impl ChainSpec {
    /// The chain; `None` means Ethereum mainnet.
    pub fn resolve(spec: Option<&ChainSpec>) -> Result<Chain> {
        match spec {
            None => Ok(Chain::ethereum()),
            Some(ChainSpec::Id(0)) => Err(Error::UnknownChain("0".into())),
            Some(ChainSpec::Id(id)) => Ok(Chain::from_id(*id)),
            Some(ChainSpec::Name(n)) => n.parse(),
        }
    }
}

/// `POST /v1/scan/transaction`: fields (`to`, `data`, `value`, `from`), a signed `raw`
/// transaction, or an eth_sendTransaction `request` object — exactly one form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransactionScan {
    /// Chain name or id (default: ethereum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSpec>,
    /// Sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipient (omit with `data` for a contract creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Calldata (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Native value in wei (decimal or 0x hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A signed raw transaction (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// An eth_sendTransaction params object (or the JSON-RPC request holding it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub request: Option<serde_json::Value>,
    /// The site that asked for the transaction (URL or host), checked for phishing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl TransactionScan {
    /// The transaction to analyse.
    pub fn input(&self) -> Result<TxInput> {
        let fields = self.from.is_some() || self.to.is_some() || self.data.is_some() || self.value.is_some();
        match (&self.raw, &self.request, fields) {
            (Some(raw), None, false) => TxInput::from_raw(raw),
            (None, Some(req), false) => TxInput::from_json(&req.to_string()),
            (None, None, true) => {
                if self.to.is_none() && self.data.is_none() {
                    return Err(Error::input(
                        "to",
                        "give `to` (and optionally `data`), or `data` alone for a contract creation",
                    ));
                }
                TxInput::from_fields(
                    self.from.as_deref(),
                    self.to.as_deref(),
                    self.data.as_deref(),
                    self.value.as_deref(),
                )
            }
            (None, None, false) => {
                Err(Error::input("body", "give the transaction as fields (`to`, `data`, …), `raw` or `request`"))
            }
            _ => Err(Error::input("body", "give exactly one of: fields (`to`, `data`, …), `raw`, `request`")),
        }
    }
}

/// `POST /v1/scan/signature`: exactly one of `typed_data` (eth_signTypedData_v4, as an object
/// or its JSON text), `personal` (personal_sign message: text or 0x hex) and `eth_sign` (a
/// 32-byte hash).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignatureScan {
    /// Chain name or id (default: ethereum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSpec>,
    /// EIP-712 typed data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub typed_data: Option<serde_json::Value>,
    /// A personal_sign message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<String>,
    /// An eth_sign hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eth_sign: Option<String>,
    /// The site asking for the signature, compared with the message's domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl SignatureScan {
    /// The request to analyse.
    pub fn input(&self) -> Result<SignatureRequest> {
        match (&self.typed_data, &self.personal, &self.eth_sign) {
            (Some(serde_json::Value::String(text)), None, None) => SignatureRequest::typed_data(text),
            (Some(v), None, None) => SignatureRequest::typed_data(&v.to_string()),
            (None, Some(m), None) => SignatureRequest::personal(m),
            (None, None, Some(h)) => SignatureRequest::eth_sign(h),
            _ => Err(Error::input("body", "give exactly one of `typed_data`, `personal`, `eth_sign`")),
        }
    }
}

/// `POST /v1/scan/address`: screen one address against threat intelligence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddressScan {
    /// The address (0x + 40 hex; mixed case must be a valid EIP-55 checksum).
    pub address: String,
    /// Chain name or id (default: ethereum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSpec>,
}

/// `POST /v1/scan/domain`: check a URL or domain for phishing and look-alikes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DomainScan {
    /// A URL or bare domain.
    pub site: String,
}

/// `POST /v1/scan/contract`: analyse EVM bytecode (runtime code; creation code is reduced
/// to the runtime code it deploys), or the contract deployed at `address` — read over the
/// server's RPC endpoint for the chain, proxies' implementations and EIP-7702 delegates
/// included. Exactly one of `bytecode` and `address`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContractScan {
    /// Bytecode, hex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bytecode: String,
    /// A deployed contract (0x + 40 hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A name for the report's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Chain name or id (default: ethereum), for its EVM version and intel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSpec>,
}

/// `POST /v1/scan/wallet`: the wallet's approvals, operators, Permit2 allowances, delegation
/// and transfers, read over the server's RPC endpoint for the chain (see `docs/wallet.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WalletScan {
    /// The wallet (0x + 40 hex; mixed case must be a valid EIP-55 checksum).
    pub address: String,
    /// Chain name or id (default: ethereum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSpec>,
    /// First block to search for events (default 0: the whole history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_block: Option<u64>,
}

/// Any scan request.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanRequest {
    /// A transaction.
    Transaction(TransactionScan),
    /// A signature request.
    Signature(SignatureScan),
    /// An address.
    Address(AddressScan),
    /// A site.
    Domain(DomainScan),
    /// Bytecode, or a deployed contract.
    Contract(ContractScan),
    /// A wallet (reads the chain).
    Wallet(WalletScan),
}

impl ScanRequest {
    /// The kind of scan.
    pub fn kind(&self) -> ScanKind {
        match self {
            ScanRequest::Transaction(_) => ScanKind::Transaction,
            ScanRequest::Signature(_) => ScanKind::Signature,
            ScanRequest::Address(_) => ScanKind::Address,
            ScanRequest::Domain(_) => ScanKind::Domain,
            ScanRequest::Contract(_) => ScanKind::Contract,
            ScanRequest::Wallet(_) => ScanKind::Wallet,
        }
    }

    /// The chain a scan that reads chain state needs an RPC endpoint for (wallets, deployed
    /// contracts); `None` for offline scans.
    ///
    /// # Errors
    /// An unknown chain.
    pub fn chain_to_read(&self) -> Result<Option<Chain>> {
        match self {
            ScanRequest::Wallet(r) => ChainSpec::resolve(r.chain.as_ref()).map(Some),
            ScanRequest::Contract(r) if r.address.is_some() => ChainSpec::resolve(r.chain.as_ref()).map(Some),
            _ => Ok(None),
        }
    }
}

/// The shared, loaded-once indexes a scan consults.
#[derive(Debug, Clone, Default)]
pub struct ScanEnv {
    /// Address intel (bundled and imported datasets).
    pub intel: Option<Arc<IntelIndex>>,
    /// Phishing-domain lists.
    pub domains: Option<Arc<DomainIndex>>,
}

fn context(env: &ScanEnv, chain: Option<&ChainSpec>, origin: Option<&String>) -> Result<Context> {
    let mut ctx = Context::new(ChainSpec::resolve(chain)?);
    ctx.intel.clone_from(&env.intel);
    if let Some(origin) = origin {
        if let Some(domains) = &env.domains {
            // A malformed origin is bad input, not "unknown".
            domains.check(origin).map_err(|e| Error::input("origin", e))?;
            ctx.domains = Some(Arc::clone(domains));
        }
        ctx.origin = Some(origin.clone());
    }
    Ok(ctx)
}

/// Runs a scan request against `env`. Errors are [`Error::InvalidInput`] naming the field.
pub fn run(request: &ScanRequest, env: &ScanEnv) -> Result<ScanReport> {
    match request {
        ScanRequest::Transaction(r) => {
            let ctx = context(env, r.chain.as_ref(), r.origin.as_ref())?;
            Ok(tx::analyze(&r.input()?, &ctx))
        }
        ScanRequest::Signature(r) => {
            let ctx = context(env, r.chain.as_ref(), r.origin.as_ref())?;
            Ok(signature::analyze(&r.input()?, &ctx))
        }
        ScanRequest::Address(r) => {
            let ctx = context(env, r.chain.as_ref(), None)?;
            let address = crate::evm::parse::address("address", &r.address)?;
            Ok(screen::scan_address(&ctx, address))
        }
        ScanRequest::Domain(r) => {
            let domains = env.domains.as_ref().ok_or_else(|| Error::input("site", "no domain lists are loaded"))?;
            domains.scan(&r.site, &Chain::ethereum())
        }
        ScanRequest::Wallet(_) => {
            Err(Error::input("address", "a wallet scan reads the chain: it needs an RPC endpoint"))
        }
        ScanRequest::Contract(r) if r.address.is_some() => {
            Err(Error::input("address", "scanning a deployed contract reads the chain: it needs an RPC endpoint"))
        }
        ScanRequest::Contract(r) => {
            let ctx = context(env, r.chain.as_ref(), None)?;
            let (mut input, note) = contract::hex_input("bytecode", &r.bytecode)?;
            input.name.clone_from(&r.name);
            let mut report = contract::analyze_contract(&input, &ctx);
            if let Some(note) = note {
                let mut subject = report.subject.to_value();
                if let serde_json::Value::Object(m) = &mut subject {
                    m.insert("notes".into(), serde_json::json!([note]));
                }
                report.subject = crate::model::Subject::json(subject);
            }
            Ok(report)
        }
    }
}

/// Runs a scan that reads chain state (a wallet, a deployed contract) over `rpc`, which must
/// serve the request's chain; offline scans run as in [`run`].
///
/// # Errors
/// [`RpcError::Input`] for invalid input (named field, wrong chain, an address without code);
/// the endpoint's failures otherwise.
#[cfg(feature = "rpc")]
pub async fn run_onchain(
    request: &ScanRequest,
    env: &ScanEnv,
    rpc: &crate::rpc::Rpc,
) -> std::result::Result<ScanReport, crate::rpc::RpcError> {
    use crate::rpc::{self, RpcError};
    let input = |e: Error| RpcError::Input(e.to_string());
    match request {
        ScanRequest::Wallet(r) => {
            let mut ctx = context(env, r.chain.as_ref(), None).map_err(input)?;
            let wallet = crate::evm::parse::address("address", &r.address).map_err(input)?;
            let snapshot =
                rpc::wallet::collect_wallet(rpc, wallet, Some(&ctx.chain), r.from_block.unwrap_or(0), &|_, _| {})
                    .await?;
            ctx.chain = Chain::from_id(snapshot.chain_id);
            let mut report = crate::wallet::analyze(&snapshot, &ctx);
            rpc::wallet::note_source(&mut report, rpc.endpoint(), rpc.request_counts());
            Ok(report)
        }
        ScanRequest::Contract(ContractScan { address: Some(address), bytecode, name, chain }) => {
            if !bytecode.is_empty() {
                return Err(RpcError::Input("give `bytecode` or `address`, not both".into()));
            }
            let started = time::OffsetDateTime::now_utc();
            let clock = std::time::Instant::now();
            let ctx = context(env, chain.as_ref(), None).map_err(input)?;
            let a = crate::evm::parse::address("address", address).map_err(input)?;
            let (chain, block, mut units) = rpc::contract::read_chain(rpc, &[a], &ctx.chain, true).await?;
            if let (Some(name), Some(first)) = (name, units.first_mut()) {
                first.input.name = Some(name.clone());
            }
            let done = units
                .into_iter()
                .map(|u| {
                    let report = contract::analyze_contract(&u.input, &ctx);
                    (u, report)
                })
                .collect();
            let chain_state = serde_json::json!({"endpoint": rpc.endpoint(), "block": block});
            Ok(contract::units::combine(
                done,
                &[],
                std::slice::from_ref(address),
                &chain_state,
                &chain,
                started,
                clock.elapsed(),
            ))
        }
        other => run(other, env).map_err(input),
    }
}
