//! JSON-RPC over HTTP(S) for the commands that read chain state (`scan contract ADDRESS`, and
//! later the wallet scans): alloy's provider on a reqwest client, with timeouts, retries with
//! exponential backoff on rate limits (429), server errors (5xx) and connection failures, and
//! error messages that never show the secret parts of the URL.
//!
//! RPC URLs often carry an API key in the path or query (`https://host/v2/<key>`), so the URL
//! is shown everywhere as [`redact`] makes it (scheme, host and port only). Error texts from
//! the HTTP stack, which quote the URL, are scrubbed the same way.
//!
//! The methods are async; a command creates a current-thread runtime ([`runtime`]) and blocks
//! on its own async function.

use std::{
    fmt,
    future::IntoFuture,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{
    Provider, RootProvider,
    network::{Ethereum, Network, TransactionBuilder},
};
use alloy_rpc_client::RpcClient;
use alloy_transport::{RpcError, TransportError, TransportErrorKind};
use anyhow::{Context as _, Result};
use url::Url;

/// Timeouts and retries.
#[derive(Debug, Clone, Copy)]
pub struct RpcOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// How many times a request is sent at most (first try included).
    pub attempts: u32,
    /// Delay before the first retry; doubled after each one (capped at 8 s).
    pub backoff: Duration,
}

impl Default for RpcOptions {
    fn default() -> Self {
        RpcOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// A JSON-RPC endpoint.
pub struct Rpc {
    provider: RootProvider<Ethereum>,
    /// The full URL, kept only to scrub it out of error texts.
    secret: String,
    shown: String,
    opts: RpcOptions,
    /// HTTP requests sent (every attempt counts), by purpose.
    log_requests: AtomicU64,
    state_requests: AtomicU64,
}

impl fmt::Debug for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rpc").field("endpoint", &self.shown).field("opts", &self.opts).finish_non_exhaustive()
    }
}

/// A current-thread tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// The URL as it may be shown: scheme, host and port. The path and query (where providers put
/// API keys) and any user:password are replaced by `…`.
pub fn redact(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let secret_path = url.path() != "/" && !url.path().is_empty();
    if secret_path || url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        shown.push_str("/…");
    }
    shown
}

