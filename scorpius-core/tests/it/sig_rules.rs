//! One table per signature rule: EIP-712 payloads as dApps send them (permits, Permit2,
//! marketplace orders), `eth_sign` hashes, `personal_sign` text and bytes, and SIWE.

use alloy_primitives::Address;
use scorpius_core::{
    model::Severity::{Critical, High, Low, Medium},
    rules,
    signature::SignatureRequest,
};
use serde_json::{Value, json};

use crate::{
    common::{
        ATTACKER, BAYC, Case, DAI, DAY, DRAINER, FAKE_PERMIT2, NOW_TS, OPENSEA_FEES, PERMIT2, SEAPORT_16,
        UNISWAPX_REACTOR, UNIVERSAL_ROUTER, USDC, WETH, YEAR, cs, ctx_on, ctx_origin, rule_tables, typed,
    },
    fixtures::{
        OWNER, blur_order, eth_to, looksrare_maker, max, nft, permit_dai, permit_usdc, permit2_batch,
        permit2_batch_transfer, permit2_single, permit2_transfer, permit2_witness, seaport, seaport_bulk,
        seaport_fair_listing, siwe, u48_max, u160_max, with_domain,
    },
};

const THRESHOLD: &str = "79228162514264337593543950335";

fn sig(name: &str, v: &Value) -> Case {
    Case::sig(name, typed(v))
}

fn soon() -> u64 {
    NOW_TS + 1800
}

rule_tables! {
    approval_zero_address_sig: rules::APPROVAL_ZERO_ADDRESS, Signature => zero_spender_cases;
    approval_vanity_spender_sig: rules::APPROVAL_VANITY_SPENDER, Signature => vanity_spender_cases;
    permit2_unlimited_allowance_sig: rules::PERMIT2_UNLIMITED_ALLOWANCE, Signature => permit2_unlimited_cases;
    permit2_long_expiration_sig: rules::PERMIT2_LONG_EXPIRATION, Signature => permit2_long_expiration_cases;
    permit2_signature_transfer: rules::PERMIT2_SIGNATURE_TRANSFER, Signature => permit2_signature_transfer_cases;
    eth_sign_raw_hash: rules::ETH_SIGN_RAW_HASH, Signature => eth_sign_cases;
    permit_signature: rules::PERMIT_SIGNATURE, Signature => permit_signature_cases;
    permit_unlimited: rules::PERMIT_UNLIMITED, Signature => permit_unlimited_cases;
    permit_long_deadline: rules::PERMIT_LONG_DEADLINE, Signature => permit_long_deadline_cases;
    nft_order_undervalued: rules::NFT_ORDER_UNDERVALUED, Signature => nft_order_undervalued_cases;
    nft_order_third_party_consideration: rules::NFT_ORDER_THIRD_PARTY_CONSIDERATION, Signature => third_party_cases;
    typed_data_chain_mismatch: rules::TYPED_DATA_CHAIN_MISMATCH, Signature => chain_mismatch_cases;
    typed_data_unusual_verifying_contract: rules::TYPED_DATA_UNUSUAL_VERIFYING_CONTRACT, Signature => unusual_verifying_contract_cases;
    siwe_domain_mismatch: rules::SIWE_DOMAIN_MISMATCH, Signature => siwe_cases;
    personal_sign_unreadable: rules::PERSONAL_SIGN_UNREADABLE, Signature => personal_sign_unreadable_cases;
}

fn zero_spender_cases() -> Vec<Case> {
    vec![
        sig("EIP-2612 permit to 0x0", &permit_usdc(Address::ZERO, json!("1000000"), json!(soon())))
            .fires(Medium)
            .at("message.spender")
            .count(1)
            .ev("spender", cs(Address::ZERO)),
        sig("PermitSingle to 0x0", &permit2_single(USDC, "1000000", NOW_TS + DAY, Address::ZERO, soon()))
            .fires(Medium)
            .at("message.spender"),
        sig("PermitTransferFrom to 0x0", &permit2_transfer(USDC, "1000000", Address::ZERO, soon())).fires(Medium),
        sig("permit to the Universal Router", &permit_usdc(UNIVERSAL_ROUTER, json!("1000000"), json!(soon()))).absent(),
        sig("PermitSingle to the Universal Router", &permit2_single(USDC, "1", NOW_TS + DAY, UNIVERSAL_ROUTER, soon()))
            .absent(),
    ]
}

