//! The two health checks that speak a binary protocol: CQL to Cassandra and gRPC to Spark
//! Connect. The stack talks to the engines' protocols directly (not through the pipeline's
//! crates), so the supervisor does not link the user record, the registry or the Spark plan.

use std::time::Duration;

use scylla::client::session_builder::SessionBuilder;
use spark_connect_rs::SparkSessionBuilder;

/// The session every Spark Connect health check uses. A Spark 3.5 Connect server keeps at most
/// 100 sessions and evicts the least recently used one, with its streaming queries: a new
/// session per `stack status` would push the job's out.
const HEALTH_SESSION_ID: &str = "00000000-0000-4000-8000-00000000c4ec";

/// Cassandra's `release_version` (`SELECT release_version FROM system.local`): the node
/// accepted a CQL connection and answered a query.
pub async fn cassandra_release_version(
    contact_point: &str,
    timeout: Duration,
) -> Result<String, String> {
    const QUERY: &str = "SELECT release_version FROM system.local";
    let session = SessionBuilder::new()
        .known_node(contact_point)
        .connection_timeout(timeout)
        .build()
        .await
        .map_err(|e| format!("CQL connection to {contact_point}: {e}"))?;
    let rows = session
        .query_unpaged(QUERY, &[])
        .await
        .map_err(|e| format!("{QUERY}: {e}"))?
        .into_rows_result()
        .map_err(|e| format!("{QUERY}: {e}"))?;
    let (version,): (String,) = rows.first_row().map_err(|e| format!("{QUERY}: {e}"))?;
    Ok(version)
}

/// Runs `SELECT 1` through the Spark Connect server at `url` (`sc://host:port`): the server
/// accepted a session, planned a query and returned its one row.
pub async fn spark_connect_select_one(url: &str) -> Result<(), String> {
    let url = format!(
        "{}/;user_id=userstream-health;session_id={HEALTH_SESSION_ID}",
        url.trim_end_matches('/')
    );
    // spark-connect-rs panics on a URL it cannot parse: check it first.
    spark_connect_rs::client::ChannelBuilder::create(&url)
        .map_err(|e| format!("Spark Connect URL `{url}`: {e}"))?;
    let spark = SparkSessionBuilder::remote(&url)
        .app_name("userstream-health")
        .build()
        .await
        .map_err(|e| format!("Spark Connect session at {url}: {e}"))?;
    let batch = spark
        .sql("SELECT 1 AS one")
        .await
        .map_err(|e| format!("SELECT 1: {e}"))?
        .collect()
        .await
        .map_err(|e| format!("SELECT 1: {e}"))?;
    match batch.num_rows() {
        1 => Ok(()),
        rows => Err(format!("SELECT 1 returned {rows} rows")),
    }
}