impl Rpc {
    /// Prepares a client for `url` (http or https). A malformed URL is bad input (exit 2); no
    /// request is sent yet.
    pub fn connect(url: &str, opts: RpcOptions) -> Result<Self> {
        let parsed = Url::parse(url.trim()).map_err(|e| {
            // The URL itself is not echoed: it may hold a key.
            crate::exit::usage(format!("--rpc-url: not a valid URL ({e})"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(crate::exit::usage(format!(
                "--rpc-url: only http:// and https:// endpoints are supported, not {}://",
                parsed.scheme()
            )));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(crate::exit::usage("--rpc-url: the URL has no host"));
        }
        // reqwest is built without a default TLS crypto provider (aws-lc-rs would add a long C
        // build); use ring. Installing twice is harmless: the first one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .user_agent(concat!("scorpius/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("setting up the HTTP client")?;
        let shown = redact(&parsed);
        let secret = parsed.as_str().to_owned();
        let provider = RootProvider::new(RpcClient::new_http_with_client(client, parsed));
        Ok(Rpc { provider, secret, shown, opts, log_requests: AtomicU64::new(0), state_requests: AtomicU64::new(0) })
    }

    /// The endpoint as it may be shown ([`redact`]).
    pub fn endpoint(&self) -> &str {
        &self.shown
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64> {
        self.retry("eth_chainId", || self.provider.get_chain_id()).await
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64> {
        self.retry("eth_blockNumber", || self.provider.get_block_number()).await
    }

    /// `eth_getCode` at `block`.
    pub async fn code_at(&self, address: Address, block: u64) -> Result<Bytes> {
        self.retry("eth_getCode", || self.provider.get_code_at(address).number(block)).await
    }

    /// `eth_getStorageAt` at `block`.
    pub async fn storage_at(&self, address: Address, slot: B256, block: u64) -> Result<B256> {
        let key = U256::from_be_bytes(slot.0);
        let word = self.retry("eth_getStorageAt", || self.provider.get_storage_at(address, key).number(block)).await?;
        Ok(B256::from(word.to_be_bytes::<32>()))
    }

    /// `eth_call` of `data` on `to` at `block`.
    pub async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes> {
        let tx = <Ethereum as Network>::TransactionRequest::default().with_to(to).with_input(data);
        self.retry("eth_call", || self.provider.call(tx.clone()).number(block)).await
    }

    /// HTTP requests sent so far for logs and for state reads (each retry counts).
    pub fn request_counts(&self) -> (u64, u64) {
        (self.log_requests.load(Ordering::Relaxed), self.state_requests.load(Ordering::Relaxed))
    }

    /// Sends a request built by `make` until it succeeds, fails for good, or runs out of
    /// attempts.
    async fn retry<T, F, Fut>(&self, method: &'static str, make: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: IntoFuture<Output = Result<T, TransportError>>,
    {
        let mut delay = self.opts.backoff;
        let attempts = self.opts.attempts.max(1);
        let mut attempt = 1;
        let counter = if method == "eth_getLogs" { &self.log_requests } else { &self.state_requests };
        loop {
            counter.fetch_add(1, Ordering::Relaxed);
            let err = match make().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let transient = transient(&err) && !(method == "eth_getLogs" && is_range_error(&err.to_string()));
            if !transient || attempt >= attempts {
                let what = describe(&err, &self.secret, &self.shown);
                return Err(if transient {
                    anyhow::anyhow!(
                        "RPC endpoint {} unreachable: {method} failed {attempt} time(s), last error: {what}",
                        self.shown
                    )
                } else {
                    anyhow::anyhow!("RPC endpoint {}: {method} failed: {what}", self.shown)
                });
            }
            let wait = server_delay(&err).unwrap_or(delay).min(Duration::from_secs(30));
            tracing::warn!(
                endpoint = %self.shown,
                "{method} failed ({}); retrying in {} ms (attempt {}/{attempts})",
                describe(&err, &self.secret, &self.shown),
                wait.as_millis(),
                attempt + 1,
            );
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(Duration::from_secs(8));
            attempt += 1;
        }
    }
}

/// Whether a node's `eth_getLogs` error asks for a smaller block range or fewer results
/// (wordings of geth, erigon, Infura, Alchemy, QuickNode and others).
pub fn is_range_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "block range",
        "range is too",
        "range too",
        "too large",
        "too many",
        "more than",
        "response size",
        "exceed max",
        "exceeds max",
        "maximum block",
        "max results",
        "query timeout",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Worth retrying: rate limits, server errors, timeouts and connection failures. JSON-RPC
/// errors (bad params, method not found) and malformed responses are not.
fn transient(err: &TransportError) -> bool {
    match err {
        RpcError::Transport(kind) => match kind {
            TransportErrorKind::HttpError(_) | TransportErrorKind::HttpErrorWithRetryAfter { .. } => {
                kind.as_http_error().is_some_and(|h| h.status == 429 || h.status == 408 || h.status >= 500)
            }
            TransportErrorKind::NonRetryable(_) | TransportErrorKind::PubsubUnavailable => false,
            // Connection refused or reset, DNS failures, timeouts (reqwest errors) and a lost
            // backend.
            _ => true,
        },
        // Providers' rate-limit codes (-32005 "limit exceeded", 429 from some gateways).
        RpcError::ErrorResp(p) => {
            p.code == 429 || p.code == -32005 || p.message.to_ascii_lowercase().contains("rate limit")
        }
        _ => false,
    }
}

/// A `Retry-After` the server asked for.
fn server_delay(err: &TransportError) -> Option<Duration> {
    match err {
        RpcError::Transport(kind) => kind.retry_after(),
        _ => None,
    }
}

/// The error and its causes on one line, without the URL's secret parts, HTTP bodies cut short.
fn describe(err: &TransportError, secret: &str, shown: &str) -> String {
    let text = match err {
        RpcError::Transport(kind) if kind.as_http_error().is_some() => {
            let h = kind.as_http_error().map(|h| (h.status, h.body.clone())).unwrap_or_default();
            let body: String = h.1.chars().filter(|c| !c.is_control()).take(200).collect();
            if body.is_empty() { format!("HTTP status {}", h.0) } else { format!("HTTP status {}: {body}", h.0) }
        }
        RpcError::ErrorResp(p) => format!("error {}: {}", p.code, p.message),
        RpcError::DeserError { err, .. } => format!("the response is not valid JSON-RPC ({err})"),
        _ => {
            let mut parts = vec![err.to_string()];
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                let t = s.to_string();
                if !parts.iter().any(|p| p.contains(&t)) {
                    parts.push(t);
                }
                source = s.source();
            }
            parts.join(": ")
        }
    };
    scrub(&text, secret, shown)
}

/// Replaces every form of the full URL in `text` with the shown one.
fn scrub(text: &str, secret: &str, shown: &str) -> String {
    let mut out = text.replace(secret, shown);
    if let Some(trimmed) = secret.strip_suffix('/') {
        out = out.replace(trimmed, shown);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_paths_queries_and_credentials() {
        let r = |s: &str| redact(&Url::parse(s).unwrap());
        assert_eq!(r("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(r("https://eth-mainnet.g.alchemy.com/v2/SECRETKEY"), "https://eth-mainnet.g.alchemy.com/…");
        assert_eq!(r("https://rpc.example/?apikey=SECRET"), "https://rpc.example/…");
        assert_eq!(r("https://user:pw@rpc.example"), "https://rpc.example/…");
        let secret = "https://rpc.example/v3/SECRETKEY";
        let shown = "https://rpc.example/…";
        assert_eq!(
            scrub(&format!("error sending request for url ({secret})"), secret, shown),
            format!("error sending request for url ({shown})")
        );
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        for bad in ["not a url", "ftp://host/x", "ws://127.0.0.1:8545"] {
            let e = Rpc::connect(bad, RpcOptions::default()).unwrap_err();
            assert_eq!(crate::exit::code_for(&e), crate::exit::USAGE, "{bad}: {e}");
        }
    }

    #[test]
    fn transient_errors() {
        assert!(transient(&TransportErrorKind::http_error(429, String::new())));
        assert!(transient(&TransportErrorKind::http_error(503, String::new())));
        assert!(!transient(&TransportErrorKind::http_error(401, String::new())));
        assert!(transient(&TransportErrorKind::custom_str("connection refused")));
    }
}

// ---------------------------------------------------------------------------------------------
// The wallet collector's view of the chain.

mod reader {
    use alloy_primitives::{Address, B256, Bytes};
    use alloy_provider::Provider as _;
    use scorpius_core::wallet::{
        collect::{ChainReader, LogQuery, RawLog, ReadError, ReadErrorKind},
        snapshot::AccountFacts,
    };
    use serde_json::{Value, json};

    use super::Rpc;

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
    fn failed(e: anyhow::Error) -> ReadError {
        ReadError::failed(format!("{e:#}"))
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
        ) -> anyhow::Result<Vec<Result<Value, String>>> {
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
                .retry("eth_getLogs", || {
                    self.provider.client().request::<_, Vec<Value>>("eth_getLogs", (filter.clone(),))
                })
                .await;
            match result {
                Ok(values) => values
                    .iter()
                    .map(|v| {
                        parse_log(v).ok_or_else(|| {
                            ReadError::failed(format!(
                                "RPC endpoint {}: eth_getLogs returned a malformed log",
                                self.shown
                            ))
                        })
                    })
                    .collect(),
                Err(e) => {
                    let message = format!("{e:#}");
                    let kind = if super::is_range_error(&message) {
                        ReadErrorKind::RangeTooLarge
                    } else {
                        ReadErrorKind::Failed
                    };
                    Err(ReadError { kind, message })
                }
            }
        }

        async fn calls(&self, calls: &[(Address, Bytes)], block: u64) -> Result<Vec<Option<Bytes>>, ReadError> {
            let requests: Vec<(&'static str, Value)> = calls
                .iter()
                .map(|(to, data)| ("eth_call", json!([{"to": to, "data": data}, quantity(block)])))
                .collect();
            let answers = self.batch("eth_call", &requests).await.map_err(failed)?;
            Ok(answers
                .into_iter()
                .map(|a| a.ok().and_then(|v| v.as_str().and_then(|s| s.parse::<Bytes>().ok())))
                .collect())
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
                        _ => Err(ReadError::failed(
                            "eth_getCode / eth_getTransactionCount gave no answer for an account",
                        )),
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
}
