use std::time::Duration;

use scylla::client::session::Session;

use crate::model::{CassandraView, RejectedView, UserRowView};

/// A Cassandra session opened on first use and dropped after a failure, so the console
/// reconnects by itself once Cassandra is back.
pub struct CassandraClient {
    contact_point: String,
    keyspace: String,
    timeout: Duration,
    session: Option<Session>,
}

impl CassandraClient {
    /// A client for `keyspace` at `contact_point`; connects on first use.
    pub fn new(contact_point: String, keyspace: String, timeout: Duration) -> Self {
        Self {
            contact_point,
            keyspace,
            timeout,
            session: None,
        }
    }

    async fn session(&mut self) -> Result<&Session, String> {
        if self.session.is_none() {
            let session = userstream_store::connect(&self.contact_point, self.timeout)
                .await
                .map_err(|e| format!("Cassandra: {e}"))?;
            self.session = Some(session);
        }
        self.session
            .as_ref()
            .ok_or_else(|| "Cassandra: no session".to_owned())
    }
}

/// Counts, the rows of the newest users in Kafka that have landed, the newest rejected rows.
pub async fn cassandra(
    client: &mut CassandraClient,
    newest_user_ids: &[String],
    newest: usize,
) -> Result<CassandraView, String> {
    let result = gather(client, newest_user_ids, newest).await;
    if result.is_err() {
        client.session = None;
    }
    result
}

async fn gather(
    client: &mut CassandraClient,
    newest_user_ids: &[String],
    newest: usize,
) -> Result<CassandraView, String> {
    let keyspace = client.keyspace.clone();
    let session = client.session().await?;
    let failed = |e: userstream_store::StoreError| format!("Cassandra: {e}");
    let users = userstream_store::count_users(session, &keyspace)
        .await
        .map_err(failed)?;
    let mut rejected_rows = userstream_store::rejected_rows(session, &keyspace, None)
        .await
        .map_err(failed)?;
    let ids: Vec<uuid::Uuid> = newest_user_ids
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect();
    let mut found = userstream_store::users_by_id(session, &keyspace, &ids)
        .await
        .map_err(failed)?;
    // Keep Kafka's order (newest first).
    found.sort_by_key(|u| ids.iter().position(|id| *id == u.id));
    let newest_users = found
        .into_iter()
        .map(|u| UserRowView {
            id: u.id.to_string(),
            full_name: u.full_name,
            email: u.email,
            country: u.country,
            age_at_ingest: u.age_at_ingest,
            processed_at_ms: u.processed_at.map(|t| t.0),
            kafka_position: match (u.kafka_partition, u.kafka_offset) {
                (Some(p), Some(o)) => Some(format!("{p}/{o}")),
                _ => None,
            },
        })
        .collect();
    let writes = table_writes(session, &keyspace, userstream_store::USERS_TABLE)
        .await
        .map_err(|e| format!("Cassandra: {e}"))?;
    let rejected = rejected_rows.len();
    rejected_rows.sort_by_key(|r| std::cmp::Reverse(r.first_seen.map(|t| t.0)));
    let newest_rejected = rejected_rows
        .into_iter()
        .take(newest)
        .map(|r| RejectedView {
            topic: r.topic,
            partition: r.kafka_partition,
            offset: r.kafka_offset,
            reason: r.reason,
            first_seen_ms: r.first_seen.map(|t| t.0),
        })
        .collect();
    Ok(CassandraView {
        keyspace,
        users,
        users_writes: writes,
        rejected,
        newest_users,
        newest_rejected,
    })
}

/// Writes Cassandra has served to `keyspace.table` since it started, from its own metrics
/// (`system_views.local_write_latency`, Cassandra 4+). Unlike the row count, this grows when
/// a replay upserts rows that exist already. `None` when the table has no metrics row yet.
async fn table_writes(
    session: &Session,
    keyspace: &str,
    table: &str,
) -> Result<Option<i64>, String> {
    let cql = "SELECT count FROM system_views.local_write_latency \
               WHERE keyspace_name = ? AND table_name = ?";
    let rows = session
        .query_unpaged(cql, (keyspace, table))
        .await
        .map_err(|e| format!("{cql}: {e}"))?
        .into_rows_result()
        .map_err(|e| format!("{cql}: {e}"))?;
    let first = rows
        .maybe_first_row::<(Option<i64>,)>()
        .map_err(|e| format!("{cql}: {e}"))?;
    Ok(first.and_then(|(count,)| count))
}
