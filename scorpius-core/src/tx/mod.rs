//! Transaction pre-flight checks (`scorpius scan tx`): decode what a transaction will do,
//! including every call nested in batches, and apply the transaction rules.

mod analyze;
pub mod input;

pub use analyze::analyze;
pub use input::{Authorization, TxInput, TxSource};
