//! Realistic `eth_signTypedData_v4` payloads, shaped as the dApps that request them do
//! (domains and type definitions copied from the deployed contracts).

use alloy_primitives::{Address, U256};
use serde_json::{Value, json};

use crate::common::{
    BAYC, BLUR_EXCHANGE, BLUR_POLICY, DAI, LOOKSRARE_V2, NOW_TS, OPENSEA_FEES, PERMIT2, SEAPORT_16, UNISWAPX_REACTOR,
    USDC, WETH, cs,
};

/// The owner/offerer/signer of every fixture.
pub const OWNER: Address = crate::common::ADDR_0;

pub fn max() -> String {
    U256::MAX.to_string()
}

pub fn u160_max() -> String {
    ((U256::from(1) << 160usize) - U256::from(1)).to_string()
}

pub fn u48_max() -> u64 {
    (1u64 << 48) - 1
}

/// EIP-2612 `Permit` for USDC (FiatTokenV2 domain: name "USD Coin", version "2").
pub fn permit_usdc(spender: Address, value: Value, deadline: Value) -> Value {
    let mut v = json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"}
            ]
        },
        "primaryType": "Permit",
        "domain": {"name": "USD Coin", "version": "2", "chainId": 1, "verifyingContract": cs(USDC)},
        "message": {"owner": cs(OWNER), "spender": cs(spender), "nonce": 0}
    });
    v["message"]["value"] = value;
    v["message"]["deadline"] = deadline;
    v
}

/// DAI's pre-EIP-2612 permit (`holder`, `expiry`, `allowed`).
pub fn permit_dai(spender: Address, allowed: Value, expiry: Value) -> Value {
    let mut v = json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Permit": [
                {"name": "holder", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "expiry", "type": "uint256"},
                {"name": "allowed", "type": "bool"}
            ]
        },
        "primaryType": "Permit",
        "domain": {"name": "Dai Stablecoin", "version": "1", "chainId": 1, "verifyingContract": cs(DAI)},
        "message": {"holder": cs(OWNER), "spender": cs(spender), "nonce": 3}
    });
    v["message"]["expiry"] = expiry;
    v["message"]["allowed"] = allowed;
    v
}

fn permit2_domain() -> Value {
    json!({"name": "Permit2", "chainId": 1, "verifyingContract": cs(PERMIT2)})
}

