//! The status of the job's queries over Spark Connect ([`status`]), and Spark's progress
//! reports read once, here.

use serde::Serialize;
use spark_connect_rs::spark;

use crate::{ActiveQuery, JournalEntry, QueryInfo, Rpc, SparkError, SparkJob};

/// Offsets of one source in a progress report.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SourceProgress {
    /// Spark's description of the source.
    pub description: String,
    /// Offsets at the start of the batch (`{"topic": {"0": 123}}`).
    pub start_offset: serde_json::Value,
    /// Offsets at its end.
    pub end_offset: serde_json::Value,
    /// Latest offsets available when the batch was planned.
    pub latest_offset: serde_json::Value,
}

/// The last progress report of a query.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Progress {
    /// Micro-batch id.
    pub batch_id: i64,
    /// When the batch started (ISO 8601).
    pub timestamp: String,
    /// Rows read in the batch.
    pub num_input_rows: i64,
    /// Rows per second arriving (absent when Spark cannot say, e.g. first batch).
    pub input_rows_per_second: Option<f64>,
    /// Rows per second processed.
    pub processed_rows_per_second: Option<f64>,
    /// Wall time of the whole trigger (`durationMs.triggerExecution`).
    pub batch_duration_ms: Option<i64>,
    /// Per-source offsets.
    pub sources: Vec<SourceProgress>,
}

