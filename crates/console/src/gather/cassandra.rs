//! The Cassandra area, gathered every few seconds: so nothing here scans a table. The users
//! rows are estimated from Cassandra's own figures (`system.table_estimates` and its write
//! counter, `system_views.local_write_latency`, which also gives the landing rate); the
//! rejected rows are a bounded read of the newest per partition. An exact count is the
//! separate, explicit and time-limited [`count_rows`].

use std::path::PathBuf;
use std::time::{Duration, Instant};
use userstream_endpoints::Login;

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::statement::Statement;
use scylla::value::CqlTimestamp;

use crate::model::{
    BoundedCount, CassandraView, RangeEstimate, RejectedView, RowEstimate, UserRowView,
};

/// Newest rejected rows read per partition of `rejected_rows` (one partition per topic and
/// Kafka partition): the bound on what a refresh reads there.
pub const REJECTED_PER_PARTITION: usize = 1_000;

/// Partitions of `rejected_rows` looked at (Kafka partitions of the topics it records).
const REJECTED_PARTITIONS: usize = 256;

/// Rows per page of the explicit count.
const COUNT_PAGE: i32 = 5_000;

/// Where Cassandra is and how the console logs in to it.
#[derive(Debug, Clone)]
pub struct CassandraAccess {
    /// `host:port`.
    pub contact_point: String,
    /// The application role's login.
    pub login: Option<Login>,
    /// The local stack's pid files, which the login's listener is checked against.
    pub stack_run_dir: PathBuf,
}

impl CassandraAccess {
    async fn connect(&self, timeout: Duration) -> Result<Session, userstream_store::StoreError> {
        userstream_store::connect(
            &self.contact_point,
            self.login.as_ref(),
            timeout,
            &self.stack_run_dir,
        )
        .await
    }
}

/// A Cassandra session opened on first use and dropped after a failure, so the console
/// reconnects by itself once Cassandra is back.
pub struct CassandraClient {
    access: CassandraAccess,
    keyspace: String,
    timeout: Duration,
    session: Option<Session>,
}

impl CassandraClient {
    /// A client for `keyspace` through `access`; connects on first use.
    pub fn new(access: CassandraAccess, keyspace: String, timeout: Duration) -> Self {
        Self {
            access,
            keyspace,
            timeout,
            session: None,
        }
    }

    async fn session(&mut self) -> Result<&Session, String> {
        if self.session.is_none() {
            let session = self
                .access
                .connect(self.timeout)
                .await
                .map_err(|e| format!("Cassandra: {}", userstream_endpoints::error_chain(&e)))?;
            self.session = Some(session);
        }
        self.session
            .as_ref()
            .ok_or_else(|| "Cassandra: no session".to_owned())
    }
}

fn checked(name: &str) -> Result<&str, String> {
    if userstream_store::is_valid_identifier(name) {
        Ok(name)
    } else {
        Err(format!(
            "Cassandra: `{name}` is not a valid keyspace or table name"
        ))
    }
}

/// The users row estimate, Cassandra's own write counter, the rows of the newest processed
/// users, the newest rejected rows. Every query is bounded: no table scan.
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
    let keyspace = checked(&client.keyspace)?.to_owned();
    let session = client.session().await?;
    let on_disk = on_disk_estimate(session, &keyspace, userstream_store::USERS_TABLE).await?;
    let writes = table_writes(session, &keyspace, userstream_store::USERS_TABLE).await?;
    let users_estimate = RowEstimate::new(&on_disk, writes);
    let (rejected, newest_rejected) = newest_rejected(session, &keyspace, newest).await?;
    let ids: Vec<uuid::Uuid> = newest_user_ids
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect();
    let mut found = userstream_store::users_by_id(session, &keyspace, &ids)
        .await
        .map_err(|e| format!("Cassandra: {}", userstream_endpoints::error_chain(&e)))?;
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
        users_estimate,
        users_writes: writes,
        rejected,
        newest_users,
        newest_rejected,
    })
}

/// Cassandra's estimate of the partitions of `keyspace.table` on disk, per primary token
/// range, from `system.table_estimates` (one small local partition, read as is), with when it
/// recorded each. Empty before Cassandra's first recording for the table.
pub async fn on_disk_estimate(
    session: &Session,
    keyspace: &str,
    table: &str,
) -> Result<Vec<RangeEstimate>, String> {
    let cql = "SELECT partitions_count, WRITETIME(partitions_count) \
               FROM system.table_estimates \
               WHERE keyspace_name = ? AND table_name = ? AND range_type = 'primary'";
    let failed = |e: &dyn std::fmt::Display| format!("Cassandra: {cql}: {e}");
    type Row = (Option<i64>, Option<i64>);
    let rows: Vec<Row> = session
        .query_iter(cql, (keyspace, table))
        .await
        .map_err(|e| failed(&e))?
        .rows_stream::<Row>()
        .map_err(|e| failed(&e))?
        .try_collect()
        .await
        .map_err(|e| failed(&e))?;
    Ok(rows
        .into_iter()
        .map(|(partitions, written)| RangeEstimate {
            partitions: partitions.unwrap_or(0),
            written_at_micros: written,
        })
        .collect())
}

