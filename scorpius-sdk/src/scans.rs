//! Scans (`POST /v1/scan/{kind}`), saved scans (`GET /v1/scans`, page by page or as a
//! [`Stream`]) and rendered reports (`GET /v1/scans/{id}/report`).
//!
//! Every scan `POST` carries an `Idempotency-Key` (a fresh UUID per call unless the caller
//! gives one), so that a retry after a lost answer returns the stored report instead of
//! scanning twice.

use futures_util::{Stream, stream};
use scorpius_core::{
    api::{
        scan::{AddressScan, ContractScan, DomainScan, ScanRequest, SignatureScan, TransactionScan, WalletScan},
        scans::{ListQuery, ReportFormat, ReportQuery, ScanPage, ScanSummary},
    },
    model::ScanReport,
};
use serde::Serialize;

use crate::{
    Client, Error, Result,
    client::{Req, Retry, decode, seg},
};

/// A rendered report as downloaded: the bytes and their content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedReport {
    /// The format asked for.
    pub format: ReportFormat,
    /// The server's `Content-Type`.
    pub content_type: String,
    /// The document (JSON, Markdown, HTML, CSV, SARIF; binary for PDF).
    pub bytes: bytes::Bytes,
}

impl RenderedReport {
    /// The document as text (every format but PDF is UTF-8).
    ///
    /// # Errors
    /// [`Error::Decode`] when it is not UTF-8.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.bytes)
            .map_err(|e| Error::Decode(format!("the {} report is not UTF-8: {e}", self.format)))
    }

    /// The document parsed as JSON (the `json` and `sarif` formats).
    ///
    /// # Errors
    /// [`Error::Decode`] when it is not JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        decode(&self.bytes)
    }
}

fn scan_path(request: &ScanRequest) -> (&'static str, Result<Vec<u8>>) {
    fn body<T: Serialize>(t: &T) -> Result<Vec<u8>> {
        serde_json::to_vec(t).map_err(|e| Error::Config(format!("serialising the scan request: {e}")))
    }
    match request {
        ScanRequest::Transaction(r) => ("transaction", body(r)),
        ScanRequest::Signature(r) => ("signature", body(r)),
        ScanRequest::Address(r) => ("address", body(r)),
        ScanRequest::Domain(r) => ("domain", body(r)),
        ScanRequest::Contract(r) => ("contract", body(r)),
        ScanRequest::Wallet(r) => ("wallet", body(r)),
    }
}

