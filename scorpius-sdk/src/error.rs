//! The SDK's errors: what the server said ([`Error::Api`], [`Error::RateLimited`]), what went
//! wrong on the way ([`Error::Transport`], [`Error::Timeout`]), answers that could not be read
//! ([`Error::Decode`]) and client set-up mistakes ([`Error::Config`]).

use std::time::Duration;

use scorpius_core::api::{Problem, problem_slug};

/// Result alias of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status and RFC 9457 problem details (when the body
    /// was not a problem, one is made up from the status and the body's first bytes).
    #[error("{} {}: {}", .status, .problem.title, .problem.detail.as_deref().unwrap_or("(no detail)"))]
    Api {
        /// HTTP status.
        status: u16,
        /// The problem details.
        problem: Box<Problem>,
    },
    /// 429: over the key's rate limit. `retry_after` is the server's `Retry-After`.
    #[error("rate limited by the server{}", .retry_after.map(|d| format!(": retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// How long the server asked to wait, if it said.
        retry_after: Option<Duration>,
        /// The problem details.
        problem: Box<Problem>,
    },
    /// The request did not complete: connection refused or reset, DNS, TLS, a broken body.
    #[error("could not reach the server: {message}")]
    Transport {
        /// What failed (never the API key).
        message: String,
        /// The underlying error.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// No answer within the client's timeout.
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
    /// The server answered, but not with what this SDK expects (another API version, a proxy's
    /// error page).
    #[error("could not read the server's answer: {0}")]
    Decode(String),
    /// The client is mis-configured (bad base URL, an API key that cannot be sent in a header).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The problem details of an API error.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api { problem, .. } | Error::RateLimited { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The problem slug (`invalid-key`, `not-found`, …; see `docs/server.md#errors`).
    pub fn slug(&self) -> Option<&str> {
        self.problem().map(|p| problem_slug(&p.type_uri))
    }

    /// Whether trying the same request again later may succeed: rate limits, 5xx answers,
    /// timeouts and transport failures. 4xx answers other than 429 are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout(_) | Error::Transport { .. } => true,
            Error::Api { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            Error::Decode(_) | Error::Config(_) => false,
        }
    }

    /// Whether the server refused the API key (401).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    pub(crate) fn transport(e: reqwest::Error, timeout: Duration) -> Self {
        if e.is_timeout() {
            return Error::Timeout(timeout);
        }
        // reqwest's Display includes the URL; ours never carries secrets (the key is a header).
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        Error::Transport { message, source: Some(e) }
    }
}
