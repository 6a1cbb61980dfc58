//! The stack's configuration: embedded defaults, overridden by environment variables and flags.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A memory size, stored in mebibytes, written like the JVM's `-Xmx` (`512m`, `2g`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemSize {
    mebibytes: u64,
}

impl MemSize {
    /// A size of `mebibytes` MiB.
    pub const fn mib(mebibytes: u64) -> Self {
        Self { mebibytes }
    }

    /// The size in MiB.
    pub fn as_mib(self) -> u64 {
        self.mebibytes
    }
}

impl FromStr for MemSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (digits, factor) = match lower.chars().last() {
            Some('g') => (&lower[..lower.len() - 1], 1024),
            Some('m') => (&lower[..lower.len() - 1], 1),
            _ => {
                return Err(format!(
                    "memory size `{s}` needs a unit: m (MiB) or g (GiB), e.g. 512m or 2g"
                ))
            }
        };
        let value: u64 = digits
            .parse()
            .map_err(|_| format!("memory size `{s}` is not a whole number followed by m or g"))?;
        if value == 0 {
            return Err(format!("memory size `{s}` must be above zero"));
        }
        Ok(Self::mib(value * factor))
    }
}

impl fmt::Display for MemSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mebibytes.is_multiple_of(1024) {
            write!(f, "{}g", self.mebibytes / 1024)
        } else {
            write!(f, "{}m", self.mebibytes)
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration like 90s or 3m: {e}"))
}

