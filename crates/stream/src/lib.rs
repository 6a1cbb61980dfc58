//! The Spark side: the Structured Streaming job, built and controlled from Rust over Spark
//! Connect, and its supervisor. `verify` (Kafka vs Cassandra) is `userstream-verify`'s; the
//! end-to-end bench is the CLI's (`userstream bench e2e`): it drives both the producer and
//! this job.
//!
//! The job is two streaming queries in one Spark Connect session:
//! - `<query_name>` reads the topic, decodes the Confluent-framed Avro with `from_avro`
//!   (writer schemas from the registry), transforms, and upserts into `<keyspace>.users`;
//! - `<query_name>-rejected` reads the same topic and keeps what does not decode in
//!   `<keyspace>.rejected_rows` with topic, partition, offset and the reason.
//!
//! Both checkpoint under [`StreamConfig::checkpoint_root`]; rows are upserted by key, so a
//! batch replayed after a failure rewrites the same rows: exactly once in effect.
//!
//! The session id is derived from the query name ([`StreamConfig::session_id`]), so
//! [`start`], [`status`], [`stop`] and [`run`] find the queries from any process.

#![warn(missing_docs)]

mod config;
pub mod control;
mod error;
mod job;
pub mod plan;
mod supervise;
pub mod watchdog;

use spark_connect_rs::{SparkSession, SparkSessionBuilder};

pub use config::{CassandraOutput, StreamConfig};
pub use error::StreamError;
pub use job::{
    classify_schema_id, fetch_writer_schemas, foreign_schema_ids, start, start_locked, status,
    stop, JobInfo, SchemaIdFate, StreamStatus,
};
// The job's Spark Connect surface (what the console also reads) is userstream-spark's.
pub use plan::{WriterSchema, UNKNOWN_SCHEMA_ID_MARKER};
pub use supervise::{ensure, first_line, run, run_with, EnsureReport, RestartConnect, RunEvent};
pub use userstream_spark::{JournalEntry, Progress, QueryInfo, QueryStatus, SourceProgress};

/// Opens a Spark Connect session. `url` is an `sc://host:port` URL (parameters allowed).
pub async fn session(url: &str) -> Result<SparkSession, StreamError> {
    // The crate panics on a URL it cannot parse; refuse it here instead.
    let invalid =
        |reason: String| StreamError::Config(vec![format!("Spark Connect URL `{url}`: {reason}")]);
    for param in url.split(';').skip(1) {
        if let Some(id) = param.strip_prefix("session_id=") {
            uuid::Uuid::parse_str(id).map_err(|e| invalid(format!("session_id: {e}")))?;
        }
    }
    spark_connect_rs::client::ChannelBuilder::create(url).map_err(|e| invalid(e.to_string()))?;
    SparkSessionBuilder::remote(url)
        .app_name("userstream")
        .build()
        .await
        .map_err(|e| StreamError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}
