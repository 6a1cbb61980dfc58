//! Where the console listens, what it watches, and the token it asks for.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;
use userstream_endpoints::{
    names, CassandraRole, Credentials, Endpoints, KafkaAccess, KafkaRole, Login, RegistryRole,
};
use userstream_spark::SparkJob;
use userstream_stack::StackConfig;

/// Timeout of each Spark Connect request (the job's own default; a gather is bounded by
/// `gather_timeout` anyway).
const SPARK_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the console needs to know. `Debug` withholds the token (and the endpoints'
/// logins).
#[derive(Clone)]
pub struct ConsoleConfig {
    /// Where the page is served. Its port also names the login cookie and, with the
    /// address, the page's own origin (see [`crate::cookie_name`]).
    pub listen: SocketAddr,
    /// The stack (state directory, ports): for `stack status` and the engines' addresses.
    pub stack: StackConfig,
    /// Where the engines listen, and the logins the console reads with: the stack's, from
    /// its secrets file (the least-privileged roles: Kafka and registry readers, Cassandra's
    /// application role).
    pub endpoints: Endpoints,
    /// The pipeline's topic.
    pub topic: String,
    /// The keyspace the job writes.
    pub keyspace: String,
    /// The streaming job's query name: with the Spark Connect user it names the job's
    /// session, and it names the job's files.
    pub query_name: String,
    /// Where the job keeps its checkpoints, its journal and its state file.
    pub checkpoint_root: PathBuf,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// The users API the producer reads (probed with a one-user request).
    pub source_url: Url,
    /// How often the quick areas (Kafka, Spark) are gathered.
    pub fast_interval: Duration,
    /// How often the heavier ones (stack health, registry, Cassandra counts, Airflow) are.
    pub slow_interval: Duration,
    /// How long one gather may take before it counts as failed.
    pub gather_timeout: Duration,
    /// Dead letters and newest users listed.
    pub newest: usize,
    /// Time limit of an explicit exact count of `users` (`POST /api/cassandra/count`, which
    /// may ask for another with `?seconds=`): a full scan, so bounded, and never in a loop.
    pub count_limit: Duration,
    /// The token a caller must show before the console serves anything but `/healthz`
    /// (the stack's `console_token`). Required: the page shows personal data, so there is
    /// no console without it.
    pub token: String,
}

/// Why the console has no token: its stack's secrets file is missing, unreadable or
/// corrupt. The console refuses to start then (it never serves without its token) and
/// leaves the file alone: only `userstream stack up` writes it. Retrying does not help
/// until the file is there and readable.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No secrets file: the stack was never started from this state directory.
    #[error(
        "the console has no token: the stack's secrets file {} does not exist; run \
         `userstream stack up` first (it creates the file), or give the stack's state \
         directory with --state-dir",
        path.display()
    )]
    Missing {
        /// The secrets file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is there but cannot be read (permissions, a directory in its place).
    #[error(
        "the console has no token: the stack's secrets file {} cannot be read; run the \
         console as the user who ran `userstream stack up` (the file is theirs, mode 0600), \
         or fix its permissions",
        path.display()
    )]
    Unreadable {
        /// The secrets file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the stack's secrets.
    #[error(
        "the console has no token: the stack's secrets file {} cannot be parsed; restore it \
         from a backup, or see `userstream stack credentials --help`",
        path.display()
    )]
    Corrupt {
        /// The secrets file.
        path: PathBuf,
        /// Cause (it names a position or a field, never a value).
        #[source]
        source: serde_json::Error,
    },
    /// The file parses but its console token is empty, which no caller could match.
    #[error(
        "the console has no token: the stack's secrets file {} holds an empty console \
         token; restore the file from a backup, or see `userstream stack credentials --help`",
        path.display()
    )]
    EmptyToken {
        /// The secrets file.
        path: PathBuf,
    },
}

