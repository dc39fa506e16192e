//! Integration tests of the SDK: against the real `scorpius-server` binary ([`api`]), against
//! a controllable local server for retries ([`retry`]), and webhook verification
//! ([`webhooks`]).

mod api;
mod retry;
mod server;
mod webhooks;
