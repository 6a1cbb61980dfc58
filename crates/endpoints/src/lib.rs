//! Where every engine of the stack listens, and the pipeline's default names: declared once,
//! used by the stack (which binds the ports), by every pipeline command, the console, the tests,
//! and exported to Airflow (whose DAGs run the same commands).
//!
//! A port is set once, by its `USERSTREAM_*_PORT` variable or flag ([`Ports`]); every address a
//! client needs is derived from the ports ([`Endpoints`]). Only an engine that this stack does
//! not run (a Kafka cluster elsewhere, the real randomuser.me) is named by an address, through
//! [`EndpointArgs`]' overrides.

#![warn(missing_docs)]

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use url::Url;

pub mod credentials;
pub mod listener;

pub use credentials::{Credentials, CredentialsError, EngineCredentials, Login};

/// The pipeline's default names, shared by the producer, the job, `verify`, the console and
/// the DAGs.
pub mod names {
    /// Topic of valid users (key = user id, value = Confluent-framed Avro).
    pub const TOPIC: &str = "users";
    /// Dead-letter topic: rejected records and unreadable pages, with the reason in headers.
    pub const DLQ_TOPIC: &str = "users.dlq";
    /// Cassandra keyspace of the `users` and `rejected_rows` tables.
    pub const KEYSPACE: &str = "userstream";
    /// Name of the users streaming query (the rejected-records one is `<name>-rejected`).
    pub const QUERY_NAME: &str = "userstream-users";
    /// Seed of the users API: page `p` of a seed always holds the same users.
    pub const SEED: &str = "userstream";
}

