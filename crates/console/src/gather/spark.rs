use userstream_spark::{QueryStatus, SparkJob};

use crate::model::{parse_offsets, QueryView, SparkView};

/// A query's state as the page shows it.
pub fn query_view(status: &QueryStatus) -> QueryView {
    let progress = status.last_progress.as_ref();
    let mut committed = std::collections::BTreeMap::new();
    for source in progress.map(|p| p.sources.as_slice()).unwrap_or_default() {
        committed.extend(parse_offsets(&source.end_offset));
    }
    QueryView {
        name: status.name.clone(),
        active: status.active,
        message: status.message.clone(),
        trigger_active: status.trigger_active,
        batch_id: progress.map(|p| p.batch_id),
        batch_timestamp: progress.map(|p| p.timestamp.clone()),
        batch_rows: progress.map(|p| p.num_input_rows),
        input_rows_per_second: progress.and_then(|p| p.input_rows_per_second),
        processed_rows_per_second: progress.and_then(|p| p.processed_rows_per_second),
        batch_duration_ms: progress.and_then(|p| p.batch_duration_ms),
        committed,
        exception: status.exception.clone(),
    }
}

/// The job's queries over Spark Connect (this also keeps their session alive).
pub async fn spark(job: &SparkJob) -> Result<SparkView, String> {
    let status = userstream_spark::status(job)
        .await
        .map_err(|e| format!("Spark Connect: {}", userstream_endpoints::error_chain(&e)))?;
    Ok(SparkView {
        session_id: status.session_id.clone(),
        queries: status.queries.iter().map(query_view).collect(),
        supervisor_events: status.recent_events.clone(),
    })
}
