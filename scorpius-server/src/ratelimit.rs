//! Per-key rate limits (GCRA). With SQLite (one process) the state is in memory (`governor`);
//! with PostgreSQL it is a row per key (`rate_limits`), stepped atomically by
//! [`crate::store::Store::rate_step`], so every replica enforces one shared budget. This module
//! holds the arithmetic both share for the `X-RateLimit-*` headers.

use crate::store::RateState;

/// A GCRA limit: `per_second` sustained, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gcra {
    /// Emission interval (ms per request).
    pub interval_ms: f64,
    /// Tolerance: how far ahead of now the theoretical arrival time may run (ms).
    pub tau_ms: f64,
    /// The burst (the `X-RateLimit-Limit`).
    pub burst: u32,
}

/// What the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed.
    pub allowed: bool,
    /// Requests left in the burst.
    pub remaining: u32,
    /// Seconds until the burst is full again (allowed) or until a retry can succeed (refused).
    pub reset_secs: u64,
}

impl Gcra {
    /// The limit for a rate and burst (both at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let interval_ms = 1000.0 / f64::from(per_second.max(1));
        Gcra { interval_ms, tau_ms: interval_ms * f64::from(burst.max(1) - 1), burst: burst.max(1) }
    }

    /// Reads a stepped state (see [`crate::store::Store::rate_step`]) at `now_ms`.
    pub fn verdict(&self, state: RateState, now_ms: f64) -> Verdict {
        let ahead = (state.tat_ms - now_ms).max(0.0);
        if state.allowed {
            let left = ((self.tau_ms + self.interval_ms - ahead) / self.interval_ms).floor();
            Verdict {
                allowed: true,
                remaining: (left.max(0.0) as u32).min(self.burst),
                reset_secs: (ahead / 1000.0).ceil() as u64,
            }
        } else {
            let wait = (ahead - self.tau_ms).max(0.0);
            Verdict { allowed: false, remaining: 0, reset_secs: ((wait / 1000.0).ceil() as u64).max(1) }
        }
    }

    /// One step in memory, as the PostgreSQL statement does it (for tests and documentation).
    pub fn step(&self, tat_ms: Option<f64>, now_ms: f64) -> RateState {
        let base = tat_ms.unwrap_or(now_ms).max(now_ms);
        if base - now_ms <= self.tau_ms {
            RateState { allowed: true, tat_ms: base + self.interval_ms }
        } else {
            RateState { allowed: false, tat_ms: tat_ms.unwrap_or(now_ms) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        // 10/s, burst 3: three at once, the fourth refused for 100 ms.
        let g = Gcra::new(10, 3);
        let mut tat = None;
        let mut seen = Vec::new();
        for _ in 0..4 {
            let s = g.step(tat, 0.0);
            if s.allowed {
                tat = Some(s.tat_ms);
            }
            seen.push(g.verdict(s, 0.0));
        }
        assert_eq!(seen.iter().map(|v| v.allowed).collect::<Vec<_>>(), [true, true, true, false]);
        assert_eq!(seen.iter().map(|v| v.remaining).collect::<Vec<_>>(), [2, 1, 0, 0]);
        assert_eq!(seen[3].reset_secs, 1);
        // 100 ms later one more fits.
        assert!(g.step(tat, 100.0).allowed);
        assert!(!g.step(tat, 99.0).allowed);
    }
}
