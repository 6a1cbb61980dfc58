//! The Spark side: the Structured Streaming job, built and controlled from Rust over Spark
//! Connect, plus `verify` (Kafka vs Cassandra) and the end-to-end bench.
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

mod bench;
mod config;
mod error;
mod job;
pub mod plan;
mod reconcile;
mod rpc;
mod supervise;
mod verify;

use spark_connect_rs::{SparkSession, SparkSessionBuilder};

pub use bench::{bench_e2e, BenchMode, BenchOptions, BenchReport, LatencySummary};
pub use config::{
    CassandraOutput, StreamConfig, DEFAULT_BOOTSTRAP, DEFAULT_CASSANDRA, DEFAULT_CONNECT_URL,
    DEFAULT_QUERY_NAME, DEFAULT_REGISTRY_URL,
};
pub use error::StreamError;
pub use job::{
    fetch_writer_schemas, start, status, stop, JobInfo, Progress, QueryInfo, QueryStatus,
    SourceProgress, StreamStatus,
};
pub use plan::WriterSchema;
pub use supervise::{run, RunEvent};
pub use verify::{verify, FieldMismatch, VerifyOptions, VerifyReport};

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

/// Session id of health checks: one fixed session instead of a new one per check. A Spark
/// 3.5 Connect server keeps at most 100 sessions and evicts the least recently used, with
/// its streaming queries; a new session per `stack status` would push the job's out.
const HEALTH_SESSION_ID: &str = "00000000-0000-4000-8000-00000000c4ec";

/// The Spark health check: runs `SELECT 1` through Spark Connect and checks the answer.
/// `url` is `sc://host:port`; the check always uses the same session.
pub async fn ping(url: &str) -> Result<(), StreamError> {
    let url = if url.contains(';') {
        url.to_owned()
    } else {
        format!(
            "{}/;user_id=userstream-health;session_id={HEALTH_SESSION_ID}",
            url.trim_end_matches('/')
        )
    };
    let spark = session(&url).await?;
    let batch = spark
        .sql("SELECT 1 AS one")
        .await
        .map_err(|e| StreamError::Query(e.to_string()))?
        .collect()
        .await
        .map_err(|e| StreamError::Query(e.to_string()))?;
    if batch.num_rows() == 1 {
        Ok(())
    } else {
        Err(StreamError::Query(format!(
            "SELECT 1 returned {} rows",
            batch.num_rows()
        )))
    }
}