fn vanity_spender_cases() -> Vec<Case> {
    vec![
        sig("PermitSingle to a 0x0000…0000 spender", &permit2_single(USDC, &u160_max(), NOW_TS + DAY, DRAINER, soon()))
            .fires(High)
            .at("message.spender")
            .count(1)
            .ev("spender", cs(DRAINER))
            .ev("pattern", "at least 4 leading and 4 trailing zero hex digits"),
        sig("EIP-2612 permit to the drainer", &permit_usdc(DRAINER, json!("1"), json!(soon())))
            .fires(High)
            .ev("spender", cs(DRAINER)),
        sig("DAI permit to the drainer", &permit_dai(DRAINER, json!(true), json!(0))).fires(High).at("message.spender"),
        sig(
            "PermitBatchTransferFrom to the drainer",
            &permit2_batch_transfer(&[(USDC, "1"), (WETH, "1")], DRAINER, soon()),
        )
        .fires(High)
        .at("message.spender"),
        sig("PermitSingle to the Universal Router", &permit2_single(USDC, "1", NOW_TS + DAY, UNIVERSAL_ROUTER, soon()))
            .absent(),
        sig(
            "PermitTransferFrom to the UniswapX reactor (leading zeros only)",
            &permit2_transfer(USDC, "1", UNISWAPX_REACTOR, soon()),
        )
        .absent(),
    ]
}

fn permit2_unlimited_cases() -> Vec<Case> {
    vec![
        sig(
            "PermitSingle uint160 max",
            &permit2_single(USDC, &u160_max(), NOW_TS + 30 * DAY, UNIVERSAL_ROUTER, soon()),
        )
        .fires(Medium)
        .at("message.details.amount")
        .count(1)
        .ev("token", cs(USDC))
        .ev("spender", cs(UNIVERSAL_ROUTER))
        .ev("amount", u160_max())
        .ev("threshold", THRESHOLD),
        sig(
            "PermitBatch, second detail unlimited",
            &permit2_batch(
                &[(USDC, "1000000", NOW_TS + DAY), (WETH, &u160_max(), NOW_TS + DAY)],
                UNIVERSAL_ROUTER,
                soon(),
            ),
        )
        .fires(Medium)
        .at("message.details[1].amount")
        .count(1)
        .ev("token", cs(WETH)),
        sig("PermitTransferFrom of 2^256-1", &permit2_transfer(USDC, &max(), UNIVERSAL_ROUTER, soon()))
            .fires(Medium)
            .at("message.permitted.amount")
            .ev("amount", max()),
        sig(
            "PermitBatchTransferFrom, first token unlimited",
            &permit2_batch_transfer(&[(WETH, &max()), (USDC, "5")], UNIVERSAL_ROUTER, soon()),
        )
        .fires(Medium)
        .at("message.permitted[0].amount")
        .count(1),
        sig(
            "PermitSingle of 1000 USDC",
            &permit2_single(USDC, "1000000000", NOW_TS + 30 * DAY, UNIVERSAL_ROUTER, soon()),
        )
        .absent(),
        sig(
            "EIP-2612 unlimited is permit-unlimited instead",
            &permit_usdc(UNIVERSAL_ROUTER, json!(max()), json!(soon())),
        )
        .absent(),
    ]
}

