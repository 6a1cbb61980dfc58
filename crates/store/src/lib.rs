//! Cassandra access through the scylla driver: connection, health, migrations, and the queries
//! `verify` and `bench` need.
//!
//! The schema is versioned: [`migrate`] applies the [`MIGRATIONS`] a keyspace has not seen yet
//! and records each in `<keyspace>.schema_migrations`. Every statement is idempotent
//! (`IF NOT EXISTS`), so a migration interrupted half-way is simply applied again.

#![warn(missing_docs)]

mod error;
mod migrate;
mod queries;

use std::path::Path;
use std::time::Duration;

use scylla::client::session::Session;
use userstream_endpoints::Login;

pub use error::StoreError;
pub use migrate::{
    grant_application_role, migrate, rejected_table_columns, users_table_columns, AppliedMigration,
    Migration, Replication, MIGRATIONS, MIGRATIONS_TABLE, REJECTED_TABLE, USERS_TABLE,
};
pub use queries::{
    check_rejected_row, check_users_row, count_rejected, count_users, for_each_user_source,
    latency_samples, rejected_rows, rejected_rows_between, user_ids, user_sources_by_id,
    users_by_id, LatencySample, RejectedRow, StoredUser, UserSource,
};
pub use scylla::value::CqlTimestamp;

/// Opens a session to Cassandra, logged in as `login` when given (the stack's Cassandra
/// refuses anonymous clients). Built by [`userstream_cql::connect`], like every session: the
/// login goes to a loopback port only when the process holding it is the stack's, by its
/// pid files in `stack_run_dir` ([`userstream_endpoints::Endpoints::stack_run_dir`]).
pub async fn connect(
    contact_point: &str,
    login: Option<&Login>,
    timeout: Duration,
    stack_run_dir: &Path,
) -> Result<Session, StoreError> {
    Ok(userstream_cql::connect(contact_point, login, timeout, stack_run_dir).await?)
}

/// Whether `name` is usable unquoted as a CQL keyspace or table name (letters, digits and
/// underscores, starting with a letter, at most 48 characters). Names are interpolated into
/// CQL text, so anything else is refused rather than quoted.
pub fn is_valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 48
}

pub(crate) fn check_identifier(name: &str) -> Result<(), StoreError> {
    if is_valid_identifier(name) {
        Ok(())
    } else {
        Err(StoreError::InvalidName {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_valid_identifier("userstream"));
        assert!(is_valid_identifier("t_20_abc"));
        assert!(!is_valid_identifier("1abc"));
        assert!(!is_valid_identifier("a-b"));
        assert!(!is_valid_identifier("a;DROP"));
        assert!(!is_valid_identifier(""));
        assert!(!is_valid_identifier(&"a".repeat(49)));
    }
}