/// Reads the client credentials from the secrets file at `path`, only reading: a missing
/// file is an error here, never a reason to create one.
fn load_credentials(path: &Path) -> Result<Credentials, SecretsError> {
    let path_buf = || path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SecretsError::Missing {
                path: path_buf(),
                source,
            }
        } else {
            SecretsError::Unreadable {
                path: path_buf(),
                source,
            }
        }
    })?;
    let credentials: Credentials =
        serde_json::from_str(&text).map_err(|source| SecretsError::Corrupt {
            path: path_buf(),
            source,
        })?;
    if credentials.console_token.trim().is_empty() {
        return Err(SecretsError::EmptyToken { path: path_buf() });
    }
    Ok(credentials)
}

impl ConsoleConfig {
    /// The console over the stack `stack`, with the pipeline's default names and the
    /// stack's credentials (its console token among them) from its secrets file; an error
    /// when that file is missing, unreadable or corrupt.
    pub fn new(stack: StackConfig) -> Result<Self, SecretsError> {
        let credentials = load_credentials(&stack.layout().secrets())?;
        Ok(Self::with_credentials(stack, credentials))
    }

    /// The console over the stack `stack` logged in with `credentials` (no I/O).
    pub fn with_credentials(stack: StackConfig, credentials: Credentials) -> Self {
        let token = credentials.console_token.clone();
        let mut endpoints = stack.endpoints();
        endpoints.credentials = Some(credentials);
        Self {
            listen: endpoints.console_listen,
            topic: names::TOPIC.to_owned(),
            keyspace: names::KEYSPACE.to_owned(),
            query_name: names::QUERY_NAME.to_owned(),
            checkpoint_root: userstream_spark::checkpoint_root(&stack.state_dir),
            dlq_topic: names::DLQ_TOPIC.to_owned(),
            source_url: endpoints.users_api_url.clone(),
            endpoints,
            stack,
            fast_interval: Duration::from_secs(2),
            slow_interval: Duration::from_secs(5),
            gather_timeout: Duration::from_secs(10),
            newest: 8,
            count_limit: Duration::from_secs(60),
            token,
        }
    }

    /// The pipeline's value subject.
    pub fn subject(&self) -> String {
        userstream_registry::topic_value_subject(&self.topic)
    }

    /// Kafka as the reader sees it.
    pub fn kafka(&self) -> KafkaAccess {
        self.endpoints.kafka(KafkaRole::Reader)
    }

    /// The registry's reader login.
    pub fn registry_login(&self) -> Option<Login> {
        self.endpoints.registry_login(RegistryRole::Reader)
    }

    /// Cassandra as the console reads it: the application role.
    pub fn cassandra_access(&self) -> crate::gather::CassandraAccess {
        crate::gather::CassandraAccess {
            contact_point: self.endpoints.cassandra.clone(),
            login: self.endpoints.cassandra_login(CassandraRole::App),
            stack_run_dir: self.endpoints.stack_run_dir(),
        }
    }

    /// The streaming job as Spark Connect sees it (its session, its queries, its files).
    pub fn spark_job(&self) -> SparkJob {
        SparkJob {
            connect_url: self.endpoints.spark_connect_url.clone(),
            connect_user: userstream_spark::DEFAULT_CONNECT_USER.to_owned(),
            connect_token: self.endpoints.spark_connect_token(),
            query_name: self.query_name.clone(),
            checkpoint_root: self.checkpoint_root.clone(),
            request_timeout: SPARK_REQUEST_TIMEOUT,
            stack_run_dir: self.endpoints.stack_run_dir(),
        }
    }
}

