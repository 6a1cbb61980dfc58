//! Fault injection: what can go wrong with a response, how often, and per-request overrides.
//!
//! Every injected fault is announced in the `x-userstream-fault` response header
//! ([`Fault::header_value`]), so a test knows what it was served even when faults are drawn at
//! random under concurrency. Draws are still reproducible for one client: they come from
//! `FaultConfig::seed` and the server's request counter.

use std::fmt;
use std::time::Duration;

use crate::rng::Rng;

/// Response header naming the injected fault (absent when none was injected).
pub const FAULT_HEADER: &str = "x-userstream-fault";
/// Response header carrying the injected delay in milliseconds (absent when none).
pub const DELAY_HEADER: &str = "x-userstream-delay-ms";

/// The error body the real API serves with HTTP 200 when it fails internally.
pub const REAL_API_ERROR_MESSAGE: &str =
    "Uh oh, something has gone wrong. Please tell us on GitHub and we'll fix it ASAP!";

/// Faults applied to responses, configured at startup. The default injects nothing.
///
/// For each request one uniform draw `u` in `[0, 1)` picks at most one fault, in this order:
/// `u < error_rate` is an HTTP error, the next `error_body_rate` an error body, then
/// `empty_rate` an empty page, then `malformed_rate` a truncated body. Latency applies to
/// every response, faulty or not.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Share of requests (0..=1) answered with an HTTP error status from `error_statuses`,
    /// a `Retry-After` header and a JSON `{"error": ...}` body.
    pub error_rate: f64,
    /// Statuses an injected HTTP error is drawn from, uniformly (each 400..=599).
    /// Default: 429, 500, 503.
    pub error_statuses: Vec<u16>,
    /// Value of the `Retry-After` header on injected errors, sent in whole seconds (rounded up).
    pub retry_after: Duration,
    /// Share of requests (0..=1) answered HTTP 200 with the real API's
    /// `{"error":"Uh oh, something has gone wrong..."}` body instead of `results`.
    pub error_body_rate: f64,
    /// Share of requests (0..=1) answered with `"results":[]` (and `info` as usual).
    pub empty_rate: f64,
    /// Share of requests (0..=1) whose JSON body is cut off halfway.
    pub malformed_rate: f64,
    /// Delay added before every response.
    pub latency: Duration,
    /// Extra delay, uniform in `[0, latency_jitter)`, added on top of `latency`.
    pub latency_jitter: Duration,
    /// Seed of the fault draws; `None` picks one at startup. With a seed, the n-th request the
    /// server handles always gets the same fault.
    pub seed: Option<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            error_statuses: vec![429, 500, 503],
            retry_after: Duration::from_secs(1),
            error_body_rate: 0.0,
            empty_rate: 0.0,
            malformed_rate: 0.0,
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            seed: None,
        }
    }
}

impl FaultConfig {
    /// Every problem with this configuration (empty when valid).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let rates = [
            ("error_rate", self.error_rate),
            ("error_body_rate", self.error_body_rate),
            ("empty_rate", self.empty_rate),
            ("malformed_rate", self.malformed_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                problems.push(format!("faults.{name} must be within 0..=1, got {rate}"));
            }
        }
        let total: f64 = rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            problems.push(format!("fault rates add up to {total}, more than 1"));
        }
        if self.error_statuses.is_empty() {
            problems.push("faults.error_statuses must not be empty".to_string());
        }
        for status in &self.error_statuses {
            if !(400..=599).contains(status) {
                problems.push(format!(
                    "faults.error_statuses: {status} is not an HTTP error status (400..=599)"
                ));
            }
        }
        problems
    }
}

/// A fault injected into one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP error with this status, a `Retry-After` header and a JSON error body.
    Error {
        /// The HTTP status (400..=599).
        status: u16,
    },
    /// HTTP 200 with `{"error":"Uh oh, ..."}` instead of results.
    ErrorBody,
    /// HTTP 200 with `"results":[]`.
    Empty,
    /// HTTP 200 with the JSON body truncated.
    Malformed,
}

impl Fault {
    /// The `x-userstream-fault` header value: `error-503`, `error-body`, `empty`, `malformed`.
    /// The same spelling forces the fault with the `fault` query parameter.
    pub fn header_value(&self) -> String {
        self.to_string()
    }

    /// Parses a header/parameter spelling.
    pub fn parse(value: &str) -> Option<Fault> {
        match value {
            "error-body" => Some(Fault::ErrorBody),
            "empty" => Some(Fault::Empty),
            "malformed" => Some(Fault::Malformed),
            _ => {
                let status: u16 = value.strip_prefix("error-")?.parse().ok()?;
                (400..=599)
                    .contains(&status)
                    .then_some(Fault::Error { status })
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Error { status } => write!(f, "error-{status}"),
            Fault::ErrorBody => f.write_str("error-body"),
            Fault::Empty => f.write_str("empty"),
            Fault::Malformed => f.write_str("malformed"),
        }
    }
}

/// Per-request overrides of [`FaultConfig`], from the `fault*` query parameters (see
/// `params.rs`). `None` keeps the configured value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOverrides {
    /// `fault=<kind>`: inject exactly this fault. (`fault=none` sets every rate to 0 instead.)
    pub force: Option<Fault>,
    /// `fault_error_rate`
    pub error_rate: Option<f64>,
    /// `fault_error_status`: the status of injected HTTP errors.
    pub error_status: Option<u16>,
    /// `fault_error_body_rate`
    pub error_body_rate: Option<f64>,
    /// `fault_empty_rate`
    pub empty_rate: Option<f64>,
    /// `fault_malformed_rate`
    pub malformed_rate: Option<f64>,
    /// `fault_latency_ms`
    pub latency: Option<Duration>,
    /// `fault_jitter_ms`
    pub latency_jitter: Option<Duration>,
    /// `fault_retry_after` (seconds)
    pub retry_after: Option<Duration>,
}

