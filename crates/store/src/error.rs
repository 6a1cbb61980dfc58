use userstream_cql::{driver_error, Classify, ConnectError, DriverError, FailureKind};

/// Errors of the Cassandra access layer. `Display` says what failed; the driver's error is the
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No session could be opened; a retry helps once Cassandra is up.
    #[error("no Cassandra session (is it running? `userstream stack status`; a refused login: `userstream stack credentials` shows the stack's roles)")]
    Connect(#[from] ConnectError),
    /// A query failed; [`StoreError::is_retryable`] tells whether asking again can help.
    #[error("Cassandra query `{query}` failed")]
    Query {
        /// The CQL text.
        query: String,
        /// Whether asking again can help, read from the driver's typed error.
        kind: FailureKind,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// A keyspace or table name that cannot be used unquoted in CQL; a retry cannot help.
    #[error("`{name}` is not a valid Cassandra name (letters, digits, `_`, starting with a letter, at most 48 characters)")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// A replication setting that Cassandra would refuse; a retry cannot help.
    #[error("invalid replication: {0}")]
    InvalidReplication(String),
}

impl StoreError {
    pub(crate) fn query<E>(query: &str, error: E) -> Self
    where
        E: Classify + std::error::Error + Send + Sync + 'static,
    {
        Self::Query {
            query: query.to_owned(),
            kind: error.kind(),
            source: driver_error(error),
        }
    }

    /// Whether trying again later can help: Cassandra was unreachable, or a query failed for
    /// the node's sake (a timeout, an unavailable or overloaded node), not its own (a syntax,
    /// permission or schema error).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect(_) => true,
            Self::Query { kind, .. } => *kind == FailureKind::Transient,
            Self::InvalidName { .. } | Self::InvalidReplication(_) => false,
        }
    }
}