impl Progress {
    /// Parses one `StreamingQueryProgress` JSON document.
    pub fn from_json(json: &str) -> Result<Self, SparkError> {
        let v: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| SparkError::Protocol(format!("progress is not JSON: {e}")))?;
        let sources = v["sources"]
            .as_array()
            .map(|sources| {
                sources
                    .iter()
                    .map(|s| SourceProgress {
                        description: s["description"].as_str().unwrap_or_default().to_owned(),
                        start_offset: offsets(&s["startOffset"]),
                        end_offset: offsets(&s["endOffset"]),
                        latest_offset: offsets(&s["latestOffset"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The query-level figures are the sums over the sources; Spark Connect 3.5 sends
        // them only per source, so add them up when the top level lacks them.
        let per_source = |key: &str| -> Option<f64> {
            let values: Vec<f64> = v["sources"]
                .as_array()?
                .iter()
                .filter_map(|s| s[key].as_f64())
                .collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        Ok(Self {
            batch_id: v["batchId"].as_i64().unwrap_or(-1),
            timestamp: v["timestamp"].as_str().unwrap_or_default().to_owned(),
            num_input_rows: v["numInputRows"]
                .as_i64()
                .or_else(|| per_source("numInputRows").map(|n| n as i64))
                .unwrap_or(0),
            input_rows_per_second: v["inputRowsPerSecond"]
                .as_f64()
                .or_else(|| per_source("inputRowsPerSecond")),
            processed_rows_per_second: v["processedRowsPerSecond"]
                .as_f64()
                .or_else(|| per_source("processedRowsPerSecond")),
            batch_duration_ms: v["durationMs"]["triggerExecution"]
                .as_i64()
                .or_else(|| v["batchDuration"].as_i64()),
            sources,
        })
    }
}

/// Spark writes offsets as a JSON object, or as a string holding one.
fn offsets(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => {
            serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.clone()))
        }
        other => other.clone(),
    }
}

/// The state of one query.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct QueryStatus {
    /// Query name.
    pub name: String,
    /// Whether it runs now.
    pub active: bool,
    /// Query id (of the running query, else of the last one started).
    pub id: Option<String>,
    /// Run id.
    pub run_id: Option<String>,
    /// Spark's status message, e.g. "Waiting for data to arrive".
    pub message: Option<String>,
    /// Whether a trigger is executing now.
    pub trigger_active: bool,
    /// Last progress report; `None` when no batch has finished yet.
    pub last_progress: Option<Progress>,
    /// The exception that stopped it, when it failed.
    pub exception: Option<String>,
    /// Ended, yet still listed as active by the server (its thread is stuck in cleanup): it
    /// blocks a restart until the Spark Connect server restarts.
    pub held_after_end: bool,
}

/// The state of the query `name`: `active` is how the server lists it (`None`: not
/// running); for a query that is not running, `last_known` (from the job's last start) lets
/// the server say why its last run ended.
pub async fn query_status(
    rpc: &mut Rpc,
    name: &str,
    active: Option<&ActiveQuery>,
    last_known: Option<&QueryInfo>,
) -> Result<QueryStatus, SparkError> {
    let Some(q) = active else {
        // Not running: the server keeps a stopped query of this session for a while, so
        // ask it why the last run ended.
        let mut exception = None;
        if let Some(known) = last_known {
            let id = spark::StreamingQueryInstanceId {
                id: known.id.clone(),
                run_id: known.run_id.clone(),
            };
            exception = rpc.exception(&id).await.unwrap_or(None);
        }
        return Ok(QueryStatus {
            name: name.to_owned(),
            active: false,
            id: last_known.map(|k| k.id.clone()),
            run_id: last_known.map(|k| k.run_id.clone()),
            message: None,
            trigger_active: false,
            last_progress: None,
            exception,
            held_after_end: false,
        });
    };
    let status = rpc.status(&q.id).await?;
    let last_progress = match rpc.last_progress(&q.id).await? {
        Some(json) => {
            tracing::debug!(name, progress = %json, "last progress");
            Some(Progress::from_json(&json)?)
        }
        None => None,
    };
    let exception = if status.is_active {
        None
    } else {
        rpc.exception(&q.id).await?
    };
    // Listed among the active queries but not active: it ended and its thread never
    // finished cleaning up. Spark's own status message is stale then; leave it out.
    let held_after_end = !status.is_active;
    Ok(QueryStatus {
        name: name.to_owned(),
        active: status.is_active,
        id: Some(q.id.id.clone()),
        run_id: Some(q.id.run_id.clone()),
        message: (!held_after_end).then_some(status.status_message),
        trigger_active: status.is_trigger_active && !held_after_end,
        last_progress,
        exception,
        held_after_end,
    })
}

/// The job's queries as the server reports them, and the supervisor's last events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobQueries {
    /// Spark Connect session of the job.
    pub session_id: String,
    /// The users query, then the rejected-records query.
    pub queries: Vec<QueryStatus>,
    /// The supervisor's last events (`stream run`, `stream ensure`), oldest first.
    pub recent_events: Vec<JournalEntry>,
}

/// Events of the journal [`status`] returns.
const RECENT_EVENTS: usize = 5;

/// The job's queries: active or not, ids, last progress (or that no batch finished yet) and,
/// for a stopped query, the exception that stopped it; with the journal's last events.
/// Touches the Connect session.
pub async fn status(job: &SparkJob) -> Result<JobQueries, SparkError> {
    let mut rpc = Rpc::connect(job).await?;
    let active = rpc.active().await?;
    let known = job.last_started();
    let mut queries = Vec::new();
    for (name, last) in [
        (job.query_name.clone(), known.as_ref().map(|k| &k.users)),
        (
            job.rejected_query_name(),
            known.as_ref().map(|k| &k.rejected),
        ),
    ] {
        let q = active
            .iter()
            .find(|q| q.name.as_deref() == Some(name.as_str()));
        queries.push(query_status(&mut rpc, &name, q, last).await?);
    }
    Ok(JobQueries {
        session_id: job.session_id().to_string(),
        queries,
        recent_events: crate::Journal::of(job).recent(RECENT_EVENTS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_parses_spark_json() -> Result<(), SparkError> {
        let json = r#"{"id":"a","runId":"b","name":"userstream-users","timestamp":"2026-11-26T14:00:00.000Z",
          "batchId":3,"numInputRows":500,"inputRowsPerSecond":250.0,"processedRowsPerSecond":900.5,
          "durationMs":{"triggerExecution":555,"addBatch":400},
          "sources":[{"description":"KafkaV2[Subscribe[users]]","startOffset":{"users":{"0":0}},
          "endOffset":{"users":{"0":500}},"latestOffset":{"users":{"0":500}},"numInputRows":500}],
          "sink":{"description":"cassandra"}}"#;
        let p = Progress::from_json(json)?;
        assert_eq!(p.batch_id, 3);
        assert_eq!(p.num_input_rows, 500);
        assert_eq!(p.processed_rows_per_second, Some(900.5));
        assert_eq!(p.batch_duration_ms, Some(555));
        assert_eq!(p.sources[0].end_offset["users"]["0"], 500);
        Ok(())
    }

    #[test]
    fn progress_sums_sources_when_connect_leaves_the_totals_out() -> Result<(), SparkError> {
        // As a 3.5 Connect server sends it: totals only per source, offsets as strings.
        let json = r#"{"batchId":1,"batchDuration":1998,"durationMs":{"triggerExecution":1998},
          "sources":[{"description":"KafkaV2","startOffset":"{\"t\":{\"0\":990}}",
          "endOffset":"{\"t\":{\"0\":1977}}","latestOffset":"{\"t\":{\"0\":1977}}",
          "numInputRows":2000,"inputRowsPerSecond":4000.0,"processedRowsPerSecond":1001.0}]}"#;
        let p = Progress::from_json(json)?;
        assert_eq!(p.num_input_rows, 2000);
        assert_eq!(p.input_rows_per_second, Some(4000.0));
        assert_eq!(p.processed_rows_per_second, Some(1001.0));
        assert_eq!(p.sources[0].end_offset["t"]["0"], 1977);
        Ok(())
    }
}
