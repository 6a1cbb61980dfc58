//! [`VerifyError`].

use userstream_store::StoreError;

/// Why `verify` could not compare. [`VerifyError::is_retryable`] says whether trying again
/// can help.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The configuration is invalid; every problem is listed.
    #[error("invalid verify configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The schema registry failed; retryable when it is unreachable.
    #[error(transparent)]
    Registry(#[from] userstream_registry::RegistryError),
    /// A record could not be decoded with its writer schema (or the schema not fetched).
    #[error("decoding a record of the topic")]
    Decode(#[source] userstream_registry::SerdeError),
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] userstream_kafka::KafkaError),
    /// A blocking task (a Kafka read) did not finish: it panicked or was cancelled.
    #[error("{what} task failed")]
    Task {
        /// What the task did.
        what: &'static str,
        /// Why it did not finish.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The sorted runs could not be written to disk.
    #[error("verify cannot write its sorted runs (temporary directory full or not writable? set TMPDIR)")]
    Spill(#[source] std::io::Error),
    /// Cassandra failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The verified cut could not be stored: the comparison itself is reported, but the next
    /// incremental run would start from the older cut (or compare everything).
    #[error("cannot store the verified cut in {} (is the state directory writable? `--state-dir` names it)", path.display())]
    SaveCut {
        /// The cut file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl VerifyError {
    /// Whether trying again later can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Task { .. } | Self::Spill(_) => true,
            Self::Registry(e) => e.is_retryable(),
            Self::Kafka(e) => e.is_retryable(),
            Self::Decode(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            Self::Config(_) | Self::SaveCut { .. } => false,
        }
    }
}