/// Where the stack keeps its state and which ports and memory its services use.
///
/// Every field is a flag and an environment variable; defaults bind everything to 127.0.0.1
/// and size the JVMs so the whole stack fits in about 12 GiB.
#[derive(Debug, Clone, clap::Args)]
pub struct StackConfig {
    /// State directory: service data, logs, pid files and (by default) the installed runtimes.
    #[arg(
        long,
        env = "USERSTREAM_STATE_DIR",
        default_value = ".userstream",
        global = true
    )]
    pub state_dir: PathBuf,

    /// Where `stack install` puts downloaded runtimes (jars, Python venvs). Defaults to
    /// `<state-dir>/runtime`; point it at a cache to share runtimes between clones.
    #[arg(long, env = "USERSTREAM_RUNTIME_DIR", global = true)]
    pub runtime_dir: Option<PathBuf>,

    /// The Airflow DAG folder (the repository's `dags/`).
    #[arg(
        long,
        env = "USERSTREAM_DAGS_DIR",
        default_value = "dags",
        global = true
    )]
    pub dags_dir: PathBuf,

    /// Java 17 home for Kafka, Cassandra and Spark. Defaults to `JAVA_HOME`, then `java` on PATH.
    #[arg(long, env = "USERSTREAM_JAVA_HOME", global = true)]
    pub java_home: Option<PathBuf>,

    /// Java 21+ home for the Schema Registry (Apicurio 3.3 needs it). Defaults to the newest
    /// JDK 21+ found under /usr/lib/jvm.
    #[arg(long, env = "USERSTREAM_REGISTRY_JAVA_HOME", global = true)]
    pub registry_java_home: Option<PathBuf>,

    /// Python interpreter used to create the Spark and Airflow virtual environments.
    #[arg(
        long,
        env = "USERSTREAM_PYTHON",
        default_value = "python3",
        global = true
    )]
    pub python: PathBuf,

    /// How long each service may take to become healthy before `stack up` gives up.
    #[arg(long, env = "USERSTREAM_START_TIMEOUT", default_value = "240s", value_parser = parse_duration, global = true)]
    pub start_timeout: Duration,

    /// Kafka broker port.
    #[arg(
        long,
        env = "USERSTREAM_KAFKA_PORT",
        default_value_t = 9092,
        global = true
    )]
    pub kafka_port: u16,
    /// Kafka KRaft controller port.
    #[arg(
        long,
        env = "USERSTREAM_KAFKA_CONTROLLER_PORT",
        default_value_t = 9093,
        global = true
    )]
    pub kafka_controller_port: u16,
    /// Schema Registry HTTP port (Confluent API under /apis/ccompat/v7).
    #[arg(
        long,
        env = "USERSTREAM_REGISTRY_PORT",
        default_value_t = 8081,
        global = true
    )]
    pub registry_port: u16,
    /// Schema Registry management port (health, metrics).
    #[arg(
        long,
        env = "USERSTREAM_REGISTRY_MANAGEMENT_PORT",
        default_value_t = 9000,
        global = true
    )]
    pub registry_management_port: u16,
    /// Cassandra CQL port.
    #[arg(
        long,
        env = "USERSTREAM_CASSANDRA_PORT",
        default_value_t = 9042,
        global = true
    )]
    pub cassandra_port: u16,
    /// Cassandra inter-node storage port.
    #[arg(
        long,
        env = "USERSTREAM_CASSANDRA_STORAGE_PORT",
        default_value_t = 7000,
        global = true
    )]
    pub cassandra_storage_port: u16,
    /// Cassandra local JMX port (nodetool).
    #[arg(
        long,
        env = "USERSTREAM_CASSANDRA_JMX_PORT",
        default_value_t = 7199,
        global = true
    )]
    pub cassandra_jmx_port: u16,
    /// Spark standalone master port.
    #[arg(
        long,
        env = "USERSTREAM_SPARK_MASTER_PORT",
        default_value_t = 7077,
        global = true
    )]
    pub spark_master_port: u16,
    /// Spark master web UI port.
    #[arg(
        long,
        env = "USERSTREAM_SPARK_MASTER_UI_PORT",
        default_value_t = 8082,
        global = true
    )]
    pub spark_master_ui_port: u16,
    /// Spark worker web UI port.
    #[arg(
        long,
        env = "USERSTREAM_SPARK_WORKER_UI_PORT",
        default_value_t = 8083,
        global = true
    )]
    pub spark_worker_ui_port: u16,
    /// Spark Connect gRPC port.
    #[arg(
        long,
        env = "USERSTREAM_SPARK_CONNECT_PORT",
        default_value_t = 15002,
        global = true
    )]
    pub spark_connect_port: u16,
    /// Web UI port of the Spark Connect driver (the streaming query's UI).
    #[arg(
        long,
        env = "USERSTREAM_SPARK_DRIVER_UI_PORT",
        default_value_t = 4040,
        global = true
    )]
    pub spark_driver_ui_port: u16,
    /// Airflow API server / UI port.
    #[arg(
        long,
        env = "USERSTREAM_AIRFLOW_PORT",
        default_value_t = 8080,
        global = true
    )]
    pub airflow_port: u16,

    /// Kafka broker heap.
    #[arg(
        long,
        env = "USERSTREAM_KAFKA_HEAP",
        default_value = "1g",
        global = true
    )]
    pub kafka_heap: MemSize,
    /// Schema Registry heap.
    #[arg(
        long,
        env = "USERSTREAM_REGISTRY_HEAP",
        default_value = "512m",
        global = true
    )]
    pub registry_heap: MemSize,
    /// Cassandra heap (off-heap memtables and caches come on top).
    #[arg(
        long,
        env = "USERSTREAM_CASSANDRA_HEAP",
        default_value = "2g",
        global = true
    )]
    pub cassandra_heap: MemSize,
    /// Heap of the Spark master and worker daemons.
    #[arg(
        long,
        env = "USERSTREAM_SPARK_DAEMON_HEAP",
        default_value = "512m",
        global = true
    )]
    pub spark_daemon_heap: MemSize,
    /// Heap of the Spark Connect server (the driver).
    #[arg(
        long,
        env = "USERSTREAM_SPARK_DRIVER_HEAP",
        default_value = "1g",
        global = true
    )]
    pub spark_driver_heap: MemSize,
    /// Heap of each Spark executor.
    #[arg(
        long,
        env = "USERSTREAM_SPARK_EXECUTOR_HEAP",
        default_value = "2g",
        global = true
    )]
    pub spark_executor_heap: MemSize,
    /// Cores the Spark worker offers to executors.
    #[arg(
        long,
        env = "USERSTREAM_SPARK_WORKER_CORES",
        default_value_t = 2,
        global = true
    )]
    pub spark_worker_cores: u16,
}