fn permit2_long_expiration_cases() -> Vec<Case> {
    vec![
        sig(
            "PermitSingle expiration uint48 max",
            &permit2_single(USDC, "1000000", u48_max(), UNIVERSAL_ROUTER, soon()),
        )
        .fires(Medium)
        .at("message.details.expiration")
        .count(1)
        .ev("expiration", u48_max().to_string())
        .ev("token", cs(USDC))
        .ev("spender", cs(UNIVERSAL_ROUTER))
        .ev("horizon_days", 365),
        sig(
            "PermitSingle sigDeadline in 3 years",
            &permit2_single(USDC, "1000000", NOW_TS + DAY, UNIVERSAL_ROUTER, NOW_TS + 3 * YEAR),
        )
        .fires(Medium)
        .at("message.sigDeadline")
        .count(1)
        .ev("sigDeadline", (NOW_TS + 3 * YEAR).to_string())
        .ev("sigDeadline_utc", "2028-12-31T00:00:00Z"),
        sig(
            "PermitBatch with one long expiration",
            &permit2_batch(&[(USDC, "1", NOW_TS + DAY), (WETH, "1", NOW_TS + 2 * YEAR)], UNIVERSAL_ROUTER, soon()),
        )
        .fires(Medium)
        .at("message.details[1].expiration")
        .count(1),
        sig("PermitTransferFrom deadline uint256 max", &permit2_transfer(USDC, "1", UNIVERSAL_ROUTER, u64::MAX))
            .fires(Medium)
            .at("message.deadline")
            .ev("deadline", u64::MAX.to_string())
            .ev("deadline_utc", Value::Null),
        sig(
            "30-day allowance, 30-minute signature",
            &permit2_single(USDC, &u160_max(), NOW_TS + 30 * DAY, UNIVERSAL_ROUTER, soon()),
        )
        .absent(),
        sig("expiration exactly one year out", &permit2_single(USDC, "1", NOW_TS + YEAR, UNIVERSAL_ROUTER, soon()))
            .absent(),
        sig(
            "EIP-2612 permit with a far deadline is permit-long-deadline",
            &permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(max())),
        )
        .absent(),
    ]
}

fn permit2_signature_transfer_cases() -> Vec<Case> {
    vec![
        sig("PermitTransferFrom of 1000 USDC", &permit2_transfer(USDC, "1000000000", UNIVERSAL_ROUTER, soon()))
            .fires(Medium)
            .at("message.permitted")
            .count(1)
            .ev("spender", cs(UNIVERSAL_ROUTER))
            .ev("permitted", json!([{"token": cs(USDC), "amount": "1000000000"}])),
        sig(
            "PermitBatchTransferFrom of two tokens",
            &permit2_batch_transfer(&[(USDC, "5"), (WETH, "7")], ATTACKER, soon()),
        )
        .fires(Medium)
        .ev("spender", cs(ATTACKER))
        .ev("permitted", json!([{"token": cs(USDC), "amount": "5"}, {"token": cs(WETH), "amount": "7"}])),
        sig("UniswapX PermitWitnessTransferFrom", &permit2_witness(USDC, "1000000000", UNISWAPX_REACTOR, soon()))
            .fires(Medium)
            .at("message.permitted")
            .ev("spender", cs(UNISWAPX_REACTOR)),
        sig(
            "PermitSingle is an allowance, not a transfer",
            &permit2_single(USDC, "1", NOW_TS + DAY, UNIVERSAL_ROUTER, soon()),
        )
        .absent(),
        sig("EIP-2612 permit", &permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(soon()))).absent(),
    ]
}

fn eth_sign_cases() -> Vec<Case> {
    let hash = "0x6e9b4a0d8f2d6c1e7a0b5c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
    vec![
        Case::sig("eth_sign of a 32-byte hash", SignatureRequest::eth_sign(hash).unwrap())
            .fires(Critical)
            .count(1)
            .ev("hash", hash),
        Case::sig(
            "eth_sign without 0x, with whitespace",
            SignatureRequest::eth_sign(&format!("  {}\n", &hash[2..])).unwrap(),
        )
        .fires(Critical)
        .ev("hash", hash),
        Case::sig("personal_sign of the same hex is not eth_sign", SignatureRequest::personal(hash).unwrap()).absent(),
        Case::sig("personal_sign text", SignatureRequest::personal("Welcome to OpenSea!").unwrap()).absent(),
    ]
}

fn permit_signature_cases() -> Vec<Case> {
    vec![
        sig(
            "USDC permit of 250 USDC for 30 minutes",
            &permit_usdc(UNIVERSAL_ROUTER, json!("250000000"), json!(soon())),
        )
        .fires(Low)
        .at("message.value")
        .count(1)
        .ev("spender", cs(UNIVERSAL_ROUTER))
        .ev("value", "250000000")
        .ev("token", cs(USDC)),
        sig("value as a JSON number", &permit_usdc(UNIVERSAL_ROUTER, json!(250_000_000), json!(soon())))
            .fires(Low)
            .ev("value", "250000000"),
        sig("value as hex", &permit_usdc(UNIVERSAL_ROUTER, json!("0xee6b280"), json!(soon())))
            .fires(Low)
            .ev("value", "250000000"),
        sig("unlimited permit is permit-unlimited", &permit_usdc(UNIVERSAL_ROUTER, json!(max()), json!(soon())))
            .absent(),
        sig("DAI permit (allowed) is permit-unlimited", &permit_dai(UNIVERSAL_ROUTER, json!(true), json!(soon())))
            .absent(),
        sig("PermitSingle", &permit2_single(USDC, "1", NOW_TS + DAY, UNIVERSAL_ROUTER, soon())).absent(),
    ]
}

