//! Proxy patterns: which one the code implements, which storage slots the caller should read
//! (over RPC) to resolve the implementation and the admin, and the findings that the values
//! read lead to.
//!
//! Minimal proxies (EIP-1167, EIP-7511) and EIP-7702 delegations are recognised byte for byte;
//! the others from what the walks saw: a `DELEGATECALL` whose target was loaded from a
//! well-known slot (EIP-1967, EIP-1822, the legacy ZeppelinOS slot, Safe's slot 0), from a
//! beacon's `implementation()`, or from a mapping keyed by the selector (EIP-2535 diamonds).

use alloy_primitives::{Address, B256, U256, b256};
use serde::Serialize;

use super::{
    analysis::Analysis,
    disasm::opcodes,
    exec::{Event, Key, Slot, taint},
};
use crate::{model::Finding, rules};

/// `keccak256("eip1967.proxy.implementation") - 1`.
pub const EIP1967_IMPLEMENTATION_SLOT: B256 = b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
/// `keccak256("eip1967.proxy.admin") - 1`.
pub const EIP1967_ADMIN_SLOT: B256 = b256!("b53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103");
/// `keccak256("eip1967.proxy.beacon") - 1`.
pub const EIP1967_BEACON_SLOT: B256 = b256!("a3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50");
/// EIP-1822 `keccak256("PROXIABLE")`.
pub const EIP1822_PROXIABLE_SLOT: B256 = b256!("c5f16f0fcc639fa48a6947836d9850f504798523bf8c9a3a87d5876cf622bcf7");
/// ZeppelinOS (pre-EIP-1967) `keccak256("org.zeppelinos.proxy.implementation")`.
pub const ZEPPELINOS_IMPLEMENTATION_SLOT: B256 =
    b256!("7050c9e0f4ca769c69bd3a8ef740bc37934f8e2c036a5a723fd8ee048ed3f8c3");
/// Safe proxies keep `masterCopy`/singleton in slot 0.
pub const SAFE_SINGLETON_SLOT: B256 = B256::ZERO;
/// `masterCopy()`, answered by Safe proxies themselves.
pub const SAFE_MASTER_COPY_SELECTOR: [u8; 4] = [0xa6, 0x19, 0x48, 0x6e];
/// Beacon `implementation()`.
pub const BEACON_IMPLEMENTATION_SELECTOR: [u8; 4] = [0x5c, 0x60, 0xda, 0x1b];
/// EIP-2535 `facets()`, `facetAddress(bytes4)`, `diamondCut(...)`.
pub const DIAMOND_SELECTORS: [[u8; 4]; 3] =
    [[0x7a, 0x0e, 0xd6, 0x27], [0xcd, 0xff, 0xac, 0xc6], [0x1f, 0x93, 0x1c, 0x1c]];

/// A proxy pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProxyKind {
    /// EIP-1967: implementation in [`EIP1967_IMPLEMENTATION_SLOT`], admin in
    /// [`EIP1967_ADMIN_SLOT`] (transparent and UUPS proxies).
    Eip1967,
    /// EIP-1967 beacon proxy: the implementation is what the beacon returns.
    Eip1967Beacon,
    /// EIP-1822 (UUPS, original): implementation in [`EIP1822_PROXIABLE_SLOT`].
    Eip1822,
    /// ZeppelinOS proxy (before EIP-1967).
    ZeppelinOs,
    /// EIP-1167 minimal proxy: a fixed implementation.
    Eip1167 {
        /// The implementation, embedded in the code.
        #[serde(serialize_with = "crate::evm::ser::address")]
        implementation: Address,
    },
    /// EIP-7511 minimal proxy with `PUSH0`: a fixed implementation.
    Eip7511 {
        /// The implementation, embedded in the code.
        #[serde(serialize_with = "crate::evm::ser::address")]
        implementation: Address,
    },
    /// Safe (Gnosis Safe) proxy: singleton in slot 0.
    Safe,
    /// EIP-2535 diamond: one implementation (facet) per selector.
    Diamond,
    /// A delegating fallback whose target lives in another storage slot.
    Custom {
        /// The slot, as 0x-hex.
        slot: B256,
    },
    /// An EIP-7702 delegated EOA (`0xef0100 || address`).
    Eip7702 {
        /// The contract whose code runs for the account.
        #[serde(serialize_with = "crate::evm::ser::address")]
        delegate: Address,
    },
}

