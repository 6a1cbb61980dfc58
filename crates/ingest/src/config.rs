//! Configuration of the producer pipeline: one struct, defaults in code, validated at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;
use userstream_endpoints::{names, Endpoints, KafkaAccess, Login, Ports};
use userstream_model::request::{Nat, DEFAULT_MAX_RESULTS, MAX_PAGE};

use crate::backoff::RetryPolicy;
use crate::plan::PagePlan;

/// Where users come from and how pages are asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// The API endpoint, e.g. `http://127.0.0.1:8765/api/` or `https://randomuser.me/api/`.
    /// Query parameters already on it (say `fault_error_rate=0.1`) are kept; `results`, `seed`,
    /// `page`, `nat`, `inc` and `exc` are set by the fetcher.
    pub url: Url,
    /// The seed: the same seed and page give the same users.
    pub seed: String,
    /// First page (1-based).
    pub start_page: u32,
    /// Users per request (1..=5000; the real API answers larger requests with one user).
    pub results_per_page: u32,
    /// Nationalities (`nat`), empty for all.
    pub nat: Vec<String>,
    /// Fields to include (`inc`), comma list.
    pub inc: Option<String>,
    /// Fields to exclude (`exc`), comma list.
    pub exc: Option<String>,
    /// Bound on one HTTP request, connecting included.
    pub request_timeout: Duration,
    /// Pages fetched (and parsed) concurrently; they are still produced in page order.
    pub fetch_concurrency: usize,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            url: Endpoints::local(&Ports::default()).users_api_url,
            seed: names::SEED.to_owned(),
            start_page: 1,
            results_per_page: DEFAULT_MAX_RESULTS,
            nat: Vec::new(),
            inc: None,
            exc: None,
            request_timeout: Duration::from_secs(30),
            fetch_concurrency: 3,
            retry: RetryPolicy::default(),
        }
    }
}

pub use userstream_kafka::Compression;

/// Kafka side: topics and producer.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    /// Bootstrap servers and the login (the producer's, or admin's for `setup`).
    pub bootstrap: KafkaAccess,
    /// Topic of valid users.
    pub topic: String,
    /// Dead-letter topic.
    pub dlq_topic: String,
    /// Partitions of topics this run creates (existing topics are left as they are).
    pub partitions: i32,
    /// Replication factor of topics this run creates.
    pub replication_factor: i32,
    /// Most messages sent but not yet acknowledged; the pipeline waits for deliveries beyond.
    pub max_in_flight: usize,
    /// Batch compression.
    pub compression: Compression,
    /// How long librdkafka waits to fill a batch.
    pub linger: Duration,
    /// How long librdkafka keeps retrying one message (a broker outage longer than this fails
    /// the messages it holds).
    pub message_timeout: Duration,
    /// Raw librdkafka producer properties. Setting one that a typed field above also sets is
    /// a configuration error, not an override.
    pub producer_options: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// The producer's settings, for [`userstream_kafka::create_producer`].
    pub fn producer_settings(&self) -> userstream_kafka::ProducerSettings {
        userstream_kafka::ProducerSettings {
            max_in_flight: self.max_in_flight,
            compression: self.compression,
            linger: self.linger,
            message_timeout: self.message_timeout,
            options: self.producer_options.clone(),
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            bootstrap: KafkaAccess::plaintext(Endpoints::local(&Ports::default()).kafka_bootstrap),
            topic: names::TOPIC.to_owned(),
            dlq_topic: names::DLQ_TOPIC.to_owned(),
            partitions: 3,
            replication_factor: 1,
            max_in_flight: 50_000,
            compression: Compression::Lz4,
            linger: Duration::from_millis(10),
            message_timeout: Duration::from_secs(300),
            producer_options: BTreeMap::new(),
        }
    }
}

/// Producer properties the typed fields own.
pub(crate) const TYPED_PRODUCER_OPTIONS: [&str; 9] = [
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "compression.type",
    "linger.ms",
    "message.timeout.ms",
    "queue.buffering.max.messages",
    "max.in.flight.requests.per.connection",
    "partitioner",
];

/// The whole producer pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    /// The source.
    pub source: SourceConfig,
    /// Kafka.
    pub kafka: KafkaConfig,
    /// Schema registry base URL (Confluent API).
    pub registry_url: Url,
    /// Registry user (basic auth): the producer's, or admin's for `setup`.
    pub registry_login: Option<Login>,
    /// Subject of the value schema; `None` means `<topic>-value`.
    pub subject: Option<String>,
    /// Bound on one registry request.
    pub registry_timeout: Duration,
    /// Stop after this many users (valid and rejected); the last page is trimmed.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Client-side limit in users per second.
    pub rate: Option<f64>,
    /// How long to wait for outstanding deliveries at the end.
    pub flush_timeout: Duration,
    /// The local stack's pid files, which the registry login's listener is checked against
    /// ([`Endpoints::stack_run_dir`]).
    pub stack_run_dir: PathBuf,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            source: SourceConfig::default(),
            kafka: KafkaConfig::default(),
            registry_url: Endpoints::local(&Ports::default()).registry_url,
            registry_login: None,
            subject: None,
            registry_timeout: Duration::from_secs(10),
            count: None,
            duration: None,
            rate: None,
            flush_timeout: Duration::from_secs(60),
            stack_run_dir: Endpoints::local(&Ports::default()).stack_run_dir(),
        }
    }
}

