//! [`StreamError`].

use userstream_endpoints::Cause;
use userstream_store::StoreError;

/// Errors of the streaming job and its controls. [`StreamError::is_retryable`] says whether
/// trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The configuration is invalid; every problem is listed.
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
    /// The server refused or failed a request (analysis error, bad option, ...): Spark's
    /// message is the source.
    #[error("Spark Connect refused the request")]
    Query(#[source] Cause<Box<dyn std::error::Error + Send + Sync>>),
    /// The Cassandra connector on the Spark side does not see the keyspace or table yet: its
    /// driver learns of new ones through debounced schema events, so right after `setup` a
    /// query may start before it has. Retryable.
    #[error("the Spark job's Cassandra connector does not see the table yet: {0}")]
    CassandraTableNotVisible(String),
    /// The server answered something this client does not understand.
    #[error("unexpected Spark Connect answer: {0}")]
    Protocol(String),
    /// The subject has no schema yet.
    #[error("schema registry subject `{subject}` has no schema (run `userstream setup`, or produce first)")]
    NoSchema {
        /// The subject.
        subject: String,
    },
    /// The schema registry failed; retryable when it is unreachable.
    #[error(transparent)]
    Registry(#[from] userstream_registry::RegistryError),
    /// Kafka failed.
    #[error(transparent)]
    Kafka(#[from] userstream_kafka::KafkaError),
    /// Cassandra failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A streaming query stopped with an exception and could not be restarted.
    #[error("streaming query `{name}` failed: {exception}")]
    QueryFailed {
        /// The query name.
        name: String,
        /// The query's exception (or why it could not be restarted).
        exception: String,
    },
    /// The query ended but the Spark Connect server still lists it as active (its thread is
    /// stuck in cleanup), so no query of that name or checkpoint can start there.
    #[error(
        "streaming query `{name}` ended, but Spark still holds it (its thread is stuck): \
         restart the Spark Connect server (`userstream stack restart spark-connect`)"
    )]
    HeldAfterEnd {
        /// The query name.
        name: String,
    },
    /// Another client started the same query at the same moment, and Spark refused this one
    /// ("Multiple streaming queries are concurrently using metadata", "a query with that name
    /// is already active"): the caller waits for the other start and reports it.
    #[error("another client is starting the same streaming query: {0}")]
    StartedElsewhere(String),
    /// Another process held the job's control lock for longer than this caller would wait.
    #[error(
        "{holder} is acting on the streaming job and did not finish within {}; \
         `userstream stream status` shows what it did; try again when it is done",
        humantime::format_duration(*waited)
    )]
    Busy {
        /// Who holds the lock.
        holder: String,
        /// How long this caller waited.
        waited: std::time::Duration,
    },
    /// A `stream run` supervisor already keeps this job running.
    #[error("{supervisor} is supervising this job")]
    Supervised {
        /// The supervisor.
        supervisor: String,
    },
    /// A local file (the job state file) could not be read or written.
    #[error("the job state file {path}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl StreamError {
    /// Whether trying again later can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::CassandraTableNotVisible(_)
            | Self::StartedElsewhere(_)
            | Self::Busy { .. } => true,
            Self::Registry(e) => e.is_retryable(),
            Self::Kafka(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn spark(url: &str, e: spark_connect_rs::errors::SparkError) -> Self {
        use spark_connect_rs::errors::SparkError as E;
        match e {
            E::Unavailable(m)
            | E::DeadlineExceeded(m)
            | E::Cancelled(m)
            | E::Aborted(m)
            | E::InvalidConnectionUrl(m) => Self::Connect {
                url: url.to_owned(),
                reason: m,
            },
            E::ExternalError(m) => Self::Connect {
                url: url.to_owned(),
                reason: m.to_string(),
            },
            other => {
                let message = other.to_string();
                if names_an_unknown_cassandra_table(&message) {
                    Self::CassandraTableNotVisible(message)
                } else if names_a_concurrent_start(&message) {
                    Self::StartedElsewhere(message)
                } else {
                    Self::Query(Cause(message.into()))
                }
            }
        }
    }
}

impl From<userstream_spark::SparkError> for StreamError {
    /// The client's errors are the job's of the same name (same text, same retry verdict).
    fn from(e: userstream_spark::SparkError) -> Self {
        use userstream_spark::SparkError as E;
        match e {
            E::Config(problems) => Self::Config(problems),
            E::Connect { url, reason } => Self::Connect { url, reason },
            E::Query(cause) => Self::Query(cause),
            E::Protocol(message) => Self::Protocol(message),
        }
    }
}

/// Whether a Spark error is the Cassandra connector not finding a keyspace or table
/// ("Couldn't find ks.t or any similarly named keyspace and table pairs", "... not found").
/// Spark Connect sends errors as text: this is the one place that reads it.
fn names_an_unknown_cassandra_table(message: &str) -> bool {
    message.contains("Couldn't find") || message.contains("not found")
}

/// Whether a Spark error says another client started the same query at the same moment:
/// both starters passed the "already active?" check, and Spark let one through.
fn names_a_concurrent_start(message: &str) -> bool {
    message.contains("concurrently using metadata")
        || (message.contains("Cannot start query with") && message.contains("already active"))
        || message.contains("ConcurrentModificationException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparks_refusals_of_a_second_starter_are_told_apart() {
        assert!(names_a_concurrent_start(
            "Analysis error: Multiple streaming queries are concurrently using metadata."
        ));
        assert!(names_a_concurrent_start(
            "Cannot start query with name userstream-users as a query with that name is already active in this SparkSession"
        ));
        assert!(names_a_concurrent_start(
            "java.util.ConcurrentModificationException: Another instance of this query was just started by a concurrent session."
        ));
        assert!(!names_a_concurrent_start("Connection refused"));
    }

    #[test]
    fn the_connectors_unknown_table_errors_are_told_apart() {
        assert!(names_an_unknown_cassandra_table(
            "Couldn't find t_x.users or any similarly named keyspace and table pairs"
        ));
        assert!(!names_an_unknown_cassandra_table(
            "[PARSE_SYNTAX_ERROR] Syntax error at or near 'FROM'"
        ));
    }
}
