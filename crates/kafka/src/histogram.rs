//! A small log-bucketed latency histogram (about 4% resolution), pure.

use std::time::Duration;

/// Bucket growth factor: bucket `i` holds values in `[G^i, G^(i+1))` microseconds.
const GROWTH: f64 = 1.04;
/// Enough buckets for an hour in microseconds.
const BUCKETS: usize = 600;

/// Latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    max: Duration,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: Duration::ZERO,
        }
    }
}

impl LatencyHistogram {
    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let micros = latency.as_micros().max(1) as f64;
        let index = ((micros.ln() / GROWTH.ln()) as usize).min(BUCKETS - 1);
        self.counts[index] += 1;
        self.total += 1;
        self.max = self.max.max(latency);
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Largest latency recorded.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The `q` quantile (0..=1): the upper edge of the bucket holding it, never above the
    /// maximum. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let upper = GROWTH.powi(i as i32 + 1);
                return Some(Duration::from_secs_f64(upper / 1e6).min(self.max));
            }
        }
        Some(self.max)
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_bucket_resolution() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).expect("p50").as_secs_f64() * 1e3;
        let p99 = h.quantile(0.99).expect("p99").as_secs_f64() * 1e3;
        assert!((p50 - 500.0).abs() / 500.0 < 0.05, "{p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.05, "{p99}");
        assert_eq!(h.quantile(1.0), Some(Duration::from_millis(1000)));
        let mut other = LatencyHistogram::default();
        other.record(Duration::from_secs(5));
        h.merge(&other);
        assert_eq!(h.count(), 1001);
        assert_eq!(h.max(), Duration::from_secs(5));
    }
}
