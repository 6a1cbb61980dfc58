use std::time::{Duration, Instant};

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::value::CqlTimestamp;

use crate::model::{CassandraView, RejectedView, UserRowView};

/// A full scan (the row counts) is repeated no sooner than this many times its own duration:
/// watching the pipeline must not load Cassandra, its slowest stage.
const SCAN_COST_FACTOR: u32 = 20;

/// Row counts from the last full scan.
#[derive(Debug, Clone)]
struct Counts {
    users: usize,
    rejected: Vec<RejectedView>,
    at: Instant,
    at_ms: i64,
    took: Duration,
}

/// A Cassandra session opened on first use and dropped after a failure, so the console
/// reconnects by itself once Cassandra is back. Keeps the last counts between rounds.
pub struct CassandraClient {
    contact_point: String,
    keyspace: String,
    timeout: Duration,
    session: Option<Session>,
    counts: Option<Counts>,
}

impl CassandraClient {
    /// A client for `keyspace` at `contact_point`; connects on first use.
    pub fn new(contact_point: String, keyspace: String, timeout: Duration) -> Self {
        Self {
            contact_point,
            keyspace,
            timeout,
            session: None,
            counts: None,
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

    /// Whether the counts are due: none yet, or the last scan is old relative to its cost.
    fn counts_due(&self, min_interval: Duration) -> bool {
        self.counts
            .as_ref()
            .is_none_or(|c| c.at.elapsed() >= min_interval.max(c.took * SCAN_COST_FACTOR))
    }
}

/// Counts (rescanned at a cadence that adapts to their cost), Cassandra's own write counter,
/// the rows of the newest processed users, the newest rejected rows.
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
    let due = client.counts_due(Duration::from_secs(5));
    let session = client.session().await?;
    let failed = |e: userstream_store::StoreError| format!("Cassandra: {e}");
    let counts = if due {
        let started = Instant::now();
        let users = userstream_store::count_users(session, &keyspace)
            .await
            .map_err(failed)?;
        let rejected = rejected_positions(session, &keyspace).await?;
        Some(Counts {
            users,
            rejected,
            at: Instant::now(),
            at_ms: chrono::Utc::now().timestamp_millis(),
            took: started.elapsed(),
        })
    } else {
        None
    };
    let writes = table_writes(session, &keyspace, userstream_store::USERS_TABLE).await?;
    let ids: Vec<uuid::Uuid> = newest_user_ids
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect();
    let mut found = userstream_store::users_by_id(session, &keyspace, &ids)
        .await
        .map_err(failed)?;
    if let Some(counts) = counts {
        client.counts = Some(counts);
    }
    let counts = client
        .counts
        .as_ref()
        .ok_or_else(|| "Cassandra: no counts yet".to_owned())?;
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
    Ok(CassandraView {
        keyspace,
        users: counts.users,
        users_writes: writes,
        counted_at_ms: counts.at_ms,
        count_took_ms: counts.took.as_millis() as u64,
        rejected: counts.rejected.len(),
        newest_users,
        newest_rejected: counts.rejected.iter().take(newest).cloned().collect(),
    })
}

/// Every rejected row's position and reason (not its payload), newest first.
async fn rejected_positions(
    session: &Session,
    keyspace: &str,
) -> Result<Vec<RejectedView>, String> {
    let cql = format!(
        "SELECT topic, kafka_partition, kafka_offset, reason, first_seen FROM {keyspace}.{}",
        userstream_store::REJECTED_TABLE
    );
    let failed = |e: &dyn std::fmt::Display| format!("Cassandra: {cql}: {e}");
    type Row = (String, i32, i64, Option<String>, Option<CqlTimestamp>);
    let mut rows: Vec<Row> = session
        .query_iter(cql.as_str(), &[])
        .await
        .map_err(|e| failed(&e))?
        .rows_stream::<Row>()
        .map_err(|e| failed(&e))?
        .try_collect()
        .await
        .map_err(|e| failed(&e))?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.4.map(|t| t.0)));
    Ok(rows
        .into_iter()
        .map(
            |(topic, partition, offset, reason, first_seen)| RejectedView {
                topic,
                partition,
                offset,
                reason,
                first_seen_ms: first_seen.map(|t| t.0),
            },
        )
        .collect())
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
        .map_err(|e| format!("Cassandra: {cql}: {e}"))?
        .into_rows_result()
        .map_err(|e| format!("Cassandra: {cql}: {e}"))?;
    let first = rows
        .maybe_first_row::<(Option<i64>,)>()
        .map_err(|e| format!("Cassandra: {cql}: {e}"))?;
    Ok(first.and_then(|(count,)| count))
}
