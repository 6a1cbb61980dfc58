//! Reads for `verify` and `bench`: ids, rows, write times, rejected records.

use futures::{StreamExt, TryStreamExt};
use scylla::client::session::Session;
use scylla::frame::response::result::{ColumnSpec, ColumnType, NativeType, TableSpec};
use scylla::statement::Statement;
use scylla::value::CqlTimestamp;
use scylla::DeserializeRow;
use userstream_model::record::{Cell, ToCell, COLUMNS};
use userstream_model::rejected::rejected_column_list;
use uuid::Uuid;

use crate::{check_identifier, StoreError, REJECTED_TABLE, USERS_TABLE};

/// Rows per page for full-table scans.
const PAGE_SIZE: i32 = 5_000;
/// Ids per `IN` list.
const IN_CHUNK: usize = 100;

/// The Rust type a `users` column of `Kind` `$kind` is read into.
macro_rules! cql_type {
    (Uuid) => {
        Uuid
    };
    (Text) => {
        String
    };
    (Int) => {
        i32
    };
    (Long) => {
        i64
    };
    (Double) => {
        f64
    };
    (Timestamp) => {
        CqlTimestamp
    };
}

/// The key is never null; any other column may be (Cassandra has no NOT NULL, and rows
/// written before a column was added do not have it).
macro_rules! row_type {
    (key $kind:ident) => { cql_type!($kind) };
    ($how:ident $kind:ident) => { Option<cql_type!($kind)> };
}

/// A column's value as a [`Cell`]: a `timestamp` is read as the driver's `CqlTimestamp`
/// (milliseconds), every other type as the record's own Rust type.
macro_rules! row_cell {
    (Timestamp, $value:expr) => {
        $value.map_or(Cell::Null, |t| Cell::Timestamp(t.0))
    };
    ($kind:ident, $value:expr) => {
        ToCell::to_cell(&$value)
    };
}