impl StackConfig {
    /// The configuration with every default, rooted at `state_dir`.
    pub fn with_state_dir(state_dir: impl Into<PathBuf>) -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: StackConfig,
        }
        // Parsing an empty command line yields exactly the documented defaults (and the
        // environment), so defaults live in one place: the attributes above.
        let mut config = Wrapper::parse_from(["userstream"]).config;
        config.state_dir = state_dir.into();
        config
    }

    /// Checks the combination of settings; returns every problem at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let ports = self.ports();
        for (i, (name, port)) in ports.iter().enumerate() {
            if *port == 0 {
                problems.push(format!("{name} port must not be 0"));
            }
            for (other, other_port) in &ports[i + 1..] {
                if port == other_port {
                    problems.push(format!("{name} and {other} both use port {port}"));
                }
            }
        }
        if self.spark_worker_cores == 0 {
            problems.push("spark worker cores must be at least 1".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Every port the stack binds, named.
    pub fn ports(&self) -> Vec<(&'static str, u16)> {
        vec![
            ("kafka", self.kafka_port),
            ("kafka controller", self.kafka_controller_port),
            ("registry", self.registry_port),
            ("registry management", self.registry_management_port),
            ("cassandra", self.cassandra_port),
            ("cassandra storage", self.cassandra_storage_port),
            ("cassandra jmx", self.cassandra_jmx_port),
            ("spark master", self.spark_master_port),
            ("spark master ui", self.spark_master_ui_port),
            ("spark worker ui", self.spark_worker_ui_port),
            ("spark connect", self.spark_connect_port),
            ("spark driver ui", self.spark_driver_ui_port),
            ("airflow", self.airflow_port),
        ]
    }

    /// Kafka bootstrap servers for clients.
    pub fn kafka_bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.kafka_port)
    }

    /// Base URL of the registry's Confluent-compatible API.
    pub fn registry_url(&self) -> String {
        format!("http://127.0.0.1:{}/apis/ccompat/v7", self.registry_port)
    }

    /// Cassandra contact point.
    pub fn cassandra_contact_point(&self) -> String {
        format!("127.0.0.1:{}", self.cassandra_port)
    }

    /// Spark Connect URL.
    pub fn spark_connect_url(&self) -> String {
        format!("sc://127.0.0.1:{}", self.spark_connect_port)
    }

    /// Spark master URL.
    pub fn spark_master_url(&self) -> String {
        format!("spark://127.0.0.1:{}", self.spark_master_port)
    }

    /// Airflow base URL.
    pub fn airflow_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.airflow_port)
    }

    /// The directory layout derived from this configuration (paths made absolute).
    pub fn layout(&self) -> crate::Layout {
        let state = absolute(&self.state_dir);
        let runtime = self
            .runtime_dir
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| state.join("runtime"));
        crate::Layout::new(state, runtime, absolute(&self.dags_dir))
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_sizes_parse_like_the_jvm() {
        assert_eq!("512m".parse::<MemSize>(), Ok(MemSize::mib(512)));
        assert_eq!("2G".parse::<MemSize>(), Ok(MemSize::mib(2048)));
        assert!("2".parse::<MemSize>().is_err());
        assert!("0m".parse::<MemSize>().is_err());
        assert!("1.5g".parse::<MemSize>().is_err());
        assert_eq!(MemSize::mib(2048).to_string(), "2g");
        assert_eq!(MemSize::mib(768).to_string(), "768m");
    }

    #[test]
    fn defaults_are_valid_and_on_the_documented_ports() {
        let config = StackConfig::with_state_dir("/tmp/x");
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.kafka_bootstrap(), "127.0.0.1:9092");
        assert_eq!(
            config.registry_url(),
            "http://127.0.0.1:8081/apis/ccompat/v7"
        );
        assert_eq!(config.spark_connect_url(), "sc://127.0.0.1:15002");
    }

    #[test]
    fn validation_reports_every_clash() {
        let mut config = StackConfig::with_state_dir("/tmp/x");
        config.airflow_port = 9092;
        config.spark_master_ui_port = 8081;
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("9092"));
    }
}
