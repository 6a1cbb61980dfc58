//! Reads for `verify` and `bench`: ids, rows, write times, rejected records.

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::statement::Statement;
use scylla::value::CqlTimestamp;
use scylla::DeserializeRow;
use uuid::Uuid;

use crate::{check_identifier, StoreError, REJECTED_TABLE, USERS_TABLE};

/// Rows per page for full-table scans.
const PAGE_SIZE: i32 = 5_000;
/// Ids per `IN` list.
const IN_CHUNK: usize = 100;

/// One row of `users`, every column.
#[derive(Debug, Clone, PartialEq, DeserializeRow)]
pub struct StoredUser {
    /// Primary key (`login.uuid`).
    pub id: Uuid,
    /// `name.title`.
    pub title: Option<String>,
    /// `name.first`.
    pub first_name: Option<String>,
    /// `name.last`.
    pub last_name: Option<String>,
    /// `gender`.
    pub gender: Option<String>,
    /// `location.street.number`.
    pub street_number: Option<i32>,
    /// `location.street.name`.
    pub street_name: Option<String>,
    /// `location.city`.
    pub city: Option<String>,
    /// `location.state`.
    pub state: Option<String>,
    /// `location.country`.
    pub country: Option<String>,
    /// `location.postcode` as text.
    pub postcode: Option<String>,
    /// One-line address computed by the job.
    pub display_address: Option<String>,
    /// Degrees.
    pub latitude: Option<f64>,
    /// Degrees.
    pub longitude: Option<f64>,
    /// As sent, e.g. `+5:30`.
    pub timezone_offset: Option<String>,
    /// Time zone description.
    pub timezone_description: Option<String>,
    /// Trimmed, lower-cased email (the job lower-cases it).
    pub email: Option<String>,
    /// `login.username`.
    pub username: Option<String>,
    /// Date of birth.
    pub dob: Option<CqlTimestamp>,
    /// Registration date.
    pub registered: Option<CqlTimestamp>,
    /// `phone`.
    pub phone: Option<String>,
    /// `cell`.
    pub cell: Option<String>,
    /// `id.name`.
    pub id_name: Option<String>,
    /// `id.value`.
    pub id_value: Option<String>,
    /// `picture.large`.
    pub picture_url: Option<String>,
    /// `nat`.
    pub nationality: Option<String>,
    /// When the producer parsed the record.
    pub produced_at: Option<CqlTimestamp>,
    /// The request URL the record came from.
    pub source_url: Option<String>,
    /// The seed of the response.
    pub source_seed: Option<String>,
    /// The page requested.
    pub source_page: Option<i32>,
    /// Index within `results[]`.
    pub source_index: Option<i32>,
    /// `first last`, computed by the job.
    pub full_name: Option<String>,
    /// Domain part of the email, computed by the job.
    pub email_domain: Option<String>,
    /// Whole years between `dob` and `processed_at` (UTC), computed by the job.
    pub age_at_ingest: Option<i32>,
    /// When the job's micro-batch ran (`current_timestamp()`).
    pub processed_at: Option<CqlTimestamp>,
    /// Kafka topic the record was read from.
    pub kafka_topic: Option<String>,
    /// Kafka partition.
    pub kafka_partition: Option<i32>,
    /// Kafka offset.
    pub kafka_offset: Option<i64>,
    /// Kafka record timestamp.
    pub kafka_timestamp: Option<CqlTimestamp>,
    /// Registry schema id of the writer schema.
    pub schema_id: Option<i64>,
}

const USER_COLUMNS: &str = "id, title, first_name, last_name, gender, street_number, street_name, \
    city, state, country, postcode, display_address, latitude, longitude, timezone_offset, \
    timezone_description, email, username, dob, registered, phone, cell, id_name, id_value, \
    picture_url, nationality, produced_at, source_url, source_seed, source_page, source_index, \
    full_name, email_domain, age_at_ingest, processed_at, kafka_topic, kafka_partition, \
    kafka_offset, kafka_timestamp, schema_id";

/// One row of `rejected_rows`.
#[derive(Debug, Clone, PartialEq, DeserializeRow)]
pub struct RejectedRow {
    /// Kafka topic.
    pub topic: String,
    /// Kafka partition.
    pub kafka_partition: i32,
    /// Kafka offset.
    pub kafka_offset: i64,
    /// Why it was rejected: `too_short`, `bad_magic`, `unknown_schema_id`,
    /// `avro_decode_failed` or `invalid_id`.
    pub reason: Option<String>,
    /// The schema id in the frame, when there is a frame.
    pub schema_id: Option<i64>,
    /// The record value as read.
    pub payload: Option<Vec<u8>>,
    /// Its length in bytes.
    pub payload_size: Option<i32>,
    /// When the job first wrote it.
    pub first_seen: Option<CqlTimestamp>,
}

/// Produced-at and write time of one stored user, for end-to-end latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, DeserializeRow)]
pub struct LatencySample {
    /// The user.
    pub id: Uuid,
    /// When the producer made the record.
    pub produced_at: Option<CqlTimestamp>,
    /// When the job's batch ran.
    pub processed_at: Option<CqlTimestamp>,
    /// `WRITETIME(username)`: microseconds since the epoch at which Cassandra stored the row.
    pub write_time_micros: Option<i64>,
}

