//! Airflow's health: one component of `/api/v2/monitor/health`, with a grace for a busy loop.

use crate::probe::get_json;

/// Healthy when Airflow at `url` reports `component` healthy (see [`judge_airflow_component`]).
pub async fn check(http: &reqwest::Client, url: &str, component: &str) -> Result<String, String> {
    let health: serde_json::Value = get_json(http, &format!("{url}/api/v2/monitor/health")).await?;
    judge_airflow_component(&health, component, chrono::Utc::now())
}

/// How old an Airflow component's heartbeat may be before we call it down.
///
/// Airflow calls the DAG processor unhealthy once its heartbeat is 10.5 s old (2.1 × the 5 s
/// `job_heartbeat_sec`), and its parsing loop heartbeats only between rounds of work: on a
/// loaded 2-core machine (Cassandra booting, a release build) one round can take longer, so the
/// status flapped to "unhealthy" for a few seconds while the process was fine. The scheduler and
/// triggerer get 30 s from Airflow; a minute is still quick to notice a hung component.
pub const AIRFLOW_HEARTBEAT_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Reads one component out of Airflow's `/api/v2/monitor/health` answer.
///
/// Healthy when Airflow says so, or when Airflow says unhealthy but the component's own
/// heartbeat (`latest_<component>_heartbeat`) is younger than [`AIRFLOW_HEARTBEAT_GRACE`]:
/// a slow loop, not a dead process. The detail says which it was.
pub fn judge_airflow_component(
    health: &serde_json::Value,
    component: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    let entry = &health[component];
    let status = entry["status"].as_str();
    if status == Some("healthy") {
        return Ok(format!("{component} healthy"));
    }
    let heartbeat_age = entry[format!("latest_{component}_heartbeat")]
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|beat| now.signed_duration_since(beat));
    match (status, heartbeat_age) {
        (None, _) => Err(format!("{component} has not reported yet")),
        (Some(_), Some(age)) if age < AIRFLOW_HEARTBEAT_GRACE => Ok(format!(
            "{component} heartbeat {}s ago (busy; Airflow's own threshold is shorter)",
            age.num_seconds().max(0)
        )),
        (Some(other), Some(age)) => Err(format!(
            "{component} is {other}: last heartbeat {}s ago; see its log",
            age.num_seconds()
        )),
        (Some(other), None) => Err(format!("{component} is {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2026-11-26T20:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_healthy_component_is_healthy() {
        let health = json!({"scheduler": {"status": "healthy",
            "latest_scheduler_heartbeat": "2026-11-26T19:59:59.5+00:00"}});
        assert_eq!(
            judge_airflow_component(&health, "scheduler", now()),
            Ok("scheduler healthy".to_owned())
        );
    }

    #[test]
    fn a_recent_heartbeat_outweighs_airflows_short_threshold() {
        let health = json!({"dag_processor": {"status": "unhealthy",
            "latest_dag_processor_heartbeat": "2026-11-26T19:59:45.123456+00:00"}});
        let detail = judge_airflow_component(&health, "dag_processor", now()).unwrap();
        assert!(detail.contains("heartbeat 14s ago"), "{detail}");
    }

    #[test]
    fn an_old_heartbeat_is_down_and_says_how_old() {
        let health = json!({"dag_processor": {"status": "unhealthy",
            "latest_dag_processor_heartbeat": "2026-11-26T19:58:00+00:00"}});
        let error = judge_airflow_component(&health, "dag_processor", now()).unwrap_err();
        assert!(error.contains("unhealthy"), "{error}");
        assert!(error.contains("120s ago"), "{error}");
    }

    #[test]
    fn unhealthy_without_a_heartbeat_and_missing_components_are_down() {
        let health = json!({"triggerer": {"status": "unhealthy", "latest_triggerer_heartbeat": null},
            "metadatabase": {"status": "unhealthy"}});
        assert_eq!(
            judge_airflow_component(&health, "triggerer", now()),
            Err("triggerer is unhealthy".to_owned())
        );
        assert_eq!(
            judge_airflow_component(&health, "metadatabase", now()),
            Err("metadatabase is unhealthy".to_owned())
        );
        assert_eq!(
            judge_airflow_component(&health, "dag_processor", now()),
            Err("dag_processor has not reported yet".to_owned())
        );
    }
}