/// A storage slot the caller should read to resolve a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlotRead {
    /// `implementation`, `admin` or `beacon`.
    pub role: &'static str,
    /// The slot.
    pub slot: B256,
}

impl ProxyKind {
    /// Short name (`eip1967`, `eip1167`, `safe`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ProxyKind::Eip1967 => "eip1967",
            ProxyKind::Eip1967Beacon => "eip1967-beacon",
            ProxyKind::Eip1822 => "eip1822",
            ProxyKind::ZeppelinOs => "zeppelinos",
            ProxyKind::Eip1167 { .. } => "eip1167",
            ProxyKind::Eip7511 { .. } => "eip7511",
            ProxyKind::Safe => "safe",
            ProxyKind::Diamond => "eip2535-diamond",
            ProxyKind::Custom { .. } => "custom",
            ProxyKind::Eip7702 { .. } => "eip7702",
        }
    }

    /// Whether the code behind the proxy can change.
    pub fn is_upgradeable(&self) -> bool {
        !matches!(self, ProxyKind::Eip1167 { .. } | ProxyKind::Eip7511 { .. })
    }

    /// The implementation when it is fixed in the code itself (minimal proxies, EIP-7702).
    pub fn fixed_implementation(&self) -> Option<Address> {
        match self {
            ProxyKind::Eip1167 { implementation } | ProxyKind::Eip7511 { implementation } => Some(*implementation),
            ProxyKind::Eip7702 { delegate } => Some(*delegate),
            _ => None,
        }
    }

    /// The slots to read (with `eth_getStorageAt`) to find the implementation, admin or beacon.
    /// For a beacon, call `implementation()` (`0x5c60da1b`) on the address read; for a diamond,
    /// call `facets()` (`0x7a0ed627`).
    pub fn slots_to_read(&self) -> Vec<SlotRead> {
        match self {
            ProxyKind::Eip1967 => vec![
                SlotRead { role: "implementation", slot: EIP1967_IMPLEMENTATION_SLOT },
                SlotRead { role: "admin", slot: EIP1967_ADMIN_SLOT },
            ],
            ProxyKind::Eip1967Beacon => vec![
                SlotRead { role: "beacon", slot: EIP1967_BEACON_SLOT },
                SlotRead { role: "admin", slot: EIP1967_ADMIN_SLOT },
            ],
            ProxyKind::Eip1822 => vec![SlotRead { role: "implementation", slot: EIP1822_PROXIABLE_SLOT }],
            ProxyKind::ZeppelinOs => vec![SlotRead { role: "implementation", slot: ZEPPELINOS_IMPLEMENTATION_SLOT }],
            ProxyKind::Safe => vec![SlotRead { role: "implementation", slot: SAFE_SINGLETON_SLOT }],
            ProxyKind::Custom { slot } => vec![SlotRead { role: "implementation", slot: *slot }],
            _ => Vec::new(),
        }
    }
}

/// The address in the low 20 bytes of a storage word read from a slot.
pub fn address_from_word(word: B256) -> Address {
    Address::from_slice(&word[12..])
}

