//! Airflow's environment (`AIRFLOW__SECTION__KEY`), shared by its components. Pure, unit-tested
//! below.

use std::path::Path;

use crate::secrets::AirflowSecrets;
use crate::{Layout, StackConfig};

/// Environment for every Airflow process (`AIRFLOW__SECTION__KEY`).
pub fn airflow_env(
    config: &StackConfig,
    layout: &Layout,
    secrets: &AirflowSecrets,
    userstream_bin: &Path,
) -> Vec<(String, String)> {
    let home = layout.airflow_home();
    let api = config.endpoints().airflow_url;
    let pairs: Vec<(&str, String)> = vec![
        ("AIRFLOW_HOME", home.display().to_string()),
        (
            "AIRFLOW__CORE__DAGS_FOLDER",
            layout.dags().display().to_string(),
        ),
        ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".into()),
        ("AIRFLOW__CORE__EXECUTOR", "LocalExecutor".into()),
        // Each LocalExecutor slot is a forked Python process; 2 cores need few.
        ("AIRFLOW__CORE__PARALLELISM", "4".into()),
        (
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("sqlite:///{}", home.join("airflow.db").display()),
        ),
        ("AIRFLOW__API__HOST", "127.0.0.1".into()),
        ("AIRFLOW__API__PORT", config.ports.airflow.to_string()),
        ("AIRFLOW__API__WORKERS", "1".into()),
        ("AIRFLOW__API__BASE_URL", api.clone()),
        (
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
            format!("{api}/execution/"),
        ),
        ("AIRFLOW__API_AUTH__JWT_SECRET", secrets.jwt_secret.clone()),
        ("AIRFLOW__API__SECRET_KEY", secrets.secret_key.clone()),
        ("AIRFLOW__CORE__FERNET_KEY", secrets.fernet_key.clone()),
        (
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
            "admin:admin".into(),
        ),
        (
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
            layout.airflow_passwords().display().to_string(),
        ),
        (
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
            layout.logs().join("airflow-tasks").display().to_string(),
        ),
        // Task logs can hold people's fields (verify's mismatches): Airflow chmods them to
        // 0664/0775 by default, past the umask.
        (
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS",
            "0o600".into(),
        ),
        (
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS",
            "0o700".into(),
        ),
        // Pick up DAG file changes quickly on a development stack.
        ("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30".into()),
        // Each parse of a DAG file is a fresh Python process importing Airflow: every 30 s
        // (the default) that was the idle stack's largest CPU cost. New files are still seen
        // within `REFRESH_INTERVAL`; an edited one within this.
        (
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL",
            "120".into(),
        ),
        // The DAGs call this binary, with the same stack settings as the stack itself.
        ("USERSTREAM_BIN", userstream_bin.display().to_string()),
        ("USERSTREAM_STATE_DIR", layout.state().display().to_string()),
        (
            "USERSTREAM_RUNTIME_DIR",
            layout.runtime().display().to_string(),
        ),
    ];
    // Every port, so the DAGs' commands derive the same addresses as the stack's own clients.
    pairs
        .into_iter()
        .chain(config.ports.to_env())
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::engines::render_fixture as fixture;

    #[test]
    fn airflow_components_share_one_set_of_secrets() {
        let (config, layout) = fixture();
        let secrets = AirflowSecrets {
            jwt_secret: "j".into(),
            secret_key: "s".into(),
            fernet_key: "f".into(),
            admin_password: "p".into(),
        };
        let env = airflow_env(&config, &layout, &secrets, Path::new("/bin/us"));
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("AIRFLOW__API_AUTH__JWT_SECRET"), Some("j"));
        assert_eq!(get("AIRFLOW__API__HOST"), Some("127.0.0.1"));
        assert_eq!(get("AIRFLOW__CORE__DAGS_FOLDER"), Some("/repo/dags"));
        assert_eq!(
            get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
            Some("sqlite:////srv/us/data/airflow/airflow.db")
        );
        assert_eq!(
            get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL"),
            Some("http://127.0.0.1:8080/execution/")
        );
        // The admin password is never put into the environment.
        assert!(!env.iter().any(|(_, v)| v == "p"));
    }
}
