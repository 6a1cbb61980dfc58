//! The registry's health: ready on its management port, then `GET /subjects` on the Confluent
//! API as the read-only user.

use std::path::Path;

use userstream_endpoints::credentials::Login;
use userstream_endpoints::listener;

use crate::probe::get_json;

/// Healthy when the registry is ready and lists its subjects to `login`.
pub async fn check(
    http: &reqwest::Client,
    url: &str,
    ready_url: &str,
    login: &Login,
    run_dir: &Path,
) -> Result<String, String> {
    // The API answers while the registry still replays its Kafka journal, with the
    // subjects read so far; readiness waits for the replay (its storage check).
    let ready: serde_json::Value = get_json(http, ready_url).await?;
    if ready["status"] != "UP" {
        return Err(format!("{ready_url}: {ready}"));
    }
    listener::check_url(url, run_dir).map_err(|e| e.to_string())?;
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