/// Recognises EIP-1167 (with any `PUSH1`..`PUSH20` address width, as vanity deployers use)
/// and EIP-7511 minimal proxies. Code may continue after the proxy (immutable arguments).
pub fn minimal_proxy(code: &[u8]) -> Option<ProxyKind> {
    const PRE_1167: [u8; 9] = [0x36, 0x3d, 0x3d, 0x37, 0x3d, 0x3d, 0x3d, 0x36, 0x3d];
    const PRE_7511: [u8; 8] = [0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x5f, 0x36, 0x5f];
    let (rest, push0) = if let Some(rest) = code.strip_prefix(&PRE_1167) {
        (rest, false)
    } else if let Some(rest) = code.strip_prefix(&PRE_7511) {
        (rest, true)
    } else {
        return None;
    };
    let push = *rest.first()?;
    if !(0x60..=0x73).contains(&push) {
        return None;
    }
    let n = usize::from(push - 0x5f);
    let addr = rest.get(1..1 + n)?;
    let tail = rest.get(1 + n..)?;
    let head_len = code.len() - rest.len() + 1 + n;
    // JUMPDEST offset: head + 13 bytes of the tail before it.
    let dest = u8::try_from(head_len + 13).ok()?;
    let expected: Vec<u8> = if push0 {
        vec![0x5a, 0xf4, 0x3d, 0x5f, 0x5f, 0x3e, 0x5f, 0x3d, 0x91, 0x60, dest, 0x57, 0xfd, 0x5b, 0xf3]
    } else {
        vec![0x5a, 0xf4, 0x3d, 0x82, 0x80, 0x3e, 0x90, 0x3d, 0x91, 0x60, dest, 0x57, 0xfd, 0x5b, 0xf3]
    };
    if !tail.starts_with(&expected) {
        return None;
    }
    let mut word = [0u8; 20];
    word[20 - n..].copy_from_slice(addr);
    let implementation = Address::from(word);
    Some(if push0 { ProxyKind::Eip7511 { implementation } } else { ProxyKind::Eip1167 { implementation } })
}

/// The delegate of an EIP-7702 delegated account: code is exactly `0xef0100 || address`.
pub fn eip7702_delegate(code: &[u8]) -> Option<Address> {
    (code.len() == 23 && code.starts_with(&[0xef, 0x01, 0x00])).then(|| Address::from_slice(&code[3..]))
}

/// The proxy pattern of an analysed contract.
pub fn detect(an: &Analysis<'_>) -> Option<ProxyKind> {
    if let Some(d) = eip7702_delegate(an.code) {
        return Some(ProxyKind::Eip7702 { delegate: d });
    }
    if let Some(p) = minimal_proxy(an.code) {
        return Some(p);
    }
    let slot_of = |v: U256| B256::from(v.to_be_bytes::<32>());
    let mut storage_target: Option<B256> = None;
    let mut diamond = false;
    let mut returndata_target = false;
    for f in &an.functions {
        for e in &f.walk.events {
            let Event::Call { op: opcodes::DELEGATECALL, target, .. } = e else { continue };
            if target.t & taint::CALLDATA != 0 {
                continue;
            }
            match an.slots.get(target.l) {
                Some(Slot::Const(v)) => {
                    let slot = slot_of(*v);
                    if storage_target.is_none() || slot == EIP1967_IMPLEMENTATION_SLOT {
                        storage_target = Some(slot);
                    }
                }
                Some(Slot::Mapping { key: Key::Calldata | Key::Other, .. }) if f.selector.is_none() => diamond = true,
                _ if target.t & (taint::RETURNDATA | taint::MEMORY) != 0 && f.selector.is_none() => {
                    returndata_target = true;
                }
                _ => {}
            }
        }
    }
    let beacon_call = an.prog.pushes(&U256::from(u32::from_be_bytes(BEACON_IMPLEMENTATION_SELECTOR)));
    match storage_target {
        Some(s) if s == EIP1967_IMPLEMENTATION_SLOT => return Some(ProxyKind::Eip1967),
        Some(s) if s == EIP1822_PROXIABLE_SLOT => return Some(ProxyKind::Eip1822),
        Some(s) if s == ZEPPELINOS_IMPLEMENTATION_SLOT => return Some(ProxyKind::ZeppelinOs),
        Some(s)
            if s == SAFE_SINGLETON_SLOT
                && an.prog.consts.iter().any(|c| {
                    c.to_be_bytes::<32>()[..4] == SAFE_MASTER_COPY_SELECTOR || *c == U256::from(0xa619_486e_u32)
                }) =>
        {
            return Some(ProxyKind::Safe);
        }
        _ => {}
    }
    if diamond {
        return Some(ProxyKind::Diamond);
    }
    if returndata_target && beacon_call {
        return Some(ProxyKind::Eip1967Beacon);
    }
    // A delegating fallback on any other slot.
    let fallback_delegates_storage = an.fallback().walk.events.iter().any(|e| {
        matches!(e, Event::Call { op: opcodes::DELEGATECALL, target, .. }
            if target.t & taint::CALLDATA == 0 && an.slots.as_const(target.l).is_some())
    });
    match storage_target {
        Some(slot) if fallback_delegates_storage => Some(ProxyKind::Custom { slot }),
        _ => None,
    }
}

