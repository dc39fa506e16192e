//! An axum endpoint that accepts only authentic, fresh, first-time webhooks from a
//! `scorpius-server`: the signature is checked over the raw body before anything parses it,
//! stale timestamps and replays are refused.
//!
//! ```sh
//! SCORPIUS_WEBHOOK_SECRET=whsec_… cargo run -p scorpius-sdk --example webhook_receiver
//! ```

use std::{sync::Arc, time::Duration};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use scorpius_sdk::webhooks::{Verifier, VerifyError, WebhookSecret};

struct App {
    secret: WebhookSecret,
    verifier: Verifier,
}

async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    match app.verifier.verify(&headers, &body, &app.secret) {
        Ok(msg) => {
            let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            println!("{} {}", msg.id, event["type"].as_str().unwrap_or("?"));
            StatusCode::NO_CONTENT
        }
        // Already handled: acknowledge so that the sender stops redelivering.
        Err(VerifyError::Replayed { .. }) => StatusCode::OK,
        Err(e) => {
            eprintln!("refused a webhook: {e}");
            StatusCode::UNAUTHORIZED
        }
    }
}

/// The receiver's routes.
fn router(secret: WebhookSecret) -> Router {
    let app = Arc::new(App { secret, verifier: Verifier::new(Duration::from_secs(300)) });
    Router::new().route("/webhooks/scorpius", post(receive)).with_state(app)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = WebhookSecret::parse(&std::env::var("SCORPIUS_WEBHOOK_SECRET")?)?;
    let addr = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{addr}/webhooks/scorpius");
    axum::serve(listener, router(secret)).await?;
    Ok(())
}
