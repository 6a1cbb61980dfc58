//! Kafka's health: a metadata request (rdkafka) as the least-privileged user.

use std::path::Path;
use std::time::Duration;

use userstream_endpoints::{listener, KafkaAccess};

use crate::probe::port_open;

/// Healthy when a metadata request to `bootstrap` lists a broker. Each server must be held by
/// the broker this stack started (pid files in `run_dir`) before the login goes out.
pub async fn check(bootstrap: &KafkaAccess, run_dir: &Path) -> Result<String, String> {
    port_open(&bootstrap.bootstrap).await?;
    // SCRAM never sends the password itself, but the proof still should not go to an
    // impostor.
    for server in bootstrap.bootstrap.split(',') {
        listener::check_address(server, run_dir).map_err(|e| e.to_string())?;
    }
    let summary = userstream_kafka::fetch_metadata(bootstrap, Duration::from_secs(3))
        .await
        .map_err(|e| userstream_endpoints::error_chain(&e))?;
    if summary.brokers == 0 {
        return Err("metadata lists no broker yet".into());
    }
    Ok(format!(
        "{} broker, {} topics",
        summary.brokers, summary.topics
    ))
}
