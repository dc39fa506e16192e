//! Transaction pre-flight checks (`scorpius scan tx`): decode what a transaction will do,
//! including every call nested in batches, and apply the transaction rules.

mod analyze;
pub mod input;

pub use analyze::analyze;
pub use input::{Authorization, TxInput, TxSource};

/// Reports for the unit tests of modules that consume reports (rendering, history, policy).
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::{chain::Chain, context::Context, model::ScanReport};

    /// `approve(0x1111…1111, 2^256 - 1)`: one medium `approval-unlimited` finding.
    pub const APPROVE_UNLIMITED: &str = "0x095ea7b30000000000000000000000001111111111111111111111111111111111111111ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    /// The report of a call with `data` to USDC on Ethereum, offline.
    pub fn usdc_report(data: &str) -> ScanReport {
        let input =
            super::TxInput::from_fields(None, Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), Some(data), None)
                .expect("valid test transaction");
        super::analyze(&input, &Context::new(Chain::ethereum()))
    }
}