/// A new idempotency key (a UUID v4).
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Client {
    /// Runs any scan; a fresh `Idempotency-Key` makes retries safe.
    ///
    /// # Errors
    /// [`Error::Api`] with status 422 (`invalid-input`) naming the field when the request is
    /// not valid, and the usual transport and authorisation errors.
    pub async fn scan(&self, request: &ScanRequest) -> Result<ScanReport> {
        self.scan_with_key(request, &new_idempotency_key()).await
    }

    /// Runs a scan under the caller's `Idempotency-Key` (1–255 visible ASCII characters): the
    /// same key and body return the stored report without scanning again, across processes;
    /// the same key with another body is a 409 `idempotency-conflict`.
    ///
    /// # Errors
    /// As [`Client::scan`].
    pub async fn scan_with_key(&self, request: &ScanRequest, idempotency_key: &str) -> Result<ScanReport> {
        let (kind, body) = scan_path(request);
        self.scan_json(kind, body?, idempotency_key).await
    }

    /// Posts a scan body to `/v1/scan/{kind}` (for scan kinds this SDK version has no typed
    /// method for). `body` is the JSON request.
    ///
    /// # Errors
    /// As [`Client::scan`].
    pub async fn scan_json(&self, kind: &str, body: Vec<u8>, idempotency_key: &str) -> Result<ScanReport> {
        let req = Req {
            method: reqwest::Method::POST,
            path: format!("v1/scan/{}", seg(kind)),
            query: None,
            body: Some(body),
            headers: vec![("idempotency-key", idempotency_key.to_owned())],
            retry: Retry::Safe,
        };
        self.json(&req).await
    }

    /// Scans a transaction before it is signed.
    ///
    /// # Errors
    /// As [`Client::scan`].
    pub async fn scan_transaction(&self, request: &TransactionScan) -> Result<ScanReport> {
        self.scan(&ScanRequest::Transaction(request.clone())).await
    }

    /// Scans a signature request (EIP-712 typed data, personal_sign, eth_sign).
    ///
    /// # Errors
    /// As [`Client::scan`].
    pub async fn scan_signature(&self, request: &SignatureScan) -> Result<ScanReport> {
        self.scan(&ScanRequest::Signature(request.clone())).await
    }

    /// Screens an address against the server's threat intelligence.
    ///
    /// # Errors
    /// As [`Client::scan`].
    pub async fn scan_address(&self, request: &AddressScan) -> Result<ScanReport> {
        self.scan(&ScanRequest::Address(request.clone())).await
    }

    /// Checks a site for phishing and look-alikes.
    ///
    /// # Errors
    /// As [`Client::scan`].
    pub async fn scan_domain(&self, request: &DomainScan) -> Result<ScanReport> {
        self.scan(&ScanRequest::Domain(request.clone())).await
    }

    /// Analyses contract bytecode, or the contract deployed at `address` (read over the
    /// server's RPC endpoint for the chain).
    ///
    /// # Errors
    /// As [`Client::scan`]; 502 (`upstream-failed`) when the chain's endpoint fails.
    pub async fn scan_contract(&self, request: &ContractScan) -> Result<ScanReport> {
        self.scan(&ScanRequest::Contract(request.clone())).await
    }

    /// Scans a wallet's approvals, operators, Permit2 allowances and delegation over the
    /// server's RPC endpoint for the chain; the inventory is in `subject.approvals`.
    ///
    /// # Errors
    /// As [`Client::scan`]; 422 when the server has no endpoint for the chain, 502
    /// (`upstream-failed`) when the endpoint fails.
    pub async fn scan_wallet(&self, request: &WalletScan) -> Result<ScanReport> {
        self.scan(&ScanRequest::Wallet(request.clone())).await
    }

    /// One page of the tenant's saved scans, newest first.
    ///
    /// # Errors
    /// [`Error::Api`] 400 for a bad filter or cursor.
    pub async fn list_scans(&self, query: &ListQuery) -> Result<ScanPage> {
        self.json(&Req::get("v1/scans").query(query)).await
    }

    /// Every saved scan matching `query` (its `cursor` is the starting point), fetched page by
    /// page as the stream is polled. The stream ends after the first error.
    pub fn scans(&self, query: ListQuery) -> impl Stream<Item = Result<ScanSummary>> + Send + '_ {
        struct State {
            query: ListQuery,
            buffered: std::vec::IntoIter<ScanSummary>,
            done: bool,
        }
        let start = State { query, buffered: Vec::new().into_iter(), done: false };
        stream::unfold(start, move |mut st| async move {
            loop {
                if let Some(item) = st.buffered.next() {
                    return Some((Ok(item), st));
                }
                if st.done {
                    return None;
                }
                match self.list_scans(&st.query).await {
                    Ok(page) => {
                        st.done = page.next_cursor.is_none();
                        st.query.cursor = page.next_cursor;
                        st.buffered = page.items.into_iter();
                    }
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
            }
        })
    }

    /// One saved scan's report.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when there is no such scan in the tenant.
    pub async fn get_scan(&self, id: &str) -> Result<ScanReport> {
        self.json(&Req::get(format!("v1/scans/{}", seg(id)))).await
    }

    /// A saved scan rendered in `format`, as bytes.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when there is no such scan, 400 for a format the server does not
    /// render.
    pub async fn report(&self, id: &str, format: ReportFormat) -> Result<RenderedReport> {
        let query = ReportQuery { format: Some(format.as_str().to_owned()) };
        let answer = self.send(&Req::get(format!("v1/scans/{}/report", seg(id))).query(&query)).await?;
        let content_type = answer
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(RenderedReport { format, content_type, bytes: answer.body })
    }

    /// A saved scan's SARIF 2.1.0 log, parsed.
    ///
    /// # Errors
    /// As [`Client::report`], or [`Error::Decode`].
    pub async fn report_sarif(&self, id: &str) -> Result<serde_json::Value> {
        self.report(id, ReportFormat::Sarif).await?.json()
    }
}
