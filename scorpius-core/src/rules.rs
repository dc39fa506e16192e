//! The rule registry: every rule Scorpius can report, with a stable id, a default severity,
//! descriptions, a recommendation and references.
//!
//! Ids are kebab-case, never contain a severity, and never change once released: CI policies,
//! SARIF fingerprints and suppressions refer to them. `docs/rules.md` is generated from this
//! registry (`scorpius rules --format markdown`) and a test fails when the two disagree.

use serde::Serialize;

use crate::model::{ScanKind, Severity};

/// A rule: what it detects and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// Severity unless the finding or a policy says otherwise.
    pub severity: Severity,
    /// Which scans can report it.
    pub scopes: &'static [ScanKind],
    /// One-line title.
    pub title: &'static str,
    /// Full description: what the rule looks for and why it matters.
    pub description: &'static str,
    /// What the user should do.
    pub recommendation: &'static str,
    /// Specifications and write-ups behind the rule.
    pub references: &'static [&'static str],
}

const TX: &[ScanKind] = &[ScanKind::Transaction];
const SIG: &[ScanKind] = &[ScanKind::Signature];
const TX_SIG: &[ScanKind] = &[ScanKind::Transaction, ScanKind::Signature];
const SCREEN: &[ScanKind] =
    &[ScanKind::Transaction, ScanKind::Signature, ScanKind::Address, ScanKind::Contract, ScanKind::Wallet];
const DOMAIN: &[ScanKind] = &[ScanKind::Transaction, ScanKind::Signature, ScanKind::Domain];
const HISTORY: &[ScanKind] = &[ScanKind::Transaction, ScanKind::Wallet];
const CONTRACT: &[ScanKind] = &[ScanKind::Contract];
const WALLET: &[ScanKind] = &[ScanKind::Wallet];

