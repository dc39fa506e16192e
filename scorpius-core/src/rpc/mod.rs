//! JSON-RPC over HTTP(S) for everything that reads chain state (deployed-contract scans,
//! wallet scans; in the CLI and in the server): alloy's provider on a reqwest client, with timeouts, retries with
//! exponential backoff on rate limits (429), server errors (5xx) and connection failures, and
//! error messages that never show the secret parts of the URL.
//!
//! RPC URLs often carry an API key in the path or query (`https://host/v2/<key>`), so the URL
//! is shown everywhere as [`redact`] makes it (scheme, host and port only). Error texts from
//! the HTTP stack, which quote the URL, are scrubbed the same way.
//!
//! The methods are async. [`reader`] implements the wallet collector's
//! [`ChainReader`](crate::wallet::collect::ChainReader); [`contract`] reads deployed contracts
//! (proxies and EIP-7702 delegates resolved).

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
use alloy_transport::{RpcError as WireError, TransportError, TransportErrorKind};
use url::Url;

pub mod contract;
pub mod reader;
pub mod wallet;

/// Why a JSON-RPC read failed. [`RpcError::Input`] is the caller's mistake (a bad URL, an
/// address with no code, the wrong chain); the others are the endpoint's. No variant's text
/// holds the secret parts of the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// Bad input: the URL, the chain, the address.
    #[error("{0}")]
    Input(String),
    /// The endpoint could not be reached (after retries).
    #[error("{0}")]
    Unreachable(String),
    /// The endpoint answered with an error or nonsense.
    #[error("{0}")]
    Failed(String),
}

impl RpcError {
    /// Whether the caller's input is at fault (exit code 2, HTTP 422).
    pub fn is_input(&self) -> bool {
        matches!(self, RpcError::Input(_))
    }
}

/// Result of an RPC read.
pub type Result<T, E = RpcError> = std::result::Result<T, E>;

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

/// Checks an RPC URL without connecting: http(s) with a host. The error never echoes the URL
/// (it may hold a key).
///
/// # Errors
/// [`RpcError::Input`] naming what is wrong.
pub fn check_url(url: &str) -> Result<Url> {
    let parsed = Url::parse(url.trim()).map_err(|e| RpcError::Input(format!("RPC URL: not a valid URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(RpcError::Input(format!(
            "RPC URL: only http:// and https:// endpoints are supported, not {}://",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(RpcError::Input("RPC URL: the URL has no host".into()));
    }
    Ok(parsed)
}

impl Rpc {
    /// Prepares a client for `url` (http or https). A malformed URL is [`RpcError::Input`]; no
    /// request is sent yet.
    pub fn connect(url: &str, opts: RpcOptions) -> Result<Self> {
        let parsed = check_url(url)?;
        // reqwest is built without a default TLS crypto provider (aws-lc-rs would add a long C
        // build); use ring. Installing twice is harmless: the first one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .user_agent(concat!("scorpius/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RpcError::Failed(format!("setting up the HTTP client: {e}")))?;
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
                    RpcError::Unreachable(format!(
                        "RPC endpoint {} unreachable: {method} failed {attempt} time(s), last error: {what}",
                        self.shown
                    ))
                } else {
                    RpcError::Failed(format!("RPC endpoint {}: {method} failed: {what}", self.shown))
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
        WireError::Transport(kind) => match kind {
            TransportErrorKind::HttpError(_) | TransportErrorKind::HttpErrorWithRetryAfter { .. } => {
                kind.as_http_error().is_some_and(|h| h.status == 429 || h.status == 408 || h.status >= 500)
            }
            TransportErrorKind::NonRetryable(_) | TransportErrorKind::PubsubUnavailable => false,
            // Connection refused or reset, DNS failures, timeouts (reqwest errors) and a lost
            // backend.
            _ => true,
        },
        // Providers' rate-limit codes (-32005 "limit exceeded", 429 from some gateways).
        WireError::ErrorResp(p) => {
            p.code == 429 || p.code == -32005 || p.message.to_ascii_lowercase().contains("rate limit")
        }
        _ => false,
    }
}

/// A `Retry-After` the server asked for.
fn server_delay(err: &TransportError) -> Option<Duration> {
    match err {
        WireError::Transport(kind) => kind.retry_after(),
        _ => None,
    }
}

/// The error and its causes on one line, without the URL's secret parts, HTTP bodies cut short.
fn describe(err: &TransportError, secret: &str, shown: &str) -> String {
    let text = match err {
        WireError::Transport(kind) if kind.as_http_error().is_some() => {
            let h = kind.as_http_error().map(|h| (h.status, h.body.clone())).unwrap_or_default();
            let body: String = h.1.chars().filter(|c| !c.is_control()).take(200).collect();
            if body.is_empty() { format!("HTTP status {}", h.0) } else { format!("HTTP status {}: {body}", h.0) }
        }
        WireError::ErrorResp(p) => format!("error {}: {}", p.code, p.message),
        WireError::DeserError { err, .. } => format!("the response is not valid JSON-RPC ({err})"),
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
            assert!(e.is_input(), "{bad}: {e}");
            assert!(!e.to_string().contains(bad), "the URL is not echoed: {e}");
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
