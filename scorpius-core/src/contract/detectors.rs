//! The contract rules. Each reads the per-function walks of an [`Analysis`] and reports findings
//! whose evidence names the function (selector and signature when known) and the pc.
//!
//! "Owner-gated" means: on the path to the instruction, a conditional jump tested `msg.sender`
//! against an address in a fixed place (a constant storage slot, a mapping entry not keyed by
//! the caller or the arguments, a code constant) or a role mapping keyed by `msg.sender` under a
//! role that is not an argument, and the path took the "equal" side. A comparison with an
//! address stored per argument (`_owners[tokenId]`) or an operator approval
//! (`_operatorApprovals[from][msg.sender]`) authorises a holder, not an owner
//! ([`cmp::APPROVAL`]). A function is *privileged* when all its state changes are owner-gated.
//!
//! The token rules locate the balance mapping, total supply and allowances through the
//! standard getters (`balanceOf`, `totalSupply`, `allowance`) or `transfer`'s writes, then look
//! for owner-only functions that write them, and for transfer paths that consult slots an
//! owner-only function sets.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{B256, U256, b256};
use serde_json::json;

use super::{
    analysis::{Analysis, Function},
    disasm::{Fork, opcodes},
    exec::{Event, Key, Slot, Val, cmp, flags, taint},
    proxy::ProxyKind,
};
use crate::{model::Finding, rules};

/// ERC-20 `Transfer(address,address,uint256)` topic.
const TRANSFER_TOPIC: B256 = b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

const SEL_TRANSFER: u32 = 0xa905_9cbb;
const SEL_TRANSFER_FROM: u32 = 0x23b8_72dd;
const SEL_BALANCE_OF: u32 = 0x70a0_8231;
const SEL_TOTAL_SUPPLY: u32 = 0x1816_0ddd;
const SEL_ALLOWANCE: u32 = 0xdd62_ed3e;
const SEL_OWNER: u32 = 0x8da5_cb5b;
const SEL_OWNER_OF: u32 = 0x6352_211e;
const SEL_GET_APPROVED: u32 = 0x0818_12fc;
const SEL_IS_APPROVED_FOR_ALL: u32 = 0xe985_e9c5;

const GUARDS: u8 = flags::OWNER | flags::ORIGIN;

/// Runs every detector. `fork`: the target chain's EVM version, when known, for
/// [`rules::CONTRACT_UNSUPPORTED_OPCODE`].
pub fn run(an: &Analysis<'_>, fork: Option<Fork>) -> Vec<Finding> {
    let d = Detect::new(an);
    let mut out = Vec::new();
    d.selfdestruct(&mut out);
    d.metamorphic(&mut out);
    d.delegatecall(&mut out);
    d.tx_origin(&mut out);
    d.unchecked_calls(&mut out);
    d.arbitrary_send(&mut out);
    d.token_traps(&mut out);
    d.hidden_owner(&mut out);
    d.privileged(&mut out);
    if let Some(fork) = fork {
        unsupported_opcodes(an, fork, &mut out);
    }
    out
}

/// Standard token storage located through the getters.
#[derive(Debug, Default)]
struct TokenSlots {
    balances: Option<U256>,
    total_supply: Option<U256>,
    allowances: Option<U256>,
    owner: Option<U256>,
    /// Roots of the mappings that hold approvals: ERC-20 allowances, ERC-721 per-token
    /// approvals (`getApproved`), operator approvals (`isApprovedForAll`, ERC-721 and ERC-1155).
    approvals: BTreeSet<U256>,
    /// Roots of the mappings that authorise a holder or approved operator: the approvals and
    /// the per-token owners compared with `msg.sender` (conditions of kind [`cmp::APPROVAL`]).
    holder_auth: BTreeSet<U256>,
}

struct Detect<'a, 'c> {
    an: &'a Analysis<'c>,
    token: TokenSlots,
}

/// Adds the function, selector and pc to a finding and points its location at the function.
fn at(f: Finding, func: &Function, pc: u32) -> Finding {
    let mut f = f.with("function", func.label()).with("pc", pc).at(func.label());
    if let Some(s) = func.selector_hex() {
        f = f.with("selector", s);
    }
    f
}

fn slot_hex(v: U256) -> String {
    format!("{:#066x}", v)
}

impl<'a, 'c> Detect<'a, 'c> {
    fn new(an: &'a Analysis<'c>) -> Self {
        let mut d = Detect { an, token: TokenSlots::default() };
        d.token = d.token_slots();
        d
    }

