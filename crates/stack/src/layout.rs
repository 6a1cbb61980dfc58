//! Where everything lives on disk. One state directory holds data, logs and pid files.

use std::path::{Path, PathBuf};

/// Paths of the stack's files, all absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    state: PathBuf,
    runtime: PathBuf,
    dags: PathBuf,
}

impl Layout {
    /// A layout rooted at `state`, with runtimes under `runtime`.
    pub fn new(state: PathBuf, runtime: PathBuf, dags: PathBuf) -> Self {
        Self {
            state,
            runtime,
            dags,
        }
    }

    /// The state directory.
    pub fn state(&self) -> &Path {
        &self.state
    }
    /// Installed runtimes (jars, venvs).
    pub fn runtime(&self) -> &Path {
        &self.runtime
    }
    /// The Airflow DAG folder.
    pub fn dags(&self) -> &Path {
        &self.dags
    }
    /// One log file per service, all in one place.
    pub fn logs(&self) -> PathBuf {
        self.state.join("logs")
    }
    /// Log file of `service`.
    pub fn log_file(&self, service: &str) -> PathBuf {
        self.logs().join(format!("{service}.log"))
    }
    /// Pid files.
    pub fn run(&self) -> PathBuf {
        self.state.join("run")
    }
    /// Pid file of `service`.
    pub fn pid_file(&self, service: &str) -> PathBuf {
        self.run().join(format!("{service}.pid"))
    }
    /// Rendered configuration files of `service`.
    pub fn conf(&self, service: &str) -> PathBuf {
        self.conf_root().join(service)
    }
    /// Root of all rendered configuration files.
    pub fn conf_root(&self) -> PathBuf {
        self.state.join("conf")
    }
    /// Data directory of `service` (kept by `down`, removed by `down --purge`).
    pub fn data(&self, service: &str) -> PathBuf {
        self.state.join("data").join(service)
    }
    /// Where the Spark master keeps its applications and workers (FILESYSTEM recovery
    /// mode), so a restarted master takes them back instead of orphaning them.
    pub fn spark_master_recovery(&self) -> PathBuf {
        self.data("spark-master").join("recovery")
    }
    /// Root of all service data.
    pub fn data_root(&self) -> PathBuf {
        self.state.join("data")
    }
    /// Kafka broker jars.
    pub fn kafka_lib(&self) -> PathBuf {
        self.runtime.join("kafka/lib")
    }
    /// Cassandra jars.
    pub fn cassandra_lib(&self) -> PathBuf {
        self.runtime.join("cassandra/lib")
    }
    /// The unpacked Apicurio Registry application (holds `quarkus-run.jar`).
    pub fn registry_app(&self) -> PathBuf {
        self.runtime.join("registry/app")
    }
    /// Python venv holding pyspark (a full Spark distribution).
    pub fn spark_venv(&self) -> PathBuf {
        self.runtime.join("spark/venv")
    }
    /// Connector jars for the Spark Connect server (those pyspark does not already ship).
    pub fn spark_jars(&self) -> PathBuf {
        self.runtime.join("spark/jars")
    }
    /// Python venv holding Airflow.
    pub fn airflow_venv(&self) -> PathBuf {
        self.runtime.join("airflow/venv")
    }
    /// Airflow's home (database, generated config, passwords).
    pub fn airflow_home(&self) -> PathBuf {
        self.data("airflow")
    }
    /// The generated Airflow admin password file (JSON `{"admin": "..."}`).
    pub fn airflow_passwords(&self) -> PathBuf {
        self.airflow_home()
            .join("simple_auth_manager_passwords.json")
    }
    /// Generated Airflow secrets shared by all Airflow components.
    pub fn airflow_secrets(&self) -> PathBuf {
        self.airflow_home().join("secrets.json")
    }
    /// Where the Spark distribution inside the pyspark venv lives (SPARK_HOME).
    pub fn spark_home(&self) -> Option<PathBuf> {
        let lib = self.spark_venv().join("lib");
        let entries = std::fs::read_dir(&lib).ok()?;
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/pyspark"))
            .find(|p| p.join("bin/spark-class").exists())
    }
}