/// The address every service binds and every client dials: loopback only.
pub const HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Declares [`Ports`] once: its fields (each with its flag, environment variable, default and
/// label) and the table of `(label, variable, port)` that validation and the Airflow export read.
macro_rules! ports {
    ($( $(#[doc = $doc:literal])* $field:ident: $flag:literal, $env:literal = $default:literal, $label:literal; )*) => {
        /// Every port of the stack. Each is a flag and a `USERSTREAM_*_PORT` variable; the
        /// stack binds them on 127.0.0.1 and every client derives its addresses from them.
        #[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
        pub struct Ports {
            $(
                $(#[doc = $doc])*
                #[arg(
                    long = $flag,
                    env = $env,
                    default_value_t = $default,
                    value_name = "PORT",
                    help_heading = "Stack ports (all on 127.0.0.1)",
                    global = true
                )]
                pub $field: u16,
            )*
        }

        impl Ports {
            /// Every port with its label and environment variable, in declaration order.
            pub fn table(&self) -> Vec<PortEntry> {
                vec![$(PortEntry { label: $label, variable: $env, port: self.$field },)*]
            }
        }

        impl Default for Ports {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }
    };
}

ports! {
    /// Kafka broker (clients).
    kafka: "kafka-port", "USERSTREAM_KAFKA_PORT" = 9092, "kafka";
    /// Kafka KRaft controller.
    kafka_controller: "kafka-controller-port", "USERSTREAM_KAFKA_CONTROLLER_PORT" = 9093, "kafka controller";
    /// Schema Registry HTTP API (Confluent API under /apis/ccompat/v7).
    registry: "registry-port", "USERSTREAM_REGISTRY_PORT" = 8081, "registry";
    /// Schema Registry management (health only; the stack's agent turns its metrics off).
    registry_management: "registry-management-port", "USERSTREAM_REGISTRY_MANAGEMENT_PORT" = 9000, "registry management";
    /// Cassandra CQL.
    cassandra: "cassandra-port", "USERSTREAM_CASSANDRA_PORT" = 9042, "cassandra";
    /// Cassandra inter-node storage.
    cassandra_storage: "cassandra-storage-port", "USERSTREAM_CASSANDRA_STORAGE_PORT" = 7000, "cassandra storage";
    /// Spark standalone master.
    spark_master: "spark-master-port", "USERSTREAM_SPARK_MASTER_PORT" = 7077, "spark master";
    /// Spark master web UI.
    spark_master_ui: "spark-master-ui-port", "USERSTREAM_SPARK_MASTER_UI_PORT" = 8082, "spark master ui";
    /// Spark worker web UI.
    spark_worker_ui: "spark-worker-ui-port", "USERSTREAM_SPARK_WORKER_UI_PORT" = 8083, "spark worker ui";
    /// Spark Connect gRPC.
    spark_connect: "spark-connect-port", "USERSTREAM_SPARK_CONNECT_PORT" = 15002, "spark connect";
    /// Web UI of the Spark Connect driver (the streaming queries' UI).
    spark_driver_ui: "spark-driver-ui-port", "USERSTREAM_SPARK_DRIVER_UI_PORT" = 4040, "spark driver ui";
    /// Airflow API server and UI.
    airflow: "airflow-port", "USERSTREAM_AIRFLOW_PORT" = 8080, "airflow";
    /// The console (`userstream console`).
    console: "console-port", "USERSTREAM_CONSOLE_PORT" = 8088, "console";
    /// The local randomuser-compatible API (`userstream users-api`, started by `produce`).
    users_api: "users-api-port", "USERSTREAM_USERS_API_PORT" = 8765, "users api";
}

/// One port of [`Ports::table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortEntry {
    /// What listens there, for messages ("spark connect").
    pub label: &'static str,
    /// Its environment variable (`USERSTREAM_SPARK_CONNECT_PORT`).
    pub variable: &'static str,
    /// The port.
    pub port: u16,
}

impl Ports {
    /// The ports given by the environment (and defaults): what a test or a library caller
    /// without a command line uses.
    pub fn from_env() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            ports: Ports,
        }
        // An empty command line yields the defaults overridden by the environment, so both
        // live in one place: the declaration above.
        Wrapper::parse_from(["userstream"]).ports
    }

    /// Every problem with this set of ports (zero, two services on one port), all at once.
    pub fn problems(&self) -> Vec<String> {
        let table = self.table();
        let mut problems = Vec::new();
        for (i, entry) in table.iter().enumerate() {
            if entry.port == 0 {
                problems.push(format!(
                    "{} port must not be 0 (set {})",
                    entry.label, entry.variable
                ));
            }
            for other in &table[i + 1..] {
                if entry.port == other.port {
                    problems.push(format!(
                        "{} and {} both use port {} (move one with {} or {})",
                        entry.label, other.label, entry.port, entry.variable, other.variable
                    ));
                }
            }
        }
        problems
    }

    /// `(variable, port)` for every port: the environment that makes a child process (an
    /// Airflow task running `userstream produce`) reach this same stack.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        self.table()
            .into_iter()
            .map(|entry| (entry.variable, entry.port.to_string()))
            .collect()
    }
}

/// The addresses clients dial, derived from [`Ports`] unless overridden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The ports of the local stack (also for the services with no override).
    pub ports: Ports,
    /// Kafka bootstrap servers, `host:port[,host:port]`.
    pub kafka_bootstrap: String,
    /// Base URL of the registry's Confluent-compatible API.
    pub registry_url: Url,
    /// Cassandra contact point, `host:port`.
    pub cassandra: String,
    /// Spark Connect URL, `sc://host:port`.
    pub spark_connect_url: String,
    /// Spark master URL, `spark://host:port`.
    pub spark_master_url: String,
    /// Spark master web UI (and its `/json/` status), without a trailing slash.
    pub spark_master_ui_url: String,
    /// Spark worker web UI, without a trailing slash.
    pub spark_worker_ui_url: String,
    /// Web UI of the Spark Connect driver (the streaming queries), without a trailing slash.
    pub spark_driver_ui_url: String,
    /// Airflow API server base URL, without a trailing slash (`http://127.0.0.1:8080`), so
    /// `format!("{airflow_url}/api/v2/...")` reads naturally.
    pub airflow_url: String,
    /// Where the console listens.
    pub console_listen: SocketAddr,
    /// The users API page URL the producer reads (`…/api/`).
    pub users_api_url: Url,
    /// The stack's client credentials, from its secrets file; `None` when there is no such
    /// file (engines elsewhere without authentication). Used only for the stack's own engines.
    pub credentials: Option<Credentials>,
    /// Which engines an override names elsewhere, and their logins: those engines never get
    /// the stack's.
    pub elsewhere: Elsewhere,
    /// The local stack's state directory: its pid files say which process on a loopback port
    /// is the stack's engine, so a client checks the listener against them before it sends a
    /// login ([`listener`]). Resolved once, from the command line ([`EndpointArgs::state_dir`])
    /// or the stack's configuration; libraries never read it from the environment.
    pub state_dir: PathBuf,
}