fn permit_unlimited_cases() -> Vec<Case> {
    let binary_max = format!("0b{}", "1".repeat(256));
    vec![
        sig("USDC permit of 2^256-1", &permit_usdc(ATTACKER, json!(max()), json!(soon())))
            .fires(High)
            .at("message.value")
            .count(1)
            .ev("spender", cs(ATTACKER))
            .ev("value", max())
            .ev("token", cs(USDC))
            .ev("threshold", THRESHOLD),
        sig(
            "value as 0x hex of 2^256-1",
            &permit_usdc(ATTACKER, json!(format!("0x{}", "f".repeat(64))), json!(soon())),
        )
        .fires(High)
        .ev("value", max()),
        // The signing hash parses `0b…` and `_` separators, so the analyzer must too.
        sig("value as 0b binary (regression: read as 0)", &permit_usdc(ATTACKER, json!(binary_max), json!(soon())))
            .fires(High)
            .ev("value", max()),
        sig("DAI permit allowed: true", &permit_dai(ATTACKER, json!(true), json!(0)))
            .fires(High)
            .at("message.allowed")
            .count(1)
            .ev("spender", cs(ATTACKER))
            .ev("allowed", true)
            .ev("token", cs(DAI)),
        sig(
            "DAI permit allowed: \"true\" as a string (regression: read as false)",
            &permit_dai(ATTACKER, json!("true"), json!(0)),
        )
        .fires(High)
        .ev("allowed", true),
        sig("USDC permit of 250 USDC", &permit_usdc(ATTACKER, json!("250000000"), json!(soon()))).absent(),
        sig("DAI permit allowed: false (revocation)", &permit_dai(ATTACKER, json!(false), json!(0))).absent(),
        sig(
            "Permit2 unlimited is permit2-unlimited-allowance",
            &permit2_single(USDC, &u160_max(), NOW_TS + DAY, ATTACKER, soon()),
        )
        .absent(),
    ]
}

fn permit_long_deadline_cases() -> Vec<Case> {
    vec![
        sig("EIP-2612 deadline 2^256-1 (never)", &permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(max())))
            .fires(Medium)
            .at("message.deadline")
            .count(1)
            .ev("deadline", max())
            .ev("deadline_utc", Value::Null)
            .ev("token", cs(USDC)),
        sig("EIP-2612 deadline in two years", &permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(NOW_TS + 2 * YEAR)))
            .fires(Medium)
            .ev("deadline_utc", "2028-01-01T00:00:00Z"),
        sig("DAI expiry 0 means never", &permit_dai(UNIVERSAL_ROUTER, json!(true), json!(0)))
            .fires(Medium)
            .at("message.expiry")
            .count(1)
            .ev("expiry", "0")
            .ev("token", cs(DAI)),
        sig("DAI expiry in 5 years", &permit_dai(UNIVERSAL_ROUTER, json!(true), json!(NOW_TS + 5 * YEAR)))
            .fires(Medium)
            .at("message.expiry")
            .ev("expiry", (NOW_TS + 5 * YEAR).to_string()),
        sig("EIP-2612 deadline in 30 minutes", &permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(soon()))).absent(),
        sig("DAI revocation (allowed false, expiry 0)", &permit_dai(UNIVERSAL_ROUTER, json!(false), json!(0))).absent(),
        sig(
            "Permit2 far expiration is permit2-long-expiration",
            &permit2_single(USDC, "1", u48_max(), UNIVERSAL_ROUTER, soon()),
        )
        .absent(),
    ]
}