/// What to do to one response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FaultPlan {
    pub(crate) fault: Option<Fault>,
    pub(crate) delay: Duration,
    pub(crate) retry_after: Duration,
}

/// Decides the fault for one request from a 64-bit `draw` (pure, so tests can pin it).
pub(crate) fn plan(config: &FaultConfig, overrides: &FaultOverrides, draw: u64) -> FaultPlan {
    let mut rng = Rng::new(draw);
    let u = rng.unit();
    let error_rate = overrides.error_rate.unwrap_or(config.error_rate);
    let error_body = error_rate + overrides.error_body_rate.unwrap_or(config.error_body_rate);
    let empty = error_body + overrides.empty_rate.unwrap_or(config.empty_rate);
    let malformed = empty + overrides.malformed_rate.unwrap_or(config.malformed_rate);
    let status = match overrides.error_status {
        Some(status) => status,
        None if config.error_statuses.is_empty() => 503,
        None => rng.pick(&config.error_statuses),
    };
    let fault = match overrides.force {
        Some(fault) => Some(fault),
        None if u < error_rate => Some(Fault::Error { status }),
        None if u < error_body => Some(Fault::ErrorBody),
        None if u < empty => Some(Fault::Empty),
        None if u < malformed => Some(Fault::Malformed),
        None => None,
    };
    let latency = overrides.latency.unwrap_or(config.latency);
    let jitter = overrides.latency_jitter.unwrap_or(config.latency_jitter);
    FaultPlan {
        fault,
        delay: latency + jitter.mul_f64(rng.unit()),
        retry_after: overrides.retry_after.unwrap_or(config.retry_after),
    }
}

/// Cuts a JSON body so that it no longer parses (the `malformed` fault).
pub(crate) fn truncate(body: &mut Vec<u8>) {
    let keep = (body.len() / 2).max(1).min(body.len().saturating_sub(1));
    body.truncate(keep);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_injects_nothing() {
        let config = FaultConfig::default();
        assert!(config.problems().is_empty());
        for draw in 0..1000 {
            let p = plan(&config, &FaultOverrides::default(), draw);
            assert_eq!(p.fault, None);
            assert_eq!(p.delay, Duration::ZERO);
        }
    }

    #[test]
    fn rates_are_honoured() {
        let config = FaultConfig {
            error_rate: 0.2,
            error_body_rate: 0.1,
            empty_rate: 0.1,
            malformed_rate: 0.1,
            ..FaultConfig::default()
        };
        let mut counts = [0usize; 5];
        for draw in 0..20_000u64 {
            let p = plan(&config, &FaultOverrides::default(), crate::rng::mix64(draw));
            let slot = match p.fault {
                Some(Fault::Error { status }) => {
                    assert!([429, 500, 503].contains(&status));
                    0
                }
                Some(Fault::ErrorBody) => 1,
                Some(Fault::Empty) => 2,
                Some(Fault::Malformed) => 3,
                None => 4,
            };
            counts[slot] += 1;
        }
        let share = |n: usize| n as f64 / 20_000.0;
        assert!((share(counts[0]) - 0.2).abs() < 0.02, "{counts:?}");
        assert!((share(counts[1]) - 0.1).abs() < 0.02, "{counts:?}");
        assert!((share(counts[4]) - 0.5).abs() < 0.02, "{counts:?}");
    }

    #[test]
    fn overrides_and_validation() {
        let overrides = FaultOverrides {
            force: Some(Fault::Malformed),
            latency: Some(Duration::from_millis(5)),
            ..FaultOverrides::default()
        };
        let p = plan(&FaultConfig::default(), &overrides, 1);
        assert_eq!(p.fault, Some(Fault::Malformed));
        assert_eq!(p.delay, Duration::from_millis(5));

        let bad = FaultConfig {
            error_rate: 0.8,
            empty_rate: 0.5,
            error_statuses: vec![200],
            ..FaultConfig::default()
        };
        assert_eq!(bad.problems().len(), 2);
    }

    #[test]
    fn fault_spelling_round_trips() {
        for f in [
            Fault::Error { status: 503 },
            Fault::ErrorBody,
            Fault::Empty,
            Fault::Malformed,
        ] {
            assert_eq!(Fault::parse(&f.header_value()), Some(f));
        }
        assert_eq!(Fault::parse("error-200"), None);
        assert_eq!(Fault::parse("nope"), None);
    }

    #[test]
    fn truncated_json_does_not_parse() {
        let mut body = br#"{"results":[],"info":{}}"#.to_vec();
        truncate(&mut body);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    }
}