/// The engines named by an override that is not this stack's own address, and the logins
/// given for them (`--engine-credentials`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Elsewhere {
    /// `--bootstrap` names another Kafka.
    pub kafka: bool,
    /// `--registry-url` names another registry.
    pub registry: bool,
    /// `--cassandra` names another Cassandra.
    pub cassandra: bool,
    /// `--connect-url` names another Spark Connect server.
    pub spark_connect: bool,
    /// Their logins.
    pub logins: EngineCredentials,
}

/// Which Cassandra role a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CassandraRole {
    /// Keyspaces, tables, grants (`setup`, the tests' fixtures).
    Admin,
    /// Reads and writes the pipeline's keyspace (the job, `verify`, the console).
    App,
}

/// Which Schema Registry user a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryRole {
    /// Compatibility settings, deletes (`setup`).
    Admin,
    /// Registers schema versions (the producer).
    Producer,
    /// Reads schemas (the job, `verify`, the console).
    Reader,
}

/// How a client reaches Kafka: the bootstrap servers and, on a stack with authentication, the
/// SCRAM-SHA-512 login it uses. Displays as the servers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaAccess {
    /// Bootstrap servers, `host:port[,host:port]`.
    pub bootstrap: String,
    /// SCRAM-SHA-512 user; `None` for a PLAINTEXT Kafka without authentication.
    pub login: Option<Login>,
}

impl KafkaAccess {
    /// Kafka at `bootstrap` without authentication.
    pub fn plaintext(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap: bootstrap.into(),
            login: None,
        }
    }
}

impl fmt::Display for KafkaAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.bootstrap)
    }
}

/// Which Kafka user a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaRole {
    /// Topics, ACLs, anything (`setup`, the tests' fixtures).
    Admin,
    /// Writes the users topic and its dead-letter topic.
    Producer,
    /// Reads them (the job, `verify`, the console).
    Reader,
}

impl Endpoints {
    /// Every address on loopback at `ports`.
    pub fn local(ports: &Ports) -> Self {
        Self {
            ports: ports.clone(),
            kafka_bootstrap: format!("{HOST}:{}", ports.kafka),
            registry_url: http_url(ports.registry, "/apis/ccompat/v7"),
            cassandra: format!("{HOST}:{}", ports.cassandra),
            spark_connect_url: format!("sc://{HOST}:{}", ports.spark_connect),
            spark_master_url: format!("spark://{HOST}:{}", ports.spark_master),
            spark_master_ui_url: format!("http://{HOST}:{}", ports.spark_master_ui),
            spark_worker_ui_url: format!("http://{HOST}:{}", ports.spark_worker_ui),
            spark_driver_ui_url: format!("http://{HOST}:{}", ports.spark_driver_ui),
            airflow_url: format!("http://{HOST}:{}", ports.airflow),
            console_listen: SocketAddr::from((HOST, ports.console)),
            users_api_url: http_url(ports.users_api, "/api/"),
            credentials: None,
            elsewhere: Elsewhere::default(),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
        }
    }

    /// Where the local stack keeps its pid files: what a client checks a listener against.
    pub fn stack_run_dir(&self) -> PathBuf {
        stack_run_dir(&self.state_dir)
    }

    /// Kafka as `role` sees it: the bootstrap servers and that role's login, if any.
    pub fn kafka(&self, role: KafkaRole) -> KafkaAccess {
        let (own, name): (fn(&Credentials) -> &Login, _) = match role {
            KafkaRole::Admin => (|c| &c.kafka.admin, "admin"),
            KafkaRole::Producer => (|c| &c.kafka.producer, "producer"),
            KafkaRole::Reader => (|c| &c.kafka.reader, "reader"),
        };
        let login = self.login(
            self.elsewhere.kafka,
            &self.elsewhere.logins.kafka,
            name,
            own,
        );
        KafkaAccess {
            bootstrap: self.kafka_bootstrap.clone(),
            login,
        }
    }