fn nft_order_undervalued_cases() -> Vec<Case> {
    vec![
        sig("Seaport free listing: BAYC for 1 wei to the attacker", &seaport(vec![nft(BAYC, 8817)], vec![eth_to(ATTACKER, "1")]))
            .fires(Critical)
            .at("message.consideration")
            .count(1)
            .ev("marketplace", "Seaport")
            .ev("seller", cs(OWNER))
            .ev("payment_to_seller", "0")
            .ev("dust_threshold", "1000000000000000")
            .ev("nfts_offered", 1)
            .ev("payments_to_others", json!([{"recipient": cs(ATTACKER), "currency": cs(Address::ZERO), "amount": "1"}])),
        sig("Seaport listing with no consideration at all", &seaport(vec![nft(BAYC, 1), nft(BAYC, 2)], vec![]))
            .fires(Critical)
            .ev("nfts_offered", 2),
        sig("Seaport listing paying the seller dust", &seaport(vec![nft(BAYC, 1)], vec![eth_to(OWNER, "999999999999999")]))
            .fires(Critical)
            .ev("payment_to_seller", "999999999999999"),
        sig("Blur sell order at price 0", &blur_order(1, "0", vec![]))
            .fires(Critical)
            .at("message.price")
            .count(1)
            .ev("marketplace", "Blur")
            .ev("seller", cs(OWNER))
            .ev("collection", cs(BAYC)),
        sig("LooksRare ask at price 0", &looksrare_maker(1, "0"))
            .fires(Critical)
            .at("message.price")
            .ev("marketplace", "LooksRare")
            .ev("collection", cs(BAYC)),
        sig(
            "Seaport BulkOrder whose second order is free",
            &seaport_bulk(seaport_fair_listing(), seaport(vec![nft(BAYC, 1)], vec![eth_to(ATTACKER, "1")])),
        )
        .fires(Critical)
        .at("message.tree[1].consideration")
        .count(1),
        sig("Seaport fair listing (10 ETH, 2.5% fee)", &seaport_fair_listing()).absent(),
        sig("Seaport BulkOrder of two fair listings", &seaport_bulk(seaport_fair_listing(), seaport_fair_listing())).absent(),
        sig("Seaport offer of WETH (a bid), nothing offered as NFT", &seaport(vec![json!({"itemType": "1", "token": cs(WETH), "identifierOrCriteria": "0", "startAmount": "1", "endAmount": "1"})], vec![]))
            .absent(),
        sig("Blur sell order at 30 ETH", &blur_order(1, "30000000000000000000", vec![(50, OPENSEA_FEES)])).absent(),
        sig("Blur buy order (bid) at 0", &blur_order(0, "0", vec![])).absent(),
        sig("LooksRare ask at 5 ETH", &looksrare_maker(1, "5000000000000000000")).absent(),
        sig("LooksRare bid at 0", &looksrare_maker(0, "0")).absent(),
    ]
}

fn third_party_cases() -> Vec<Case> {
    vec![
        sig(
            "Seaport listing paying 90% to a third party",
            &seaport(
                vec![nft(BAYC, 8817)],
                vec![eth_to(OWNER, "1000000000000000000"), eth_to(ATTACKER, "9000000000000000000")],
            ),
        )
        .fires(High)
        .at("message.consideration")
        .count(1)
        .ev("seller", cs(OWNER))
        .ev("currency", cs(Address::ZERO))
        .ev("total", "10000000000000000000")
        .ev("to_seller", "1000000000000000000")
        .ev(
            "payments_to_others",
            json!([{"recipient": cs(ATTACKER), "currency": cs(Address::ZERO), "amount": "9000000000000000000"}]),
        ),
        sig(
            "Seaport: large amounts saturate instead of wrapping",
            &seaport(
                vec![nft(BAYC, 1)],
                vec![eth_to(OWNER, "1000000000000000000"), eth_to(ATTACKER, &max()), eth_to(ATTACKER, &max())],
            ),
        )
        .fires(High)
        .ev("total", max()),
        sig("Blur listing with 90% fees", &blur_order(1, "10000000000000000000", vec![(9000, ATTACKER)]))
            .fires(High)
            .at("message.fees")
            .count(1)
            .ev("fee_bps", "9000"),
        sig("Seaport fair listing with 2.5% OpenSea fee", &seaport_fair_listing()).absent(),
        sig(
            "Seaport listing with 50% royalties (exactly half is not more than half)",
            &seaport(
                vec![nft(BAYC, 1)],
                vec![eth_to(OWNER, "5000000000000000000"), eth_to(ATTACKER, "5000000000000000000")],
            ),
        )
        .absent(),
        sig("Blur listing with 0.5% fee", &blur_order(1, "10000000000000000000", vec![(50, OPENSEA_FEES)])).absent(),
        sig(
            "free listing is nft-order-undervalued instead",
            &seaport(vec![nft(BAYC, 1)], vec![eth_to(ATTACKER, "9000000000000000000")]),
        )
        .absent(),
    ]
}

