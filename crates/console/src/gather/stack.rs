use std::time::Duration;

use url::Url;
use userstream_stack::StackConfig;

use crate::model::{ServiceRow, SourceView};

/// `stack status`: every service's pid, health, uptime and memory.
pub async fn stack(config: &StackConfig) -> Result<Vec<ServiceRow>, String> {
    let rows = userstream_stack::status(config)
        .await
        .map_err(|e| format!("stack status: {}", userstream_endpoints::error_chain(&e)))?;
    Ok(rows
        .into_iter()
        .map(|row| ServiceRow {
            healthy: row.healthy(),
            service: row.service.to_owned(),
            engine: row.engine.to_owned(),
            pid: row.pid,
            ports: row.ports,
            detail: match row.health {
                Ok(detail) => detail,
                Err(error) => error,
            },
            uptime_seconds: row.uptime_seconds,
            rss_bytes: row.rss_bytes,
            log: row.log.display().to_string(),
        })
        .collect())
}

/// Asks the users API for one user. Never fails: an API that does not answer is reported
/// as unreachable (the producer may be reading another source).
pub async fn source(http: &reqwest::Client, url: &Url, timeout: Duration) -> SourceView {
    let mut probe = url.clone();
    probe
        .query_pairs_mut()
        .append_pair("results", "1")
        .append_pair("inc", "login");
    let outcome = async {
        let response = http
            .get(probe)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| format!("not answering: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered HTTP {status}"));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("answered something that is not JSON: {e}"))?;
        let version = body["info"]["version"].as_str().unwrap_or("?").to_owned();
        Ok(format!("answering (API version {version})"))
    }
    .await;
    SourceView {
        url: url.to_string(),
        reachable: outcome.is_ok(),
        detail: outcome.unwrap_or_else(|e| e),
    }
}
