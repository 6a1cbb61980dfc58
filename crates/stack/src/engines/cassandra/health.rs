//! Cassandra's health: `SELECT release_version FROM system.local` over CQL as the application
//! role; on a new node, the admin role creates that role first. The stack speaks CQL itself
//! (not through the pipeline's crates), so the supervisor does not link the user record.

use std::path::Path;
use std::time::Duration;

use userstream_cql::{quoted_name, string_literal};
use userstream_endpoints::credentials::CassandraLogins;

use crate::probe::port_open;

/// Healthy when the node answers the query (see [`cassandra_release_version`]).
pub async fn check(
    contact_point: &str,
    logins: &CassandraLogins,
    run_dir: &Path,
) -> Result<String, String> {
    // Probe the port first: the driver logs every refused connection as an error.
    port_open(contact_point).await?;
    let version =
        cassandra_release_version(contact_point, logins, Duration::from_secs(3), run_dir).await?;
    Ok(format!("Cassandra {version}"))
}

/// Cassandra's `release_version` (`SELECT release_version FROM system.local`), logged in as the
/// stack's application role, the least privileged one that can ask: the node accepted an
/// authenticated CQL connection and answered a query.
///
/// A new node knows only the stack's admin role (its role manager creates it about 1 s after
/// start-up, from the node's environment; the well-known `cassandra` never exists): when the
/// application login is refused, the admin role logs in and creates the application role
/// ([`cassandra_app_role`]). So the admin password goes out only while a node is new (or its
/// application password is being rotated).
pub async fn cassandra_release_version(
    contact_point: &str,
    logins: &CassandraLogins,
    timeout: Duration,
    run_dir: &Path,
) -> Result<String, String> {
    match userstream_cql::connect(contact_point, Some(&logins.app), timeout, run_dir).await {
        Ok(session) => return release_version(&session).await,
        Err(e) if e.is_login_refused() => {}
        Err(e) => return Err(userstream_endpoints::error_chain(&e)),
    }
    let admin =
        match userstream_cql::connect(contact_point, Some(&logins.admin), timeout, run_dir).await {
            Ok(session) => session,
            Err(e) if e.is_login_refused() => {
                return Err(format!(
                "{}. A new node creates the stack's admin role about 1 s after start-up; if this \
                 persists, the node was set up with another secrets file than the state \
                 directory's secrets.json: restore that file, or start over with \
                 `userstream stack down --purge --yes`",
                userstream_endpoints::error_chain(&e)
            ))
            }
            Err(e) => return Err(userstream_endpoints::error_chain(&e)),
        };
    cassandra_app_role(&admin, logins).await?;
    release_version(&admin).await
}

async fn release_version(session: &scylla::client::session::Session) -> Result<String, String> {
    const QUERY: &str = "SELECT release_version FROM system.local";
    let rows = session
        .query_unpaged(QUERY, &[])
        .await
        .map_err(|e| format!("{QUERY}: {e}"))?
        .into_rows_result()
        .map_err(|e| format!("{QUERY}: {e}"))?;
    let (version,): (String,) = rows.first_row().map_err(|e| format!("{QUERY}: {e}"))?;
    Ok(version)
}

/// Creates the application role as the admin role, if it does not exist yet (it gets SELECT
/// and MODIFY per keyspace from `setup`). Idempotent.
async fn cassandra_app_role(
    admin: &scylla::client::session::Session,
    logins: &CassandraLogins,
) -> Result<(), String> {
    let statement = format!(
        "CREATE ROLE IF NOT EXISTS {} WITH LOGIN = true AND PASSWORD = {}",
        quoted_name(&logins.app.username),
        string_literal(&logins.app.password)
    );
    admin
        .query_unpaged(statement.as_str(), &[])
        .await
        .map_err(|e| format!("{}: {e}", redact_password(&statement)))?;
    eprintln!(
        "  cassandra              application role {} ready (the admin role {} created it)",
        logins.app, logins.admin
    );
    Ok(())
}

/// A CQL statement with its password literal replaced, for error messages.
fn redact_password(statement: &str) -> String {
    match statement.find("PASSWORD = '") {
        Some(at) => format!("{}PASSWORD = '<withheld>'", &statement[..at]),
        None => statement.to_owned(),
    }
}