fn chain_mismatch_cases() -> Vec<Case> {
    let polygon_permit = with_domain(permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(soon())), "chainId", json!(137));
    vec![
        sig("USDC permit for Polygon while on mainnet", &polygon_permit)
            .fires(High)
            .at("domain.chainId")
            .count(1)
            .ev("domain_chain_id", "137")
            .ev("expected_chain_id", 1),
        sig(
            "PermitSingle with chainId as a hex string",
            &with_domain(permit2_single(USDC, "1", NOW_TS + DAY, UNIVERSAL_ROUTER, soon()), "chainId", json!("0x2105")),
        )
        .fires(High)
        .ev("domain_chain_id", "8453"),
        sig("Polygon permit while on Polygon", &polygon_permit).ctx(ctx_on(137)).absent(),
        sig("mainnet permit on mainnet", &permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(soon()))).absent(),
        sig("domain without chainId", &{
            let mut v = permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(soon()));
            v["domain"].as_object_mut().unwrap().remove("chainId");
            v["types"]["EIP712Domain"].as_array_mut().unwrap().remove(2);
            v
        })
        .absent(),
    ]
}

fn unusual_verifying_contract_cases() -> Vec<Case> {
    vec![
        sig(
            "verifyingContract is the zero address",
            &with_domain(
                permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(soon())),
                "verifyingContract",
                json!(cs(Address::ZERO)),
            ),
        )
        .fires(Medium)
        .at("domain.verifyingContract")
        .count(1)
        .ev("verifying_contract", cs(Address::ZERO)),
        sig(
            "PermitSingle naming a look-alike Permit2",
            &with_domain(
                permit2_single(USDC, "1", NOW_TS + DAY, UNIVERSAL_ROUTER, soon()),
                "verifyingContract",
                json!(cs(FAKE_PERMIT2)),
            ),
        )
        .fires(Medium)
        .at("domain.verifyingContract")
        .ev("verifying_contract", cs(FAKE_PERMIT2))
        .ev("expected", cs(PERMIT2)),
        sig(
            "PermitTransferFrom naming USDC as Permit2",
            &with_domain(permit2_transfer(USDC, "1", UNIVERSAL_ROUTER, soon()), "verifyingContract", json!(cs(USDC))),
        )
        .fires(Medium)
        .ev("expected", cs(PERMIT2)),
        sig(
            "Seaport order naming an unknown contract",
            &with_domain(seaport_fair_listing(), "verifyingContract", json!(cs(ATTACKER))),
        )
        .fires(Medium)
        .ev("verifying_contract", cs(ATTACKER)),
        sig("canonical Permit2", &permit2_single(USDC, "1", NOW_TS + DAY, UNIVERSAL_ROUTER, soon())).absent(),
        sig("Seaport 1.6", &seaport_fair_listing()).absent(),
        sig(
            "Seaport 1.5 is also known",
            &with_domain(
                seaport_fair_listing(),
                "verifyingContract",
                json!(cs(alloy_primitives::address!("00000000000000adc04c56bf30ac9d3c0aaf14dc"))),
            ),
        )
        .absent(),
        sig("USDC permit names USDC", &permit_usdc(UNIVERSAL_ROUTER, json!("1"), json!(soon()))).absent(),
        sig(
            "canonical Seaport address is checked case-insensitively",
            &with_domain(seaport_fair_listing(), "verifyingContract", json!(cs(SEAPORT_16).to_lowercase())),
        )
        .absent(),
    ]
}

