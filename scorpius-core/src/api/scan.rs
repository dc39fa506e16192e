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
/// to the runtime code it deploys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContractScan {
    /// Bytecode, hex.
    pub bytecode: String,
    /// A name for the report's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Chain name or id (default: ethereum), for its EVM version and intel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSpec>,
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
    /// Bytecode.
    Contract(ContractScan),
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
