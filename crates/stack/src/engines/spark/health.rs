//! Spark's health: the master's JSON status (ALIVE, and its ALIVE workers) through the UIs'
//! login filter, and `SELECT 1` through Spark Connect (gRPC, spark-connect-rs) with the token.

use std::path::Path;
use std::time::Duration;

use spark_connect_rs::SparkSessionBuilder;
use userstream_endpoints::listener;

use crate::probe::get_json_as;

/// The session every Spark Connect health check uses. A Spark 3.5 Connect server keeps at most
/// 100 sessions and evicts the least recently used one, with its streaming queries: a new
/// session per `stack status` would push the job's out.
const HEALTH_SESSION_ID: &str = "00000000-0000-4000-8000-00000000c4ec";

/// Healthy when the master at `ui_url` says it is ALIVE.
pub async fn master(
    http: &reqwest::Client,
    ui_url: &str,
    token: &str,
    run_dir: &Path,
) -> Result<String, String> {
    listener::check_url(ui_url, run_dir).map_err(|e| e.to_string())?;
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

/// Healthy when the master at `master_ui_url` lists at least one ALIVE worker.
pub async fn worker(
    http: &reqwest::Client,
    master_ui_url: &str,
    token: &str,
    run_dir: &Path,
) -> Result<String, String> {
    listener::check_url(master_ui_url, run_dir).map_err(|e| e.to_string())?;
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

/// Healthy when the Connect server at `url` answers `SELECT 1` within 20 s.
pub async fn connect(url: &str, token: &str, run_dir: &Path) -> Result<String, String> {
    listener::check_url(url, run_dir).map_err(|e| e.to_string())?;
    tokio::time::timeout(
        Duration::from_secs(20),
        spark_connect_select_one(url, Some(token)),
    )
    .await
    .map_err(|_| "SELECT 1 took more than 20s".to_owned())??;
    Ok("SELECT 1 answered".into())
}

/// Runs `SELECT 1` through the Spark Connect server at `url` (`sc://host:port`): the server
/// accepted a session, planned a query and returned its one row.
///
/// With a `token`, every call carries it (`authorization: Bearer`), as the stack's server
/// requires. Messages name the URL without the token.
pub async fn spark_connect_select_one(url: &str, token: Option<&str>) -> Result<(), String> {
    let shown = url.trim_end_matches('/').to_owned();
    let mut full = format!("{shown}/;user_id=userstream-health;session_id={HEALTH_SESSION_ID}");
    if let Some(token) = token {
        full.push_str(&format!(";token={token}"));
    }
    // spark-connect-rs panics on a URL it cannot parse: check it first.
    spark_connect_rs::client::ChannelBuilder::create(&full)
        .map_err(|e| format!("Spark Connect URL `{shown}`: {e}"))?;
    let spark = SparkSessionBuilder::remote(&full)
        .app_name("userstream-health")
        .build()
        .await
        .map_err(|e| format!("Spark Connect session at {shown}: {e}"))?;
    let batch = spark
        .sql("SELECT 1 AS one")
        .await
        .map_err(|e| format!("SELECT 1: {e}"))?
        .collect()
        .await
        .map_err(|e| format!("SELECT 1: {e}"))?;
    match batch.num_rows() {
        1 => Ok(()),
        rows => Err(format!("SELECT 1 returned {rows} rows")),
    }
}
