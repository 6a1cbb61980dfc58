//! Health checks: each asks the service over its real protocol.

use std::path::Path;
use std::time::Duration;

use userstream_endpoints::listener;

use crate::probe;
use crate::services::Health;

/// Runs one health check. `Ok` carries a short detail for status output; `Err` says what failed.
///
/// A check that logs in first makes sure the port is held by the engine this stack started
/// (pid files in `run_dir`): while an engine is down anyone on the machine may bind its port.
pub async fn check(
    health: &Health,
    http: &reqwest::Client,
    run_dir: &Path,
) -> Result<String, String> {
    let guard_url = |url: &str| listener::check_url(url, run_dir).map_err(|e| e.to_string());
    let guard_address =
        |address: &str| listener::check_address(address, run_dir).map_err(|e| e.to_string());
    match health {
        Health::Kafka { bootstrap } => {
            port_open(&bootstrap.bootstrap).await?;
            // SCRAM never sends the password itself, but the proof still should not go to an
            // impostor.
            for server in bootstrap.bootstrap.split(',') {
                guard_address(server)?;
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
        Health::Registry {
            url,
            ready_url,
            login,
        } => {
            // The API answers while the registry still replays its Kafka journal, with the
            // subjects read so far; readiness waits for the replay (its storage check).
            let ready: serde_json::Value = get_json(http, ready_url).await?;
            if ready["status"] != "UP" {
                return Err(format!("{ready_url}: {ready}"));
            }
            guard_url(url.as_str())?;
            let response = http
                .get(format!("{url}/subjects"))
                .basic_auth(&login.username, Some(&login.password))
                .send()
                .await
                .map_err(|e| format!("{url}/subjects: {e}"))?;
            if !response.status().is_success() {
                return Err(format!(
                    "{url}/subjects as {login}: HTTP {} (the registry must accept the stack's users)",
                    response.status()
                ));
            }
            let subjects: Vec<String> = response
                .json()
                .await
                .map_err(|e| format!("{url}/subjects: {e}"))?;
            Ok(format!("{} subjects", subjects.len()))
        }
        Health::Cassandra {
            contact_point,
            logins,
        } => {
            // Probe the port first: the driver logs every refused connection as an error.
            port_open(contact_point).await?;
            let version = probe::cassandra_release_version(
                contact_point,
                logins,
                Duration::from_secs(3),
                run_dir,
            )
            .await?;
            Ok(format!("Cassandra {version}"))
        }
        Health::SparkMaster { ui_url, token } => {
            guard_url(ui_url)?;
            let status: serde_json::Value =
                get_json_as(http, &format!("{ui_url}/json/"), Some(token)).await?;
            match status["status"].as_str() {
                Some("ALIVE") => Ok(format!(
                    "{} alive workers",
                    status["aliveworkers"].as_u64().unwrap_or(0)
                )),
                other => Err(format!("master status is {other:?}")),
            }
        }
        Health::SparkWorker {
            master_ui_url,
            token,
        } => {
            guard_url(master_ui_url)?;
            let status: serde_json::Value =
                get_json_as(http, &format!("{master_ui_url}/json/"), Some(token)).await?;
            let alive = status["workers"]
                .as_array()
                .map(|w| w.iter().filter(|w| w["state"] == "ALIVE").count())
                .unwrap_or(0);
            if alive == 0 {
                return Err("the master lists no ALIVE worker".into());
            }
            Ok(format!(
                "{alive} alive, {} cores",
                status["cores"].as_u64().unwrap_or(0)
            ))
        }
        Health::SparkConnect { url, token } => {
            guard_url(url)?;
            tokio::time::timeout(
                Duration::from_secs(20),
                probe::spark_connect_select_one(url, Some(token)),
            )
            .await
            .map_err(|_| "SELECT 1 took more than 20s".to_owned())??;
            Ok("SELECT 1 answered".into())
        }
        Health::Airflow { url, component } => {
            let health: serde_json::Value =
                get_json(http, &format!("{url}/api/v2/monitor/health")).await?;
            judge_airflow_component(&health, component, chrono::Utc::now())
        }
    }
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

async fn port_open(address: &str) -> Result<(), String> {
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{address}: {e}")),
        Err(_) => Err(format!("{address}: no answer within 2s")),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, String> {
    get_json_as(http, url, None).await
}

/// GET `url` as JSON, with `Authorization: Bearer <token>` when one is given.
async fn get_json_as<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<T, String> {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", root_cause(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    response
        .json()
        .await
        .map_err(|e| format!("GET {url}: unexpected body: {e}"))
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
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
