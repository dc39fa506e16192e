//! The Scorpius SDK: a typed async client for the `scorpius-server` API, verification of the
//! webhooks it sends, and the same security checks in-process with no server.
//!
//! - [`Client`]: every endpoint as an async method — scans, saved scans (a [`Stream`] over
//!   the pages) and reports (bytes for PDF or SARIF, typed values for JSON), intel, the audit
//!   trail and its verification, API keys, usage, forecast and billing preview, webhook
//!   subscriptions and their deliveries, health. Retries with exponential backoff and
//!   jitter on 429 (honouring `Retry-After`), 5xx, timeouts and connection failures — only
//!   for requests safe to repeat: `GET`s and scan `POST`s, which always carry an
//!   `Idempotency-Key`. Errors are typed ([`Error`]).
//! - [`webhooks`]: Standard Webhooks signature checks with stale-timestamp and replay
//!   rejection.
//! - [`local`]: the offline analyzers (transaction, signature, address, domain, contract
//!   bytecode) over the bundled threat intelligence.
//!
//! Request and response types are the server's own (`scorpius_core::api`, re-exported as
//! [`api`]), so the two cannot drift apart. TLS is rustls (feature `rustls`, on by default).
//!
//! # Check a transaction before signing it
//!
//! ```no_run
//! use scorpius_sdk::{Client, api::scan::TransactionScan, model::Severity};
//!
//! # async fn run() -> Result<(), scorpius_sdk::Error> {
//! let client = Client::builder()
//!     .base_url("https://scorpius.example.com")
//!     .api_key(std::env::var("SCORPIUS_API_KEY").unwrap_or_default())
//!     .build()?;
//! let report = client
//!     .scan_transaction(&TransactionScan {
//!         to: Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into()),
//!         data: Some("0x095ea7b3…".into()),
//!         ..TransactionScan::default()
//!     })
//!     .await?;
//! if report.max_severity() >= Some(Severity::High) {
//!     println!("do not sign: {} (risk {})", report.findings[0].message, report.risk.score);
//! }
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! ```no_run
//! # async fn run(client: scorpius_sdk::Client) {
//! match client.get_scan("5f0c…").await {
//!     Ok(report) => println!("{}", report.target),
//!     Err(e) if e.status() == Some(404) => eprintln!("no such scan"),
//!     Err(scorpius_sdk::Error::RateLimited { retry_after, .. }) => eprintln!("slow down: {retry_after:?}"),
//!     Err(e) if e.is_retryable() => eprintln!("try again later: {e}"),
//!     Err(e) => eprintln!("{e} ({:?})", e.slug()),
//! }
//! # }
//! ```
//!
//! # Every saved scan
//!
//! ```no_run
//! use futures_util::TryStreamExt as _;
//! # async fn run(client: scorpius_sdk::Client) -> Result<(), scorpius_sdk::Error> {
//! let query = scorpius_sdk::api::scans::ListQuery { level: Some("high".into()), ..Default::default() };
//! let high: Vec<_> = client.scans(query).try_collect().await?;
//! println!("{} high-risk scans", high.len());
//! # Ok(()) }
//! ```
//!
//! The examples in `scorpius-sdk/examples/` are complete programs: a pre-signing check (with
//! the server and with [`local`]), a wallet's riskiest approvals, an axum webhook receiver and
//! a CI gate.

mod admin;
mod client;
mod error;
pub mod local;
mod metering;
mod retry;
mod scans;
pub mod webhooks;

pub use admin::{AuditProblem, AuditVerification};
pub use client::{ApiKey, Client, ClientBuilder};
pub use error::{Error, Result};
pub use futures_util::Stream;
pub use retry::RetryPolicy;
pub use scans::{RenderedReport, new_idempotency_key};
/// The server's wire types (requests, responses, problem details).
pub use scorpius_core::api;
/// Reports, findings, severities.
pub use scorpius_core::model;
