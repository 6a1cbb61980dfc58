//! Retry policy for the source: exponential backoff with jitter, and `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How the fetcher retries a page.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per page for transport errors and retryable HTTP statuses (408, 403, 425,
    /// 429, 5xx), first attempt included.
    pub max_attempts: u32,
    /// Attempts per page for a bad body (not JSON, an `{"error": ...}` body, fewer results
    /// than asked), first attempt included. After that the page goes to the dead-letter topic.
    pub body_attempts: u32,
    /// First backoff delay.
    pub initial_backoff: Duration,
    /// Largest backoff delay.
    pub max_backoff: Duration,
    /// Largest `Retry-After` honoured; a server asking for more waits this long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            body_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 for the first retry): `initial * 2^retry`
    /// capped at `max_backoff`, with "equal jitter" (half fixed, half uniform by `jitter` in
    /// `[0, 1)`) so that concurrent fetchers do not retry in lockstep.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let factor = 2f64.powi(retry.min(30) as i32);
        let full = self
            .initial_backoff
            .mul_f64(factor)
            .min(self.max_backoff)
            .as_secs_f64();
        Duration::from_secs_f64(full / 2.0 + full / 2.0 * jitter.clamp(0.0, 1.0))
    }

    /// The wait before retry number `retry`: the backoff, or the server's `Retry-After` when
    /// that is longer (capped at `max_retry_after`).
    pub fn wait(&self, retry: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff(retry, jitter);
        match retry_after {
            Some(asked) => backoff.max(asked.min(self.max_retry_after)),
            None => backoff,
        }
    }

    /// Problems with this policy (empty when valid).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_attempts == 0 {
            problems.push("retry max_attempts must be at least 1".to_owned());
        }
        if self.body_attempts == 0 {
            problems.push("retry body_attempts must be at least 1".to_owned());
        }
        if self.initial_backoff > self.max_backoff {
            problems.push("initial backoff is longer than the maximum backoff".to_owned());
        }
        problems
    }
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3), relative to
/// `now`. A date in the past means "now" (zero); anything unreadable is `None`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.with_timezone(&Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0, 0.0), Duration::from_millis(100));
        assert_eq!(policy.backoff(0, 1.0), Duration::from_millis(200));
        assert_eq!(policy.backoff(3, 1.0), Duration::from_millis(1600));
        assert_eq!(policy.backoff(20, 1.0), Duration::from_secs(30));
        assert_eq!(policy.backoff(20, 0.0), Duration::from_secs(15));
        assert_eq!(policy.backoff(u32::MAX, 0.5), Duration::from_millis(22_500));
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.wait(0, 0.0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.wait(0, 0.0, Some(Duration::from_secs(3600))),
            Duration::from_secs(120)
        );
        assert_eq!(
            policy.wait(6, 1.0, Some(Duration::from_secs(1))),
            Duration::from_millis(12_800)
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("date");
        assert_eq!(parse_retry_after(" 5 ", now), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn invalid_policies_are_reported() {
        let bad = RetryPolicy {
            max_attempts: 0,
            body_attempts: 0,
            initial_backoff: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        assert_eq!(bad.problems().len(), 3);
    }
}
