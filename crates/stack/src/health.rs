//! Health checks: each asks the service over its real protocol. The checks themselves are the
//! engines' (`engines::<engine>::health`); here is the dispatch and what they share.

use std::path::Path;

use crate::engines::{airflow, cassandra, kafka, registry, spark};
use crate::spec::Health;

/// Runs one health check. `Ok` carries a short detail for status output; `Err` says what failed.
///
/// A check that logs in first makes sure the port is held by the engine this stack started
/// (pid files in `run_dir`): while an engine is down anyone on the machine may bind its port.
pub async fn check(
    health: &Health,
    http: &reqwest::Client,
    run_dir: &Path,
) -> Result<String, String> {
    match health {
        Health::Kafka { bootstrap } => kafka::health::check(bootstrap, run_dir).await,
        Health::Registry {
            url,
            ready_url,
            login,
        } => registry::health::check(http, url, ready_url, login, run_dir).await,
        Health::Cassandra {
            contact_point,
            logins,
        } => cassandra::health::check(contact_point, logins, run_dir).await,
        Health::SparkMaster { ui_url, token } => {
            spark::health::master(http, ui_url, token, run_dir).await
        }
        Health::SparkWorker {
            master_ui_url,
            token,
        } => spark::health::worker(http, master_ui_url, token, run_dir).await,
        Health::SparkConnect { url, token } => spark::health::connect(url, token, run_dir).await,
        Health::Airflow { url, component } => airflow::health::check(http, url, component).await,
    }
}