    fn token_slots(&self) -> TokenSlots {
        let an = self.an;
        let loads = |sel: u32| -> Vec<u32> {
            an.function(sel)
                .map(|f| {
                    f.walk
                        .events
                        .iter()
                        .filter_map(|e| if let Event::Sload { slot, .. } = e { Some(*slot) } else { None })
                        .collect()
                })
                .unwrap_or_default()
        };
        let single_const = |sel: u32| -> Option<U256> {
            let consts: BTreeSet<U256> = loads(sel).into_iter().filter_map(|s| an.slots.as_const(s)).collect();
            (consts.len() == 1).then(|| *consts.iter().next().expect("one element"))
        };
        let mut balances = loads(SEL_BALANCE_OF)
            .into_iter()
            .filter_map(|s| an.slots.mapping_root(s))
            .find(|(_, k)| *k == Key::Calldata)
            .map(|(root, _)| root);
        if balances.is_none() {
            balances = an.function(SEL_TRANSFER).and_then(|f| {
                f.walk.events.iter().find_map(|e| match e {
                    Event::Sstore { slot, .. } => {
                        an.slots.mapping_root(*slot).filter(|(_, k)| *k == Key::Caller).map(|(r, _)| r)
                    }
                    _ => None,
                })
            });
        }
        // A nested mapping read by a getter: `allowance[owner][spender]`, `operators[owner][op]`.
        let nested = |sel: u32| -> Vec<U256> {
            loads(sel)
                .into_iter()
                .filter_map(|s| {
                    let base = an.slots.mapping_base(s)?;
                    matches!(an.slots.get(base), Some(Slot::Mapping { .. }))
                        .then(|| an.slots.mapping_root(s).map(|(r, _)| r))?
                })
                .collect()
        };
        let allowances = nested(SEL_ALLOWANCE).into_iter().next();
        let mut approvals: BTreeSet<U256> = allowances.into_iter().collect();
        approvals.extend(nested(SEL_IS_APPROVED_FOR_ALL));
        // `getApproved(tokenId)` reads the per-token approval (and, through `ownerOf`, the
        // owner, which is not an approval).
        let roots_keyed_by_argument = |sel: u32| -> BTreeSet<U256> {
            loads(sel)
                .into_iter()
                .filter_map(|s| an.slots.mapping_root(s).filter(|(_, k)| *k == Key::Calldata).map(|(r, _)| r))
                .collect()
        };
        let mut per_token = roots_keyed_by_argument(SEL_GET_APPROVED);
        if an.function(SEL_OWNER_OF).is_some() {
            let owners = roots_keyed_by_argument(SEL_OWNER_OF);
            per_token.retain(|r| !owners.contains(r));
        }
        per_token.retain(|r| Some(*r) != balances);
        if per_token.len() == 1 {
            approvals.extend(per_token);
        }
        let mut holder_auth = approvals.clone();
        for f in an.dispatched() {
            for e in &f.walk.events {
                if let Event::Cond { cond, .. } = e
                    && cond.cmp & !cmp::NEG == cmp::APPROVAL
                    && let Some((root, _)) = an.slots.mapping_root(cond.arg)
                {
                    holder_auth.insert(root);
                }
            }
        }
        TokenSlots {
            balances,
            total_supply: single_const(SEL_TOTAL_SUPPLY),
            allowances,
            owner: single_const(SEL_OWNER),
            approvals,
            holder_auth,
        }
    }

    /// Whether the function checks that the caller may spend the tokens it moves: a holder or
    /// operator check ([`cmp::APPROVAL`]) or a condition on an approval mapping (an ERC-20
    /// allowance, an ERC-721 per-token or operator approval).
    fn checks_allowance(&self, func: &Function) -> bool {
        func.walk.events.iter().any(|e| match e {
            Event::Cond { cond, .. } => {
                cond.cmp & !cmp::NEG == cmp::APPROVAL
                    || (cond.l != 0
                        && self.an.slots.mapping_root(cond.l).is_some_and(|(r, _)| self.token.approvals.contains(&r)))
            }
            _ => false,
        })
    }

    /// Transfer-path functions (`transfer`, `transferFrom`).
    fn transfer_paths(&self) -> impl Iterator<Item = &'a Function> + '_ {
        [SEL_TRANSFER, SEL_TRANSFER_FROM].into_iter().filter_map(|s| self.an.function(s))
    }

    /// Privileged (owner-gated) functions from the dispatcher.
    fn gated(&self) -> impl Iterator<Item = &'a Function> + '_ {
        self.an.dispatched().filter(|f| f.is_gated())
    }