    /// Cassandra's login for `role`: the stack's, or the one given for a Cassandra elsewhere.
    pub fn cassandra_login(&self, role: CassandraRole) -> Option<Login> {
        let (own, name): (fn(&Credentials) -> &Login, _) = match role {
            CassandraRole::Admin => (|c| &c.cassandra.admin, "admin"),
            CassandraRole::App => (|c| &c.cassandra.app, "app"),
        };
        let given = &self.elsewhere.logins.cassandra;
        self.login(self.elsewhere.cassandra, given, name, own)
    }

    /// The registry's login for `role`: the stack's, or the one given for a registry elsewhere.
    pub fn registry_login(&self, role: RegistryRole) -> Option<Login> {
        let (own, name): (fn(&Credentials) -> &Login, _) = match role {
            RegistryRole::Admin => (|c| &c.registry.admin, "admin"),
            RegistryRole::Producer => (|c| &c.registry.producer, "producer"),
            RegistryRole::Reader => (|c| &c.registry.reader, "reader"),
        };
        let given = &self.elsewhere.logins.registry;
        self.login(self.elsewhere.registry, given, name, own)
    }

    /// A role's login: for an engine `elsewhere`, the one `given` for it under `role` (none
    /// when not given); for the stack's own engine, the one `own` picks from its credentials.
    fn login(
        &self,
        elsewhere: bool,
        given: &std::collections::BTreeMap<String, Login>,
        role: &str,
        own: fn(&Credentials) -> &Login,
    ) -> Option<Login> {
        if elsewhere {
            given.get(role).cloned()
        } else {
            self.credentials.as_ref().map(|c| own(c).clone())
        }
    }

    /// The Spark Connect token: the stack's, or the one given for a server elsewhere.
    pub fn spark_connect_token(&self) -> Option<String> {
        if self.elsewhere.spark_connect {
            self.elsewhere.logins.spark_connect_token.clone()
        } else {
            self.credentials
                .as_ref()
                .map(|c| c.spark_connect_token.clone())
        }
    }

    /// The endpoints given by the environment: ports, then any address override.
    pub fn from_env() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: EndpointArgs,
        }
        Wrapper::parse_from(["userstream"]).args.endpoints()
    }

    /// Whether `url` is this stack's own users API (which `produce` may start itself).
    pub fn is_local_users_api(&self, url: &Url) -> bool {
        url == &self.users_api_url
    }
}

/// The variable naming the state directory (data, logs, pid files, secrets), read by every
/// command's `--state-dir` and exported to Airflow's tasks.
pub const STATE_DIR_VARIABLE: &str = "USERSTREAM_STATE_DIR";

/// The state directory when none is given: `.userstream` under the working directory.
pub const DEFAULT_STATE_DIR: &str = ".userstream";

/// A client library's error kept as a cause, with its type (`.0`). The libraries' messages
/// (scylla's, rdkafka's) already spell out their own causes, which they also return as
/// sources: this ends the chain there, so a printed chain (`{:#}`, [`error_chain`]) says each
/// cause once.
#[derive(Debug)]
pub struct Cause<E>(pub E);

impl<E: std::fmt::Display> std::fmt::Display for Cause<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for Cause<E> {}

/// `error` and each of its causes, joined with `: ` (what anyhow's `{:#}` prints), for a log
/// line or a JSON field. Errors print their own message only; their causes are sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The state directory of a caller without a command line (an example, `demo`'s child
/// processes): [`STATE_DIR_VARIABLE`], else [`DEFAULT_STATE_DIR`], the rule `--state-dir`
/// follows too ([`EndpointArgs::state_dir`]).
pub fn state_dir_from_env() -> PathBuf {
    resolve_state_dir(std::env::var_os(STATE_DIR_VARIABLE).map(PathBuf::from))
}

/// The state directory: the one given (a flag, or [`STATE_DIR_VARIABLE`] through clap's
/// `env`), else [`DEFAULT_STATE_DIR`].
pub fn resolve_state_dir(given: Option<PathBuf>) -> PathBuf {
    given
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

/// Where the stack of `state_dir` keeps its pid files.
pub fn stack_run_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("run")
}