fn permit2_domain_type() -> Value {
    json!([
        {"name": "name", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"}
    ])
}

fn permit_details_type() -> Value {
    json!([
        {"name": "token", "type": "address"},
        {"name": "amount", "type": "uint160"},
        {"name": "expiration", "type": "uint48"},
        {"name": "nonce", "type": "uint48"}
    ])
}

fn token_permissions_type() -> Value {
    json!([{"name": "token", "type": "address"}, {"name": "amount", "type": "uint256"}])
}

/// Permit2 `PermitSingle` as the Uniswap interface requests it.
pub fn permit2_single(token: Address, amount: &str, expiration: u64, spender: Address, sig_deadline: u64) -> Value {
    json!({
        "types": {
            "EIP712Domain": permit2_domain_type(),
            "PermitSingle": [
                {"name": "details", "type": "PermitDetails"},
                {"name": "spender", "type": "address"},
                {"name": "sigDeadline", "type": "uint256"}
            ],
            "PermitDetails": permit_details_type()
        },
        "primaryType": "PermitSingle",
        "domain": permit2_domain(),
        "message": {
            "details": {"token": cs(token), "amount": amount, "expiration": expiration.to_string(), "nonce": "0"},
            "spender": cs(spender),
            "sigDeadline": sig_deadline.to_string()
        }
    })
}

/// Permit2 `PermitBatch`.
pub fn permit2_batch(details: &[(Address, &str, u64)], spender: Address, sig_deadline: u64) -> Value {
    let details: Vec<Value> = details
        .iter()
        .map(|(t, a, e)| json!({"token": cs(*t), "amount": a, "expiration": e.to_string(), "nonce": "0"}))
        .collect();
    json!({
        "types": {
            "EIP712Domain": permit2_domain_type(),
            "PermitBatch": [
                {"name": "details", "type": "PermitDetails[]"},
                {"name": "spender", "type": "address"},
                {"name": "sigDeadline", "type": "uint256"}
            ],
            "PermitDetails": permit_details_type()
        },
        "primaryType": "PermitBatch",
        "domain": permit2_domain(),
        "message": {"details": details, "spender": cs(spender), "sigDeadline": sig_deadline.to_string()}
    })
}

/// Permit2 SignatureTransfer `PermitTransferFrom`.
pub fn permit2_transfer(token: Address, amount: &str, spender: Address, deadline: u64) -> Value {
    json!({
        "types": {
            "EIP712Domain": permit2_domain_type(),
            "PermitTransferFrom": [
                {"name": "permitted", "type": "TokenPermissions"},
                {"name": "spender", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"}
            ],
            "TokenPermissions": token_permissions_type()
        },
        "primaryType": "PermitTransferFrom",
        "domain": permit2_domain(),
        "message": {
            "permitted": {"token": cs(token), "amount": amount},
            "spender": cs(spender),
            "nonce": "1993350843652482717137830489413584722306203",
            "deadline": deadline.to_string()
        }
    })
}

/// Permit2 SignatureTransfer `PermitBatchTransferFrom`.
pub fn permit2_batch_transfer(tokens: &[(Address, &str)], spender: Address, deadline: u64) -> Value {
    let permitted: Vec<Value> = tokens.iter().map(|(t, a)| json!({"token": cs(*t), "amount": a})).collect();
    json!({
        "types": {
            "EIP712Domain": permit2_domain_type(),
            "PermitBatchTransferFrom": [
                {"name": "permitted", "type": "TokenPermissions[]"},
                {"name": "spender", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"}
            ],
            "TokenPermissions": token_permissions_type()
        },
        "primaryType": "PermitBatchTransferFrom",
        "domain": permit2_domain(),
        "message": {"permitted": permitted, "spender": cs(spender), "nonce": "7", "deadline": deadline.to_string()}
    })
}

/// A UniswapX V2 Dutch order: Permit2 `PermitWitnessTransferFrom` with the order as witness.
pub fn permit2_witness(token: Address, amount: &str, spender: Address, deadline: u64) -> Value {
    json!({
        "types": {
            "EIP712Domain": permit2_domain_type(),
            "PermitWitnessTransferFrom": [
                {"name": "permitted", "type": "TokenPermissions"},
                {"name": "spender", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
                {"name": "witness", "type": "V2DutchOrder"}
            ],
            "TokenPermissions": token_permissions_type(),
            "V2DutchOrder": [
                {"name": "info", "type": "OrderInfo"},
                {"name": "cosigner", "type": "address"},
                {"name": "baseInputToken", "type": "address"},
                {"name": "baseInputStartAmount", "type": "uint256"},
                {"name": "baseInputEndAmount", "type": "uint256"},
                {"name": "baseOutputs", "type": "DutchOutput[]"}
            ],
            "OrderInfo": [
                {"name": "reactor", "type": "address"},
                {"name": "swapper", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
                {"name": "additionalValidationContract", "type": "address"},
                {"name": "additionalValidationData", "type": "bytes"}
            ],
            "DutchOutput": [
                {"name": "token", "type": "address"},
                {"name": "startAmount", "type": "uint256"},
                {"name": "endAmount", "type": "uint256"},
                {"name": "recipient", "type": "address"}
            ]
        },
        "primaryType": "PermitWitnessTransferFrom",
        "domain": permit2_domain(),
        "message": {
            "permitted": {"token": cs(token), "amount": amount},
            "spender": cs(spender),
            "nonce": "1993350843652482717137830489413584722306204",
            "deadline": deadline.to_string(),
            "witness": {
                "info": {
                    "reactor": cs(UNISWAPX_REACTOR),
                    "swapper": cs(OWNER),
                    "nonce": "1993350843652482717137830489413584722306204",
                    "deadline": deadline.to_string(),
                    "additionalValidationContract": cs(Address::ZERO),
                    "additionalValidationData": "0x"
                },
                "cosigner": "0x4449Cd34d1eB1FEDCF02A1Be3834FfDe8E6A6180",
                "baseInputToken": cs(token),
                "baseInputStartAmount": amount,
                "baseInputEndAmount": amount,
                "baseOutputs": [{
                    "token": cs(WETH),
                    "startAmount": "300000000000000000",
                    "endAmount": "295000000000000000",
                    "recipient": cs(OWNER)
                }]
            }
        }
    })
}

/// A Seaport 1.6 `OrderComponents` listing.
pub fn seaport(offer: Vec<Value>, consideration: Vec<Value>) -> Value {
    let item = json!([
        {"name": "itemType", "type": "uint8"},
        {"name": "token", "type": "address"},
        {"name": "identifierOrCriteria", "type": "uint256"},
        {"name": "startAmount", "type": "uint256"},
        {"name": "endAmount", "type": "uint256"}
    ]);
    let mut consideration_item = item.clone();
    if let Some(fields) = consideration_item.as_array_mut() {
        fields.push(json!({"name": "recipient", "type": "address"}));
    }
    let mut v = json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "OrderComponents": [
                {"name": "offerer", "type": "address"},
                {"name": "zone", "type": "address"},
                {"name": "offer", "type": "OfferItem[]"},
                {"name": "consideration", "type": "ConsiderationItem[]"},
                {"name": "orderType", "type": "uint8"},
                {"name": "startTime", "type": "uint256"},
                {"name": "endTime", "type": "uint256"},
                {"name": "zoneHash", "type": "bytes32"},
                {"name": "salt", "type": "uint256"},
                {"name": "conduitKey", "type": "bytes32"},
                {"name": "counter", "type": "uint256"}
            ],
            "OfferItem": item,
            "ConsiderationItem": consideration_item
        },
        "primaryType": "OrderComponents",
        "domain": {"name": "Seaport", "version": "1.6", "chainId": 1, "verifyingContract": cs(SEAPORT_16)},
        "message": {
            "offerer": cs(OWNER),
            "zone": "0x000056F7000000EcE9003ca63978907a00FFD100",
            "orderType": "2",
            "startTime": NOW_TS.to_string(),
            "endTime": (NOW_TS + 30 * 86_400).to_string(),
            "zoneHash": "0x0000000000000000000000000000000000000000000000000000000000000000",
            "salt": "24446860302761739304752683030156737591518664810215442929818227897836383814680",
            "conduitKey": "0x0000007b02230091a7ed01230072f7006a004d60a8d4e71d599b8104250f0000",
            "counter": "0"
        }
    });
    v["message"]["offer"] = Value::Array(offer);
    v["message"]["consideration"] = Value::Array(consideration);
    v
}

/// Offer item: one ERC-721 token.
pub fn nft(collection: Address, id: u64) -> Value {
    json!({"itemType": "2", "token": cs(collection), "identifierOrCriteria": id.to_string(), "startAmount": "1", "endAmount": "1"})
}

/// Consideration item: native currency (`amount` wei) to `recipient`.
pub fn eth_to(recipient: Address, amount: &str) -> Value {
    json!({"itemType": "0", "token": cs(Address::ZERO), "identifierOrCriteria": "0", "startAmount": amount, "endAmount": amount, "recipient": cs(recipient)})
}

/// A fair 10 ETH BAYC listing: 97.5% to the seller, the 2.5% OpenSea fee.
pub fn seaport_fair_listing() -> Value {
    seaport(
        vec![nft(BAYC, 8817)],
        vec![eth_to(OWNER, "9750000000000000000"), eth_to(OPENSEA_FEES, "250000000000000000")],
    )
}

/// A Blur `Order` (side 1 = sell).
pub fn blur_order(side: u8, price: &str, fees: Vec<(u16, Address)>) -> Value {
    let fees: Vec<Value> = fees.into_iter().map(|(rate, r)| json!({"rate": rate, "recipient": cs(r)})).collect();
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Fee": [{"name": "rate", "type": "uint16"}, {"name": "recipient", "type": "address"}],
            "Order": [
                {"name": "trader", "type": "address"},
                {"name": "side", "type": "uint8"},
                {"name": "matchingPolicy", "type": "address"},
                {"name": "collection", "type": "address"},
                {"name": "tokenId", "type": "uint256"},
                {"name": "amount", "type": "uint256"},
                {"name": "paymentToken", "type": "address"},
                {"name": "price", "type": "uint256"},
                {"name": "listingTime", "type": "uint256"},
                {"name": "expirationTime", "type": "uint256"},
                {"name": "fees", "type": "Fee[]"},
                {"name": "salt", "type": "uint256"},
                {"name": "extraParams", "type": "bytes"},
                {"name": "nonce", "type": "uint256"}
            ]
        },
        "primaryType": "Order",
        "domain": {"name": "Blur Exchange", "version": "1.0", "chainId": 1, "verifyingContract": cs(BLUR_EXCHANGE)},
        "message": {
            "trader": cs(OWNER),
            "side": side,
            "matchingPolicy": cs(BLUR_POLICY),
            "collection": cs(BAYC),
            "tokenId": "8817",
            "amount": "1",
            "paymentToken": cs(Address::ZERO),
            "price": price,
            "listingTime": NOW_TS.to_string(),
            "expirationTime": (NOW_TS + 7 * 86_400).to_string(),
            "fees": fees,
            "salt": "65537",
            "extraParams": "0x01",
            "nonce": "0"
        }
    })
}

