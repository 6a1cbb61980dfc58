//! Errors talking to Cassandra.

/// Errors talking to Cassandra.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be made; a retry helps once Cassandra is up.
    #[error("cannot connect to Cassandra at {contact_point}: {reason} (is it running? `userstream stack status`; a refused login: `userstream stack credentials` shows the stack's roles)")]
    Connect {
        /// The contact point tried.
        contact_point: String,
        /// The driver's reason.
        reason: String,
    },
    /// A query failed; a retry may help if the reason is a timeout or an unavailable node.
    #[error("Cassandra query `{query}` failed: {reason}")]
    Query {
        /// The CQL text.
        query: String,
        /// The driver's reason.
        reason: String,
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
    pub(crate) fn query(query: &str, reason: &dyn std::fmt::Display) -> Self {
        Self::Query {
            query: query.to_owned(),
            reason: reason.to_string(),
        }
    }
}