impl fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so a new field is a compile error here until it is shown or withheld.
        let Self {
            listen,
            stack,
            endpoints,
            topic,
            keyspace,
            query_name,
            checkpoint_root,
            dlq_topic,
            source_url,
            fast_interval,
            slow_interval,
            gather_timeout,
            newest,
            count_limit,
            token: _,
        } = self;
        f.debug_struct("ConsoleConfig")
            .field("listen", listen)
            .field("stack", stack)
            .field("endpoints", endpoints)
            .field("topic", topic)
            .field("keyspace", keyspace)
            .field("query_name", query_name)
            .field("checkpoint_root", checkpoint_root)
            .field("dlq_topic", dlq_topic)
            .field("source_url", source_url)
            .field("fast_interval", fast_interval)
            .field("slow_interval", slow_interval)
            .field("gather_timeout", gather_timeout)
            .field("newest", newest)
            .field("count_limit", count_limit)
            .field("token", &format_args!("<withheld>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state directory of its own under the system's temporary directory, not created.
    fn state_dir(what: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "userstream-console-{what}-{}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    fn credentials(token: &str) -> Credentials {
        let mut credentials = Credentials::withheld();
        credentials.console_token = token.to_owned();
        credentials.spark_connect_token = "spark-t0ken-value".to_owned();
        credentials.cassandra.app.password = "cass-pa55word".to_owned();
        credentials
    }

    #[test]
    fn without_a_secrets_file_there_is_no_console_and_nothing_is_created() {
        let dir = state_dir("missing");
        let error = ConsoleConfig::new(StackConfig::with_state_dir(&dir)).unwrap_err();
        assert!(matches!(error, SecretsError::Missing { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("secrets.json"), "{message}");
        assert!(message.contains("userstream stack up"), "{message}");
        assert!(!dir.exists(), "the console created {}", dir.display());
    }

    #[test]
    fn a_corrupt_unreadable_or_tokenless_file_is_an_error_not_an_open_console() {
        let dir = state_dir("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.json");
        let stack = || StackConfig::with_state_dir(&dir);

        std::fs::write(&path, "{\"kafka\": ").unwrap();
        let corrupt = ConsoleConfig::new(stack()).unwrap_err();
        assert!(
            matches!(corrupt, SecretsError::Corrupt { .. }),
            "{corrupt:?}"
        );
        let message = corrupt.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("cannot be parsed"), "{message}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"kafka\": ",
            "left as it was"
        );

        let empty = serde_json::to_string(&credentials(" ")).unwrap();
        std::fs::write(&path, empty).unwrap();
        let tokenless = ConsoleConfig::new(stack()).unwrap_err();
        assert!(
            matches!(tokenless, SecretsError::EmptyToken { .. }),
            "{tokenless:?}"
        );

        // A directory where the file should be cannot be read (as root, a mode would not
        // stop the read).
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let unreadable = ConsoleConfig::new(stack()).unwrap_err();
        assert!(
            matches!(unreadable, SecretsError::Unreadable { .. }),
            "{unreadable:?}"
        );
        assert!(
            unreadable.to_string().contains("permissions"),
            "{unreadable}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_stack_secrets_give_the_token_and_the_logins() {
        let dir = state_dir("good");
        std::fs::create_dir_all(&dir).unwrap();
        let text = serde_json::to_string(&credentials("c0nsole-t0ken")).unwrap();
        std::fs::write(dir.join("secrets.json"), text).unwrap();
        let config = ConsoleConfig::new(StackConfig::with_state_dir(&dir)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(config.token, "c0nsole-t0ken");
        assert_eq!(
            config.spark_job().connect_token.as_deref(),
            Some("spark-t0ken-value")
        );
        assert_eq!(
            config.cassandra_access().login.map(|l| l.password),
            Some("cass-pa55word".to_owned())
        );
    }

    #[test]
    fn debug_output_withholds_every_secret() {
        let config = ConsoleConfig::with_credentials(
            StackConfig::with_state_dir(state_dir("debug")),
            credentials("c0nsole-t0ken"),
        );
        let shown = format!("{config:?}");
        for secret in ["c0nsole-t0ken", "spark-t0ken-value", "cass-pa55word"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("token: <withheld>"), "{shown}");
        assert!(shown.contains("dlq_topic"), "the rest is shown: {shown}");
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains("c0nsole-t0ken"), "{pretty}");
    }
}
