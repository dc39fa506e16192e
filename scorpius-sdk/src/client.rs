//! The HTTP client: configuration ([`ClientBuilder`]), the API key ([`ApiKey`], never shown),
//! and the one request path every endpoint goes through — authentication, the retry loop,
//! mapping error answers to [`Error`] and decoding JSON. The endpoints themselves are in
//! the sibling modules, one per resource.

use std::{fmt, time::Duration};

use bytes::Bytes;
use reqwest::{
    Method, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};
use scorpius_core::api::{PROBLEM_BASE, Problem};
use serde::de::DeserializeOwned;
use url::Url;

use crate::{Error, Result, RetryPolicy};

/// An API key (`sk_live_…`). Its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a secret (surrounding whitespace, such as a trailing newline, is dropped).
    pub fn new(secret: impl Into<String>) -> Self {
        ApiKey(secret.into().trim().to_owned())
    }

    /// The secret, for storing it (a keyring, a credentials file). Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first characters (`sk_live_ab12…`), enough to tell keys apart.
    pub fn hint(&self) -> String {
        let head: String = self.0.chars().take(12).collect();
        format!("{head}…")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey::new(s)
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey::new(s)
    }
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: Option<String>,
    api_key: Option<ApiKey>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: None,
            api_key: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            user_agent: format!("scorpius-sdk/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl ClientBuilder {
    /// The server's base URL (`https://scorpius.example.com`, or with a path prefix).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API key sent as `X-API-Key` (health and metrics work without one).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Time limit of one attempt, from connecting to the end of the body (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time limit of connecting (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The retry policy (default: [`RetryPolicy::default`], 3 retries).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The `User-Agent` header (default `scorpius-sdk/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// The client.
    ///
    /// # Errors
    /// [`Error::Config`] for a missing or malformed base URL or an API key that cannot be
    /// sent in a header.
    pub fn build(self) -> Result<Client> {
        let raw = self.base_url.ok_or_else(|| Error::Config("base_url is required".into()))?;
        let mut base =
            Url::parse(raw.trim()).map_err(|e| Error::Config(format!("base_url `{raw}` is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!("base_url `{raw}` must be http or https")));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(Error::Config(format!("base_url `{raw}` must not have a query or fragment")));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.api_key {
            if key.expose().is_empty() {
                return Err(Error::Config("the API key is empty".into()));
            }
            let mut v = HeaderValue::from_str(key.expose())
                .map_err(|_| Error::Config("the API key holds characters a header cannot carry".into()))?;
            v.set_sensitive(true);
            headers.insert("x-api-key", v);
        }
        #[cfg(feature = "rustls")]
        {
            // reqwest is built without a default crypto provider (aws-lc-rs would need a C
            // toolchain); ring is installed once per process unless the app chose another.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(self.user_agent)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        Ok(Client { http, base, timeout: self.timeout, retry: self.retry, has_key: self.api_key.is_some() })
    }
}

/// An async client of the Scorpius server API. Cheap to clone (the connection pool is shared).
///
/// Build one with [`Client::builder`]; every endpoint is an async method (scans, saved scans
/// and reports, intel, audit, keys, health).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    retry: RetryPolicy,
    has_key: bool,
}

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Safe to repeat: a `GET`, or a `POST` with an `Idempotency-Key`.
    Safe,
    /// Changes state without an idempotency key: sent once.
    Never,
}

/// A request, kept so that it can be sent again.
#[derive(Debug)]
pub(crate) struct Req<'a> {
    pub method: Method,
    pub path: String,
    pub query: Option<&'a (dyn erased::Query + Sync)>,
    pub body: Option<Vec<u8>>,
    pub headers: Vec<(&'static str, String)>,
    pub retry: Retry,
}

pub(crate) mod erased {
    //! Query parameters of any serialisable type, behind one trait object.
    pub trait Query: std::fmt::Debug {
        fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder;
    }
    impl<T: serde::Serialize + std::fmt::Debug> Query for T {
        fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
            rb.query(self)
        }
    }
}

impl<'a> Req<'a> {
    pub fn get(path: impl Into<String>) -> Self {
        Req { method: Method::GET, path: path.into(), query: None, body: None, headers: Vec::new(), retry: Retry::Safe }
    }

    pub fn query(mut self, q: &'a (dyn erased::Query + Sync)) -> Self {
        self.query = Some(q);
        self
    }
}

