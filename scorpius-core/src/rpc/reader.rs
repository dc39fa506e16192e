//! The wallet collector's view of the chain: [`ChainReader`] over [`Rpc`], with mixed-method
//! JSON-RPC batches.

use crate::wallet::{
    collect::{ChainReader, LogQuery, RawLog, ReadError, ReadErrorKind},
    snapshot::AccountFacts,
};
use alloy_primitives::{Address, B256, Bytes};
use alloy_provider::Provider as _;
use serde_json::{Value, json};

use super::{Rpc, RpcError};

fn quantity(v: u64) -> String {
    format!("{v:#x}")
}

fn parse_quantity(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => u64::from_str_radix(s.strip_prefix("0x")?, 16).ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(failed)`
fn failed(e: RpcError) -> ReadError {
    ReadError::failed(e.to_string())
}

fn parse_log(v: &Value) -> Option<RawLog> {
    Some(RawLog {
        address: v.get("address")?.as_str()?.parse().ok()?,
        topics: v
            .get("topics")?
            .as_array()?
            .iter()
            .map(|t| t.as_str().and_then(|t| t.parse::<B256>().ok()))
            .collect::<Option<Vec<_>>>()?,
        data: v.get("data")?.as_str()?.parse().ok()?,
        block_number: parse_quantity(v.get("blockNumber")?)?,
        log_index: parse_quantity(v.get("logIndex")?)?,
        tx_hash: v.get("transactionHash")?.as_str()?.parse().ok()?,
        block_timestamp: v.get("blockTimestamp").and_then(parse_quantity),
    })
}

impl Rpc {
    /// Sends one JSON-RPC batch of `(method, params)` (with retries for the whole batch)
    /// and returns each answer: `Ok(value)` or the node's error message for that entry.
    async fn batch(
        &self,
        label: &'static str,
        requests: &[(&'static str, Value)],
    ) -> Result<Vec<Result<Value, String>>, RpcError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        self.retry(label, || async {
            let client = self.provider.client();
            let mut batch = alloy_rpc_client::BatchRequest::new(client);
            let mut waiters = Vec::with_capacity(requests.len());
            for (method, params) in requests {
                waiters.push(batch.add_call::<_, Value>(*method, params)?);
            }
            batch.send().await?;
            let mut out = Vec::with_capacity(waiters.len());
            for w in waiters {
                out.push(match w.await {
                    Ok(v) => Ok(v),
                    Err(alloy_transport::RpcError::ErrorResp(e)) => Err(e.message.to_string()),
                    Err(e) => return Err(e),
                });
            }
            Ok(out)
        })
        .await
    }
}

impl ChainReader for Rpc {
    async fn chain_id(&self) -> Result<u64, ReadError> {
        Rpc::chain_id(self).await.map_err(failed)
    }

    async fn head(&self) -> Result<(u64, u64), ReadError> {
        let block: Value = self
            .retry("eth_getBlockByNumber", || {
                self.provider.client().request::<_, Value>("eth_getBlockByNumber", ("latest", false))
            })
            .await
            .map_err(failed)?;
        let number = block.get("number").and_then(parse_quantity);
        let ts = block.get("timestamp").and_then(parse_quantity);
        match (number, ts) {
            (Some(n), Some(t)) => Ok((n, t)),
            _ => Err(ReadError::failed(format!(
                "RPC endpoint {}: the latest block has no number or timestamp",
                self.shown
            ))),
        }
    }

    async fn logs(&self, q: &LogQuery) -> Result<Vec<RawLog>, ReadError> {
        let topics: Vec<Value> = q.topics.iter().map(|t| t.as_ref().map_or(Value::Null, |t| json!(t))).collect();
        let filter = json!({"fromBlock": quantity(q.from), "toBlock": quantity(q.to), "topics": topics});
        let result: Result<Vec<Value>, _> = self
            .retry("eth_getLogs", || self.provider.client().request::<_, Vec<Value>>("eth_getLogs", (filter.clone(),)))
            .await;
        match result {
            Ok(values) => values
                .iter()
                .map(|v| {
                    parse_log(v).ok_or_else(|| {
                        ReadError::failed(format!("RPC endpoint {}: eth_getLogs returned a malformed log", self.shown))
                    })
                })
                .collect(),
            Err(e) => {
                let message = e.to_string();
                let kind =
                    if super::is_range_error(&message) { ReadErrorKind::RangeTooLarge } else { ReadErrorKind::Failed };
                Err(ReadError { kind, message })
            }
        }
    }

    async fn calls(&self, calls: &[(Address, Bytes)], block: u64) -> Result<Vec<Option<Bytes>>, ReadError> {
        let requests: Vec<(&'static str, Value)> =
            calls.iter().map(|(to, data)| ("eth_call", json!([{"to": to, "data": data}, quantity(block)]))).collect();
        let answers = self.batch("eth_call", &requests).await.map_err(failed)?;
        Ok(answers.into_iter().map(|a| a.ok().and_then(|v| v.as_str().and_then(|s| s.parse::<Bytes>().ok()))).collect())
    }

    async fn accounts(&self, addresses: &[Address], block: u64) -> Result<Vec<AccountFacts>, ReadError> {
        // Code and nonce of every address in one batch: [code0, nonce0, code1, nonce1, …].
        let mut requests = Vec::with_capacity(addresses.len() * 2);
        for a in addresses {
            requests.push(("eth_getCode", json!([a, quantity(block)])));
            requests.push(("eth_getTransactionCount", json!([a, quantity(block)])));
        }
        let answers = self.batch("eth_getCode", &requests).await.map_err(failed)?;
        answers
            .chunks(2)
            .map(|pair| {
                let (code, nonce) = (pair[0].clone(), pair.get(1).cloned().unwrap_or_else(|| Err(String::new())));
                let code = code.ok().and_then(|v| v.as_str().and_then(|s| s.parse::<Bytes>().ok()));
                let nonce = nonce.ok().as_ref().and_then(parse_quantity);
                match (code, nonce) {
                    (Some(code), Some(nonce)) => Ok(AccountFacts { code, nonce }),
                    _ => Err(ReadError::failed("eth_getCode / eth_getTransactionCount gave no answer for an account")),
                }
            })
            .collect()
    }

    async fn timestamps(&self, blocks: &[u64]) -> Result<Vec<u64>, ReadError> {
        let requests: Vec<(&'static str, Value)> =
            blocks.iter().map(|b| ("eth_getBlockByNumber", json!([quantity(*b), false]))).collect();
        let answers = self.batch("eth_getBlockByNumber", &requests).await.map_err(failed)?;
        answers
            .into_iter()
            .map(|a| {
                a.ok()
                    .and_then(|v| v.get("timestamp").and_then(parse_quantity))
                    .ok_or_else(|| ReadError::failed("a block lookup gave no timestamp"))
            })
            .collect()
    }

    async fn tx_senders(&self, hashes: &[B256]) -> Result<Vec<Option<Address>>, ReadError> {
        let requests: Vec<(&'static str, Value)> =
            hashes.iter().map(|h| ("eth_getTransactionByHash", json!([h]))).collect();
        let answers = self.batch("eth_getTransactionByHash", &requests).await.map_err(failed)?;
        Ok(answers
            .into_iter()
            .map(|a| a.ok().and_then(|v| v.get("from").and_then(|f| f.as_str()).and_then(|f| f.parse().ok())))
            .collect())
    }
}