macro_rules! define_stored_user {
    (
        record { $( $(#[doc = $doc:literal])* $name:ident : $presence:ident $kind:ident , $how:ident $($what:ident)? ; )* }
        job { $( $(#[doc = $jdoc:literal])* $jname:ident : $jkind:ident , $jhow:ident $jwhat:ident ; )* }
    ) => {
        /// One row of `users`, every column: generated from the record's declaration
        /// ([`userstream_model::user_record!`]), so it cannot miss a column.
        #[derive(Debug, Clone, Default, PartialEq, DeserializeRow)]
        pub struct StoredUser {
            $( $(#[doc = $doc])* pub $name: row_type!($how $kind), )*
            $( $(#[doc = $jdoc])* pub $jname: row_type!($jhow $jkind), )*
        }

        impl StoredUser {
            /// Every column as a cell, in [`userstream_model::record::COLUMNS`] order.
            pub fn cells(&self) -> Vec<Cell> {
                vec![$(row_cell!($kind, self.$name),)* $(row_cell!($jkind, self.$jname),)*]
            }
        }
    };
}

userstream_model::user_record!(define_stored_user);

/// `id, title, ...`: every column of `users`, in declaration order.
fn user_columns() -> String {
    COLUMNS
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether [`StoredUser`] can read the rows of a `users` table with these `(column, CQL
/// type)` pairs (as `system_schema.columns` spells the types): scylla's own type check of
/// the typed row, without a server. `Err` names the column that does not fit.
pub fn check_users_row(columns: &[(String, String)]) -> Result<(), String> {
    type_check::<StoredUser>(USERS_TABLE, columns)
}

/// Whether [`RejectedRow`] can read the rows of a `rejected_rows` table with these `(column,
/// CQL type)` pairs, like [`check_users_row`].
pub fn check_rejected_row(columns: &[(String, String)]) -> Result<(), String> {
    type_check::<RejectedRow>(REJECTED_TABLE, columns)
}

/// scylla's own type check of the typed row `R` against `(column, CQL type)` pairs.
fn type_check<R>(table: &str, columns: &[(String, String)]) -> Result<(), String>
where
    R: for<'frame, 'metadata> scylla::deserialize::row::DeserializeRow<'frame, 'metadata>,
{
    let table = TableSpec::borrowed("ks", table);
    let specs = columns
        .iter()
        .map(|(name, cql)| {
            let native = match cql.as_str() {
                "uuid" => NativeType::Uuid,
                "text" | "varchar" => NativeType::Text,
                "int" => NativeType::Int,
                "bigint" => NativeType::BigInt,
                "double" => NativeType::Double,
                "timestamp" => NativeType::Timestamp,
                "blob" => NativeType::Blob,
                other => {
                    return Err(format!(
                        "column {name}: CQL type {other} is not one the tables use"
                    ))
                }
            };
            Ok(ColumnSpec::borrowed(
                name,
                ColumnType::Native(native),
                table.clone(),
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    R::type_check(&specs).map_err(|e| e.to_string())
}

/// One row of `rejected_rows`: every column of
/// [`userstream_model::rejected::REJECTED_COLUMNS`] (a test checks the types).
#[derive(Debug, Clone, PartialEq, DeserializeRow)]
pub struct RejectedRow {
    /// Kafka topic.
    pub topic: String,
    /// Kafka partition.
    pub kafka_partition: i32,
    /// Kafka offset.
    pub kafka_offset: i64,
    /// Why it was rejected: an [`userstream_model::rejected::UndecodableReason`] code.
    pub reason: Option<String>,
    /// The schema id in the frame, when there is a frame.
    pub schema_id: Option<i64>,
    /// The record value as read.
    pub payload: Option<Vec<u8>>,
    /// Its length in bytes.
    pub payload_size: Option<i32>,
    /// The record's Kafka timestamp.
    pub kafka_timestamp: Option<CqlTimestamp>,
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
        .map_err(|e| StoreError::query(cql, e))?
        .rows_stream::<R>()
        .map_err(|e| StoreError::query(cql, e))?
        .try_collect()
        .await
        .map_err(|e| StoreError::query(cql, e))
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
        .map_err(|e| StoreError::query(&cql, e))?
        .rows_stream::<UserSource>()
        .map_err(|e| StoreError::query(&cql, e))?;
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| StoreError::query(&cql, e))?
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
    let cql = format!(
        "SELECT {} FROM {keyspace}.{USERS_TABLE} WHERE id IN ?",
        user_columns()
    );
    let prepared = session
        .prepare(cql.as_str())
        .await
        .map_err(|e| StoreError::query(&cql, e))?;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let rows = session
            .execute_unpaged(&prepared, (chunk.to_vec(),))
            .await
            .map_err(|e| StoreError::query(&cql, e))?
            .into_rows_result()
            .map_err(|e| StoreError::query(&cql, e))?;
        for row in rows
            .rows::<StoredUser>()
            .map_err(|e| StoreError::query(&cql, e))?
        {
            out.push(row.map_err(|e| StoreError::query(&cql, e))?);
        }
    }
    Ok(out)
}

/// Where the rows of `ids` came from, for those that exist (in no particular order): one read
/// by primary key per id, at most `concurrency` in flight. Each read touches one partition,
/// so the cost follows the number of ids, never the table's size (an `IN` list of many ids
/// would make one coordinator wait for all of their replicas at once).
pub async fn user_sources_by_id(
    session: &Session,
    keyspace: &str,
    ids: &[Uuid],
    concurrency: usize,
) -> Result<Vec<UserSource>, StoreError> {
    check_identifier(keyspace)?;
    let cql = format!(
        "SELECT id, kafka_topic, kafka_partition, kafka_offset FROM {keyspace}.{USERS_TABLE} \
         WHERE id = ?"
    );
    let prepared = session
        .prepare(cql.as_str())
        .await
        .map_err(|e| StoreError::query(&cql, e))?;
    let (prepared, cql) = (&prepared, cql.as_str());
    let rows: Vec<Option<UserSource>> = futures::stream::iter(ids)
        .map(|id| async move {
            session
                .execute_unpaged(prepared, (*id,))
                .await
                .map_err(|e| StoreError::query(cql, e))?
                .into_rows_result()
                .map_err(|e| StoreError::query(cql, e))?
                .maybe_first_row::<UserSource>()
                .map_err(|e| StoreError::query(cql, e))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(rows.into_iter().flatten().collect())
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
        "SELECT {} FROM {keyspace}.{REJECTED_TABLE}",
        rejected_column_list()
    );
    let rows: Vec<RejectedRow> = scan(session, &cql).await?;
    Ok(rows
        .into_iter()
        .filter(|r| topic.is_none_or(|t| r.topic == t))
        .collect())
}

/// The rows of `<keyspace>.rejected_rows` of `topic`'s `partition` whose offset lies in
/// `offsets`: one range of one Cassandra partition (the table's key is `((topic,
/// kafka_partition), kafka_offset)`), so the cost follows the rows in the range, not the table.
pub async fn rejected_rows_between(
    session: &Session,
    keyspace: &str,
    topic: &str,
    partition: i32,
    offsets: std::ops::Range<i64>,
) -> Result<Vec<RejectedRow>, StoreError> {
    check_identifier(keyspace)?;
    let cql = format!(
        "SELECT {} FROM {keyspace}.{REJECTED_TABLE} \
         WHERE topic = ? AND kafka_partition = ? AND kafka_offset >= ? AND kafka_offset < ?",
        rejected_column_list()
    );
    session
        .query_iter(paged(&cql), (topic, partition, offsets.start, offsets.end))
        .await
        .map_err(|e| StoreError::query(&cql, e))?
        .rows_stream::<RejectedRow>()
        .map_err(|e| StoreError::query(&cql, e))?
        .try_collect()
        .await
        .map_err(|e| StoreError::query(&cql, e))
}

/// Number of rejected records, of `topic` or all.
pub async fn count_rejected(
    session: &Session,
    keyspace: &str,
    topic: Option<&str>,
) -> Result<usize, StoreError> {
    Ok(rejected_rows(session, keyspace, topic).await?.len())
}