macro_rules! rules {
    ($( $(#[$m:meta])* $konst:ident = { id: $id:literal, severity: $sev:ident, scopes: $scopes:expr,
        title: $title:literal, description: $desc:literal, recommendation: $rec:literal,
        references: [$($r:literal),* $(,)?] $(,)? } )*) => {
        $(
            $(#[$m])*
            pub const $konst: Rule = Rule {
                id: $id,
                severity: Severity::$sev,
                scopes: $scopes,
                title: $title,
                description: $desc,
                recommendation: $rec,
                references: &[$($r),*],
            };
        )*
        /// Every rule, in documentation order.
        pub const ALL: &[Rule] = &[$($konst),*];
    };
}

rules! {
    /// ERC-20 approve/increaseAllowance with an (effectively) unlimited amount.
    APPROVAL_UNLIMITED = {
        id: "approval-unlimited", severity: Medium, scopes: TX,
        title: "Unlimited token approval",
        description: "An ERC-20 `approve` or `increaseAllowance` grants the spender an unlimited or effectively unlimited allowance: an amount of at least 2^96 - 1 (about 7.9e28 base units, which covers the max-uint96/112/128/160/256 sentinels wallets and dApps use for 'infinite'). The spender can move every token of this kind the account holds now or receives later, until the approval is revoked. Most drainers obtain exactly this.",
        recommendation: "Approve only the amount this action needs, and only to a spender you have verified. Revoke approvals you no longer use.",
        references: ["https://eips.ethereum.org/EIPS/eip-20", "https://revoke.cash/learn/approvals/what-are-token-approvals"],
    }
    /// Approval to the zero address.
    APPROVAL_ZERO_ADDRESS = {
        id: "approval-zero-address", severity: Medium, scopes: TX_SIG,
        title: "Approval to the zero address",
        description: "The transaction approves the zero address as spender or operator. No one can use such an approval legitimately: it points at a broken or malicious front end (or an attempt to hide the real spender behind a proxy call).",
        recommendation: "Do not sign. Check which site built this transaction.",
        references: ["https://eips.ethereum.org/EIPS/eip-20"],
    }
    /// Spender/operator with a 0x0000…0000 vanity pattern.
    APPROVAL_VANITY_SPENDER = {
        id: "approval-vanity-spender", severity: High, scopes: TX_SIG,
        title: "Approval to a vanity 0x0000…0000 address",
        description: "The spender or operator starts and ends with at least four zero hex digits (0x0000…0000). Drainer kits mine such addresses so that wallets shorten them to something that looks empty or official. Legitimate protocols with vanity addresses (Permit2, Seaport) use leading zeros only.",
        recommendation: "Do not sign unless you can verify the full spender address against the protocol's documentation.",
        references: ["https://www.coinbase.com/blog/address-poisoning", "https://eips.ethereum.org/EIPS/eip-55"],
    }
    /// setApprovalForAll(operator, true).
    NFT_APPROVAL_FOR_ALL = {
        id: "nft-approval-for-all", severity: High, scopes: TX,
        title: "Operator approval for a whole NFT collection",
        description: "`setApprovalForAll(operator, true)` lets the operator transfer every ERC-721 or ERC-1155 token of the collection the account owns, now and in the future. Marketplaces need it to list; phishing sites ask for it to empty collections.",
        recommendation: "Grant collection-wide approval only to a marketplace you use and recognise, and revoke it when you stop using it.",
        references: ["https://eips.ethereum.org/EIPS/eip-721", "https://eips.ethereum.org/EIPS/eip-1155"],
    }
    /// A permission being removed (approve 0, setApprovalForAll false).
    APPROVAL_REVOKE = {
        id: "approval-revoke", severity: Info, scopes: TX,
        title: "Permission revoked",
        description: "The call removes a permission (an ERC-20 approval set to 0, an operator approval set to false, a Permit2 lockdown). This lowers risk.",
        recommendation: "No action needed.",
        references: [],
    }
    /// Permit2 allowance with an unlimited amount.
    PERMIT2_UNLIMITED_ALLOWANCE = {
        id: "permit2-unlimited-allowance", severity: Medium, scopes: TX_SIG,
        title: "Unlimited Permit2 allowance",
        description: "A Permit2 allowance (the `approve` call, or a `PermitSingle`/`PermitBatch` signature) grants an amount of at least 2^96 - 1, including the uint160 maximum. Permit2 allowances live outside the token: revoking the token's approval to Permit2 is the only other way to stop them.",
        recommendation: "Grant Permit2 allowances for the amount you need with a short expiration.",
        references: ["https://docs.uniswap.org/contracts/permit2/reference/allowance-transfer"],
    }
    /// Permit2 allowance expiring more than a year out.
    PERMIT2_LONG_EXPIRATION = {
        id: "permit2-long-expiration", severity: Medium, scopes: TX_SIG,
        title: "Permit2 allowance or signature valid for more than a year",
        description: "The Permit2 expiration (or signature deadline) is more than 365 days after the scan time, or is the maximum value. A long-lived permission stays usable long after you forgot it.",
        recommendation: "Prefer expirations of hours or days; Permit2 front ends usually default to 30 days.",
        references: ["https://docs.uniswap.org/contracts/permit2/reference/allowance-transfer"],
    }
    /// Permit2 signature-transfer messages.
    PERMIT2_SIGNATURE_TRANSFER = {
        id: "permit2-signature-transfer", severity: Medium, scopes: SIG,
        title: "Permit2 signature lets the spender take tokens now",
        description: "A `PermitTransferFrom`, `PermitBatchTransferFrom` or `PermitWitnessTransferFrom` signature authorises the spender to transfer the permitted tokens out of the account in one step, with no further transaction from you.",
        recommendation: "Sign only when you are trading on a site you trust and the tokens, amounts and spender match what you intend to do.",
        references: ["https://docs.uniswap.org/contracts/permit2/reference/signature-transfer"],
    }
    /// Native value sent with a known drainer selector.
    NATIVE_VALUE_DRAINER_SELECTOR = {
        id: "native-value-drainer-selector", severity: Critical, scopes: TX,
        title: "Native currency sent to a known drainer function",
        description: "The transaction sends native currency to a function whose name drainer kits use to look harmless (`claim()`, `claimRewards()`, `SecurityUpdate()`, `securityUpdate()`, `networkMerge()`, `verify()`, `connect()`, ...). Genuine airdrops and 'security updates' never ask you to pay.",
        recommendation: "Do not sign. The money goes to the contract owner.",
        references: ["https://www.scamsniffer.io/", "https://consensys.io/blog/how-to-avoid-ethereum-scams"],
    }
    /// transferOwnership.
    OWNERSHIP_TRANSFER = {
        id: "ownership-transfer", severity: High, scopes: TX,
        title: "Contract ownership moves to another account",
        description: "`transferOwnership(newOwner)` hands every owner-only power of the target contract to `newOwner`.",
        recommendation: "Verify the new owner address out of band (a multisig you control, the documented timelock) before signing.",
        references: ["https://docs.openzeppelin.com/contracts/5.x/api/access#Ownable"],
    }
    /// renounceOwnership.
    OWNERSHIP_RENOUNCE = {
        id: "ownership-renounce", severity: Medium, scopes: TX,
        title: "Contract ownership renounced",
        description: "`renounceOwnership()` leaves the target contract without an owner for good: owner-only functions (upgrades, pausing, rescue) can never be called again.",
        recommendation: "Make sure no owner-only function will ever be needed again.",
        references: ["https://docs.openzeppelin.com/contracts/5.x/api/access#Ownable"],
    }
    /// upgradeTo/upgradeToAndCall.
    PROXY_UPGRADE = {
        id: "proxy-upgrade", severity: High, scopes: TX,
        title: "Proxy implementation upgrade",
        description: "`upgradeTo` or `upgradeToAndCall` replaces the code behind an upgradeable proxy: the new implementation can do anything with the proxy's storage and funds.",
        recommendation: "Check the new implementation is audited and the upgrade was announced; verify its address on an explorer.",
        references: ["https://eips.ethereum.org/EIPS/eip-1967", "https://eips.ethereum.org/EIPS/eip-1822"],
    }
    /// changeAdmin.
    PROXY_ADMIN_CHANGE = {
        id: "proxy-admin-change", severity: High, scopes: TX,
        title: "Proxy admin changes",
        description: "`changeAdmin(newAdmin)` gives the power to upgrade the proxy to another account.",
        recommendation: "Verify the new admin out of band; it should be a multisig or timelock you control.",
        references: ["https://eips.ethereum.org/EIPS/eip-1967"],
    }
    /// Safe multiSend / execTransaction with operation = DELEGATECALL.
    BATCH_DELEGATECALL = {
        id: "batch-delegatecall", severity: High, scopes: TX,
        title: "Batched call runs with DELEGATECALL",
        description: "A Safe `execTransaction` or `multiSend` entry uses operation 1 (DELEGATECALL): the target's code runs with the Safe's own storage and balance and can change its owners, modules and guard.",
        recommendation: "Only delegatecall the official MultiSend/MultiSendCallOnly libraries; treat any other target as a full takeover.",
        references: ["https://github.com/safe-global/safe-smart-account"],
    }
    /// EIP-7702 delegation.
    EIP7702_DELEGATION = {
        id: "eip7702-delegation", severity: High, scopes: TX,
        title: "EIP-7702 authorization delegates the account to contract code",
        description: "A type-4 transaction carries an authorization that sets the signer's account code to a delegation to another contract. Until revoked, that contract's code runs for every call to the account and can move all its assets. Sweeper kits ('CrimeEnjoyor') use this to empty wallets as soon as funds arrive.",
        recommendation: "Only authorise delegate contracts published by your wallet vendor. An authorization to the zero address removes a delegation.",
        references: ["https://eips.ethereum.org/EIPS/eip-7702"],
    }
    /// EIP-7702 authorization with chain id 0.
    EIP7702_ANY_CHAIN_AUTHORIZATION = {
        id: "eip7702-any-chain-authorization", severity: Critical, scopes: TX,
        title: "EIP-7702 authorization valid on every chain",
        description: "An EIP-7702 authorization has chain id 0, which makes it valid on every EVM chain that supports EIP-7702: anyone can replay it to delegate the same account on all of them.",
        recommendation: "Never sign chain-id-0 authorizations unless you intend to delegate on every chain.",
        references: ["https://eips.ethereum.org/EIPS/eip-7702"],
    }
    /// Several authorizations in one transaction.
    EIP7702_MULTIPLE_AUTHORIZATIONS = {
        id: "eip7702-multiple-authorizations", severity: Medium, scopes: TX,
        title: "Several EIP-7702 authorizations in one transaction",
        description: "The transaction carries more than one authorization: several accounts (or one account several times) are delegated at once. Wallets normally sign one.",
        recommendation: "Check every authority and delegate listed in the evidence.",
        references: ["https://eips.ethereum.org/EIPS/eip-7702"],
    }
    /// Raw tx chain id differs from the expected chain.
    TX_CHAIN_MISMATCH = {
        id: "tx-chain-mismatch", severity: High, scopes: TX,
        title: "Transaction signed for another chain",
        description: "The signed transaction's chain id differs from the chain the scan expected, so it will execute somewhere the user did not intend.",
        recommendation: "Check the network selected in the wallet and the dApp.",
        references: ["https://eips.ethereum.org/EIPS/eip-155"],
    }
    /// Legacy transaction without EIP-155 replay protection.
    TX_NO_REPLAY_PROTECTION = {
        id: "tx-no-replay-protection", severity: Medium, scopes: TX,
        title: "Transaction without replay protection",
        description: "A legacy transaction signed without an EIP-155 chain id can be replayed on every chain where the sender's nonce matches.",
        recommendation: "Sign transactions with a chain id (any wallet from after 2016 does).",
        references: ["https://eips.ethereum.org/EIPS/eip-155"],
    }
    /// Contract creation.
    CONTRACT_CREATION = {
        id: "contract-creation", severity: Info, scopes: TX,
        title: "Contract creation",
        description: "The transaction has no recipient: it deploys the contract whose creation code is the calldata.",
        recommendation: "Deploy only code you built or reviewed.",
        references: [],
    }
    /// Plain value transfer.
    NATIVE_TRANSFER = {
        id: "native-transfer", severity: Info, scopes: TX,
        title: "Plain native-currency transfer",
        description: "The transaction sends native currency with no calldata.",
        recommendation: "Compare the full recipient address with the one you intend to pay, not only its first and last characters.",
        references: [],
    }
    /// Unknown selector.
    UNKNOWN_SELECTOR = {
        id: "unknown-selector", severity: Info, scopes: TX,
        title: "Unknown function selector",
        description: "The calldata starts with a 4-byte selector that is not in Scorpius's signature table, so the call could not be decoded. It may be harmless; it cannot be explained.",
        recommendation: "Look the selector up in a signature database and check the target contract's verified source.",
        references: ["https://docs.soliditylang.org/en/latest/abi-spec.html#function-selector"],
    }
    /// Known selector, arguments that do not decode.
    CALLDATA_MALFORMED = {
        id: "calldata-malformed", severity: Low, scopes: TX,
        title: "Calldata does not match its function",
        description: "The calldata starts with a known selector but its arguments do not decode against that function's signature (too short, bad offsets, out-of-range values). A wallet cannot show what the call does, and contracts that decode leniently may still accept it.",
        recommendation: "Do not sign calldata that no tool can decode; ask the dApp for a correct transaction.",
        references: ["https://docs.soliditylang.org/en/latest/abi-spec.html"],
    }
    /// eth_sign of a raw hash.
    ETH_SIGN_RAW_HASH = {
        id: "eth-sign-raw-hash", severity: Critical, scopes: SIG,
        title: "Blind signature of a raw 32-byte hash (eth_sign)",
        description: "`eth_sign` signs an arbitrary 32-byte hash. That hash can be a transaction, a permit or an order: the signature can authorise anything and the wallet cannot show what.",
        recommendation: "Do not sign. No legitimate dApp needs eth_sign today.",
        references: ["https://support.metamask.io/privacy-and-security/what-is-eth_sign-and-why-is-it-a-risk/"],
    }
    /// EIP-2612/DAI permit with limited scope.
    PERMIT_SIGNATURE = {
        id: "permit-signature", severity: Low, scopes: SIG,
        title: "Gasless token approval signature (permit)",
        description: "An EIP-2612 or DAI-style `Permit` signature is a token approval: whoever holds it can submit it and spend the permitted amount. Phishing sites prefer it because no transaction appears in the wallet.",
        recommendation: "Sign only for a spender you recognise, for the amount this action needs.",
        references: ["https://eips.ethereum.org/EIPS/eip-2612"],
    }
    /// Unlimited permit.
    PERMIT_UNLIMITED = {
        id: "permit-unlimited", severity: High, scopes: SIG,
        title: "Unlimited permit signature",
        description: "The permit grants an unlimited or effectively unlimited allowance (value of at least 2^96 - 1, or a DAI-style `allowed: true`). Whoever holds the signature can take every token of this kind.",
        recommendation: "Do not sign unlimited permits for sites you do not fully trust.",
        references: ["https://eips.ethereum.org/EIPS/eip-2612"],
    }
    /// Permit with a far deadline.
    PERMIT_LONG_DEADLINE = {
        id: "permit-long-deadline", severity: Medium, scopes: SIG,
        title: "Permit signature valid for more than a year",
        description: "The permit's deadline (or DAI `expiry`) is more than 365 days after the scan time, or never expires (0 for DAI, the maximum value for EIP-2612). The signature stays usable by anyone who obtains it.",
        recommendation: "Prefer short deadlines (minutes to hours).",
        references: ["https://eips.ethereum.org/EIPS/eip-2612"],
    }
    /// NFT order that gives items away.
    NFT_ORDER_UNDERVALUED = {
        id: "nft-order-undervalued", severity: Critical, scopes: SIG,
        title: "NFT listing for nothing or almost nothing",
        description: "The marketplace order (Seaport, Blur or LooksRare) offers NFTs while the payment to the signer is zero or dust (below 0.001 of a native or ERC-20 unit with 18 decimals). This is the classic 'free listing' phishing: once signed, anyone can buy the items for nothing.",
        recommendation: "Do not sign. If you meant to list, check the price on the marketplace itself.",
        references: ["https://docs.opensea.io/docs/seaport", "https://eips.ethereum.org/EIPS/eip-712"],
    }
    /// NFT order paying someone else.
    NFT_ORDER_THIRD_PARTY_CONSIDERATION = {
        id: "nft-order-third-party-consideration", severity: High, scopes: SIG,
        title: "NFT order pays most of the price to someone else",
        description: "More than half of the order's payment in a currency goes to recipients other than the signer. Marketplace and creator fees are normally a few percent; a larger share means the listing pays an attacker.",
        recommendation: "Do not sign unless every recipient in the evidence is one you expect.",
        references: ["https://docs.opensea.io/docs/seaport"],
    }
    /// Typed-data domain chain id differs from the expected chain.
    TYPED_DATA_CHAIN_MISMATCH = {
        id: "typed-data-chain-mismatch", severity: High, scopes: SIG,
        title: "Typed data signed for another chain",
        description: "`domain.chainId` differs from the chain the wallet is connected to: the signature will be valid on another chain, which phishing sites use to hide permits from wallets' previews.",
        recommendation: "Reject the request unless you intend to act on that chain.",
        references: ["https://eips.ethereum.org/EIPS/eip-712"],
    }
    /// Unusual verifying contract.
    TYPED_DATA_UNUSUAL_VERIFYING_CONTRACT = {
        id: "typed-data-unusual-verifying-contract", severity: Medium, scopes: SIG,
        title: "Unusual verifying contract",
        description: "`domain.verifyingContract` is the zero address, or the message uses a well-known protocol's types (Permit2, Seaport) but names a contract other than that protocol's canonical deployment.",
        recommendation: "Check the verifying contract against the protocol's documented addresses.",
        references: ["https://eips.ethereum.org/EIPS/eip-712"],
    }
    /// SIWE domain mismatch.
    SIWE_DOMAIN_MISMATCH = {
        id: "siwe-domain-mismatch", severity: High, scopes: SIG,
        title: "Sign-In with Ethereum message for another site",
        description: "The EIP-4361 message names a domain that differs from the site asking for the signature (`--origin`). The requesting site can use your signature to log in to the named site as you.",
        recommendation: "Do not sign. Sign in only on the site named in the message.",
        references: ["https://eips.ethereum.org/EIPS/eip-4361"],
    }
    /// Address on a sanctions list.
    ADDRESS_SANCTIONED = {
        id: "address-sanctioned", severity: Critical, scopes: SCREEN,
        title: "Sanctioned address",
        description: "The address is on a sanctions list (OFAC SDN digital-currency addresses) and has not been delisted. Transacting with it can be illegal for people and companies under that jurisdiction.",
        recommendation: "Do not transact. Ask your compliance team before any interaction.",
        references: ["https://ofac.treasury.gov/specially-designated-nationals-and-blocked-persons-list-sdn-human-readable-lists"],
    }
    /// Address delisted from a sanctions list.
    ADDRESS_FORMERLY_SANCTIONED = {
        id: "address-formerly-sanctioned", severity: Medium, scopes: SCREEN,
        title: "Formerly sanctioned address",
        description: "The address was on a sanctions list and has since been delisted (for example the Tornado Cash contracts, delisted by OFAC on 2025-03-21). It is no longer sanctioned, but funds that passed through it may still be screened by counterparties.",
        recommendation: "Check your compliance policy: some exchanges still flag funds from formerly sanctioned addresses.",
        references: ["https://home.treasury.gov/news/press-releases/sb0057"],
    }
    /// Address labelled malicious.
    ADDRESS_MALICIOUS = {
        id: "address-malicious", severity: Critical, scopes: SCREEN,
        title: "Address known to be malicious",
        description: "Threat intelligence labels the address as a drainer, phishing, exploit, address-poisoning, scam-token or scam EIP-7702 delegate address. The evidence names the label, the dataset and its version.",
        recommendation: "Do not send funds, approve, sign for or delegate to this address.",
        references: ["docs/data-sources.md"],
    }
    /// Spender exploited or deprecated.
    SPENDER_EXPLOITED = {
        id: "spender-exploited", severity: High, scopes: SCREEN,
        title: "Exploited or deprecated spender",
        description: "The address is a contract that was exploited (attackers can use approvals given to it) or that its own project has deprecated. Approvals to it should not exist.",
        recommendation: "Do not approve it; revoke existing approvals to it.",
        references: ["https://github.com/RevokeCash/whois"],
    }
    /// Mixer.
    ADDRESS_MIXER = {
        id: "address-mixer", severity: High, scopes: SCREEN,
        title: "Mixer address",
        description: "The address belongs to a mixing service. Funds coming from or going to it are often blocked by exchanges and counterparties.",
        recommendation: "Expect compliance checks on funds that touch it.",
        references: ["docs/data-sources.md"],
    }
    /// Phishing domain.
    DOMAIN_PHISHING = {
        id: "domain-phishing", severity: Critical, scopes: DOMAIN,
        title: "Known phishing site",
        description: "The site's domain (or a parent domain) is on a phishing deny list and not on the allow list. Sites like this exist to get wallet signatures and approvals.",
        recommendation: "Close the site. Do not connect a wallet or sign anything there.",
        references: ["https://github.com/MetaMask/eth-phishing-detect", "https://github.com/polkadot-js/phishing"],
    }
    /// Look-alike domain.
    DOMAIN_LOOKALIKE = {
        id: "domain-lookalike", severity: Medium, scopes: DOMAIN,
        title: "Domain looks like a well-known Web3 site",
        description: "The registrable domain is one edit away from, or a Unicode/punycode confusable of, a protected well-known Web3 brand, but is not that brand. This is a warning, not a verdict: check you are where you meant to be.",
        recommendation: "Type the address of the site you want yourself, or use a bookmark.",
        references: ["https://www.unicode.org/reports/tr39/"],
    }
    /// Address poisoning: look-alike counterparty.
    POISONING_LOOKALIKE = {
        id: "poisoning-lookalike", severity: High, scopes: HISTORY,
        title: "Look-alike of an address you have used (address poisoning)",
        description: "The address shares at least four leading and four trailing hex digits with a different address the wallet really transacted with. Attackers mine such addresses and plant them in the victim's history so that a copy from the history pays them instead. The evidence gives the matched lengths and the chance of a random match, 16^-(prefix+suffix).",
        recommendation: "Copy recipients from a trusted address book, never from transaction history, and compare every character.",
        references: ["https://www.coinbase.com/blog/address-poisoning"],
    }
    /// Address poisoning: zero-value transferFrom.
    POISONING_ZERO_TRANSFER = {
        id: "poisoning-zero-transfer", severity: Medium, scopes: HISTORY,
        title: "Zero-value transfer from the wallet by a third party",
        description: "A third party moved 0 tokens out of the wallet with transferFrom. ERC-20 allows this without an allowance, so attackers use it to put a look-alike recipient into the wallet's outgoing history.",
        recommendation: "Ignore the recipient of such transfers; never pay an address copied from them.",
        references: ["https://eips.ethereum.org/EIPS/eip-20"],
    }
    /// Address poisoning: dust mimicking past amounts.
    POISONING_DUST = {
        id: "poisoning-dust", severity: Medium, scopes: HISTORY,
        title: "Dust transfer mimicking a past payment",
        description: "A look-alike address sent the wallet a tiny amount that mimics an amount the wallet sent before, so the planted entry resembles a real payment in the history.",
        recommendation: "Treat the sender as an attacker's address.",
        references: ["https://www.coinbase.com/blog/address-poisoning"],
    }
    /// Counterfeit token.
    TOKEN_COUNTERFEIT = {
        id: "token-counterfeit", severity: High, scopes: HISTORY,
        title: "Counterfeit token imitating a known token",
        description: "A token whose symbol, after Unicode confusable normalisation, equals a well-known token's symbol, but whose contract is not that token's. Counterfeits are used for poisoning and fake-balance scams.",
        recommendation: "Ignore the token; do not interact with it or with sites it advertises.",
        references: ["https://github.com/MetaMask/contract-metadata"],
    }
    /// personal_sign of unreadable bytes.
    PERSONAL_SIGN_UNREADABLE = {
        id: "personal-sign-unreadable", severity: Medium, scopes: SIG,
        title: "personal_sign of unreadable bytes",
        description: "The personal_sign payload is not readable text. You cannot tell what you agree to; some protocols use such payloads as authorisations.",
        recommendation: "Sign only if the dApp documents what the bytes are.",
        references: ["https://eips.ethereum.org/EIPS/eip-191"],
    }
    // ---- contract (bytecode) ----
    /// SELFDESTRUCT reachable from a function.
    CONTRACT_SELFDESTRUCT = {
        id: "contract-selfdestruct", severity: High, scopes: CONTRACT,
        title: "SELFDESTRUCT is reachable",
        description: "A function (or the fallback) can execute `SELFDESTRUCT`, which sends the contract's entire ether balance to a chosen address. Before Cancun (EIP-6780) it also deleted the code and storage; since Cancun it still moves the balance and, in the creation transaction, still deletes the contract. The finding says which function reaches it and whether an owner check guards it (medium when guarded, high when anyone can call it).",
        recommendation: "Do not hold funds in, or depend on, a contract whose owner (or anyone) can destroy it. Developers: remove `selfdestruct`; it is deprecated.",
        references: ["https://eips.ethereum.org/EIPS/eip-6780", "https://swcregistry.io/docs/SWC-106"],
    }
    /// CREATE2 factory of contracts that can be replaced.
    CONTRACT_METAMORPHIC = {
        id: "contract-metamorphic", severity: High, scopes: CONTRACT,
        title: "Metamorphic contract factory",
        description: "The contract deploys with `CREATE2` and either can self-destruct or embeds init code that copies its runtime code from another contract (`EXTCODECOPY` of an address it asks for). Together these let the same address hold different code over time: an audited contract can be destroyed and redeployed with malicious code at the same address. EIP-6780 (Cancun) limits this to a single transaction on Ethereum, but not on every chain.",
        recommendation: "Treat contracts deployed by this factory as mutable: check their code hash before every interaction, or avoid them.",
        references: ["https://github.com/0age/metamorphic", "https://eips.ethereum.org/EIPS/eip-6780"],
    }
    /// DELEGATECALL to an address from calldata.
    CONTRACT_DELEGATECALL_CALLDATA_TARGET = {
        id: "contract-delegatecall-calldata-target", severity: Critical, scopes: CONTRACT,
        title: "DELEGATECALL to a caller-supplied address",
        description: "A function runs `DELEGATECALL` on an address taken from its arguments. The callee's code runs with this contract's storage and balance, so whoever can call the function can overwrite the owner, drain the funds or destroy the contract. Critical when no owner check guards the call; medium when only the owner or admin can reach it (an upgrade-style power).",
        recommendation: "Do not use or fund the contract if anyone can reach the call. Developers: restrict the target to an allow-list or remove the delegatecall.",
        references: ["https://swcregistry.io/docs/SWC-112"],
    }
    /// DELEGATECALL to an address read from storage.
    CONTRACT_DELEGATECALL_STORAGE_TARGET = {
        id: "contract-delegatecall-storage-target", severity: Medium, scopes: CONTRACT,
        title: "DELEGATECALL to an address kept in storage",
        description: "A function delegates to an address read from storage (outside a standard proxy slot). Whoever can change that slot can replace the logic that runs with this contract's storage and funds. The evidence lists the slot and the functions that write it.",
        recommendation: "Find out who can change the stored address (the setter's access control) and whether changes are time-locked.",
        references: ["https://swcregistry.io/docs/SWC-112"],
    }
    /// tx.origin used for authorisation.
    CONTRACT_TX_ORIGIN_AUTH = {
        id: "contract-tx-origin-auth", severity: High, scopes: CONTRACT,
        title: "tx.origin used for authorisation",
        description: "The code compares `tx.origin` with a stored or fixed address to decide whether the caller may proceed. Any contract the owner interacts with (a phishing dApp, a malicious token hook) can call this contract during that transaction and pass the check.",
        recommendation: "Developers: authorise with `msg.sender`. Users: do not interact with unknown contracts from the account that owns this one.",
        references: ["https://swcregistry.io/docs/SWC-115", "https://docs.soliditylang.org/en/latest/security-considerations.html#tx-origin"],
    }
    /// Inventory of owner-gated functions.
    CONTRACT_PRIVILEGED_FUNCTIONS = {
        id: "contract-privileged-functions", severity: Info, scopes: CONTRACT,
        title: "Owner-only functions",
        description: "The functions whose every state change happens after the caller is compared with a stored owner or admin address (or checked for a role). The evidence lists each with its selector, name when known, and what it touches (mint, blacklist, fee, pause, balances, selfdestruct, delegatecall, ether transfer). The dangerous ones have their own findings.",
        recommendation: "Check who the owner is (a multisig, a timelock, an EOA, nobody) before trusting the contract with funds.",
        references: ["https://docs.openzeppelin.com/contracts/5.x/access-control"],
    }
    /// Owner can mint.
    CONTRACT_OWNER_MINT = {
        id: "contract-owner-mint", severity: Medium, scopes: CONTRACT,
        title: "Owner can mint tokens",
        description: "An owner-only function named as a mint raises a balance and the total supply and emits `Transfer`. The owner can dilute every holder at will.",
        recommendation: "Check the owner (timelock, multisig, governance) and any supply cap before holding the token.",
        references: ["https://eips.ethereum.org/EIPS/eip-20"],
    }
    /// Hidden mint.
    CONTRACT_HIDDEN_MINT = {
        id: "contract-hidden-mint", severity: High, scopes: CONTRACT,
        title: "Hidden mint",
        description: "An owner-only function raises a balance and the total supply, but its name does not say so or it emits no `Transfer` event, so explorers and wallets do not show the new tokens being created. This is a classic rug-pull preparation: mint silently, then dump on the pool.",
        recommendation: "Do not buy or hold the token.",
        references: ["https://github.com/CRPWarner/RugPull", "https://eips.ethereum.org/EIPS/eip-20"],
    }
    /// Owner can move other holders' balances.
    CONTRACT_OWNER_MOVES_BALANCES = {
        id: "contract-owner-moves-balances", severity: High, scopes: CONTRACT,
        title: "Owner can move other holders' tokens",
        description: "An owner-only function changes the balances of addresses given as arguments (not the caller's own balance) without changing the total supply: the owner can take or burn anyone's tokens without an allowance.",
        recommendation: "Do not hold the token: your balance is only as safe as the owner key.",
        references: ["https://github.com/CRPWarner/RugPull"],
    }
    /// Owner-set list consulted by transfers.
    CONTRACT_BLACKLIST = {
        id: "contract-blacklist", severity: High, scopes: CONTRACT,
        title: "Transfers consult an owner-controlled blacklist or whitelist",
        description: "`transfer`/`transferFrom` branch on a per-address list (a storage mapping other than balances and allowances) that an owner-only function sets. The owner can stop any holder from selling or moving tokens: the honeypot pattern, where buying works and selling does not.",
        recommendation: "Do not buy the token unless the list is documented (e.g. a regulated stablecoin's sanctions freeze) and the owner is accountable.",
        references: ["https://github.com/CRPWarner/RugPull", "https://www.certik.com/resources/blog/honeypot-scams"],
    }
    /// Owner-set fee used by transfers.
    CONTRACT_ADJUSTABLE_FEE = {
        id: "contract-adjustable-fee", severity: High, scopes: CONTRACT,
        title: "Owner can change the transfer fee",
        description: "Transfers multiply or divide the amount by a stored value that an owner-only function sets from its argument. The owner can raise the fee (tax) at any time, up to confiscating whole transfers or sales.",
        recommendation: "Check the current fee and its upper bound in the source before trading; prefer tokens whose fee is fixed or capped low.",
        references: ["https://github.com/CRPWarner/RugPull"],
    }
    /// Owner can pause transfers.
    CONTRACT_PAUSABLE = {
        id: "contract-pausable", severity: Medium, scopes: CONTRACT,
        title: "Owner can pause transfers",
        description: "Transfers branch on a stored flag that an owner-only function sets: the owner can freeze all transfers.",
        recommendation: "Acceptable for some regulated assets; otherwise, check who holds the pause power.",
        references: ["https://docs.openzeppelin.com/contracts/5.x/api/utils#Pausable"],
    }
    /// Owner-set transfer limit.
    CONTRACT_SELL_LIMIT = {
        id: "contract-sell-limit", severity: High, scopes: CONTRACT,
        title: "Owner can limit transfer amounts",
        description: "Transfers compare the amount with a stored limit that an owner-only function sets. Setting the limit to zero (or near it) stops holders from selling: a honeypot variant.",
        recommendation: "Check the current limit and who can change it before buying.",
        references: ["https://github.com/CRPWarner/RugPull"],
    }
    /// Authorisation against an unexposed slot.
    CONTRACT_HIDDEN_OWNER = {
        id: "contract-hidden-owner", severity: High, scopes: CONTRACT,
        title: "Hidden owner",
        description: "Some functions authorise the caller against an address in a storage slot that neither `owner()` nor any other getter returns. Renouncing or transferring the visible ownership does not remove this second, hidden controller.",
        recommendation: "Do not trust 'ownership renounced' for this contract; find out who the hidden address is (read the slot from the evidence).",
        references: ["https://github.com/CRPWarner/RugPull"],
    }
    /// Low-level call whose result is ignored.
    CONTRACT_UNCHECKED_CALL = {
        id: "contract-unchecked-call", severity: Medium, scopes: CONTRACT,
        title: "Result of a low-level call is ignored",
        description: "The success flag of a `CALL` (or `DELEGATECALL`) is never tested, stored or returned: when the call fails, the contract carries on as if it had succeeded (a payout that did not happen is recorded as done).",
        recommendation: "Developers: check the returned boolean (`require(ok)`) or use `Address.sendValue`/`functionCall`.",
        references: ["https://swcregistry.io/docs/SWC-104"],
    }
    /// Ether sent to an arbitrary address.
    CONTRACT_ARBITRARY_SEND = {
        id: "contract-arbitrary-send", severity: High, scopes: CONTRACT,
        title: "Anyone can send the contract's ether to any address",
        description: "A function sends ether from the contract (its balance, or an amount from the arguments) to an address the caller chooses, and no owner, role or per-caller balance check guards it. Anyone can drain the contract.",
        recommendation: "Do not deposit ether in the contract. Developers: add access control or bound the amount by the caller's own recorded balance.",
        references: ["https://swcregistry.io/docs/SWC-105"],
    }
    /// EIP-7702 delegated account.
    CONTRACT_EIP7702_DELEGATED = {
        id: "contract-eip7702-delegated", severity: Medium, scopes: CONTRACT,
        title: "Account is delegated with EIP-7702",
        description: "The code at this address is an EIP-7702 delegation designator (`0xef0100` followed by an address): the account is an EOA whose calls run the delegate's code. Whatever the delegate allows (batching, sessions, or sweeping everything) applies to this account's assets.",
        recommendation: "Check that the delegate is the smart-account implementation your wallet vendor publishes; revoke the delegation (authorise address zero) if you did not set it.",
        references: ["https://eips.ethereum.org/EIPS/eip-7702"],
    }
    /// Opcodes the chain does not support.
    CONTRACT_UNSUPPORTED_OPCODE = {
        id: "contract-unsupported-opcode", severity: Medium, scopes: CONTRACT,
        title: "Opcode not supported on the target chain",
        description: "Reachable code uses an opcode that the target chain's EVM version does not have (for example `PUSH0` before Shanghai, `TLOAD`/`TSTORE`/`MCOPY` before Cancun, `CLZ` before Osaka). On that chain the instruction aborts the call, so the affected functions always fail. Usually the contract was compiled for a newer `evmVersion` than the chain runs.",
        recommendation: "Developers: compile with the chain's `evmVersion` (e.g. `paris` for chains without PUSH0). Users: do not deploy or use this build on that chain.",
        references: ["https://eips.ethereum.org/EIPS/eip-3855", "https://eips.ethereum.org/EIPS/eip-1153", "https://docs.soliditylang.org/en/latest/using-the-compiler.html#target-options"],
    }
    /// Upgradeable proxy.
    CONTRACT_PROXY_UPGRADEABLE = {
        id: "contract-proxy-upgradeable", severity: Low, scopes: CONTRACT,
        title: "Upgradeable proxy",
        description: "The contract forwards calls (DELEGATECALL) to an implementation it reads from storage or from a beacon: EIP-1967 (transparent, UUPS, beacon), EIP-1822, Safe, EIP-2535 diamond or a custom slot. Whoever controls upgrades can replace the code behind this address at any time. With an RPC URL the implementation and admin are read and analysed too.",
        recommendation: "Review the implementation (not just the proxy) and who can upgrade it; prefer proxies whose admin is a timelock or multisig.",
        references: ["https://eips.ethereum.org/EIPS/eip-1967", "https://eips.ethereum.org/EIPS/eip-1822", "https://eips.ethereum.org/EIPS/eip-2535"],
    }
    /// Minimal proxy.
    CONTRACT_PROXY_MINIMAL = {
        id: "contract-proxy-minimal", severity: Info, scopes: CONTRACT,
        title: "Minimal proxy (clone)",
        description: "The code is an EIP-1167 (or EIP-7511 `PUSH0`) minimal proxy: every call is delegated to a fixed implementation embedded in the code. The clone cannot be upgraded; its behaviour is the implementation's.",
        recommendation: "Analyse the implementation named in the evidence.",
        references: ["https://eips.ethereum.org/EIPS/eip-1167", "https://eips.ethereum.org/EIPS/eip-7511"],
    }
    /// Proxy admin is an EOA.
    CONTRACT_PROXY_ADMIN_EOA = {
        id: "contract-proxy-admin-eoa", severity: High, scopes: CONTRACT,
        title: "Proxy admin is a plain account",
        description: "The proxy's admin (read from the EIP-1967 admin slot) has no code: it is an externally owned account, so a single private key can upgrade the proxy to arbitrary code, with no multisig or timelock in between.",
        recommendation: "Treat the contract as controlled by one key; prefer protocols whose upgrades go through a multisig and a timelock.",
        references: ["https://eips.ethereum.org/EIPS/eip-1967"],
    }
    /// Standing unlimited ERC-20 allowance.
    WALLET_APPROVAL_UNLIMITED = {
        id: "wallet-approval-unlimited", severity: Medium, scopes: WALLET,
        title: "Standing unlimited token allowance",
        description: "The wallet has an ERC-20 allowance of at least 2^96 - 1 base units (the 'infinite' sentinels) that is still in force on chain. The spender can take the whole balance of this token, now and whatever the wallet receives later, without asking again. The amount is the on-chain `allowance(owner, spender)` at the scanned block, not the amount once approved.",
        recommendation: "Revoke the allowance (approve(spender, 0)) unless you use this spender regularly; prefer exact-amount approvals.",
        references: ["https://eips.ethereum.org/EIPS/eip-20", "https://revoke.cash/learn/approvals/what-are-token-approvals"],
    }
    /// Allowance or operator approval to an address with no code.
    WALLET_APPROVAL_EOA_SPENDER = {
        id: "wallet-approval-eoa-spender", severity: High, scopes: WALLET,
        title: "Permission granted to a plain account",
        description: "The spender or operator has no contract code: it is an externally owned account (one private key) or an address that has never been used at all. dApps take allowances through contracts; an allowance to a plain account is what an approval phishing attack obtains, and lets that key take the tokens at any time.",
        recommendation: "Revoke it unless you knowingly approved this account (a friend's wallet, your own other wallet).",
        references: ["https://revoke.cash/learn/approvals/what-are-token-approvals"],
    }
    /// Permission to a vanity 0x0000…0000 address.
    WALLET_APPROVAL_VANITY_SPENDER = {
        id: "wallet-approval-vanity-spender", severity: High, scopes: WALLET,
        title: "Permission granted to a vanity 0x0000…0000 address",
        description: "The spender or operator starts and ends with at least four zero hex digits. Drainer kits mine such addresses so that wallets show them as 0x0000…0000, which looks like a system address to a hurried user.",
        recommendation: "Revoke it now.",
        references: ["https://www.scamsniffer.io/"],
    }
    /// ERC-721 / ERC-1155 operator approval for all.
    WALLET_NFT_OPERATOR = {
        id: "wallet-nft-operator", severity: High, scopes: WALLET,
        title: "Operator approved for a whole NFT collection",
        description: "`isApprovedForAll(wallet, operator)` is true: the operator can transfer every item the wallet holds in this collection, and every item it receives later. Marketplaces ask for this; so does every NFT drainer.",
        recommendation: "Revoke with setApprovalForAll(operator, false) unless you are actively listing on this marketplace.",
        references: ["https://eips.ethereum.org/EIPS/eip-721", "https://eips.ethereum.org/EIPS/eip-1155"],
    }
    /// Single ERC-721 token approval.
    WALLET_NFT_TOKEN_APPROVAL = {
        id: "wallet-nft-token-approval", severity: Low, scopes: WALLET,
        title: "Approval of a single NFT",
        description: "`getApproved(tokenId)` names another address while the wallet still owns the token: that address can transfer this one item.",
        recommendation: "Revoke with approve(address(0), tokenId) if the sale or transfer it was for is over.",
        references: ["https://eips.ethereum.org/EIPS/eip-721"],
    }
    /// Permit2 allowance of an unlimited amount.
    WALLET_PERMIT2_UNLIMITED = {
        id: "wallet-permit2-unlimited", severity: Medium, scopes: WALLET,
        title: "Unlimited Permit2 allowance",
        description: "The wallet's Permit2 allowance for this token and spender is at least 2^96 - 1 and has not expired. Permit2 allowances are separate from the token's own and are revoked on Permit2, not on the token.",
        recommendation: "Revoke it on Permit2 (approve(token, spender, 0, 0) or lockdown) if you no longer trade through this spender.",
        references: ["https://github.com/Uniswap/permit2", "https://docs.uniswap.org/contracts/permit2/reference/allowance-transfer"],
    }
    /// Permit2 allowance expiring far in the future.
    WALLET_PERMIT2_LONG_EXPIRY = {
        id: "wallet-permit2-long-expiry", severity: Medium, scopes: WALLET,
        title: "Permit2 allowance valid for more than a year",
        description: "The Permit2 allowance expires more than 365 days after the scanned block. Front ends normally ask for 30 days; a far expiry is typical of drainer signatures.",
        recommendation: "Revoke it on Permit2 and re-approve with a short expiry when needed.",
        references: ["https://docs.uniswap.org/contracts/permit2/reference/allowance-transfer"],
    }
    /// Permission unused for 180 days.
    WALLET_APPROVAL_STALE = {
        id: "wallet-approval-stale", severity: Low, scopes: WALLET,
        title: "Permission unused for more than 180 days",
        description: "No approval change and no outgoing transfer of this token has happened for at least 180 days before the scanned block, yet the permission is still in force. Forgotten approvals are how exploits of old contracts reach wallets long after their owners stopped using them.",
        recommendation: "Revoke permissions you no longer use.",
        references: ["https://revoke.cash/learn/approvals/why-you-should-revoke"],
    }
    /// The wallet is an EIP-7702 delegated account.
    WALLET_EIP7702_DELEGATED = {
        id: "wallet-eip7702-delegated", severity: High, scopes: WALLET,
        title: "Wallet delegated with EIP-7702",
        description: "The wallet's code is an EIP-7702 delegation designator (0xef0100 || delegate): every call to the wallet runs the delegate's code with the wallet's balance and permissions. A delegate that is flagged is critical (sweeper contracts drain anything sent to the account); an unknown delegate is high; a delegate that threat intel knows as a wallet implementation is low.",
        recommendation: "If you did not set this delegation yourself from your wallet app, move your funds to a fresh account now and clear the delegation (authorize the zero address).",
        references: ["https://eips.ethereum.org/EIPS/eip-7702"],
    }
    /// The wallet scan could not collect everything.
    WALLET_DATA_INCOMPLETE = {
        id: "wallet-data-incomplete", severity: Medium, scopes: WALLET,
        title: "Scan incomplete: some on-chain data could not be read",
        description: "Part of the block range or of the state reads failed (the evidence lists each gap). The findings are a lower bound: an incomplete scan never means the wallet is clean.",
        recommendation: "Re-run the scan against a healthier or archive-capable RPC endpoint, or a narrower --from-block.",
        references: [],
    }
}

/// Looks a rule up by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.id == id)
}