fn http_url(port: u16, path: &str) -> Url {
    // Loopback, a port and a fixed path always make a valid URL.
    #[allow(clippy::expect_used)]
    Url::parse(&format!("http://{HOST}:{port}{path}")).expect("a loopback URL parses")
}

/// The ports, plus the addresses of engines this stack does not run: the flags every pipeline
/// command takes. An override names an address; everything else follows the ports.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub ports: Ports,
    /// State directory of the local stack: its secrets file (every command's credentials), its
    /// pid files (which process on a port is the stack's), the job's checkpoints and state.
    /// Default: .userstream under the working directory.
    #[arg(long, env = STATE_DIR_VARIABLE, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Kafka bootstrap servers of a Kafka this stack does not run. Default:
    /// 127.0.0.1:<kafka port>.
    #[arg(
        long = "bootstrap",
        env = "USERSTREAM_KAFKA_BOOTSTRAP",
        help_heading = "Engines this stack does not run",
        value_name = "ADDRESS",
        global = true
    )]
    pub kafka_bootstrap: Option<String>,
    /// Schema Registry base URL (Confluent API) of a registry this stack does not run.
    /// Default: http://127.0.0.1:<registry port>/apis/ccompat/v7.
    #[arg(
        long,
        env = "USERSTREAM_REGISTRY_URL",
        help_heading = "Engines this stack does not run",
        value_name = "ADDRESS",
        global = true
    )]
    pub registry_url: Option<Url>,
    /// Cassandra contact point (host:port) of a Cassandra this stack does not run. Default:
    /// 127.0.0.1:<cassandra port>.
    #[arg(
        id = "cassandra_address",
        long = "cassandra",
        env = "USERSTREAM_CASSANDRA",
        help_heading = "Engines this stack does not run",
        value_name = "ADDRESS",
        global = true
    )]
    pub cassandra: Option<String>,
    /// Spark Connect URL (sc://host:port) of a server this stack does not run. Default:
    /// sc://127.0.0.1:<spark connect port>.
    #[arg(
        long = "connect-url",
        env = "USERSTREAM_SPARK_CONNECT_URL",
        help_heading = "Engines this stack does not run",
        value_name = "ADDRESS",
        global = true
    )]
    pub spark_connect_url: Option<String>,
    /// The stack's secrets file, where every command finds its credentials (written by
    /// `stack up`, mode 0600). Default: `<state dir>/secrets.json`
    /// (`.userstream/secrets.json`). Without the file, clients connect without authentication.
    #[arg(
        long,
        env = "USERSTREAM_SECRETS_FILE",
        help_heading = "Engines this stack does not run",
        value_name = "FILE",
        global = true
    )]
    pub secrets_file: Option<PathBuf>,
    /// Logins for the engines the overrides above name elsewhere (JSON, keep it 0600):
    /// `{"kafka": {"reader": {"username": …, "password": …}}, "cassandra": {"app": …},
    /// "registry": {"reader": …}, "spark_connect_token": …}`. The stack's own passwords never
    /// go to an engine elsewhere; without this file such an engine gets no login.
    #[arg(
        long,
        env = "USERSTREAM_ENGINE_CREDENTIALS",
        help_heading = "Engines this stack does not run",
        value_name = "FILE",
        global = true
    )]
    pub engine_credentials: Option<PathBuf>,
}

impl EndpointArgs {
    /// The state directory these arguments name, or the default.
    pub fn state_dir(&self) -> PathBuf {
        resolve_state_dir(self.state_dir.clone())
    }

    /// The secrets file these arguments name (or the state directory's).
    pub fn secrets_file(&self) -> PathBuf {
        self.secrets_file
            .clone()
            .unwrap_or_else(|| credentials::secrets_file(&self.state_dir()))
    }

