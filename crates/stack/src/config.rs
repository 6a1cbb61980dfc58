//! The stack's configuration: embedded defaults, overridden by environment variables and flags.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use userstream_endpoints::{Endpoints, Ports};

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
        env = userstream_endpoints::STATE_DIR_VARIABLE,
        default_value = userstream_endpoints::DEFAULT_STATE_DIR,
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

    /// Every port of the stack (one declaration, shared with the pipeline's commands).
    #[command(flatten)]
    pub ports: Ports,

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
        let mut problems = self.ports.problems();
        if self.spark_worker_cores == 0 {
            problems.push("spark worker cores must be at least 1".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The addresses of this stack's engines (all on loopback, at its ports).
    pub fn endpoints(&self) -> Endpoints {
        let mut endpoints = Endpoints::local(&self.ports);
        endpoints.state_dir = self.layout().state().to_path_buf();
        endpoints
    }

    /// [`StackConfig::endpoints`] with the client credentials of the stack's secrets file,
    /// when it has one (a file that cannot be read is reported by `stack up`, which refuses
    /// to start with it): what a client of this stack dials with.
    pub fn client_endpoints(&self) -> Endpoints {
        let mut endpoints = self.endpoints();
        endpoints.credentials =
            userstream_endpoints::Credentials::load(&self.layout().secrets()).ok();
        endpoints
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
        let mut config = StackConfig::with_state_dir("/tmp/x");
        // The test command moves every port through the environment; this test is about the
        // documented defaults.
        config.ports = Ports::default();
        assert_eq!(config.validate(), Ok(()));
        let endpoints = config.endpoints();
        assert_eq!(endpoints.kafka_bootstrap, "127.0.0.1:9092");
        assert_eq!(
            endpoints.registry_url.as_str(),
            "http://127.0.0.1:8081/apis/ccompat/v7"
        );
        assert_eq!(endpoints.spark_connect_url, "sc://127.0.0.1:15002");
    }

    #[test]
    fn validation_reports_every_clash() {
        let mut config = StackConfig::with_state_dir("/tmp/x");
        config.ports = Ports::default();
        config.ports.airflow = 9092;
        config.ports.spark_master_ui = 8081;
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("9092"));
    }
}