fn paged(cql: &str) -> Statement {
    let mut statement = Statement::new(cql.to_owned());
    statement.set_page_size(PAGE_SIZE);
    statement
}

async fn scan<R>(session: &Session, cql: &str) -> Result<Vec<R>, StoreError>
where
    R: for<'frame, 'metadata> scylla::deserialize::row::DeserializeRow<'frame, 'metadata>,
{
    session
        .query_iter(paged(cql), &[])
        .await
        .map_err(|e| StoreError::query(cql, &e))?
        .rows_stream::<R>()
        .map_err(|e| StoreError::query(cql, &e))?
        .try_collect()
        .await
        .map_err(|e| StoreError::query(cql, &e))
}

/// Every id in `<keyspace>.users`, paged through (unordered).
pub async fn user_ids(session: &Session, keyspace: &str) -> Result<Vec<Uuid>, StoreError> {
    check_identifier(keyspace)?;
    let cql = format!("SELECT id FROM {keyspace}.{USERS_TABLE}");
    let rows: Vec<(Uuid,)> = scan(session, &cql).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Where one row of `<keyspace>.users` came from: its id and the Kafka topic, partition and
/// offset of the record it was written from.
#[derive(Debug, Clone, PartialEq, Eq, DeserializeRow)]
pub struct UserSource {
    /// The user id.
    pub id: Uuid,
    /// Topic of the record.
    pub kafka_topic: Option<String>,
    /// Partition of the record.
    pub kafka_partition: Option<i32>,
    /// Offset of the record.
    pub kafka_offset: Option<i64>,
}

/// Calls `on_row` with the source of every row of `<keyspace>.users`, page by page (memory
/// does not grow with the table). Stops at the first error `on_row` returns.
pub async fn for_each_user_source<E>(
    session: &Session,
    keyspace: &str,
    mut on_row: impl FnMut(UserSource) -> Result<(), E>,
) -> Result<Result<(), E>, StoreError> {
    check_identifier(keyspace)?;
    let cql = format!(
        "SELECT id, kafka_topic, kafka_partition, kafka_offset FROM {keyspace}.{USERS_TABLE}"
    );
    let mut rows = session
        .query_iter(paged(&cql), &[])
        .await
        .map_err(|e| StoreError::query(&cql, &e))?
        .rows_stream::<UserSource>()
        .map_err(|e| StoreError::query(&cql, &e))?;
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| StoreError::query(&cql, &e))?
    {
        if let Err(e) = on_row(row) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

/// Number of rows in `<keyspace>.users` (by paging through the ids: `count(*)` times out on
/// large tables).
pub async fn count_users(session: &Session, keyspace: &str) -> Result<usize, StoreError> {
    Ok(user_ids(session, keyspace).await?.len())
}

/// The rows of `ids` that exist, in no particular order.
pub async fn users_by_id(
    session: &Session,
    keyspace: &str,
    ids: &[Uuid],
) -> Result<Vec<StoredUser>, StoreError> {
    check_identifier(keyspace)?;
    let cql = format!("SELECT {USER_COLUMNS} FROM {keyspace}.{USERS_TABLE} WHERE id IN ?");
    let prepared = session
        .prepare(cql.as_str())
        .await
        .map_err(|e| StoreError::query(&cql, &e))?;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let rows = session
            .execute_unpaged(&prepared, (chunk.to_vec(),))
            .await
            .map_err(|e| StoreError::query(&cql, &e))?
            .into_rows_result()
            .map_err(|e| StoreError::query(&cql, &e))?;
        for row in rows
            .rows::<StoredUser>()
            .map_err(|e| StoreError::query(&cql, &e))?
        {
            out.push(row.map_err(|e| StoreError::query(&cql, &e))?);
        }
    }
    Ok(out)
}

/// `produced_at`, `processed_at` and `WRITETIME(username)` of every row of `<keyspace>.users`.
pub async fn latency_samples(
    session: &Session,
    keyspace: &str,
) -> Result<Vec<LatencySample>, StoreError> {
    check_identifier(keyspace)?;
    let cql = format!(
        "SELECT id, produced_at, processed_at, WRITETIME(username) AS write_time_micros \
         FROM {keyspace}.{USERS_TABLE}"
    );
    scan(session, &cql).await
}

/// Every row of `<keyspace>.rejected_rows`, or only those of `topic`.
pub async fn rejected_rows(
    session: &Session,
    keyspace: &str,
    topic: Option<&str>,
) -> Result<Vec<RejectedRow>, StoreError> {
    check_identifier(keyspace)?;
    let cql = format!(
        "SELECT topic, kafka_partition, kafka_offset, reason, schema_id, payload, payload_size, \
         first_seen FROM {keyspace}.{REJECTED_TABLE}"
    );
    let rows: Vec<RejectedRow> = scan(session, &cql).await?;
    Ok(rows
        .into_iter()
        .filter(|r| topic.is_none_or(|t| r.topic == t))
        .collect())
}

/// Number of rejected records, of `topic` or all.
pub async fn count_rejected(
    session: &Session,
    keyspace: &str,
    topic: Option<&str>,
) -> Result<usize, StoreError> {
    Ok(rejected_rows(session, keyspace, topic).await?.len())
}
