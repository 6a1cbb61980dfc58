//! [`SparkError`].

use userstream_endpoints::Cause;

/// Errors of the Spark Connect client. [`SparkError::is_retryable`] says whether trying again
/// can help. The texts are the job's own (`userstream-stream` turns each into its
/// `StreamError` of the same name).
#[derive(Debug, thiserror::Error)]
pub enum SparkError {
    /// The job's Spark Connect settings are invalid; every problem is listed.
    #[error("invalid stream configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The Spark Connect server cannot be reached or did not answer; retryable.
    #[error("cannot reach Spark Connect at {url}: {reason} (is spark-connect running? `userstream stack status`)")]
    Connect {
        /// The `sc://` URL tried.
        url: String,
        /// The client's reason.
        reason: String,
    },
    /// The server refused or failed a request: Spark's message is the source.
    #[error("Spark Connect refused the request")]
    Query(#[source] Cause<Box<dyn std::error::Error + Send + Sync>>),
    /// The server answered something this client does not understand.
    #[error("unexpected Spark Connect answer: {0}")]
    Protocol(String),
}

impl SparkError {
    /// Whether trying again later can help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Connect { .. })
    }

    /// A gRPC status of the server at `url`: transport-like codes are `Connect`, the rest
    /// Spark's refusal.
    pub fn from_status(url: &str, status: &tonic::Status) -> Self {
        use tonic::Code;
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted => {
                Self::Connect {
                    url: url.to_owned(),
                    reason: format!("{:?}: {}", status.code(), status.message()),
                }
            }
            _ => Self::Query(Cause(status.message().into())),
        }
    }
}
