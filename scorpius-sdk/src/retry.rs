//! When and how long to wait before trying a request again: exponential backoff with jitter,
//! and the server's `Retry-After` when it sends one.
//!
//! Only requests that are safe to repeat are retried: `GET`s, and scan `POST`s, which always
//! carry an `Idempotency-Key` (the server runs a scan once per key and replays the stored
//! answer). Creating, rotating and revoking keys are never retried.

use std::time::Duration;

use crate::Error;

/// The retry policy of a [`Client`](crate::Client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub initial_backoff: Duration,
    /// The longest backoff between two attempts.
    pub max_backoff: Duration,
    /// The longest `Retry-After` that is waited out; a longer one is returned as
    /// [`Error::RateLimited`] at once, for the caller to schedule.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_retries: 0, ..RetryPolicy::default() }
    }

    /// `max_retries` retries with the default backoff.
    pub fn with_max_retries(max_retries: u32) -> Self {
        RetryPolicy { max_retries, ..RetryPolicy::default() }
    }

    /// How long to wait before retry number `retry` (0-based) after `error`, or `None` when
    /// the error is final or the policy is spent.
    pub fn delay(&self, retry: u32, error: &Error) -> Option<Duration> {
        if retry >= self.max_retries || !error.is_retryable() {
            return None;
        }
        if let Error::RateLimited { retry_after: Some(after), .. } = error {
            return (*after <= self.max_retry_after).then_some(*after);
        }
        Some(self.backoff(retry))
    }

    /// Exponential backoff with "equal jitter": half the exponential delay plus a random part
    /// up to the other half, so that clients that failed together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let random = if jitter == 0 { 0 } else { getrandom::u64().unwrap_or(0) % (jitter + 1) };
        half + Duration::from_nanos(random)
    }
}

#[cfg(test)]
mod tests {
    use scorpius_core::api::Problem;

    use super::*;

    fn problem(status: u16) -> Box<Problem> {
        Box::new(Problem {
            type_uri: "x#y".into(),
            title: "t".into(),
            status,
            detail: None,
            instance: None,
            request_id: None,
        })
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let d0 = p.backoff(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100), "{d0:?}");
            let d2 = p.backoff(2);
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400), "{d2:?}");
            let d9 = p.backoff(9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000), "{d9:?}");
            assert!(p.backoff(40) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn only_retryable_errors_are_retried_and_retry_after_wins() {
        let p = RetryPolicy::default();
        let limited = Error::RateLimited { retry_after: Some(Duration::from_secs(2)), problem: problem(429) };
        assert_eq!(p.delay(0, &limited), Some(Duration::from_secs(2)));
        let too_long = Error::RateLimited { retry_after: Some(Duration::from_secs(3600)), problem: problem(429) };
        assert_eq!(p.delay(0, &too_long), None);
        assert!(p.delay(0, &Error::Api { status: 503, problem: problem(503) }).is_some());
        assert_eq!(p.delay(0, &Error::Api { status: 404, problem: problem(404) }), None);
        assert_eq!(p.delay(0, &Error::Api { status: 422, problem: problem(422) }), None);
        assert_eq!(p.delay(3, &Error::Api { status: 503, problem: problem(503) }), None);
        assert_eq!(RetryPolicy::none().delay(0, &limited), None);
    }
}
