//! Handlers, one file per resource, each with its request and response types (the shared
//! wire types live in `scorpius_core::api`).

pub mod audit;
pub mod health;
pub mod intel;
pub mod keys;
pub mod meta;
pub mod scans;
pub mod usage;
pub mod webhooks;
