//! In-process checks with no server: the core's offline analyzers (transaction, signature,
//! address, domain, contract bytecode) over the threat intelligence bundled into the crate.
//!
//! [`Analyzer`] takes the same request types as the server's scan endpoints and runs the same
//! code the server runs (`scorpius_core::api::scan::run`), so a report from
//! [`Analyzer::scan_transaction`] has the same findings as one from
//! [`Client::scan_transaction`](crate::Client::scan_transaction) for the same input and data.
//!
//! ```
//! use scorpius_sdk::local::{Analyzer, TransactionScan};
//!
//! let analyzer = Analyzer::bundled()?; // loads the bundled datasets once; share it
//! let report = analyzer.scan_transaction(&TransactionScan {
//!     // approve(0x1111…, 2^256-1) on USDC
//!     to: Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into()),
//!     data: Some(format!("0x095ea7b3{:0>64}{}", "1111111111111111111111111111111111111111", "f".repeat(64))),
//!     ..TransactionScan::default()
//! })?;
//! assert!(report.findings.iter().any(|f| f.rule_id == "approval-unlimited"));
//! # Ok::<(), scorpius_sdk::local::Error>(())
//! ```
//!
//! For finer control (your own [`Context`], a wallet's transfer history) call the core
//! directly: [`tx::analyze`], [`signature::analyze`], [`screen::scan_address`],
//! [`contract::analyze_contract`].

use std::sync::Arc;

pub use scorpius_core::{
    Error,
    api::scan::{
        AddressScan, ChainSpec, ContractScan, DomainScan, ScanEnv, ScanRequest, SignatureScan, TransactionScan,
    },
    context::Context,
    contract,
    intel::screen,
    model::{Finding, RiskLevel, ScanReport, Severity},
    signature, tx,
};

/// The offline analyzers with their datasets loaded. Loading takes a moment; build one and
/// share it (it is `Send + Sync` and cheap to clone).
#[derive(Debug, Clone)]
pub struct Analyzer {
    env: Arc<ScanEnv>,
}

impl Analyzer {
    /// The analyzers over the bundled address intel and phishing-domain lists.
    ///
    /// # Errors
    /// When a bundled dataset cannot be parsed (a build problem, not an input problem).
    pub fn bundled() -> Result<Self, Error> {
        let intel = scorpius_core::intel::bundled::address_index();
        let domains = scorpius_core::intel::bundled::domain_index(&[])?;
        Ok(Analyzer::with_env(ScanEnv { intel: Some(Arc::new(intel)), domains: Some(Arc::new(domains)) }))
    }

    /// The analyzers over your own indexes (for example with extra datasets).
    pub fn with_env(env: ScanEnv) -> Self {
        Analyzer { env: Arc::new(env) }
    }

    /// Runs any scan request.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](scorpius_core::Error) naming the field that is wrong.
    pub fn scan(&self, request: &ScanRequest) -> Result<ScanReport, Error> {
        scorpius_core::api::scan::run(request, &self.env)
    }

    /// Checks a transaction before it is signed.
    ///
    /// # Errors
    /// As [`Analyzer::scan`].
    pub fn scan_transaction(&self, request: &TransactionScan) -> Result<ScanReport, Error> {
        self.scan(&ScanRequest::Transaction(request.clone()))
    }

    /// Checks a signature request.
    ///
    /// # Errors
    /// As [`Analyzer::scan`].
    pub fn scan_signature(&self, request: &SignatureScan) -> Result<ScanReport, Error> {
        self.scan(&ScanRequest::Signature(request.clone()))
    }

    /// Screens an address against the bundled intel.
    ///
    /// # Errors
    /// As [`Analyzer::scan`].
    pub fn scan_address(&self, request: &AddressScan) -> Result<ScanReport, Error> {
        self.scan(&ScanRequest::Address(request.clone()))
    }

    /// Checks a site for phishing and look-alikes.
    ///
    /// # Errors
    /// As [`Analyzer::scan`].
    pub fn scan_domain(&self, request: &DomainScan) -> Result<ScanReport, Error> {
        self.scan(&ScanRequest::Domain(request.clone()))
    }

    /// Analyses contract bytecode (runtime or creation code).
    ///
    /// # Errors
    /// As [`Analyzer::scan`].
    pub fn scan_contract(&self, request: &ContractScan) -> Result<ScanReport, Error> {
        self.scan(&ScanRequest::Contract(request.clone()))
    }
}