/// An answer that arrived with a success status.
#[derive(Debug)]
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Client {
    /// A builder; `base_url` is required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Whether an API key is configured.
    pub fn has_api_key(&self) -> bool {
        self.has_key
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path.trim_start_matches('/')).map_err(|e| Error::Config(format!("bad path `{path}`: {e}")))
    }

    /// Sends `req`, retrying per the policy when it is safe, and returns a success answer.
    pub(crate) async fn send(&self, req: &Req<'_>) -> Result<Answer> {
        let url = self.url(&req.path)?;
        let mut retry = 0;
        loop {
            let err = match self.attempt(&url, req).await {
                Ok(a) => return Ok(a),
                Err(e) => e,
            };
            let delay = match req.retry {
                Retry::Safe => self.retry.delay(retry, &err),
                Retry::Never => None,
            };
            let Some(delay) = delay else { return Err(err) };
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    async fn attempt(&self, url: &Url, req: &Req<'_>) -> Result<Answer> {
        let mut rb = self.http.request(req.method.clone(), url.clone());
        if let Some(q) = req.query {
            rb = q.apply(rb);
        }
        for (name, value) in &req.headers {
            rb = rb.header(*name, value);
        }
        if let Some(body) = &req.body {
            rb = rb.header(header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let resp = rb.send().await.map_err(|e| Error::transport(e, self.timeout))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| Error::transport(e, self.timeout))?;
        if status.is_success() {
            return Ok(Answer { headers, body });
        }
        Err(error_from(status, &headers, &body, &req.path))
    }

    /// Sends `req` and decodes the JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: &Req<'_>) -> Result<T> {
        let answer = self.send(req).await?;
        decode(&answer.body)
    }
}

/// Decodes a JSON body, naming the field that did not fit.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Decode(format!("{e} (body starts {:?})", preview(body))))
}

fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned()
}

/// Maps an error answer to [`Error`]: the problem body when there is one, else one made up
/// from the status (a proxy's HTML page, an empty body).
pub(crate) fn error_from(status: StatusCode, headers: &HeaderMap, body: &[u8], path: &str) -> Error {
    let problem =
        serde_json::from_slice::<Problem>(body).ok().filter(|p| p.status == status.as_u16()).unwrap_or_else(|| {
            Problem {
                type_uri: format!("{PROBLEM_BASE}http-{}", status.as_u16()),
                title: status.canonical_reason().unwrap_or("HTTP error").to_owned(),
                status: status.as_u16(),
                detail: (!body.is_empty()).then(|| preview(body)),
                instance: Some(format!("/{}", path.trim_start_matches('/'))),
                request_id: headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
            }
        });
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Error::RateLimited { retry_after, problem: Box::new(problem) };
    }
    Error::Api { status: status.as_u16(), problem: Box::new(problem) }
}

/// A percent-encoded path segment.
pub(crate) fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_is_never_shown() {
        let k = ApiKey::new("sk_live_0123456789abcdef0123456789abcdef0123456789abcdef\n");
        assert_eq!(format!("{k:?}"), "ApiKey(<redacted>)");
        assert_eq!(k.to_string(), "<redacted>");
        assert_eq!(k.hint(), "sk_live_0123…");
        assert_eq!(k.expose(), "sk_live_0123456789abcdef0123456789abcdef0123456789abcdef");
        let c = Client::builder().base_url("http://127.0.0.1:1").api_key(k).build().unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef"), "{c:?}");
    }

    #[test]
    fn base_urls_are_checked_and_joined() {
        let c = Client::builder().base_url("http://h:1/api").build().unwrap();
        assert_eq!(c.url("/v1/keys").unwrap().as_str(), "http://h:1/api/v1/keys");
        for bad in ["ftp://h", "not a url", "http://h/?q=1"] {
            assert!(matches!(Client::builder().base_url(bad).build(), Err(Error::Config(_))), "{bad}");
        }
        assert!(matches!(Client::builder().build(), Err(Error::Config(_))));
        assert!(matches!(Client::builder().base_url("http://h").api_key("a\nb").build(), Err(Error::Config(_))));
    }

    #[test]
    fn non_problem_bodies_still_map_to_errors() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        match error_from(StatusCode::TOO_MANY_REQUESTS, &h, b"slow down", "/v1/x") {
            Error::RateLimited { retry_after, problem } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)));
                assert_eq!(problem.detail.as_deref(), Some("slow down"));
            }
            other => panic!("{other:?}"),
        }
        let e = error_from(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>", "v1/x");
        assert_eq!(e.status(), Some(502));
        assert!(e.is_retryable());
        assert_eq!(e.slug(), Some("http-502"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
    }
}