fn siwe_cases() -> Vec<Case> {
    let msg = siwe("app.uniswap.org");
    let personal = |m: &str| SignatureRequest::personal(m).unwrap();
    vec![
        Case::sig("look-alike suffix app.uniswap.org.evil.xyz", personal(&msg))
            .ctx(ctx_origin("https://app.uniswap.org.evil.xyz"))
            .fires(High)
            .at("message.domain")
            .count(1)
            .ev("siwe_domain", "app.uniswap.org")
            .ev("origin", "https://app.uniswap.org.evil.xyz"),
        Case::sig("another site entirely", personal(&msg)).ctx(ctx_origin("https://evil.xyz/login")).fires(High),
        Case::sig("hex-encoded SIWE message", personal(&format!("0x{}", hex::encode(msg.as_bytes()))))
            .ctx(ctx_origin("evil.xyz"))
            .fires(High)
            .ev("siwe_domain", "app.uniswap.org"),
        Case::sig("matching origin URL", personal(&msg)).ctx(ctx_origin("https://app.uniswap.org/swap")).absent(),
        Case::sig("matching bare host, other case", personal(&msg)).ctx(ctx_origin("APP.UNISWAP.ORG")).absent(),
        Case::sig("no --origin given", personal(&msg)).absent(),
        Case::sig("ordinary text", personal("Welcome to OpenSea!\n\nClick to sign in."))
            .ctx(ctx_origin("https://evil.xyz"))
            .absent(),
    ]
}

fn personal_sign_unreadable_cases() -> Vec<Case> {
    vec![
        Case::sig(
            "32 bytes of binary",
            SignatureRequest::personal("0x00ff01fe02fd03fc04fb05fa06f907f808f709f60af50bf40cf30df20ef10ff0").unwrap(),
        )
        .fires(Medium)
        .count(1)
        .ev("length", 32)
        .ev("bytes", "0x00ff01fe02fd03fc04fb05fa06f907f808f709f60af50bf40cf30df20ef10ff0"),
        Case::sig("invalid UTF-8", SignatureRequest::personal("0xc328").unwrap()).fires(Medium).ev("length", 2),
        Case::sig("text with an escape character", SignatureRequest::personal("Sign in\u{1b}[2J").unwrap())
            .fires(Medium),
        Case::sig("hex of readable text", SignatureRequest::personal("0x48656c6c6f2c20776f726c6421").unwrap()).absent(),
        Case::sig("multi-line text", SignatureRequest::personal("Welcome!\r\n\tNonce: 42\n").unwrap()).absent(),
        Case::sig("unicode text", SignatureRequest::personal("Zugriff erlauben? ✅").unwrap()).absent(),
    ]
}

/// The signing hash computed from the JSON (dynamic types, with the field-by-field checks)
/// equals the one computed from statically typed `sol!` structs: the analysed message is the
/// signed message.
#[test]
fn signing_hash_matches_static_types() {
    use alloy_primitives::{
        U256,
        aliases::{U48, U160},
    };
    use alloy_sol_types::{Eip712Domain, SolStruct, sol};
    sol! {
        struct Permit { address owner; address spender; uint256 value; uint256 nonce; uint256 deadline; }
        struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }
        struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }
    }
    let permit = Permit {
        owner: OWNER,
        spender: UNIVERSAL_ROUTER,
        value: U256::MAX,
        nonce: U256::ZERO,
        deadline: U256::from(soon()),
    };
    let domain = Eip712Domain::new(Some("USD Coin".into()), Some("2".into()), Some(U256::from(1)), Some(USDC), None);
    let req = typed(&permit_usdc(UNIVERSAL_ROUTER, json!(max()), json!(soon())));
    assert_eq!(req.signing_hash(), permit.eip712_signing_hash(&domain));
    // The same message with the value as 0b binary hashes identically.
    let binary = typed(&permit_usdc(UNIVERSAL_ROUTER, json!(format!("0b{}", "1".repeat(256))), json!(soon())));
    assert_eq!(binary.signing_hash(), permit.eip712_signing_hash(&domain));

    let single = PermitSingle {
        details: PermitDetails { token: USDC, amount: U160::MAX, expiration: U48::from(u48_max()), nonce: U48::ZERO },
        spender: UNIVERSAL_ROUTER,
        sigDeadline: U256::from(soon()),
    };
    let domain = Eip712Domain::new(Some("Permit2".into()), None, Some(U256::from(1)), Some(PERMIT2), None);
    let req = typed(&permit2_single(USDC, &u160_max(), u48_max(), UNIVERSAL_ROUTER, soon()));
    assert_eq!(req.signing_hash(), single.eip712_signing_hash(&domain));
}
