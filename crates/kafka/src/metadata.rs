use std::time::Duration;
use userstream_endpoints::Cause;
use userstream_endpoints::KafkaAccess;

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::{base_config, TracingContext};

/// What a metadata request says about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSummary {
    /// Number of brokers the cluster reports.
    pub brokers: usize,
    /// Number of topics, internal ones included.
    pub topics: usize,
}

/// Errors from the Kafka helpers.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The broker did not answer a metadata request; a retry helps once it is up.
    #[error("Kafka at {bootstrap} did not answer a metadata request (is the broker running? `userstream stack status`)")]
    Metadata {
        /// The bootstrap servers asked.
        bootstrap: String,
        /// The client's error.
        #[source]
        source: Cause<rdkafka::error::KafkaError>,
    },
    /// A read (offsets, messages) failed: where, what, and the client's error.
    #[error("{0}")]
    Read(String),
    /// The topic does not exist.
    #[error("topic {0} does not exist (create it with `userstream setup`)")]
    NoSuchTopic(String),
    /// A read did not finish in time (what, and the limit).
    #[error("{0}: not finished after {1:?} (is Kafka overloaded or the topic huge? raise the time limit)")]
    Timeout(String, Duration),
    /// A blocking client call could not be scheduled.
    #[error("Kafka client task failed: {0}")]
    Task(String),
    /// A client (admin, producer) could not be created, or its request was not answered.
    #[error("Kafka at {bootstrap}: {action} (is the broker running? `userstream stack status`)")]
    Client {
        /// What was being done.
        action: String,
        /// The bootstrap servers.
        bootstrap: String,
        /// The client's error (boxed: it is large, and errors travel in every `Result`).
        #[source]
        source: Cause<Box<rdkafka::error::KafkaError>>,
    },
    /// The broker refused to create or delete a topic.
    #[error("Kafka refused {action} topic {topic}: {code}")]
    TopicRefused {
        /// The topic.
        topic: String,
        /// "creating" or "deleting".
        action: &'static str,
        /// The broker's error code.
        code: rdkafka::types::RDKafkaErrorCode,
    },
    /// librdkafka refused a record outright (too large, unknown topic, ...).
    #[error("producing to {topic}")]
    Produce {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: Cause<Box<rdkafka::error::KafkaError>>,
    },
    /// Kafka did not acknowledge a record after librdkafka's own retries
    /// (`message.timeout.ms`: a broker outage longer than that, or a record the broker refuses).
    #[error("delivery failed")]
    Delivery(#[source] Cause<Box<rdkafka::error::KafkaError>>),
    /// The producer was dropped before it reported a delivery.
    #[error("the producer was dropped before the delivery was reported")]
    DeliveryDropped,
}

impl KafkaError {
    /// Whether the same call may succeed later without a change (the broker was unreachable,
    /// slow or restarting), rather than being refused for what was asked.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Metadata { .. }
            | Self::Read(_)
            | Self::Timeout(..)
            | Self::Task(_)
            | Self::Client { .. }
            | Self::Delivery(_)
            | Self::DeliveryDropped => true,
            Self::NoSuchTopic(_) | Self::TopicRefused { .. } | Self::Produce { .. } => false,
        }
    }
}

/// Sends a real metadata request to the cluster (the Kafka health check).
pub async fn fetch_metadata(
    bootstrap_servers: &KafkaAccess,
    timeout: Duration,
) -> Result<ClusterSummary, KafkaError> {
    let bootstrap = bootstrap_servers.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer<TracingContext> = base_config(&bootstrap)
            .create_with_context(TracingContext)
            .map_err(|source| KafkaError::Metadata {
                bootstrap: bootstrap.to_string(),
                source: userstream_endpoints::Cause(source),
            })?;
        let metadata =
            consumer
                .fetch_metadata(None, timeout)
                .map_err(|source| KafkaError::Metadata {
                    bootstrap: bootstrap.to_string(),
                    source: userstream_endpoints::Cause(source),
                })?;
        Ok(ClusterSummary {
            brokers: metadata.brokers().len(),
            topics: metadata.topics().len(),
        })
    })
    .await
    .map_err(|e| KafkaError::Task(e.to_string()))?
}

/// Whether `topic` exists and this client may see it (a metadata request for that topic).
pub async fn topic_exists(
    bootstrap_servers: &KafkaAccess,
    topic: &str,
    timeout: Duration,
) -> Result<bool, KafkaError> {
    let (bootstrap, topic) = (bootstrap_servers.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let failed = |source| KafkaError::Metadata {
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(source),
        };
        let consumer: BaseConsumer<TracingContext> = base_config(&bootstrap)
            .create_with_context(TracingContext)
            .map_err(failed)?;
        let metadata = consumer
            .fetch_metadata(Some(&topic), timeout)
            .map_err(failed)?;
        Ok(metadata
            .topics()
            .iter()
            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty()))
    })
    .await
    .map_err(|e| KafkaError::Task(e.to_string()))?
}
