//! Cassandra access through the scylla driver: connection, health, migrations, queries.

use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

/// Errors talking to Cassandra.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be made; a retry helps once Cassandra is up.
    #[error("cannot connect to Cassandra at {contact_point}: {reason} (is it running? `userstream stack status`)")]
    Connect {
        /// The contact point tried.
        contact_point: String,
        /// The driver's reason.
        reason: String,
    },
    /// A query failed.
    #[error("Cassandra query `{query}` failed: {reason}")]
    Query {
        /// The CQL text.
        query: String,
        /// The driver's reason.
        reason: String,
    },
}

/// Opens a session to Cassandra.
pub async fn connect(contact_point: &str, timeout: Duration) -> Result<Session, StoreError> {
    SessionBuilder::new()
        .known_node(contact_point)
        .connection_timeout(timeout)
        .build()
        .await
        .map_err(|e| StoreError::Connect {
            contact_point: contact_point.to_owned(),
            reason: e.to_string(),
        })
}

/// The Cassandra health check: `SELECT release_version FROM system.local`.
pub async fn release_version(session: &Session) -> Result<String, StoreError> {
    const QUERY: &str = "SELECT release_version FROM system.local";
    let err = |e: &dyn std::fmt::Display| StoreError::Query {
        query: QUERY.to_owned(),
        reason: e.to_string(),
    };
    let rows = session
        .query_unpaged(QUERY, &[])
        .await
        .map_err(|e| err(&e))?
        .into_rows_result()
        .map_err(|e| err(&e))?;
    let (version,): (String,) = rows.first_row().map_err(|e| err(&e))?;
    Ok(version)
}