    /// The addresses: the overrides where given, else loopback at the ports; the credentials
    /// from the secrets file. A secrets file that exists but cannot be used is reported once
    /// on stderr, and the clients then connect without credentials (and are refused).
    pub fn endpoints(&self) -> Endpoints {
        let mut endpoints = Endpoints::local(&self.ports);
        endpoints.state_dir = self.state_dir();
        let path = self.secrets_file();
        endpoints.credentials = match Credentials::load(&path) {
            Ok(credentials) => Some(credentials),
            Err(_) if !path.exists() => None,
            Err(e) => {
                eprintln!("warning: {e}");
                None
            }
        };
        let local = Endpoints::local(&self.ports);
        if let Some(bootstrap) = &self.kafka_bootstrap {
            endpoints.elsewhere.kafka = bootstrap != &local.kafka_bootstrap;
            endpoints.kafka_bootstrap = bootstrap.clone();
        }
        if let Some(url) = &self.registry_url {
            endpoints.elsewhere.registry = url != &local.registry_url;
            endpoints.registry_url = url.clone();
        }
        if let Some(cassandra) = &self.cassandra {
            endpoints.elsewhere.cassandra = cassandra != &local.cassandra;
            endpoints.cassandra = cassandra.clone();
        }
        if let Some(url) = &self.spark_connect_url {
            endpoints.elsewhere.spark_connect =
                url.trim_end_matches('/') != local.spark_connect_url;
            endpoints.spark_connect_url = url.clone();
        }
        if let Some(path) = &self.engine_credentials {
            match EngineCredentials::load(path) {
                Ok(logins) => endpoints.elsewhere.logins = logins,
                Err(e) => eprintln!("warning: {e}; engines elsewhere get no login"),
            }
        }
        endpoints
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_says_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("reading the offsets")]
        struct Outer(#[source] Cause<std::io::Error>);
        let error = Outer(Cause(std::io::Error::other("connection reset")));
        assert_eq!(error_chain(&error), "reading the offsets: connection reset");
    }
    use clap::CommandFactory;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: EndpointArgs,
    }

    #[test]
    fn defaults_are_the_documented_ports_and_distinct() {
        let ports = Ports::default();
        assert_eq!(ports.problems(), Vec::<String>::new());
        let endpoints = Endpoints::local(&ports);
        assert_eq!(endpoints.kafka_bootstrap, "127.0.0.1:9092");
        assert_eq!(
            endpoints.registry_url.as_str(),
            "http://127.0.0.1:8081/apis/ccompat/v7"
        );
        assert_eq!(endpoints.cassandra, "127.0.0.1:9042");
        assert_eq!(endpoints.spark_connect_url, "sc://127.0.0.1:15002");
        assert_eq!(endpoints.airflow_url, "http://127.0.0.1:8080");
        assert_eq!(
            endpoints.users_api_url.as_str(),
            "http://127.0.0.1:8765/api/"
        );
        assert_eq!(endpoints.console_listen.to_string(), "127.0.0.1:8088");
    }

    #[test]
    fn the_state_directory_names_the_secrets_file_and_the_pid_files() {
        use clap::Parser;
        let args = Wrapper::parse_from(["t", "--state-dir", "/srv/us"]).args;
        assert_eq!(args.secrets_file(), PathBuf::from("/srv/us/secrets.json"));
        assert_eq!(
            args.endpoints().stack_run_dir(),
            PathBuf::from("/srv/us/run")
        );
        let given_file =
            Wrapper::parse_from(["t", "--state-dir", "/srv/us", "--secrets-file", "/k/s.json"])
                .args;
        assert_eq!(given_file.secrets_file(), PathBuf::from("/k/s.json"));
        assert_eq!(
            resolve_state_dir(Some(PathBuf::new())),
            PathBuf::from(DEFAULT_STATE_DIR)
        );
    }

    #[test]
    fn a_moved_port_moves_every_address_built_on_it() {
        use clap::Parser;
        let args =
            Wrapper::parse_from(["t", "--kafka-port", "19092", "--users-api-port", "18765"]).args;
        let endpoints = args.endpoints();
        assert_eq!(endpoints.kafka_bootstrap, "127.0.0.1:19092");
        assert_eq!(
            endpoints.users_api_url.as_str(),
            "http://127.0.0.1:18765/api/"
        );
        assert!(endpoints.is_local_users_api(&endpoints.users_api_url));
        assert!(endpoints
            .ports
            .to_env()
            .contains(&("USERSTREAM_KAFKA_PORT", "19092".to_owned())));
    }

    #[test]
    fn an_override_names_an_engine_elsewhere_and_leaves_the_rest_on_the_ports() {
        use clap::Parser;
        let args = Wrapper::parse_from(["t", "--bootstrap", "kafka.example:9092"]).args;
        let endpoints = args.endpoints();
        assert_eq!(endpoints.kafka_bootstrap, "kafka.example:9092");
        assert_eq!(
            endpoints.cassandra,
            format!("127.0.0.1:{}", args.ports.cassandra)
        );
    }

    #[test]
    fn an_engine_elsewhere_never_gets_the_stack_s_logins() {
        use clap::Parser;
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets.json");
        let stack = Credentials::withheld();
        std::fs::write(&secrets, serde_json::to_string(&stack).unwrap()).unwrap();
        let engines = dir.path().join("engines.json");
        std::fs::write(
            &engines,
            r#"{"cassandra": {"app": {"username": "them", "password": "theirs"}}}"#,
        )
        .unwrap();
        let secrets_arg = secrets.display().to_string();
        let engines_arg = engines.display().to_string();
        let args = Wrapper::parse_from([
            "t",
            "--secrets-file",
            &secrets_arg,
            "--bootstrap",
            "kafka.example:9092",
            "--cassandra",
            "cassandra.example:9042",
            "--connect-url",
            "sc://spark.example:15002",
            "--engine-credentials",
            &engines_arg,
        ])
        .args;
        let endpoints = args.endpoints();
        assert_eq!(endpoints.kafka(KafkaRole::Reader).login, None);
        assert_eq!(
            endpoints.cassandra_login(CassandraRole::App),
            Some(Login::new("them", "theirs"))
        );
        assert_eq!(endpoints.cassandra_login(CassandraRole::Admin), None);
        assert_eq!(endpoints.spark_connect_token(), None);
        // The registry has no override: the stack's own login.
        assert_eq!(
            endpoints.registry_login(RegistryRole::Reader),
            Some(stack.registry.reader.clone())
        );

        // An override naming the stack's own address is not elsewhere.
        let own = format!("127.0.0.1:{}", args.ports.cassandra);
        let args =
            Wrapper::parse_from(["t", "--secrets-file", &secrets_arg, "--cassandra", &own]).args;
        assert_eq!(
            args.endpoints().cassandra_login(CassandraRole::App),
            Some(stack.cassandra.app.clone())
        );
    }

    #[test]
    fn an_engine_credentials_file_with_an_unknown_role_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engines.json");
        std::fs::write(
            &path,
            r#"{"kafka": {"root": {"username": "u", "password": "p"}}}"#,
        )
        .unwrap();
        let error = EngineCredentials::load(&path).unwrap_err().to_string();
        assert!(error.contains("kafka.root"), "{error}");
        assert!(error.contains("engine credentials file"), "{error}");
    }

    #[test]
    fn clashes_and_zero_are_reported_together_with_the_variable_to_set() {
        let ports = Ports {
            airflow: 9092,
            console: 0,
            ..Ports::default()
        };
        let problems = ports.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("USERSTREAM_AIRFLOW_PORT")));
        assert!(problems
            .iter()
            .any(|p| p.contains("USERSTREAM_CONSOLE_PORT")));
    }

    #[test]
    fn each_port_flag_is_named_like_its_variable() {
        for argument in Wrapper::command().get_arguments() {
            let (Some(long), Some(env)) = (argument.get_long(), argument.get_env()) else {
                continue;
            };
            if long.ends_with("-port") {
                let expected = format!("USERSTREAM_{}", long.to_uppercase().replace('-', "_"));
                assert_eq!(env.to_string_lossy(), expected, "--{long}");
            }
        }
    }

    #[test]
    fn the_exported_variables_are_the_ones_the_flags_read() {
        let command = Wrapper::command();
        let declared: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
            .filter(|e| e.ends_with("_PORT"))
            .collect();
        let exported: Vec<String> = Ports::default()
            .to_env()
            .into_iter()
            .map(|(variable, _)| variable.to_owned())
            .collect();
        assert_eq!(declared, exported);
    }
}
