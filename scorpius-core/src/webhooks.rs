//! Webhook signatures, per the Standard Webhooks convention
//! (<https://www.standardwebhooks.com/>): the sender puts `webhook-id`, `webhook-timestamp`
//! (Unix seconds) and `webhook-signature` on the request, the signature being
//! `v1,<base64 of HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`; several space-separated
//! signatures may be sent (secret rotation). Secrets are written `whsec_<base64 of the key>`.
//!
//! The server signs with [`sign`]; receivers (the SDK's `webhooks::verify`) check with
//! [`verify`], which compares in constant time and rejects timestamps outside the tolerance.
//! Replay protection beyond the tolerance window (remembering ids) is the receiver's.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The message id header.
pub const HEADER_ID: &str = "webhook-id";
/// The timestamp header (Unix seconds).
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The signature header.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// A new random 256-bit secret.
    ///
    /// # Errors
    /// When the operating system has no randomness to give.
    pub fn generate() -> Result<Self, WebhookError> {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).map_err(|e| WebhookError::Secret(format!("no randomness: {e}")))?;
        Ok(WebhookSecret(key))
    }

    /// Parses `whsec_<base64>` (the prefix is optional, as in the reference libraries).
    ///
    /// # Errors
    /// When the text is not base64 or decodes to fewer than 16 bytes.
    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let b64 = text.trim().strip_prefix(SECRET_PREFIX).unwrap_or(text.trim());
        let key = STANDARD
            .decode(b64)
            .map_err(|_| WebhookError::Secret("a webhook secret is `whsec_` followed by base64".into()))?;
        if key.len() < 16 {
            return Err(WebhookError::Secret("a webhook secret must hold at least 16 bytes".into()));
        }
        Ok(WebhookSecret(key))
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(key: Vec<u8>) -> Self {
        WebhookSecret(key)
    }

    /// The raw key bytes (for storage).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `whsec_…` text form: show it once, at creation.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// Why a webhook was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A bad secret.
    #[error("{0}")]
    Secret(String),
    /// A required header is absent or not text.
    #[error("missing or unreadable `{0}` header")]
    MissingHeader(&'static str),
    /// The timestamp is not a whole number of seconds.
    #[error("`webhook-timestamp` is not a Unix timestamp in seconds")]
    BadTimestamp,
    /// The timestamp is older than the tolerance.
    #[error("the message timestamp is too old ({age_secs} s, tolerance {tolerance_secs} s)")]
    TooOld {
        /// How old.
        age_secs: i64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("the message timestamp is in the future ({ahead_secs} s, tolerance {tolerance_secs} s)")]
    TooNew {
        /// How far ahead.
        ahead_secs: i64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// No `v1` signature matches.
    #[error("no signature matches")]
    NoMatchingSignature,
}

/// The `webhook-signature` value for a message: `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(secret.mac(id, timestamp, body)))
}

/// Checks a received message: the timestamp within `tolerance_secs` of `now` (Unix seconds),
/// and one of the space-separated `v1,` signatures matching (compared in constant time).
///
/// # Errors
/// [`WebhookError`] naming the first check that failed.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: u64,
) -> Result<(), WebhookError> {
    if id.is_empty() {
        return Err(WebhookError::MissingHeader(HEADER_ID));
    }
    let ts: i64 = timestamp.trim().parse().map_err(|_| WebhookError::BadTimestamp)?;
    let tol = i64::try_from(tolerance_secs).unwrap_or(i64::MAX);
    let age = now.saturating_sub(ts);
    if age > tol {
        return Err(WebhookError::TooOld { age_secs: age, tolerance_secs });
    }
    if -age > tol {
        return Err(WebhookError::TooNew { ahead_secs: -age, tolerance_secs });
    }
    let expected = secret.mac(id, ts, body);
    let matched = signatures
        .split_ascii_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|sig| bool::from(sig.as_slice().ct_eq(&expected)));
    if matched { Ok(()) } else { Err(WebhookError::NoMatchingSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_like_the_specification() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(sign(&secret, ID, TS, BODY), SIG);
        assert_eq!(secret.expose(), SECRET);
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn verifies_and_rejects() {
        let secret = WebhookSecret::parse(SECRET).unwrap();
        let ts = TS.to_string();
        assert_eq!(verify(&secret, ID, &ts, SIG, BODY, TS + 10, 300), Ok(()));
        // One of several signatures, the first from an older secret.
        let several = format!("v1,AAAA {SIG} v2,zzz");
        assert_eq!(verify(&secret, ID, &ts, &several, BODY, TS, 300), Ok(()));
        assert_eq!(verify(&secret, ID, &ts, SIG, b"{\"test\": 1}", TS, 300), Err(WebhookError::NoMatchingSignature));
        assert_eq!(verify(&secret, "msg_other", &ts, SIG, BODY, TS, 300), Err(WebhookError::NoMatchingSignature));
        assert_eq!(
            verify(&secret, ID, &ts, SIG, BODY, TS + 301, 300),
            Err(WebhookError::TooOld { age_secs: 301, tolerance_secs: 300 })
        );
        assert_eq!(
            verify(&secret, ID, &ts, SIG, BODY, TS - 301, 300),
            Err(WebhookError::TooNew { ahead_secs: 301, tolerance_secs: 300 })
        );
        assert_eq!(verify(&secret, ID, "soon", SIG, BODY, TS, 300), Err(WebhookError::BadTimestamp));
        assert_eq!(verify(&secret, "", &ts, SIG, BODY, TS, 300), Err(WebhookError::MissingHeader(HEADER_ID)));
        let other = WebhookSecret::generate().unwrap();
        assert_eq!(verify(&other, ID, &ts, SIG, BODY, TS, 300), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn bad_secrets_are_named() {
        assert!(matches!(WebhookSecret::parse("whsec_!!"), Err(WebhookError::Secret(_))));
        assert!(matches!(WebhookSecret::parse("whsec_AAAA"), Err(WebhookError::Secret(_))));
    }
}
