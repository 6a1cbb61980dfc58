//! Client-side rate limit: a token bucket, pure (the caller passes the clock).

use std::time::{Duration, Instant};

/// A token bucket refilled at `rate` tokens per second, holding at most `burst`.
///
/// [`TokenBucket::reserve`] takes tokens even when there are not enough, leaving a debt, and
/// says how long to wait until the debt is paid; so callers can take tokens in chunks and the
/// long-run rate is exactly `rate` whatever the chunk size.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`. `rate` must be positive and finite (checked by config
    /// validation); `burst` is raised to at least one token.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        let burst = burst.max(1.0);
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Tokens per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes `n` tokens at `now` and returns how long to wait before using them
    /// (zero when they were there).
    pub fn reserve(&mut self, n: f64, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= n;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }

    /// How many tokens to take at a time so that waits are about 10 ms apart (tokio's timer
    /// works in milliseconds): at least 1, at most 1000.
    pub fn chunk(&self) -> u32 {
        (self.rate * 0.01).clamp(1.0, 1000.0) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_bucket_serves_a_burst_then_throttles() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100.0, 10.0, t0);
        assert_eq!(bucket.reserve(10.0, t0), Duration::ZERO);
        let wait = bucket.reserve(10.0, t0);
        assert_eq!(wait, Duration::from_millis(100));
        // After waiting, the debt is paid and the next chunk waits a full chunk time again.
        let t1 = t0 + wait;
        assert_eq!(bucket.reserve(10.0, t1), Duration::from_millis(100));
    }

    #[test]
    fn refill_is_capped_at_burst() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(1000.0, 50.0, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(bucket.reserve(50.0, later), Duration::ZERO);
        assert!(bucket.reserve(1.0, later) > Duration::ZERO);
    }

    #[test]
    fn long_run_rate_is_exact_for_any_chunk() {
        for chunk in [1.0, 7.0, 250.0] {
            let t0 = Instant::now();
            let mut bucket = TokenBucket::new(500.0, 1.0, t0);
            let mut now = t0;
            let mut taken = 0.0;
            while taken < 5000.0 {
                now += bucket.reserve(chunk, now);
                taken += chunk;
            }
            // 5000 tokens at 500/s, one token free at the start: about 10 s.
            let secs = now.duration_since(t0).as_secs_f64();
            assert!(
                (secs - (taken - 1.0) / 500.0).abs() < 1e-6,
                "{chunk}: {secs}"
            );
        }
    }

    #[test]
    fn chunk_size_tracks_the_rate() {
        let t0 = Instant::now();
        assert_eq!(TokenBucket::new(10.0, 1.0, t0).chunk(), 1);
        assert_eq!(TokenBucket::new(20_000.0, 1.0, t0).chunk(), 200);
        assert_eq!(TokenBucket::new(1e9, 1.0, t0).chunk(), 1000);
    }
}