/// The newest rejected rows (position, reason, first seen; not the payload), newest first,
/// and how many were read: at most [`REJECTED_PER_PARTITION`] of each partition.
async fn newest_rejected(
    session: &Session,
    keyspace: &str,
    newest: usize,
) -> Result<(BoundedCount, Vec<RejectedView>), String> {
    let table = userstream_store::REJECTED_TABLE;
    // Partition keys only: one per topic and Kafka partition, a handful.
    let cql = format!(
        "SELECT DISTINCT topic, kafka_partition FROM {keyspace}.{table} LIMIT {REJECTED_PARTITIONS}"
    );
    let failed = |cql: &str, e: &dyn std::fmt::Display| format!("Cassandra: {cql}: {e}");
    let partitions: Vec<(String, i32)> = session
        .query_iter(cql.as_str(), &[])
        .await
        .map_err(|e| failed(&cql, &e))?
        .rows_stream::<(String, i32)>()
        .map_err(|e| failed(&cql, &e))?
        .try_collect()
        .await
        .map_err(|e| failed(&cql, &e))?;
    let newest_cql = format!(
        "SELECT kafka_offset, reason, first_seen FROM {keyspace}.{table} \
         WHERE topic = ? AND kafka_partition = ? ORDER BY kafka_offset DESC \
         LIMIT {REJECTED_PER_PARTITION}"
    );
    let prepared = session
        .prepare(newest_cql.as_str())
        .await
        .map_err(|e| failed(&newest_cql, &e))?;
    let mut count = BoundedCount {
        rows: 0,
        at_least: false,
        per_partition_limit: REJECTED_PER_PARTITION,
    };
    let mut rows = Vec::new();
    for (topic, partition) in partitions {
        type Row = (i64, Option<String>, Option<CqlTimestamp>);
        let read: Vec<Row> = session
            .execute_iter(prepared.clone(), (&topic, partition))
            .await
            .map_err(|e| failed(&newest_cql, &e))?
            .rows_stream::<Row>()
            .map_err(|e| failed(&newest_cql, &e))?
            .try_collect()
            .await
            .map_err(|e| failed(&newest_cql, &e))?;
        count.rows += read.len();
        count.at_least |= read.len() >= REJECTED_PER_PARTITION;
        rows.extend(
            read.into_iter()
                .take(newest)
                .map(|(offset, reason, first_seen)| RejectedView {
                    topic: topic.clone(),
                    partition,
                    offset,
                    reason,
                    first_seen_ms: first_seen.map(|t| t.0),
                }),
        );
    }
    rows.sort_by_key(|r| std::cmp::Reverse((r.first_seen_ms, r.offset)));
    rows.truncate(newest);
    Ok((count, rows))
}

/// Writes Cassandra has served to `keyspace.table` since it started, from its own metrics
/// (`system_views.local_write_latency`, Cassandra 4+). Unlike a row count, this grows when
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

/// How an explicit count ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountOutcome {
    /// Every row counted.
    Finished(u64),
    /// The time limit came first; at least this many rows.
    TimedOut(u64),
    /// Cassandra failed it after this many rows.
    Failed(u64, String),
}

/// Counts the rows of `keyspace.table` exactly by paging through its partition keys
/// (`count(*)` times out on large tables), giving up after `limit`: the explicit, bounded
/// count, never part of a gather loop. `progress` hears the running total a few times a
/// second. Opens its own session, so it does not hold up the Cassandra area.
pub async fn count_rows(
    access: &CassandraAccess,
    keyspace: &str,
    table: &str,
    key: &str,
    limit: Duration,
    mut progress: impl FnMut(u64) + Send,
) -> CountOutcome {
    let mut counted = 0u64;
    let counting = async {
        let keyspace = checked(keyspace)?;
        let table = checked(table)?;
        let key = checked(key)?;
        let connect_limit = limit.min(Duration::from_secs(10));
        let session = access
            .connect(connect_limit)
            .await
            .map_err(|e| format!("Cassandra: {}", userstream_endpoints::error_chain(&e)))?;
        let cql = format!("SELECT {key} FROM {keyspace}.{table}");
        let mut statement = Statement::new(cql.as_str());
        statement.set_page_size(COUNT_PAGE);
        let failed = |e: &dyn std::fmt::Display| format!("Cassandra: {cql}: {e}");
        let mut pages = session
            .query_iter(statement, &[])
            .await
            .map_err(|e| failed(&e))?
            .rows_stream::<(scylla::value::CqlValue,)>()
            .map_err(|e| failed(&e))?;
        let mut reported = Instant::now();
        while pages.try_next().await.map_err(|e| failed(&e))?.is_some() {
            counted += 1;
            if reported.elapsed() >= Duration::from_millis(250) {
                progress(counted);
                reported = Instant::now();
            }
        }
        Ok::<(), String>(())
    };
    let outcome = tokio::time::timeout(limit, counting).await;
    match outcome {
        Ok(Ok(())) => CountOutcome::Finished(counted),
        Ok(Err(error)) => CountOutcome::Failed(counted, error),
        Err(_) => CountOutcome::TimedOut(counted),
    }
}
