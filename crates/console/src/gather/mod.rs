//! One function per area of the page, each talking to the real service with its real client.
//! Each returns its view or a one-line error that names the service and what to do.

mod airflow;
mod cassandra;
mod kafka;
mod registry;
mod spark;
mod stack;

pub use airflow::{airflow, AirflowClient};
pub use cassandra::{
    cassandra, count_rows, on_disk_estimate, CassandraAccess, CassandraClient, CountOutcome,
    REJECTED_PER_PARTITION,
};
pub use kafka::{kafka, KafkaSample};
pub use registry::registry;
pub use spark::spark;
pub use stack::{source, stack};

use std::future::Future;
use std::time::{Duration, Instant};

/// Runs `gather` with a time limit (a gather that hangs, on a half-dead service, fails
/// instead) and returns its outcome with how long it took in milliseconds.
pub async fn timed<T>(
    what: &str,
    timeout: Duration,
    gather: impl Future<Output = Result<T, String>>,
) -> (Result<T, String>, u64) {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(timeout, gather).await {
        Ok(result) => result,
        Err(_) => Err(format!("{what} did not answer within {timeout:?}")),
    };
    (outcome, started.elapsed().as_millis() as u64)
}
