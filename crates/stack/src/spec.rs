//! What the stack knows about one process: how to run it, what to do before and after it
//! starts, and how to tell it is healthy. Each engine builds its own (see `engines`).

use std::path::{Path, PathBuf};

use userstream_endpoints::credentials::Login;
use userstream_endpoints::KafkaAccess;

/// How to tell that a service answers its real protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// A Kafka metadata request (rdkafka) succeeds.
    Kafka {
        /// Bootstrap servers and the login (the reader: the least-privileged user).
        bootstrap: KafkaAccess,
    },
    /// `GET /subjects` on the Confluent-compatible API answers a JSON list.
    Registry {
        /// Base URL of the Confluent API.
        url: String,
        /// Readiness on the management port (`/health/ready`).
        ready_url: String,
        /// The read-only user the check logs in as.
        login: Login,
    },
    /// `SELECT release_version FROM system.local` (scylla driver), logged in as the stack's
    /// application role; the admin role only when that is refused, and on a new node the
    /// roles are set up first (see [`crate::engines::cassandra::cassandra_release_version`]).
    Cassandra {
        /// Contact point.
        contact_point: String,
        /// The stack's Cassandra roles.
        logins: userstream_endpoints::credentials::CassandraLogins,
    },
    /// The master's JSON status says ALIVE.
    SparkMaster {
        /// Master web UI URL.
        ui_url: String,
        /// The console token the UI's login filter asks for.
        token: String,
    },
    /// The master lists at least one ALIVE worker.
    SparkWorker {
        /// Master web UI URL.
        master_ui_url: String,
        /// The console token the UI's login filter asks for.
        token: String,
    },
    /// `SELECT 1` through Spark Connect (spark-connect-rs).
    SparkConnect {
        /// `sc://` URL.
        url: String,
        /// The token the server requires.
        token: String,
    },
    /// Airflow's `/api/v2/monitor/health`: `component` reports healthy.
    Airflow {
        /// Airflow base URL.
        url: String,
        /// `metadatabase`, `scheduler`, `dag_processor` or `triggerer`.
        component: &'static str,
    },
}

impl Health {
    /// True when the check itself finishes setting the engine up (Cassandra's creates the
    /// application role on a new node), so it must run once after every start.
    pub fn sets_up(&self) -> bool {
        matches!(self, Health::Cassandra { .. })
    }
}

/// Something to run once before a service starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreStart {
    /// What the step does, for progress output.
    pub description: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Skip the step when this file exists (e.g. storage already formatted).
    pub unless_exists: Option<PathBuf>,
    /// Create this file when the step succeeds (a marker for `unless_exists`).
    pub marks_done: Option<PathBuf>,
}

/// One process of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Service name (used for the log and pid files).
    pub name: &'static str,
    /// The engine this process belongs to, for grouping in status output.
    pub engine: &'static str,
    /// Services that must be healthy before this one starts.
    pub depends_on: Vec<&'static str>,
    /// The program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Ports it listens on (checked free before start, shown by status).
    pub ports: Vec<u16>,
    /// Steps to run before starting, in order.
    pub pre_start: Vec<PreStart>,
    /// Steps to run once it is healthy, before its dependents start (Kafka's ACLs).
    pub after_healthy: Vec<PreStart>,
    /// How to tell it is up.
    pub health: Health,
    /// Configuration files to write before starting: (path, content).
    pub files: Vec<(PathBuf, String)>,
}

impl ServiceSpec {
    /// True when the service has work to do once it is healthy: steps (`after_healthy`) or a
    /// health check that sets it up. `stack up` does that after the service's health gate;
    /// under `stack run`, whoever runs the service starts `stack after-start <service>` for it.
    pub fn needs_after_start(&self) -> bool {
        !self.after_healthy.is_empty() || self.health.sets_up()
    }
}

/// Java installations the stack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Javas {
    /// Java 17 home for Kafka, Cassandra and Spark.
    pub java17: PathBuf,
    /// Java 21+ home for the registry.
    pub java21: PathBuf,
}

pub(crate) fn java_bin(home: &Path) -> PathBuf {
    home.join("bin/java")
}

pub(crate) fn java_env(home: &Path) -> Vec<(String, String)> {
    let path = std::env::var("PATH").unwrap_or_default();
    vec![
        ("JAVA_HOME".into(), home.display().to_string()),
        (
            "PATH".into(),
            format!("{}:{path}", home.join("bin").display()),
        ),
    ]
}

pub(crate) fn classpath(dir: &Path) -> String {
    format!("{}/*", dir.display())
}
