//! Signature-request checks (`scorpius scan signature`): EIP-712 typed data, `personal_sign`
//! messages (including Sign-In with Ethereum) and raw `eth_sign` hashes.

mod analyze;
pub mod input;
mod siwe;

pub use analyze::analyze;
pub use input::{SignatureRequest, TypedDataRequest};
pub use siwe::SiweMessage;
