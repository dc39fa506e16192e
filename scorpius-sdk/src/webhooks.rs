//! Verifying the webhooks a Scorpius server sends (the Standard Webhooks convention:
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, HMAC-SHA256 over
//! `"{id}.{timestamp}.{body}"`).
//!
//! [`verify`] checks the signature (in constant time), rejects timestamps further than the
//! tolerance from now, and rejects a message id it has already accepted within the tolerance
//! (a replay). A replayed message older than the tolerance fails the timestamp check, so the
//! remembered ids never need to outlive the tolerance. [`verify`] remembers ids in one
//! process-wide [`Verifier`]; create your own [`Verifier`] to keep them per endpoint or per
//! secret.
//!
//! Verify the body exactly as received — before any JSON parsing — and answer 2xx quickly.
//!
//! ```
//! use std::time::Duration;
//! use scorpius_sdk::webhooks::{self, WebhookSecret};
//!
//! let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let body = br#"{"type":"scan.completed"}"#;
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
//! // What the server sends (here signed locally).
//! let mut headers = http::HeaderMap::new();
//! headers.insert("webhook-id", "msg_1".parse().unwrap());
//! headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
//! headers.insert("webhook-signature", scorpius_core::webhooks::sign(&secret, "msg_1", now, body).parse().unwrap());
//!
//! let verifier = webhooks::Verifier::new(Duration::from_secs(300));
//! let msg = verifier.verify(&headers, body, &secret).unwrap();
//! assert_eq!(msg.id, "msg_1");
//! // The same delivery again is a replay.
//! assert!(matches!(verifier.verify(&headers, body, &secret), Err(webhooks::VerifyError::Replayed { .. })));
//! ```

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Mutex, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::HeaderMap;
pub use scorpius_core::webhooks::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SECRET_PREFIX, WebhookError, WebhookSecret,
};

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A missing header, a bad timestamp, a stale or future timestamp, or no matching
    /// signature.
    #[error(transparent)]
    Invalid(#[from] WebhookError),
    /// A message with this id was already accepted within the tolerance.
    #[error("message `{id}` was already received: a replay")]
    Replayed {
        /// The message id.
        id: String,
    },
}

/// A verified message's id and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `webhook-id`: the same across redeliveries of one event, so also a deduplication key.
    pub id: String,
    /// `webhook-timestamp` (Unix seconds).
    pub timestamp: i64,
}

/// Default most message ids a [`Verifier`] remembers.
pub const DEFAULT_MAX_IDS: usize = 100_000;

/// Verifies webhooks and remembers the ids it accepted for the tolerance window, at most
/// `max_ids` of them (the oldest are forgotten first when a burst exceeds that).
#[derive(Debug)]
pub struct Verifier {
    tolerance: Duration,
    max_ids: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    by_id: HashMap<String, i64>,
    by_time: BTreeSet<(i64, String)>,
}

impl Verifier {
    /// A verifier accepting timestamps within `tolerance` of now (5 minutes is usual).
    pub fn new(tolerance: Duration) -> Self {
        Verifier::with_capacity(tolerance, DEFAULT_MAX_IDS)
    }

    /// A verifier remembering at most `max_ids` ids.
    pub fn with_capacity(tolerance: Duration, max_ids: usize) -> Self {
        Verifier { tolerance, max_ids: max_ids.max(1), seen: Mutex::new(Seen::default()) }
    }

    /// Checks a delivery against `secret` at the current time.
    ///
    /// # Errors
    /// [`VerifyError`] naming the first check that failed.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], secret: &WebhookSecret) -> Result<Verified, VerifyError> {
        self.verify_at(headers, body, secret, unix_now())
    }

    /// Checks a delivery as of `now` (Unix seconds).
    ///
    /// # Errors
    /// [`VerifyError`] naming the first check that failed.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        secret: &WebhookSecret,
        now: i64,
    ) -> Result<Verified, VerifyError> {
        let header = |name: &'static str| -> Result<&str, WebhookError> {
            headers.get(name).and_then(|v| v.to_str().ok()).ok_or(WebhookError::MissingHeader(name))
        };
        let (id, ts, sigs) = (header(HEADER_ID)?, header(HEADER_TIMESTAMP)?, header(HEADER_SIGNATURE)?);
        scorpius_core::webhooks::verify(secret, id, ts, sigs, body, now, self.tolerance.as_secs())?;
        let timestamp: i64 = ts.trim().parse().map_err(|_| WebhookError::BadTimestamp)?;
        // Only authentic messages are remembered, so forged ones cannot fill the memory.
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let horizon = now.saturating_sub(i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX));
        while let Some((t, _)) = seen.by_time.first()
            && *t < horizon
        {
            if let Some((_, old)) = seen.by_time.pop_first() {
                seen.by_id.remove(&old);
            }
        }
        if seen.by_id.contains_key(id) {
            return Err(VerifyError::Replayed { id: id.to_owned() });
        }
        while seen.by_id.len() >= self.max_ids {
            match seen.by_time.pop_first() {
                Some((_, old)) => {
                    seen.by_id.remove(&old);
                }
                None => break,
            }
        }
        seen.by_id.insert(id.to_owned(), timestamp);
        seen.by_time.insert((timestamp, id.to_owned()));
        Ok(Verified { id: id.to_owned(), timestamp })
    }

    /// How many ids are remembered now.
    pub fn remembered(&self) -> usize {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).by_id.len()
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Checks a delivery: signature, timestamp within `tolerance`, and no replay of an id this
/// process already accepted within the tolerance (one process-wide [`Verifier`] per
/// tolerance value is used; use your own [`Verifier`] to scope the memory differently).
///
/// # Errors
/// [`VerifyError`] naming the first check that failed.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &WebhookSecret,
    tolerance: Duration,
) -> Result<Verified, VerifyError> {
    static SHARED: OnceLock<Mutex<HashMap<u64, &'static Verifier>>> = OnceLock::new();
    let verifier = {
        let mut map = SHARED.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry(tolerance.as_secs()).or_insert_with(|| Box::leak(Box::new(Verifier::new(tolerance))))
    };
    verifier.verify(headers, body, secret)
}