/// Renders the registry as the Markdown document committed as `docs/rules.md`.
pub fn render_markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# Rules\n\n<!-- Generated from the rule registry (scorpius-core/src/rules.rs) by \
         `scorpius rules --format markdown`. Do not edit by hand. -->\n\n\
         Every finding carries one of these stable ids. Severities are defaults; a finding can be \
         raised or lowered by context, and policies can override them.\n\n\
         | id | default severity | scans | title |\n| --- | --- | --- | --- |\n",
    );
    for r in ALL {
        let scopes: Vec<_> = r.scopes.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(out, "| [`{}`](#{}) | {} | {} | {} |", r.id, r.id, r.severity, scopes.join(", "), r.title);
    }
    for r in ALL {
        let _ = write!(
            out,
            "\n## {}\n\n**{}** — default severity **{}**\n\n{}\n\n**Recommendation.** {}\n",
            r.id, r.title, r.severity, r.description, r.recommendation
        );
        if !r.references.is_empty() {
            out.push_str("\n**References.**\n\n");
            for reference in r.references {
                let _ = writeln!(out, "- <{reference}>");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_kebab_case_and_severity_free() {
        let mut seen = HashSet::new();
        for r in ALL {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                r.id.split('-')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{} is not kebab-case",
                r.id
            );
            for sev in Severity::ALL {
                assert!(!r.id.split('-').any(|p| p == sev.as_str()), "{} contains a severity", r.id);
            }
            assert!(!r.title.is_empty() && !r.description.is_empty() && !r.recommendation.is_empty());
        }
    }

    #[test]
    fn find_by_id() {
        assert_eq!(find("approval-unlimited"), Some(&APPROVAL_UNLIMITED));
        assert_eq!(find("nope"), None);
    }
}
