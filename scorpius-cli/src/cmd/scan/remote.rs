//! `scorpius scan … --server URL`: the same scan run by a `scorpius-server` (through the SDK),
//! printed, gated (`--fail-on`), shaped by the project policy and saved in the local history
//! exactly like a local scan.

use anyhow::Result;
use scorpius_sdk::api::scan::{
    AddressScan, ChainSpec, ContractScan, DomainScan, ScanRequest, SignatureScan, TransactionScan, WalletScan,
};

use super::{CommonArgs, ScanCommand};
use crate::{cli::GlobalArgs, exit::usage, output, remote};

/// The server a scan goes to, if any.
pub fn server_of(cmd: &ScanCommand) -> Option<&str> {
    let common = match cmd {
        ScanCommand::Tx(a) => &a.common,
        ScanCommand::Signature(a) => &a.common,
        ScanCommand::Address(a) => &a.common,
        ScanCommand::Domain(a) => &a.common,
        ScanCommand::Contract(a) => &a.common,
        ScanCommand::Wallet(a) => &a.common,
    };
    common.server.as_deref().filter(|s| !s.trim().is_empty())
}

/// Runs `cmd` on `server`.
pub fn run(cmd: &ScanCommand, server: &str, global: &GlobalArgs) -> Result<u8> {
    let (common, request): (&CommonArgs, ScanRequest) = match cmd {
        ScanCommand::Tx(a) => {
            if a.history.is_some() {
                return Err(usage("--history is not sent to a server: scan locally to check for address poisoning"));
            }
            let mut r = TransactionScan { origin: a.origin.clone(), ..TransactionScan::default() };
            if let Some(raw) = &a.raw {
                r.raw = Some(raw.clone());
            } else if let Some(path) = &a.json {
                let text = output::read_input(path, "transaction JSON")?;
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| usage(format!("transaction JSON: not JSON ({e})")))?;
                r.request = Some(value);
            } else {
                (r.from, r.to, r.data, r.value) = (a.from.clone(), a.to.clone(), a.data.clone(), a.value.clone());
            }
            (&a.common, ScanRequest::Transaction(r))
        }
        ScanCommand::Signature(a) => {
            let text = output::read_input(&a.input, "signature request")?;
            let mut r = SignatureScan { origin: a.origin.clone(), ..SignatureScan::default() };
            if a.eth_sign {
                r.eth_sign = Some(text.trim().to_owned());
            } else if a.personal {
                r.personal = Some(text);
            } else {
                r.typed_data = Some(serde_json::Value::String(text));
            }
            (&a.common, ScanRequest::Signature(r))
        }
        ScanCommand::Address(a) => {
            if a.common.no_intel {
                return Err(usage("scan address needs threat intelligence: drop --no-intel"));
            }
            (&a.common, ScanRequest::Address(AddressScan { address: a.address.clone(), chain: None }))
        }
        ScanCommand::Domain(a) => (&a.common, ScanRequest::Domain(DomainScan { site: a.site.clone() })),
        ScanCommand::Contract(a) => {
            let [target] = a.targets.as_slice() else {
                return Err(usage("a remote contract scan takes one bytecode file (or - for stdin) or one address"));
            };
            if a.rpc_url.is_some() {
                return Err(usage("--rpc-url is not used with --server: the server reads the chain itself"));
            }
            let path = std::path::Path::new(target);
            let is_address = target.len() == 42 && target.starts_with("0x") && !path.exists();
            if is_address {
                let r = ContractScan { address: Some(target.clone()), ..ContractScan::default() };
                (&a.common, ScanRequest::Contract(r))
            } else {
                if target != "-" && !path.is_file() {
                    return Err(usage(format!(
                        "{target}: a remote contract scan takes a file of hex bytecode or a deployed address; \
                         artifacts and directories are scanned locally"
                    )));
                }
                let bytecode = output::read_input(target, "bytecode")?.trim().to_owned();
                let name = (target != "-").then(|| target.clone());
                let r = ContractScan { bytecode, name, ..ContractScan::default() };
                (&a.common, ScanRequest::Contract(r))
            }
        }
        ScanCommand::Wallet(a) => {
            if a.snapshot.is_some() || a.rpc_url.is_some() {
                return Err(usage("--snapshot and --rpc-url are local: with --server the server reads the chain"));
            }
            let r = WalletScan { address: a.address.clone(), chain: None, from_block: a.from_block };
            (&a.common, ScanRequest::Wallet(r))
        }
    };
    if common.no_intel {
        return Err(usage("--no-intel applies to local scans: the server always consults its intel"));
    }
    // Configuration layers (chain, format, fail-on, policy) as for a local scan; the intel is
    // the server's.
    let settings = common.settings_with(global, None, false)?;
    let chain = ChainSpec::Id(settings.ctx.chain.id);
    let (server_url, client) = {
        let s = remote::resolve_server(Some(server))?;
        let (key, _) = remote::resolve_key(&s)?;
        (s.clone(), remote::client(&s, Some(key))?)
    };
    let mut request = request;
    match &mut request {
        ScanRequest::Transaction(t) => t.chain = Some(chain),
        ScanRequest::Signature(t) => t.chain = Some(chain),
        ScanRequest::Address(t) => t.chain = Some(chain),
        ScanRequest::Contract(t) => t.chain = Some(chain),
        ScanRequest::Wallet(t) => t.chain = Some(chain),
        ScanRequest::Domain(_) => {}
    }
    let report = remote::block_on(client.scan(&request))?
        .map_err(|e| remote::error(e).context(format!("scanning on {server_url}")))?;
    super::finish(&report, &settings, common)
}
