//! Health checks: each asks the service over its real protocol.

use std::time::Duration;

use crate::services::Health;

/// Runs one health check. `Ok` carries a short detail for status output; `Err` says what failed.
pub async fn check(health: &Health, http: &reqwest::Client) -> Result<String, String> {
    match health {
        Health::Kafka { bootstrap } => {
            port_open(bootstrap).await?;
            let summary = userstream_kafka::fetch_metadata(bootstrap, Duration::from_secs(3))
                .await
                .map_err(|e| e.to_string())?;
            if summary.brokers == 0 {
                return Err("metadata lists no broker yet".into());
            }
            Ok(format!(
                "{} broker, {} topics",
                summary.brokers, summary.topics
            ))
        }
        Health::Registry { url } => {
            let subjects: Vec<String> = get_json(http, &format!("{url}/subjects")).await?;
            Ok(format!("{} subjects", subjects.len()))
        }
        Health::Cassandra { contact_point } => {
            // Probe the port first: the driver logs every refused connection as an error.
            port_open(contact_point).await?;
            let session = userstream_store::connect(contact_point, Duration::from_secs(3))
                .await
                .map_err(|e| e.to_string())?;
            let version = userstream_store::release_version(&session)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("Cassandra {version}"))
        }
        Health::SparkMaster { ui_url } => {
            let status: serde_json::Value = get_json(http, &format!("{ui_url}/json/")).await?;
            match status["status"].as_str() {
                Some("ALIVE") => Ok(format!(
                    "{} alive workers",
                    status["aliveworkers"].as_u64().unwrap_or(0)
                )),
                other => Err(format!("master status is {other:?}")),
            }
        }
        Health::SparkWorker { master_ui_url } => {
            let status: serde_json::Value =
                get_json(http, &format!("{master_ui_url}/json/")).await?;
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
        Health::SparkConnect { url } => {
            tokio::time::timeout(Duration::from_secs(20), userstream_stream::ping(url))
                .await
                .map_err(|_| "SELECT 1 took more than 20s".to_owned())?
                .map_err(|e| e.to_string())?;
            Ok("SELECT 1 answered".into())
        }
        Health::Airflow { url, component } => {
            let health: serde_json::Value =
                get_json(http, &format!("{url}/api/v2/monitor/health")).await?;
            match health[*component]["status"].as_str() {
                Some("healthy") => Ok(format!("{component} healthy")),
                Some(other) => Err(format!("{component} is {other}")),
                None => Err(format!("{component} has not reported yet")),
            }
        }
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
    let response = http
        .get(url)
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
