//! Fixtures shared by every test module: a fixed clock, well-known mainnet addresses, signing
//! keys, small builders, and the table runner that the per-rule tests use.

use alloy_consensus::{SignableTransaction, Signed, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Signature, U256, address};
use k256::ecdsa::SigningKey;
use scorpius_core::{
    chain::Chain,
    context::Context,
    model::{Finding, ScanKind, ScanReport, Severity},
    rules::Rule,
    signature::{self, SignatureRequest},
    tx::{self, TxInput},
};
use serde_json::Value;
use time::{OffsetDateTime, macros::datetime};

/// The scan time of every test, so that expirations are deterministic.
pub const NOW: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
/// `NOW` as a unix timestamp.
pub const NOW_TS: u64 = 1_767_225_600;
pub const DAY: u64 = 86_400;
pub const YEAR: u64 = 365 * DAY;

// Mainnet contracts.
pub const USDC: Address = address!("A0b86991c6218b36c1D19D4a2e9Eb0cE3606eB48");
pub const DAI: Address = address!("6B175474E89094C44Da98b954EedeAC495271d0F");
pub const WETH: Address = address!("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2");
pub const PERMIT2: Address = address!("000000000022D473030F116dDEE9F6B43aC78BA3");
/// Not Permit2: one digit off, the kind of look-alike phishing kits deploy.
pub const FAKE_PERMIT2: Address = address!("000000000022D473030F116dDEE9F6B43aC78BA4");
pub const SEAPORT_16: Address = address!("0000000000000068F116a894984e2DB1123eB395");
pub const MULTICALL3: Address = address!("cA11bde05977b3631167028862bE2a173976CA11");
pub const UNIVERSAL_ROUTER: Address = address!("66a9893cC07D91D95644AEDD05D03f95e1dBA8Af");
pub const SWAP_ROUTER_02: Address = address!("68b3465833fb72A70ecDF485E0e4C7bD8665Fc45");
pub const V3_POSITION_MANAGER: Address = address!("C36442b4a4522E871399CD717aBDD847Ab11FE88");
pub const UNISWAPX_REACTOR: Address = address!("00000011F84B9aa48e5f8aA8B9897600006289Be");
pub const BAYC: Address = address!("BC4CA0EdA7647A8aB7C2061c2E118A18a936f13D");
pub const OPENSEA_CONDUIT: Address = address!("1E0049783F008A0085193E00003D00cd54003c71");
pub const OPENSEA_FEES: Address = address!("0000a26b00c1F0DF003000390027140000fAa719");
pub const BLUR_EXCHANGE: Address = address!("000000000000Ad05Ccc4F10045630fb830B95127");
pub const BLUR_POLICY: Address = address!("0000000000daB4A563819e8fd93dbA3b25BC3495");
pub const LOOKSRARE_V2: Address = address!("0000000000E655fAe4d56241588680F86E3b2377");
pub const SAFE_MULTISEND: Address = address!("A238CBeb142c10Ef7Ad8442C6D1f9E89e07e7761");
pub const SAFE_MULTISEND_CALL_ONLY: Address = address!("40A2aCCbd92BCA938b02010E17A5b8929b49130D");
/// MetaMask's EIP-7702 delegator (EIP7702StatelessDeleGatorImpl).
pub const METAMASK_DELEGATOR: Address = address!("63c0c19a282a1B52b07dD5a65b58948A07DAE32B");
/// A drainer-style vanity address: 0x0000…0000.
pub const DRAINER: Address = address!("0000db5c8b030ae20308ac975898e09741e70000");
/// Arbitrary contracts and accounts used as counterparties.
pub const SAFE: Address = address!("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
pub const ATTACKER: Address = address!("De0B295669a9FD93d5F28D9Ec85E40f4cb697BAe");
pub const PROXY: Address = address!("fB6916095ca1df60bB79Ce92cE3Ea74c37c5d359");
pub const NEW_IMPL: Address = address!("dbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB");
pub const RECIPIENT: Address = address!("D1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb");

/// anvil's first and second development keys (public knowledge, never funded on mainnet).
pub const KEY_0: [u8; 32] = alloy_primitives::hex!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
pub const KEY_1: [u8; 32] = alloy_primitives::hex!("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
pub const ADDR_0: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
pub const ADDR_1: Address = address!("70997970C51812dc3A010C7d01b50e0d17dc79C8");

/// The mainnet context at [`NOW`].
pub fn ctx() -> Context {
    Context { now: NOW, ..Context::new(Chain::ethereum()) }
}

/// A context for another chain.
pub fn ctx_on(chain_id: u64) -> Context {
    Context { chain: Chain::from_id(chain_id), ..ctx() }
}

/// A context with a requesting site.
pub fn ctx_origin(origin: &str) -> Context {
    Context { origin: Some(origin.to_owned()), ..ctx() }
}

pub fn key(bytes: &[u8; 32]) -> SigningKey {
    SigningKey::from_slice(bytes).expect("valid test key")
}

pub fn sign_hash(key: &SigningKey, hash: B256) -> Signature {
    let (sig, recid) = key.sign_prehash_recoverable(hash.as_slice()).expect("signing succeeds");
    Signature::from((sig, recid))
}

/// Signs `tx` with [`KEY_0`] and returns the EIP-2718 encoding.
pub fn sign_tx<T>(tx: T) -> Vec<u8>
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<Signed<T>>,
{
    sign_tx_with(&key(&KEY_0), tx)
}

pub fn sign_tx_with<T>(key: &SigningKey, tx: T) -> Vec<u8>
where
    T: SignableTransaction<Signature>,
    TxEnvelope: From<Signed<T>>,
{
    let sig = sign_hash(key, tx.signature_hash());
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub fn cs(a: Address) -> String {
    a.to_checksum(None)
}

/// `10^decimals * whole`.
pub fn units(whole: u64, decimals: u8) -> U256 {
    U256::from(whole) * U256::from(10).pow(U256::from(decimals))
}

/// A transaction from explicit fields, through the public parser as the CLI uses it.
pub fn call_tx(to: Address, data: &[u8], value: U256) -> TxInput {
    TxInput::from_fields(Some(&cs(ADDR_0)), Some(&cs(to)), Some(&hex0x(data)), Some(&value.to_string()))
        .expect("valid fields")
}

pub fn typed(json: &Value) -> SignatureRequest {
    SignatureRequest::typed_data(&json.to_string()).unwrap_or_else(|e| panic!("fixture does not parse: {e}\n{json:#}"))
}

pub fn findings<'a>(report: &'a ScanReport, rule_id: &str) -> Vec<&'a Finding> {
    report.findings.iter().filter(|f| f.rule_id == rule_id).collect()
}

pub fn path_of(f: &Finding) -> Option<&str> {
    f.location.as_ref().and_then(|l| l.path.as_deref())
}

pub fn pretty(report: &ScanReport) -> String {
    serde_json::to_string_pretty(&report.findings).unwrap_or_default()
}

/// What a table case analyses.
#[derive(Debug)]
pub enum Subject {
    Tx(TxInput),
    Sig(SignatureRequest),
}

#[derive(Debug)]
enum Expect {
    Fires { severity: Severity, path: Option<String>, evidence: Vec<(String, Value)>, count: Option<usize> },
    Absent,
}

/// One row of a rule's table: an input, its context, and whether (and how) the rule fires.
#[derive(Debug)]
pub struct Case {
    name: String,
    subject: Subject,
    ctx: Context,
    expect: Expect,
}

impl Case {
    pub fn tx(name: &str, tx: TxInput) -> Self {
        Case { name: name.to_owned(), subject: Subject::Tx(tx), ctx: ctx(), expect: Expect::Absent }
    }

    pub fn sig(name: &str, req: SignatureRequest) -> Self {
        Case { name: name.to_owned(), subject: Subject::Sig(req), ctx: ctx(), expect: Expect::Absent }
    }

    pub fn ctx(mut self, ctx: Context) -> Self {
        self.ctx = ctx;
        self
    }

    /// The rule must produce a finding of this severity.
    pub fn fires(mut self, severity: Severity) -> Self {
        self.expect = Expect::Fires { severity, path: None, evidence: Vec::new(), count: None };
        self
    }

    /// ... at this location path.
    pub fn at(mut self, p: &str) -> Self {
        if let Expect::Fires { path, .. } = &mut self.expect {
            *path = Some(p.to_owned());
        }
        self
    }

    /// ... with this evidence.
    pub fn ev(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Expect::Fires { evidence, .. } = &mut self.expect {
            evidence.push((key.to_owned(), value.into()));
        }
        self
    }

    /// ... exactly `n` times in the report.
    pub fn count(mut self, n: usize) -> Self {
        if let Expect::Fires { count, .. } = &mut self.expect {
            *count = Some(n);
        }
        self
    }

    /// The rule must not fire at all.
    pub fn absent(mut self) -> Self {
        self.expect = Expect::Absent;
        self
    }

    pub fn kind(&self) -> ScanKind {
        match self.subject {
            Subject::Tx(_) => ScanKind::Transaction,
            Subject::Sig(_) => ScanKind::Signature,
        }
    }

    pub fn is_positive(&self) -> bool {
        matches!(self.expect, Expect::Fires { .. })
    }

    pub fn report(&self) -> ScanReport {
        match &self.subject {
            Subject::Tx(t) => tx::analyze(t, &self.ctx),
            Subject::Sig(s) => signature::analyze(s, &self.ctx),
        }
    }

    fn check(&self, rule: &Rule) {
        let report = self.report();
        let hits = findings(&report, rule.id);
        let name = &self.name;
        match &self.expect {
            Expect::Absent => {
                assert!(hits.is_empty(), "[{}] case `{name}`: expected no finding, got:\n{}", rule.id, pretty(&report));
            }
            Expect::Fires { severity, path, evidence, count } => {
                if let Some(n) = count {
                    assert_eq!(hits.len(), *n, "[{}] case `{name}`: finding count\n{}", rule.id, pretty(&report));
                }
                let at: Vec<&&Finding> =
                    hits.iter().filter(|f| path.is_none() || path_of(f) == path.as_deref()).collect();
                let Some(f) = at.first() else {
                    panic!("[{}] case `{name}`: expected a finding at {path:?}, got:\n{}", rule.id, pretty(&report));
                };
                assert_eq!(f.severity, *severity, "[{}] case `{name}`: severity", rule.id);
                assert_eq!(f.title, rule.title, "[{}] case `{name}`: title", rule.id);
                assert!(!f.message.is_empty() && !f.recommendation.is_empty());
                for (k, v) in evidence {
                    assert_eq!(
                        f.evidence.get(k.as_str()),
                        Some(v),
                        "[{}] case `{name}`: evidence `{k}`\n{}",
                        rule.id,
                        pretty(&report)
                    );
                }
                assert_eq!(report.kind, self.kind());
                assert!(rule.scopes.contains(&report.kind), "[{}] reported by a {:?} scan", rule.id, report.kind);
            }
        }
    }
}

/// Runs one rule's table. Every table needs positive and negative cases.
pub fn run_table(rule: &Rule, cases: &[Case]) {
    assert!(cases.iter().any(Case::is_positive), "{}: table has no positive case", rule.id);
    assert!(cases.iter().any(|c| !c.is_positive()), "{}: table has no negative case", rule.id);
    for case in cases {
        case.check(rule);
    }
}

/// Declares one `#[test]` per rule table and a `TABLES` list for the coverage test.
macro_rules! rule_tables {
    ($($test:ident: $rule:path, $kind:ident => $cases:ident;)*) => {
        $(
            #[test]
            fn $test() {
                $crate::common::run_table(&$rule, &$cases());
            }
        )*

        /// Every table in this module: the rule, the scan kind it covers, the cases.
        pub const TABLES: &[(&scorpius_core::rules::Rule, scorpius_core::model::ScanKind, fn() -> Vec<$crate::common::Case>)] =
            &[$((&$rule, scorpius_core::model::ScanKind::$kind, $cases)),*];
    };
}
pub(crate) use rule_tables;
