//! Errors of the ingest pipeline.

/// A failure of the producer pipeline or its set-up. [`IngestError::is_retryable`] says
/// whether running again (after fixing nothing) may help.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The configuration is invalid; every problem is listed.
    #[error("invalid ingest configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// Kafka: a client, topic set-up or delivery failed.
    #[error(transparent)]
    Kafka(#[from] userstream_kafka::KafkaError),
    /// The schema registry refused or could not be reached.
    #[error("schema registry: {action}")]
    Registry {
        /// What was being done.
        action: String,
        /// The client's error.
        #[source]
        source: userstream_registry::RegistryError,
    },
    /// The source could not be reached, even after retries.
    #[error("source {url} unreachable after {attempts} attempts (is it running?)")]
    SourceUnreachable {
        /// The request URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The source answered with a status retrying cannot fix (a 4xx other than 403, 408, 425,
    /// 429): the request itself is wrong.
    #[error("source {url} answered HTTP {status}: {body}")]
    SourceRefused {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A background task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

impl IngestError {
    /// Whether the same run may succeed later without a change: yes when a service was
    /// unreachable or overloaded, no for configuration or request errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Kafka(e) => e.is_retryable(),
            Self::SourceUnreachable { .. } | Self::Task(_) => true,
            Self::Registry { source, .. } => source.is_retryable(),
            Self::Config(_) | Self::SourceRefused { .. } | Self::HttpClient(_) => false,
        }
    }
}
