//! Deployed contracts over JSON-RPC: the code at an address at one block, with proxies'
//! implementations (EIP-1967, beacon, EIP-1822, …) and EIP-7702 delegates resolved into units of
//! their own.

use alloy_primitives::{Address, B256, Bytes};

use super::{Result, Rpc, RpcError};
use crate::{
    chain::Chain,
    contract::{
        Analysis, ContractInput, ProxyFacts,
        proxy::{self, BEACON_IMPLEMENTATION_SELECTOR},
        selectors,
        units::ContractUnit,
    },
};

/// Reads the code of every address (and of proxies' implementations and EIP-7702 delegates)
/// at one block, after checking the endpoint's chain.
pub async fn read_chain(
    rpc: &Rpc,
    addresses: &[Address],
    chain: &Chain,
    chain_explicit: bool,
) -> Result<(Chain, u64, Vec<ContractUnit>)> {
    let node_chain = rpc.chain_id().await?;
    let chain = if node_chain == chain.id {
        chain.clone()
    } else if chain_explicit {
        return Err(RpcError::Input(format!(
            "the chain is {} ({}) but the RPC endpoint {} serves chain {node_chain}: use the endpoint of that chain or \
             ask for chain {node_chain}",
            chain.name,
            chain.id,
            rpc.endpoint()
        )));
    } else {
        let c = Chain::from_id(node_chain);
        tracing::info!("using chain {} ({node_chain}) as reported by the RPC endpoint", c.name);
        c
    };
    let block = rpc.block_number().await?;
    let mut units = Vec::new();
    for &a in addresses {
        units.extend(read_address(rpc, a, block, &chain).await?);
    }
    Ok((chain, block, units))
}

fn checksum(a: Address) -> String {
    a.to_checksum(None)
}

/// The units for one address: itself, plus the implementation of a proxy or the delegate of an
/// EIP-7702 account.
pub async fn read_address(rpc: &Rpc, address: Address, block: u64, chain: &Chain) -> Result<Vec<ContractUnit>> {
    let code = rpc.code_at(address, block).await?;
    if code.is_empty() {
        return Err(RpcError::Input(format!(
            "{}: no code on {} ({}) at block {block}: the address is an EOA (or the contract self-destructed); \
             there is no contract to analyse",
            checksum(address),
            chain.name,
            chain.id
        )));
    }
    let mut units = Vec::new();
    if let Some(delegate) = proxy::eip7702_delegate(&code) {
        let mut me = on_chain_unit(code.to_vec(), address, checksum(address));
        let target = rpc.code_at(delegate, block).await?;
        if target.is_empty() {
            me.incomplete = Some(format!("the EIP-7702 delegate {} has no code", checksum(delegate)));
            units.push(me);
        } else {
            units.push(me);
            let label = format!("{} (EIP-7702 delegate of {})", checksum(delegate), checksum(address));
            units.push(on_chain_unit(target.to_vec(), delegate, label));
        }
        return Ok(units);
    }
    let kind = {
        let name_of = |s: [u8; 4]| selectors::builtin_name(s).map(str::to_owned);
        Analysis::new(&code, &name_of).proxy
    };
    let mut facts = ProxyFacts::default();
    let mut notes = Vec::new();
    let mut implementation = None;
    if let Some(kind) = &kind {
        for slot in kind.slots_to_read() {
            let a = proxy::address_from_word(rpc.storage_at(address, slot.slot, block).await?);
            match slot.role {
                "implementation" if !a.is_zero() => facts.implementation = Some(a),
                "beacon" if !a.is_zero() => facts.beacon = Some(a),
                "admin" => facts.admin = Some(a),
                _ => {}
            }
        }
        if let Some(beacon) = facts.beacon {
            match rpc.call(beacon, Bytes::from(BEACON_IMPLEMENTATION_SELECTOR.to_vec()), block).await {
                Ok(ret) if ret.len() >= 32 => {
                    facts.implementation = Some(proxy::address_from_word(B256::from_slice(&ret[..32])));
                }
                Ok(_) => notes.push(format!("the beacon {} returned no implementation", checksum(beacon))),
                Err(e) => notes.push(format!("reading the beacon's implementation failed: {e}")),
            }
        }
        if let Some(admin) = facts.admin.filter(|a| !a.is_zero()) {
            facts.admin_has_code = Some(!rpc.code_at(admin, block).await?.is_empty());
        }
        implementation = facts.implementation.or_else(|| kind.fixed_implementation());
        tracing::info!(
            "{}: {} proxy, implementation {}",
            checksum(address),
            kind.name(),
            implementation.map_or("unknown".to_owned(), checksum)
        );
    }
    let mut me = on_chain_unit(code.to_vec(), address, checksum(address));
    me.input.proxy_facts = facts;
    me.notes = notes;
    let Some(imp) = implementation else {
        units.push(me);
        return Ok(units);
    };
    let imp_code = rpc.code_at(imp, block).await?;
    if imp_code.is_empty() {
        me.incomplete = Some(format!("the implementation {} has no code", checksum(imp)));
        units.push(me);
        return Ok(units);
    }
    units.push(me);
    let label = format!("{} (implementation of {})", checksum(imp), checksum(address));
    units.push(on_chain_unit(imp_code.to_vec(), imp, label));
    Ok(units)
}

fn on_chain_unit(code: Vec<u8>, address: Address, label: String) -> ContractUnit {
    let mut input = ContractInput::new(code);
    input.address = Some(address);
    let mut unit = ContractUnit::new(input, label);
    unit.id = checksum(address);
    unit
}