#[cfg(test)]
mod tests {
    use scorpius_core::webhooks::sign;

    use super::*;

    fn delivery(secret: &WebhookSecret, id: &str, ts: i64, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_ID, id.parse().unwrap());
        h.insert(HEADER_TIMESTAMP, ts.to_string().parse().unwrap());
        h.insert(HEADER_SIGNATURE, sign(secret, id, ts, body).parse().unwrap());
        h
    }

    #[test]
    fn accepts_once_then_rejects_replays_until_they_are_stale() {
        let secret = WebhookSecret::generate().unwrap();
        let v = Verifier::new(Duration::from_secs(300));
        let h = delivery(&secret, "msg_a", 1_000_000, b"{}");
        assert_eq!(v.verify_at(&h, b"{}", &secret, 1_000_010).unwrap().id, "msg_a");
        assert_eq!(v.verify_at(&h, b"{}", &secret, 1_000_020), Err(VerifyError::Replayed { id: "msg_a".into() }));
        // Past the tolerance it is refused as stale, and the id is forgotten.
        assert!(matches!(
            v.verify_at(&h, b"{}", &secret, 1_000_301),
            Err(VerifyError::Invalid(WebhookError::TooOld { .. }))
        ));
        let h2 = delivery(&secret, "msg_b", 1_000_400, b"{}");
        v.verify_at(&h2, b"{}", &secret, 1_000_400).unwrap();
        assert_eq!(v.remembered(), 1);
    }

    #[test]
    fn forged_and_incomplete_deliveries_are_refused_and_not_remembered() {
        let secret = WebhookSecret::generate().unwrap();
        let other = WebhookSecret::generate().unwrap();
        let v = Verifier::new(Duration::from_secs(300));
        let h = delivery(&other, "msg_x", 50, b"{}");
        assert_eq!(v.verify_at(&h, b"{}", &secret, 50), Err(VerifyError::Invalid(WebhookError::NoMatchingSignature)));
        assert_eq!(v.remembered(), 0);
        let good = delivery(&secret, "msg_x", 50, b"{}");
        assert_eq!(
            v.verify_at(&good, b"{\"x\":1}", &secret, 50),
            Err(VerifyError::Invalid(WebhookError::NoMatchingSignature))
        );
        let mut missing = good.clone();
        missing.remove(HEADER_SIGNATURE);
        assert_eq!(
            v.verify_at(&missing, b"{}", &secret, 50),
            Err(VerifyError::Invalid(WebhookError::MissingHeader(HEADER_SIGNATURE)))
        );
        assert!(v.verify_at(&good, b"{}", &secret, 50).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let secret = WebhookSecret::generate().unwrap();
        let v = Verifier::with_capacity(Duration::from_secs(300), 3);
        for i in 0..10 {
            let id = format!("msg_{i}");
            v.verify_at(&delivery(&secret, &id, 100 + i, b"x"), b"x", &secret, 110).unwrap();
            assert!(v.remembered() <= 3);
        }
        // The newest are still caught.
        let again = delivery(&secret, "msg_9", 109, b"x");
        assert!(matches!(v.verify_at(&again, b"x", &secret, 110), Err(VerifyError::Replayed { .. })));
    }

    #[test]
    fn the_free_function_remembers_ids_across_calls() {
        let secret = WebhookSecret::generate().unwrap();
        let now = unix_now();
        let id = format!("msg_free_{}", uuid::Uuid::new_v4());
        let h = delivery(&secret, &id, now, b"{}");
        verify(&h, b"{}", &secret, Duration::from_secs(300)).unwrap();
        assert!(matches!(verify(&h, b"{}", &secret, Duration::from_secs(300)), Err(VerifyError::Replayed { .. })));
    }
}