    /// Privileged functions that write `slot`-rooted storage, with the keys they write.
    fn gated_writers(&self, pred: impl Fn(u32) -> bool) -> Vec<&'a Function> {
        self.gated()
            .filter(|f| f.walk.events.iter().any(|e| matches!(e, Event::Sstore { slot, .. } if pred(*slot))))
            .collect()
    }

    fn who(&self, v: &Val) -> &'static str {
        let w = v.t & taint::WHO;
        if w & taint::CALLDATA != 0 {
            "an address from the arguments"
        } else if w == taint::CALLER {
            "the caller"
        } else if v.t & taint::STORAGE != 0 {
            "an address from storage (e.g. the owner)"
        } else if v.k != 0 || v.t == 0 {
            "a fixed address"
        } else {
            "a computed address"
        }
    }

    fn selfdestruct(&self, out: &mut Vec<Finding>) {
        let mut any_reached = false;
        for func in &self.an.functions {
            let mut by_pc: BTreeMap<u32, (bool, Val)> = BTreeMap::new();
            for e in &func.walk.events {
                if let Event::SelfDestruct { pc, beneficiary, flags } = e {
                    let entry = by_pc.entry(*pc).or_insert((true, *beneficiary));
                    entry.0 &= flags & GUARDS != 0;
                }
            }
            for (pc, (gated, beneficiary)) in by_pc {
                any_reached = true;
                let guard = if gated { "only after an owner check" } else { "and nothing restricts who can call it" };
                let f = Finding::new(
                    &rules::CONTRACT_SELFDESTRUCT,
                    format!(
                        "{} can execute SELFDESTRUCT, sending the contract's ether to {}, {guard}.",
                        func.label(),
                        self.who(&beneficiary)
                    ),
                )
                .with("gated", gated)
                .with("beneficiary", self.who(&beneficiary));
                let f = if gated { f.severity(crate::model::Severity::Medium) } else { f };
                out.push(at(f, func, pc));
            }
        }
        if !any_reached && !self.an.complete() {
            // Present in code the walks may not have reached: say so rather than stay silent.
            let present = self.an.prog.instructions.iter().find(|i| i.opcode == opcodes::SELFDESTRUCT);
            if let Some(ins) = present {
                out.push(
                    Finding::new(
                        &rules::CONTRACT_SELFDESTRUCT,
                        "The code contains SELFDESTRUCT, and the analysis could not resolve every jump, so it may be reachable.",
                    )
                    .severity(crate::model::Severity::Medium)
                    .with("pc", ins.pc)
                    .with("reachability", "unknown"),
                );
            }
        }
    }

    fn metamorphic(&self, out: &mut Vec<Finding>) {
        let mut create2: Option<(&Function, u32)> = None;
        let mut destructs = false;
        for func in &self.an.functions {
            for e in &func.walk.events {
                match e {
                    Event::Create { pc, op: opcodes::CREATE2, .. } if create2.is_none() => create2 = Some((func, *pc)),
                    Event::SelfDestruct { .. } => destructs = true,
                    _ => {}
                }
            }
        }
        let Some((func, pc)) = create2 else { return };
        let init_code = code_cloning_init_code(self.an.code);
        if !destructs && init_code.is_none() {
            return;
        }
        let why = match (destructs, init_code) {
            (true, _) => {
                "it also reaches SELFDESTRUCT, so a deployed contract can be destroyed and redeployed with other code"
                    .to_owned()
            }
            (false, Some(off)) => format!(
                "the code embeds init code (at byte {off}) that copies its runtime code from an address it asks its deployer for, so the same CREATE2 address can receive different code"
            ),
            (false, None) => unreachable!("checked above"),
        };
        let mut f = Finding::new(
            &rules::CONTRACT_METAMORPHIC,
            format!("{} deploys contracts with CREATE2, and {why}.", func.label()),
        )
        .with("create2_pc", pc);
        if let Some(off) = init_code {
            f = f.with("init_code_offset", off);
        }
        out.push(at(f, func, pc));
    }

    fn proxy_slot(&self, slot: u32) -> bool {
        let Some(kind) = &self.an.proxy else { return false };
        if matches!(kind, ProxyKind::Diamond) && matches!(self.an.slots.get(slot), Some(Slot::Mapping { .. })) {
            return true;
        }
        let Some(v) = self.an.slots.as_const(slot) else { return false };
        let b = B256::from(v.to_be_bytes::<32>());
        kind.slots_to_read().iter().any(|s| s.slot == b)
    }

    fn delegatecall(&self, out: &mut Vec<Finding>) {
        for func in &self.an.functions {
            let mut seen = BTreeMap::new();
            for e in &func.walk.events {
                if let Event::Call { pc, op: opcodes::DELEGATECALL, target, flags, .. } = e {
                    let entry = seen.entry(*pc).or_insert((true, *target));
                    entry.0 &= flags & GUARDS != 0;
                }
            }
            for (pc, (gated, target)) in seen {
                if target.t & taint::CALLDATA != 0 {
                    let (sev, guard) = if gated {
                        (crate::model::Severity::Medium, "only the owner or admin can reach it")
                    } else {
                        (crate::model::Severity::Critical, "nothing restricts who can call it")
                    };
                    let f = Finding::new(
                        &rules::CONTRACT_DELEGATECALL_CALLDATA_TARGET,
                        format!(
                            "{} delegates to an address taken from its arguments: the caller chooses code that runs with this contract's storage and funds; {guard}.",
                            func.label()
                        ),
                    )
                    .severity(sev)
                    .with("gated", gated);
                    out.push(at(f, func, pc));
                } else if target.l != 0 && target.t & taint::STORAGE != 0 && !self.proxy_slot(target.l) {
                    let setters: Vec<String> = self
                        .an
                        .dispatched()
                        .filter(|g| {
                            g.walk.events.iter().any(|e| matches!(e, Event::Sstore { slot, .. } if *slot == target.l))
                        })
                        .map(Function::label)
                        .collect();
                    let slot_desc = match self.an.slots.as_const(target.l) {
                        Some(v) => slot_hex(v),
                        None => "a computed slot".to_owned(),
                    };
                    let set_by = if setters.is_empty() {
                        "no function of this contract writes it".to_owned()
                    } else {
                        format!("{} can change it", setters.join(", "))
                    };
                    let f = Finding::new(
                        &rules::CONTRACT_DELEGATECALL_STORAGE_TARGET,
                        format!("{} delegates to the address stored in slot {slot_desc}; {set_by}.", func.label()),
                    )
                    .with("slot", slot_desc)
                    .with("set_by", setters);
                    out.push(at(f, func, pc));
                }
            }
        }
    }

    fn tx_origin(&self, out: &mut Vec<Finding>) {
        for func in &self.an.functions {
            let mut pcs = BTreeSet::new();
            for e in &func.walk.events {
                if let Event::Cond { pc, cond, .. } = e
                    && cond.cmp & !cmp::NEG == cmp::ORIGIN_AUTH
                {
                    pcs.insert(*pc);
                }
            }
            for pc in pcs {
                let f = Finding::new(
                    &rules::CONTRACT_TX_ORIGIN_AUTH,
                    format!(
                        "{} decides whether to proceed by comparing tx.origin with a stored or fixed address.",
                        func.label()
                    ),
                );
                out.push(at(f, func, pc));
            }
        }
    }

    fn unchecked_calls(&self, out: &mut Vec<Finding>) {
        let mut used = BTreeSet::new();
        let mut calls: BTreeMap<u32, (&Function, u8)> = BTreeMap::new();
        for func in &self.an.functions {
            for e in &func.walk.events {
                match e {
                    Event::CallUsed { call_pc } => {
                        used.insert(*call_pc);
                    }
                    Event::Call { pc, op, target, .. }
                        if matches!(*op, opcodes::CALL | opcodes::CALLCODE | opcodes::DELEGATECALL)
                            && self.an.konst(target).is_none_or(|t| t >= U256::from(0x100)) =>
                    {
                        calls.entry(*pc).or_insert((func, *op));
                    }
                    _ => {}
                }
            }
        }
        for (pc, (func, op)) in calls {
            if used.contains(&pc) {
                continue;
            }
            let f = Finding::new(
                &rules::CONTRACT_UNCHECKED_CALL,
                format!(
                    "{} makes a low-level {} and never checks whether it succeeded.",
                    func.label(),
                    super::disasm::info(op).name
                ),
            );
            out.push(at(f, func, pc));
        }
    }

    fn arbitrary_send(&self, out: &mut Vec<Finding>) {
        for func in &self.an.functions {
            // A function with an access check on any path (even one that an open role can
            // bypass, as in a timelock), or that compares msg.value with its arguments (a
            // forwarder spending the caller's own ether), is not "anyone drains the contract".
            let controlled = func.walk.events.iter().any(|e| {
                matches!(e, Event::Cond { cond, .. } if matches!(cond.cmp & !cmp::NEG,
                    cmp::CALLER_AUTH | cmp::ROLE | cmp::ORIGIN_AUTH | cmp::VALUE | cmp::APPROVAL))
            });
            if controlled {
                continue;
            }
            let mut seen = BTreeMap::new();
            for e in &func.walk.events {
                let Event::Call { pc, op: opcodes::CALL, target, value, flags } = e else { continue };
                if self.an.is_zero(value) || value.t & (taint::CALLDATA | taint::BALANCE) == 0 {
                    continue;
                }
                if target.t & (taint::CALLDATA | taint::CALLER) == 0 {
                    continue;
                }
                if flags & (GUARDS | flags::CALLER_CHECK | flags::VALUE_CHECK) != 0 {
                    continue;
                }
                seen.entry(*pc).or_insert((*target, *value));
            }
            for (pc, (target, value)) in seen {
                let amount = if value.t & taint::BALANCE != 0 {
                    "the contract's ether balance"
                } else {
                    "an amount from the arguments"
                };
                let f = Finding::new(
                    &rules::CONTRACT_ARBITRARY_SEND,
                    format!(
                        "{} sends {amount} to {} with no owner or per-caller balance check: anyone can drain the contract.",
                        func.label(),
                        self.who(&target)
                    ),
                )
                .with("amount", amount)
                .with("recipient", self.who(&target));
                out.push(at(f, func, pc));
            }
        }
    }

    fn root_is(&self, slot: u32, root: Option<U256>) -> bool {
        root.is_some() && self.an.slots.mapping_root(slot).map(|(r, _)| r) == root
    }

    fn token_traps(&self, out: &mut Vec<Finding>) {
        let t = &self.token;
        let an = self.an;
        // Mint and balance moves.
        if let Some(bal) = t.balances {
            for func in self.gated() {
                let writes: Vec<(u32, Val)> = func
                    .walk
                    .events
                    .iter()
                    .filter_map(
                        |e| if let Event::Sstore { slot, value, .. } = e { Some((*slot, *value)) } else { None },
                    )
                    .collect();
                let bal_keys: BTreeSet<Key> = writes
                    .iter()
                    .filter_map(|(s, _)| an.slots.mapping_root(*s).filter(|(r, _)| *r == bal).map(|(_, k)| k))
                    .collect();
                if bal_keys.is_empty() {
                    continue;
                }
                let supply =
                    t.total_supply.is_some_and(|ts| writes.iter().any(|(s, _)| an.slots.as_const(*s) == Some(ts)));
                let pc = func.walk.events.iter().find_map(|e| match e {
                    Event::Sstore { pc, slot, .. } if an.slots.mapping_root(*slot).is_some_and(|(r, _)| r == bal) => {
                        Some(*pc)
                    }
                    _ => None,
                });
                let pc = pc.unwrap_or(func.entry_pc);
                if supply {
                    let emits_transfer = func.walk.events.iter().any(|e| {
                        matches!(e, Event::Log { topic0, .. }
                            if an.konst(topic0).is_some_and(|c| B256::from(c.to_be_bytes::<32>()) == TRANSFER_TOPIC))
                    });
                    let named_mint = func.name.as_ref().is_some_and(|n| n.to_ascii_lowercase().contains("mint"));
                    if named_mint && emits_transfer {
                        let f = Finding::new(
                            &rules::CONTRACT_OWNER_MINT,
                            format!("The owner can mint new tokens with {}.", func.label()),
                        );
                        out.push(at(f, func, pc));
                    } else {
                        let mut why = Vec::new();
                        if !named_mint {
                            why.push(match &func.name {
                                Some(n) => format!("its name ({n}) does not say it mints"),
                                None => "its name is not known".to_owned(),
                            });
                        }
                        if !emits_transfer {
                            why.push("it emits no Transfer event".to_owned());
                        }
                        let f = Finding::new(
                            &rules::CONTRACT_HIDDEN_MINT,
                            format!(
                                "The owner-only function {} raises balances and the total supply, but {}.",
                                func.label(),
                                why.join(" and ")
                            ),
                        )
                        .with("emits_transfer", emits_transfer);
                        out.push(at(f, func, pc));
                    }
                } else if bal_keys.iter().all(|k| *k == Key::Calldata) && !self.checks_allowance(func) {
                    let f = Finding::new(
                        &rules::CONTRACT_OWNER_MOVES_BALANCES,
                        format!(
                            "The owner-only function {} changes the token balances of addresses given as arguments, without an allowance and without changing the supply.",
                            func.label()
                        ),
                    );
                    out.push(at(f, func, pc));
                }
            }
        }
        // Transfer paths consulting owner-set storage.
        let excluded = [t.balances, t.allowances];
        let mut reported: BTreeSet<(&'static str, u32)> = BTreeSet::new();
        for tf in self.transfer_paths() {
            for e in &tf.walk.events {
                match e {
                    Event::Cond { pc, cond, .. } if cond.l != 0 => {
                        let base = cond.cmp & !cmp::NEG;
                        // A per-address list: a mapping other than balances, allowances and the
                        // holder authorisations (token owners, approvals, operators).
                        if let Some((root, key)) = an.slots.mapping_root(cond.l)
                            && !excluded.contains(&Some(root))
                            && !t.holder_auth.contains(&root)
                            && matches!(key, Key::Calldata | Key::Caller)
                            && base != cmp::ORDERED
                            && base != cmp::APPROVAL
                        {
                            let setters = self.gated_writers(|s| {
                                an.slots.mapping_root(s).is_some_and(|(r, k)| r == root && k == Key::Calldata)
                            });
                            if let Some(setter) = setters.first()
                                && reported.insert(("blacklist", cond.l))
                            {
                                let f = Finding::new(
                                    &rules::CONTRACT_BLACKLIST,
                                    format!(
                                        "{} checks a per-address list (mapping at slot {}) that the owner sets with {}: the owner can block any holder from moving or selling tokens.",
                                        tf.label(),
                                        slot_hex(root),
                                        setter.label()
                                    ),
                                )
                                .with("list_slot", slot_hex(root))
                                .with("setter", setter.label());
                                out.push(at(f, tf, *pc));
                            }
                        }
                        // A scalar set by the owner.
                        if let Some(s) = an.slots.as_const(cond.l)
                            && Some(s) != t.owner
                            && Some(s) != t.total_supply
                        {
                            let setters = self.gated_writers(|x| x == cond.l);
                            let Some(setter) = setters.first() else { continue };
                            let pure_flag = cond.t & taint::WHO == 0 && cond.t & !taint::STORAGE == 0;
                            if base == cmp::ORDERED && cond.t & taint::CALLDATA != 0 && cond.arg == cond.l {
                                if reported.insert(("limit", cond.l)) {
                                    let f = Finding::new(
                                        &rules::CONTRACT_SELL_LIMIT,
                                        format!(
                                            "{} compares the amount with a limit in slot {} that the owner sets with {}.",
                                            tf.label(),
                                            slot_hex(s),
                                            setter.label()
                                        ),
                                    )
                                    .with("limit_slot", slot_hex(s))
                                    .with("setter", setter.label());
                                    out.push(at(f, tf, *pc));
                                }
                            } else if pure_flag && reported.insert(("pause", cond.l)) {
                                let f = Finding::new(
                                    &rules::CONTRACT_PAUSABLE,
                                    format!(
                                        "{} branches on a flag in slot {} that the owner sets with {}.",
                                        tf.label(),
                                        slot_hex(s),
                                        setter.label()
                                    ),
                                )
                                .with("flag_slot", slot_hex(s))
                                .with("setter", setter.label());
                                out.push(at(f, tf, *pc));
                            }
                        }
                    }
                    Event::Arith { pc, slot } => {
                        let Some(s) = an.slots.as_const(*slot) else { continue };
                        if [t.total_supply, t.owner].contains(&Some(s)) {
                            continue;
                        }
                        let setters: Vec<&Function> = self
                            .gated()
                            .filter(|g| {
                                g.walk.events.iter().any(|e| {
                                    matches!(e, Event::Sstore { slot: w, value, .. }
                                        if w == slot && value.t & taint::CALLDATA != 0)
                                })
                            })
                            .collect();
                        let Some(setter) = setters.first() else { continue };
                        // Point at the read of the fee (the arithmetic itself is often in a
                        // compiler-generated checked-math helper with no source location).
                        let pc = tf
                            .walk
                            .events
                            .iter()
                            .find_map(|e| match e {
                                Event::Sload { pc, slot: s } if s == slot => Some(pc),
                                _ => None,
                            })
                            .unwrap_or(pc);
                        if reported.insert(("fee", *slot)) {
                            let f = Finding::new(
                                &rules::CONTRACT_ADJUSTABLE_FEE,
                                format!(
                                    "{} scales the transferred amount by a value in slot {} that the owner sets with {}.",
                                    tf.label(),
                                    slot_hex(s),
                                    setter.label()
                                ),
                            )
                            .with("fee_slot", slot_hex(s))
                            .with("setter", setter.label());
                            out.push(at(f, tf, *pc));
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn hidden_owner(&self, out: &mut Vec<Finding>) {
        let an = self.an;
        if an.function(SEL_OWNER).is_none() {
            return;
        }
        let mut exposed: BTreeSet<U256> = BTreeSet::new();
        for f in an.dispatched().filter(|f| !f.changes_state()) {
            for e in &f.walk.events {
                if let Event::Sload { slot, .. } = e
                    && let Some(v) = an.slots.as_const(*slot)
                {
                    exposed.insert(v);
                }
            }
        }
        let mut auth: BTreeMap<U256, (Vec<String>, u32)> = BTreeMap::new();
        for f in an.dispatched() {
            for e in &f.walk.events {
                if let Event::Cond { pc, cond, .. } = e
                    && cond.cmp & !cmp::NEG == cmp::CALLER_AUTH
                    && let Some(v) = an.slots.as_const(cond.arg)
                {
                    let entry = auth.entry(v).or_insert((Vec::new(), *pc));
                    if !entry.0.contains(&f.label()) {
                        entry.0.push(f.label());
                    }
                }
            }
        }
        for (slot, (funcs, pc)) in auth {
            let b = B256::from(slot.to_be_bytes::<32>());
            let standard = [super::proxy::EIP1967_ADMIN_SLOT, super::proxy::EIP1967_IMPLEMENTATION_SLOT];
            if exposed.contains(&slot) || standard.contains(&b) {
                continue;
            }
            out.push(
                Finding::new(
                    &rules::CONTRACT_HIDDEN_OWNER,
                    format!(
                        "{} authorise the caller against the address in storage slot {}, which owner() and the other getters do not return.",
                        funcs.join(", "),
                        slot_hex(slot)
                    ),
                )
                .with("slot", slot_hex(slot))
                .with("functions", funcs)
                .with("pc", pc),
            );
        }
    }

    /// What a privileged function touches.
    fn categories(&self, func: &Function) -> Vec<&'static str> {
        let an = self.an;
        let t = &self.token;
        let mut cats = BTreeSet::new();
        for e in &func.walk.events {
            match e {
                Event::Sstore { slot, .. } => {
                    if self.root_is(*slot, t.balances) {
                        cats.insert("balances");
                    }
                    match an.slots.as_const(*slot) {
                        Some(v) if Some(v) == t.total_supply => {
                            cats.insert("supply");
                        }
                        Some(v) if Some(v) == t.owner => {
                            cats.insert("ownership");
                        }
                        Some(v) if B256::from(v.to_be_bytes::<32>()) == super::proxy::EIP1967_IMPLEMENTATION_SLOT => {
                            cats.insert("upgrade");
                        }
                        Some(v) if B256::from(v.to_be_bytes::<32>()) == super::proxy::EIP1967_ADMIN_SLOT => {
                            cats.insert("ownership");
                        }
                        _ => {}
                    }
                }
                Event::SelfDestruct { .. } => {
                    cats.insert("selfdestruct");
                }
                Event::Call { op: opcodes::DELEGATECALL, .. } => {
                    cats.insert("delegatecall");
                }
                Event::Call { op: opcodes::CALL, value, .. } if !an.is_zero(value) => {
                    cats.insert("sends-ether");
                }
                Event::Call { op: opcodes::CALL, .. } => {
                    cats.insert("external-call");
                }
                _ => {}
            }
        }
        cats.into_iter().collect()
    }

    fn privileged(&self, out: &mut Vec<Finding>) {
        let list: Vec<serde_json::Value> = self
            .gated()
            .map(|f| {
                json!({
                    "selector": f.selector_hex(),
                    "function": f.label(),
                    "entry_pc": f.entry_pc,
                    "touches": self.categories(f),
                })
            })
            .collect();
        if list.is_empty() {
            return;
        }
        let names: Vec<String> = self.gated().map(Function::label).collect();
        out.push(
            Finding::new(
                &rules::CONTRACT_PRIVILEGED_FUNCTIONS,
                format!(
                    "{} function(s) can only change state after an owner or role check: {}.",
                    list.len(),
                    names.join(", ")
                ),
            )
            .with("functions", list),
        );
    }
}

/// Finds init code that clones another contract's runtime: `EXTCODECOPY` followed shortly by
/// `RETURN`, preceded by `EXTCODESIZE` and a call (to ask for the address). Searched in the raw
/// code, since init code embedded as a constant is data, not instructions. Returns its offset.
pub fn code_cloning_init_code(code: &[u8]) -> Option<usize> {
    for (i, &b) in code.iter().enumerate() {
        if b != opcodes::EXTCODECOPY {
            continue;
        }
        let after = &code[i + 1..code.len().min(i + 5)];
        if !after.contains(&opcodes::RETURN) {
            continue;
        }
        let start = i.saturating_sub(40);
        let before = &code[start..i];
        let size = before.iter().position(|&x| x == opcodes::EXTCODESIZE);
        let call = before.iter().position(|&x| x == opcodes::STATICCALL || x == opcodes::CALL);
        if let (Some(s), Some(c)) = (size, call)
            && c < s
        {
            return Some(start + c);
        }
    }
    None
}

/// Reports reachable opcodes newer than `fork`.
pub fn unsupported_opcodes(an: &Analysis<'_>, fork: Fork, out: &mut Vec<Finding>) {
    let mut reached = vec![false; an.prog.blocks.len()];
    for f in &an.functions {
        for b in f.walk.blocks.iter().filter_map(|pc| an.prog.block_at(*pc)) {
            reached[b as usize] = true;
        }
    }
    let mut found: BTreeMap<&'static str, (Fork, u32, usize)> = BTreeMap::new();
    for (bi, block) in an.prog.blocks.iter().enumerate() {
        if !reached[bi] {
            continue;
        }
        for ins in &an.prog.instructions[block.first as usize..=block.last as usize] {
            let info = ins.info();
            if info.defined && info.since > fork {
                let e = found.entry(info.name).or_insert((info.since, ins.pc, 0));
                e.2 += 1;
            }
        }
    }
    for (name, (since, pc, count)) in found {
        out.push(
            Finding::new(
                &rules::CONTRACT_UNSUPPORTED_OPCODE,
                format!(
                    "{name} (introduced in {since}) is used {count} time(s) in reachable code, but the target chain runs {fork}: calls that reach it fail."
                ),
            )
            .with("opcode", name)
            .with("introduced_in", since.as_str())
            .with("chain_evm_version", fork.as_str())
            .with("pc", pc)
            .with("count", count),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::test_asm::asm;

    fn ids(src: &str) -> Vec<String> {
        let code = asm(src);
        let an = Analysis::new(&code, &|_| None);
        run(&an, None).into_iter().map(|f| f.rule_id.into_owned()).collect()
    }

    const DISPATCH: &str = "PUSH0 CALLDATALOAD PUSH1 0xe0 SHR \
        DUP1 PUSH4 0x8da5cb5b EQ @owner JUMPI DUP1 PUSH4 0x11111111 EQ @f JUMPI STOP \
        owner: PUSH0 SLOAD PUSH0 MSTORE PUSH1 0x20 PUSH0 RETURN ";

    #[test]
    fn hidden_owner() {
        // f() is gated by the address in slot 5; owner() returns slot 0.
        let hidden = format!(
            "{DISPATCH} f: PUSH1 0x05 SLOAD CALLER EQ @ok JUMPI PUSH0 PUSH0 REVERT ok: PUSH1 0x01 PUSH1 0x09 SSTORE STOP"
        );
        let got = ids(&hidden);
        assert!(got.contains(&"contract-hidden-owner".to_owned()), "{got:?}");
        assert!(got.contains(&"contract-privileged-functions".to_owned()), "{got:?}");
        // Gated by the owner() slot: nothing hidden.
        let visible = hidden.replace("PUSH1 0x05 SLOAD CALLER", "PUSH1 0x00 SLOAD CALLER");
        assert!(!ids(&visible).contains(&"contract-hidden-owner".to_owned()));
    }

    #[test]
    fn tx_origin_and_unchecked_call() {
        // f(): require(tx.origin == slot 0); then CALL whose result is popped.
        let src = format!(
            "{DISPATCH} f: PUSH0 SLOAD ORIGIN EQ @ok JUMPI PUSH0 PUSH0 REVERT \
             ok: PUSH0 PUSH0 PUSH0 PUSH0 PUSH0 PUSH1 0x04 CALLDATALOAD GAS CALL POP STOP"
        );
        let got = ids(&src);
        assert!(got.contains(&"contract-tx-origin-auth".to_owned()), "{got:?}");
        assert!(got.contains(&"contract-unchecked-call".to_owned()), "{got:?}");
        // The same call with its result tested is checked.
        let checked = src.replace("GAS CALL POP STOP", "GAS CALL @done JUMPI PUSH0 PUSH0 REVERT done: STOP");
        assert!(!ids(&checked).contains(&"contract-unchecked-call".to_owned()));
    }

    #[test]
    fn init_code_that_clones_runtime() {
        let init = hex::decode("63aaf10f42600052602060006004601c335afa50600051803b80600080843c6000f3").unwrap();
        assert!(code_cloning_init_code(&init).is_some());
        assert!(code_cloning_init_code(&[0x3c, 0xf3]).is_none());
    }
}