impl IngestConfig {
    /// The value subject: `subject`, or `<topic>-value`.
    pub fn subject(&self) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| userstream_registry::topic_value_subject(&self.kafka.topic))
    }

    /// Checks the configuration; every problem at once.
    pub fn validate(&self) -> Result<(), crate::IngestError> {
        let mut problems = Vec::new();
        let s = &self.source;
        if !matches!(s.url.scheme(), "http" | "https") {
            problems.push(format!("source {} is not an http(s) URL", s.url));
        }
        if !(1..=DEFAULT_MAX_RESULTS).contains(&s.results_per_page) {
            problems.push(format!(
                "results per page must be within 1..={DEFAULT_MAX_RESULTS} (the API answers larger requests with one user), got {}",
                s.results_per_page
            ));
        }
        if !(1..=MAX_PAGE).contains(&s.start_page) {
            problems.push(format!(
                "start page must be within 1..={MAX_PAGE}, got {}",
                s.start_page
            ));
        }
        if let Some(count) = self.count {
            let last = PagePlan::last_page(s.start_page, s.results_per_page, count);
            if last > u64::from(MAX_PAGE) {
                problems.push(format!(
                    "a count of {count} from page {} at {} per page needs pages up to {last}, but the API serves pages up to {MAX_PAGE}; use a larger --results-per-page or another seed",
                    s.start_page, s.results_per_page
                ));
            }
        }
        for nat in &s.nat {
            if Nat::parse(nat).is_none() {
                problems.push(format!("unknown nationality {nat:?}"));
            }
        }
        if s.fetch_concurrency == 0 {
            problems.push("fetch concurrency must be at least 1".to_owned());
        }
        if s.request_timeout.is_zero() {
            problems.push("request timeout must be positive".to_owned());
        }
        problems.extend(s.retry.problems());
        let k = &self.kafka;
        if k.topic.is_empty() || k.dlq_topic.is_empty() {
            problems.push("topic names must not be empty".to_owned());
        }
        if k.topic == k.dlq_topic {
            problems.push(format!("topic and DLQ topic are both {:?}", k.topic));
        }
        if k.partitions < 1 {
            problems.push(format!(
                "partitions must be at least 1, got {}",
                k.partitions
            ));
        }
        if k.replication_factor < 1 {
            problems.push(format!(
                "replication factor must be at least 1, got {}",
                k.replication_factor
            ));
        }
        if k.max_in_flight == 0 {
            problems.push("max in-flight must be at least 1".to_owned());
        }
        if k.message_timeout.is_zero() {
            problems.push("message timeout must be positive".to_owned());
        }
        for key in k.producer_options.keys() {
            if TYPED_PRODUCER_OPTIONS.contains(&key.as_str()) {
                problems.push(format!(
                    "producer option {key} is set by a typed setting; use that setting instead"
                ));
            }
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0) {
                problems.push(format!(
                    "rate must be a positive number of users/s, got {rate}"
                ));
            }
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            problems.push("duration must be positive".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(crate::IngestError::Config(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = IngestConfig::default();
        assert!(config.validate().is_ok(), "{:?}", config.validate());
        assert_eq!(config.subject(), "users-value");
        assert_eq!(config.source.url.as_str(), "http://127.0.0.1:8765/api/");
        assert_eq!(
            config.registry_url.as_str(),
            "http://127.0.0.1:8081/apis/ccompat/v7"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let mut config = IngestConfig::default();
        config.source.results_per_page = 6000;
        config.source.nat = vec!["xx".to_owned()];
        config.kafka.dlq_topic = "users".to_owned();
        config.kafka.partitions = 0;
        config
            .kafka
            .producer_options
            .insert("acks".to_owned(), "1".to_owned());
        config.rate = Some(-1.0);
        match config.validate() {
            Err(crate::IngestError::Config(problems)) => {
                assert_eq!(problems.len(), 6, "{problems:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counts_beyond_the_last_page_are_refused() {
        let config = IngestConfig {
            count: Some(u64::from(MAX_PAGE) * 10 + 1),
            source: SourceConfig {
                results_per_page: 10,
                ..SourceConfig::default()
            },
            ..IngestConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