/// A LooksRare v2 `Maker` order (quoteType 1 = ask).
pub fn looksrare_maker(quote_type: u8, price: &str) -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Maker": [
                {"name": "quoteType", "type": "uint8"},
                {"name": "globalNonce", "type": "uint256"},
                {"name": "subsetNonce", "type": "uint256"},
                {"name": "orderNonce", "type": "uint256"},
                {"name": "strategyId", "type": "uint256"},
                {"name": "collectionType", "type": "uint8"},
                {"name": "collection", "type": "address"},
                {"name": "currency", "type": "address"},
                {"name": "signer", "type": "address"},
                {"name": "startTime", "type": "uint256"},
                {"name": "endTime", "type": "uint256"},
                {"name": "price", "type": "uint256"},
                {"name": "itemIds", "type": "uint256[]"},
                {"name": "amounts", "type": "uint256[]"},
                {"name": "additionalParameters", "type": "bytes"}
            ]
        },
        "primaryType": "Maker",
        "domain": {"name": "LooksRareProtocol", "version": "2", "chainId": 1, "verifyingContract": cs(LOOKSRARE_V2)},
        "message": {
            "quoteType": quote_type,
            "globalNonce": "0",
            "subsetNonce": "0",
            "orderNonce": "0",
            "strategyId": "0",
            "collectionType": 0,
            "collection": cs(BAYC),
            "currency": cs(Address::ZERO),
            "signer": cs(OWNER),
            "startTime": NOW_TS.to_string(),
            "endTime": (NOW_TS + 7 * 86_400).to_string(),
            "price": price,
            "itemIds": ["8817"],
            "amounts": ["1"],
            "additionalParameters": "0x"
        }
    })
}

/// Returns `v` with `domain.<key>` replaced.
pub fn with_domain(mut v: Value, key: &str, value: Value) -> Value {
    v["domain"][key] = value;
    v
}

/// The EIP-4361 example message for `domain`.
pub fn siwe(domain: &str) -> String {
    format!(
        "{domain} wants you to sign in with your Ethereum account:\n{}\n\nSign in to use the app.\n\nURI: https://{domain}\nVersion: 1\nChain ID: 1\nNonce: 32891756\nIssued At: 2025-12-31T23:59:00Z",
        cs(OWNER)
    )
}

/// A Seaport `BulkOrder` of height 1 (two orders signed at once) built from two listings.
pub fn seaport_bulk(first: Value, mut second: Value) -> Value {
    let mut bulk = first;
    bulk["types"]["BulkOrder"] = json!([{"name": "tree", "type": "OrderComponents[2]"}]);
    bulk["primaryType"] = json!("BulkOrder");
    let tree = vec![bulk["message"].take(), second["message"].take()];
    bulk["message"] = json!({"tree": tree});
    bulk
}