/// What the caller found on chain about a proxy (all optional: offline scans have none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProxyFacts {
    /// The implementation (or singleton, or beacon's implementation) read from chain.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::evm::ser::opt_address")]
    pub implementation: Option<Address>,
    /// The beacon read from the beacon slot.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::evm::ser::opt_address")]
    pub beacon: Option<Address>,
    /// The admin read from the admin slot (zero when unset).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::evm::ser::opt_address")]
    pub admin: Option<Address>,
    /// Whether the admin has code (`false`: it is an EOA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_has_code: Option<bool>,
}

/// Findings about a proxy: that it is one (and what it points at), and an admin that is a
/// plain EOA.
pub fn findings(kind: &ProxyKind, facts: &ProxyFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    let slots: Vec<String> = kind.slots_to_read().iter().map(|s| format!("{}: {}", s.role, s.slot)).collect();
    match kind {
        ProxyKind::Eip7702 { .. } => {}
        ProxyKind::Eip1167 { implementation } | ProxyKind::Eip7511 { implementation } => {
            out.push(
                Finding::new(
                    &rules::CONTRACT_PROXY_MINIMAL,
                    format!(
                        "Minimal proxy ({}): every call runs the code of {implementation}, which cannot be changed.",
                        kind.name()
                    ),
                )
                .with("proxy_kind", kind.name())
                .with("implementation", implementation.to_checksum(None)),
            );
        }
        _ => {
            let mut f = Finding::new(
                &rules::CONTRACT_PROXY_UPGRADEABLE,
                match facts.implementation {
                    Some(i) => format!("Upgradeable proxy ({}): it currently runs the code of {i}.", kind.name()),
                    None => format!(
                        "Upgradeable proxy ({}): the code that runs is read from storage and can be replaced.",
                        kind.name()
                    ),
                },
            )
            .with("proxy_kind", kind.name());
            if !slots.is_empty() {
                f = f.with("slots", slots);
            }
            if let Some(i) = facts.implementation {
                f = f.with("implementation", i.to_checksum(None));
            }
            if let Some(b) = facts.beacon {
                f = f.with("beacon", b.to_checksum(None));
            }
            if let Some(a) = facts.admin.filter(|a| !a.is_zero()) {
                f = f.with("admin", a.to_checksum(None));
            }
            out.push(f);
        }
    }
    if let (Some(admin), Some(false)) = (facts.admin, facts.admin_has_code)
        && !admin.is_zero()
    {
        out.push(
            Finding::new(
                &rules::CONTRACT_PROXY_ADMIN_EOA,
                format!(
                    "The proxy admin {admin} is a plain account (no code): one private key can replace the implementation."
                ),
            )
            .with("admin", admin.to_checksum(None))
            .with("proxy_kind", kind.name()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn eip1167_and_eip7511() {
        let a = address!("bebebebebebebebebebebebebebebebebebebebe");
        let code =
            hex::decode(format!("363d3d373d3d3d363d73{}5af43d82803e903d91602b57fd5bf3", hex::encode(a))).unwrap();
        assert_eq!(minimal_proxy(&code), Some(ProxyKind::Eip1167 { implementation: a }));
        let code = hex::decode(format!("365f5f375f5f365f73{}5af43d5f5f3e5f3d91602a57fd5bf3", hex::encode(a))).unwrap();
        assert_eq!(minimal_proxy(&code), Some(ProxyKind::Eip7511 { implementation: a }));
        // Vanity: PUSH16 with a shorter address, jump offset adjusted.
        let code =
            hex::decode("363d3d373d3d3d363d6f00112233445566778899aabbccddeeff5af43d82803e903d91602757fd5bf3").unwrap();
        assert_eq!(
            minimal_proxy(&code),
            Some(ProxyKind::Eip1167 { implementation: address!("0000000000112233445566778899aabbccddeeff") })
        );
        // Wrong jump offset.
        let code =
            hex::decode(format!("363d3d373d3d3d363d73{}5af43d82803e903d91602c57fd5bf3", hex::encode(a))).unwrap();
        assert_eq!(minimal_proxy(&code), None);
    }

    #[test]
    fn eip7702_designator() {
        let a = address!("63c0c19a282a1b52b07dd5a65b58948a07dae32b");
        let code = hex::decode(format!("ef0100{}", hex::encode(a))).unwrap();
        assert_eq!(eip7702_delegate(&code), Some(a));
        assert_eq!(eip7702_delegate(&code[..22]), None);
        let mut long = code;
        long.push(0);
        assert_eq!(eip7702_delegate(&long), None);
    }

    fn detect_asm(src: &str) -> Option<ProxyKind> {
        let code = crate::contract::test_asm::asm(src);
        Analysis::new(&code, &|_| None).proxy
    }

    #[test]
    fn storage_proxies() {
        // Delegating fallback on the EIP-1967 implementation slot.
        let eip1967 = "PUSH0 PUSH0 CALLDATASIZE PUSH0 \
            PUSH32 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc SLOAD GAS DELEGATECALL STOP";
        assert_eq!(detect_asm(eip1967), Some(ProxyKind::Eip1967));
        // Safe: singleton in slot 0 and the masterCopy() selector in the code.
        let safe = "PUSH32 0xa619486e00000000000000000000000000000000000000000000000000000000 POP \
            PUSH0 PUSH0 CALLDATASIZE PUSH0 PUSH0 SLOAD GAS DELEGATECALL STOP";
        assert_eq!(detect_asm(safe), Some(ProxyKind::Safe));
        // Diamond: the facet is looked up in a mapping keyed by the selector.
        let diamond = "PUSH0 PUSH0 CALLDATASIZE PUSH0 \
            PUSH0 CALLDATALOAD PUSH1 0xe0 SHR PUSH0 MSTORE PUSH1 0x05 PUSH1 0x20 MSTORE PUSH1 0x40 PUSH0 KECCAK256 \
            SLOAD GAS DELEGATECALL STOP";
        assert_eq!(detect_asm(diamond), Some(ProxyKind::Diamond));
        // Another slot: a custom proxy, whose slot the caller should read.
        let custom = "PUSH0 PUSH0 CALLDATASIZE PUSH0 PUSH1 0x07 SLOAD GAS DELEGATECALL STOP";
        let kind = detect_asm(custom).unwrap();
        assert_eq!(kind.slots_to_read()[0].slot, B256::from(U256::from(7).to_be_bytes::<32>()));
        // No delegatecall: not a proxy.
        assert_eq!(detect_asm("PUSH0 SLOAD POP STOP"), None);
    }

    #[test]
    fn admin_eoa_finding() {
        let admin = address!("1111111111111111111111111111111111111111");
        let f = findings(
            &ProxyKind::Eip1967,
            &ProxyFacts { admin: Some(admin), admin_has_code: Some(false), ..Default::default() },
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].rule_id, "contract-proxy-admin-eoa");
        let f = findings(
            &ProxyKind::Eip1967,
            &ProxyFacts { admin: Some(admin), admin_has_code: Some(true), ..Default::default() },
        );
        assert_eq!(f.len(), 1);
    }
}
