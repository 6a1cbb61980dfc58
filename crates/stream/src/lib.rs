//! The Spark side: the Structured Streaming job, built and controlled from Rust over Spark Connect.

use spark_connect_rs::{SparkSession, SparkSessionBuilder};

/// Errors talking to the Spark Connect server.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// No session could be opened; a retry helps once the Connect server is up.
    #[error("cannot open a Spark Connect session at {url}: {reason} (is spark-connect running? `userstream stack status`)")]
    Connect {
        /// The `sc://` URL tried.
        url: String,
        /// The client's reason.
        reason: String,
    },
    /// A query sent over Spark Connect failed.
    #[error("Spark Connect query failed: {0}")]
    Query(String),
}

/// Opens a Spark Connect session. `url` is an `sc://host:port` URL.
pub async fn session(url: &str) -> Result<SparkSession, StreamError> {
    SparkSessionBuilder::remote(url)
        .app_name("userstream")
        .build()
        .await
        .map_err(|e| StreamError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}

/// The Spark health check: runs `SELECT 1` through Spark Connect and checks the answer.
pub async fn ping(url: &str) -> Result<(), StreamError> {
    let spark = session(url).await?;
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
