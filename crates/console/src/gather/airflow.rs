use std::time::Duration;

use serde_json::Value;

use crate::model::{AirflowView, DagRunView, DagView};

/// The tag every pipeline DAG carries.
pub const PIPELINE_TAG: &str = "userstream";

/// Airflow's REST API with the stack's admin account: the stack's one client
/// ([`userstream_stack::AirflowApi`]), which reads the password from the secrets file
/// `stack up` generates and keeps the token until Airflow refuses it.
pub struct AirflowClient {
    api: userstream_stack::AirflowApi,
}

impl AirflowClient {
    /// A client for the Airflow at `base_url` of the stack laid out as `layout`, logging in
    /// with the admin password in its secrets file.
    pub fn new(http: reqwest::Client, base_url: String, layout: &userstream_stack::Layout) -> Self {
        Self {
            // Each call below passes its own time limit; this default is not used here.
            api: userstream_stack::AirflowApi::with_client(
                http,
                base_url,
                layout,
                Duration::from_secs(10),
            ),
        }
    }

    async fn get(&mut self, path: &str, timeout: Duration) -> Result<Value, String> {
        self.api.get(path, timeout).await.map_err(|e| e.to_string())
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// The DAG list of an Airflow `/api/v2/dags` answer.
pub fn parse_dags(body: &Value) -> Vec<DagView> {
    let mut dags: Vec<DagView> = body["dags"]
        .as_array()
        .map(|dags| {
            dags.iter()
                .map(|d| DagView {
                    dag_id: d["dag_id"].as_str().unwrap_or_default().to_owned(),
                    is_paused: d["is_paused"].as_bool().unwrap_or(false),
                    schedule: text(&d["timetable_description"]),
                    next_run: text(&d["next_dagrun_run_after"])
                        .or_else(|| text(&d["next_dagrun_logical_date"])),
                    runs: Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    dags.sort_by(|a, b| a.dag_id.cmp(&b.dag_id));
    dags
}

/// The runs of an Airflow `dagRuns` answer.
pub fn parse_runs(body: &Value) -> Vec<DagRunView> {
    body["dag_runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|r| DagRunView {
                    run_id: r["dag_run_id"].as_str().unwrap_or_default().to_owned(),
                    state: r["state"].as_str().unwrap_or("unknown").to_owned(),
                    logical_date: text(&r["logical_date"]),
                    start_date: text(&r["start_date"]),
                    end_date: text(&r["end_date"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The pipeline's DAGs and their newest runs.
pub async fn airflow(
    client: &mut AirflowClient,
    runs_per_dag: usize,
    timeout: Duration,
) -> Result<AirflowView, String> {
    let body = client
        .get(
            &format!("/api/v2/dags?tags={PIPELINE_TAG}&limit=100"),
            timeout,
        )
        .await?;
    let mut dags = parse_dags(&body);
    for dag in &mut dags {
        let runs = client
            .get(
                &format!(
                    "/api/v2/dags/{}/dagRuns?order_by=-start_date&limit={runs_per_dag}",
                    dag.dag_id
                ),
                timeout,
            )
            .await?;
        dag.runs = parse_runs(&runs);
    }
    Ok(AirflowView { dags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dags_and_runs_parse_from_airflow_3_answers() {
        let dags = parse_dags(&serde_json::json!({"dags": [
            {"dag_id": "users_stream", "is_paused": false, "timetable_description": "Every 2 minutes",
             "next_dagrun_run_after": "2026-11-26T10:02:00Z"},
            {"dag_id": "users_ingest", "is_paused": true, "timetable_description": null}
        ], "total_entries": 2}));
        assert_eq!(dags[0].dag_id, "users_ingest");
        assert!(dags[0].is_paused);
        assert_eq!(dags[1].schedule.as_deref(), Some("Every 2 minutes"));
        assert_eq!(dags[1].next_run.as_deref(), Some("2026-11-26T10:02:00Z"));
        let runs = parse_runs(&serde_json::json!({"dag_runs": [
            {"dag_run_id": "manual__1", "state": "success", "logical_date": null,
             "start_date": "2026-11-26T10:00:00Z", "end_date": "2026-11-26T10:00:09Z"}
        ]}));
        assert_eq!(runs[0].state, "success");
        assert_eq!(runs[0].logical_date, None);
        assert!(parse_runs(&serde_json::json!({"detail": "nope"})).is_empty());
    }
}
