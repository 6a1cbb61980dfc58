//! The services of the stack: what to run, in which order, and how to tell it is healthy.

use std::path::{Path, PathBuf};

use userstream_endpoints::credentials::Login;
use userstream_endpoints::KafkaAccess;

use crate::render::{self, Secrets};
use crate::{Layout, StackConfig};

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
    /// roles are set up first (see `probe::cassandra_release_version`).
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

/// Java installations the stack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Javas {
    /// Java 17 home for Kafka, Cassandra and Spark.
    pub java17: PathBuf,
    /// Java 21+ home for the registry.
    pub java21: PathBuf,
}

fn java_bin(home: &Path) -> PathBuf {
    home.join("bin/java")
}

fn java_env(home: &Path) -> Vec<(String, String)> {
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

/// What every service's spec is made from: the config, the layout, the installed runtimes
/// and the secrets.
struct Inputs<'a> {
    config: &'a StackConfig,
    layout: &'a Layout,
    javas: &'a Javas,
    spark_home: &'a Path,
    spark_jars: &'a [String],
    secrets: &'a Secrets,
    userstream_bin: &'a Path,
}

/// Every service of the stack, in start order, from the config and the installed runtimes.
pub fn all(
    config: &StackConfig,
    layout: &Layout,
    javas: &Javas,
    spark_home: &Path,
    spark_jars: &[String],
    secrets: &Secrets,
    userstream_bin: &Path,
) -> Vec<ServiceSpec> {
    let inputs = Inputs {
        config,
        layout,
        javas,
        spark_home,
        spark_jars,
        secrets,
        userstream_bin,
    };
    let mut specs = vec![
        kafka(&inputs),
        registry(&inputs),
        cassandra(&inputs),
        spark_master(&inputs),
        spark_worker(&inputs),
        spark_connect(&inputs),
    ];
    specs.extend(airflow(&inputs));
    specs
}

fn kafka(inputs: &Inputs<'_>) -> ServiceSpec {
    let Inputs {
        config,
        layout,
        javas,
        secrets,
        ..
    } = *inputs;
    let credentials = &secrets.credentials;
    let logs = layout.logs();
    let kafka_conf = layout.conf("kafka");
    let java17 = java_bin(&javas.java17);

    let mut kafka_args = render::kafka_jvm_options(config, &kafka_conf, &logs);
    kafka_args.extend([
        "-cp".into(),
        classpath(&layout.kafka_lib()),
        "kafka.Kafka".into(),
        kafka_conf.join("server.properties").display().to_string(),
    ]);
    let java_tool_options = || -> Vec<String> {
        vec![
            "-Xmx256m".to_owned(),
            // No hsperfdata file: it would record the tool's expanded arguments.
            "-XX:-UsePerfData".into(),
            format!(
                "-Dlog4j2.configurationFile={}",
                kafka_conf.join("log4j2.yaml").display()
            ),
            "-cp".into(),
            classpath(&layout.kafka_lib()),
        ]
    };
    let cluster_id = kafka_cluster_id(layout);
    let server_properties = kafka_conf.join("server.properties");
    let format_argfile = kafka_conf.join("format.args");
    let mut format_args = java_tool_options();
    format_args.push(format!("@{}", format_argfile.display()));
    ServiceSpec {
        name: "kafka",
        engine: "Kafka",
        depends_on: vec![],
        program: java17.clone(),
        args: kafka_args,
        env: java_env(&javas.java17),
        cwd: layout.state().to_path_buf(),
        ports: vec![config.ports.kafka, config.ports.kafka_controller],
        pre_start: vec![PreStart {
            description: "format KRaft storage with the SCRAM users (first start only)".into(),
            program: java17.clone(),
            args: format_args,
            unless_exists: Some(layout.data("kafka").join("meta.properties")),
            marks_done: None,
        }],
        after_healthy: kafka_acl_steps(
            layout,
            &java17,
            &java_tool_options(),
            config,
            &credentials.kafka,
            &[
                userstream_endpoints::names::TOPIC.to_owned(),
                userstream_endpoints::names::DLQ_TOPIC.to_owned(),
            ],
        ),
        health: Health::Kafka {
            bootstrap: KafkaAccess {
                bootstrap: config.endpoints().kafka_bootstrap,
                // The least-privileged user: metadata lists the brokers to anyone logged in.
                login: Some(credentials.kafka.reader.clone()),
            },
        },
        files: vec![
            (
                server_properties.clone(),
                render::kafka_server_properties(config, layout, &credentials.kafka),
            ),
            (
                kafka_conf.join("log4j2.yaml"),
                render::kafka_log4j2().to_owned(),
            ),
            (
                format_argfile,
                render::kafka_format_argfile(&cluster_id, &server_properties, &credentials.kafka),
            ),
            (
                kafka_conf.join("admin.properties"),
                render::kafka_client_properties(&credentials.kafka.admin),
            ),
        ],
    }
}

fn registry(inputs: &Inputs<'_>) -> ServiceSpec {
    let Inputs {
        config,
        layout,
        javas,
        secrets,
        ..
    } = *inputs;
    let credentials = &secrets.credentials;
    let mut registry_args = render::registry_jvm_options(config);
    // Its management port would serve metrics without a login too: the agent swaps the
    // handler for one answering 404, so it serves health only (see stack/registry-agent).
    registry_args.push(format!(
        "-javaagent:{}",
        layout.registry_agent_jar().display()
    ));
    registry_args.extend(["-jar".into(), "quarkus-run.jar".into()]);
    ServiceSpec {
        name: "registry",
        engine: "Schema Registry",
        depends_on: vec!["kafka"],
        program: java_bin(&javas.java21),
        args: registry_args,
        env: java_env(&javas.java21)
            .into_iter()
            .chain(render::registry_auth_env(credentials))
            .collect(),
        cwd: layout.registry_app(),
        ports: vec![config.ports.registry, config.ports.registry_management],
        pre_start: vec![],
        after_healthy: vec![],
        health: Health::Registry {
            url: config.endpoints().registry_url.to_string(),
            ready_url: format!(
                "http://{}:{}/health/ready",
                userstream_endpoints::HOST,
                config.ports.registry_management
            ),
            login: credentials.registry.reader.clone(),
        },
        files: vec![],
    }
}

fn cassandra(inputs: &Inputs<'_>) -> ServiceSpec {
    let Inputs {
        config,
        layout,
        javas,
        secrets,
        ..
    } = *inputs;
    let credentials = &secrets.credentials;
    let cassandra_conf = layout.conf("cassandra");
    let java17 = java_bin(&javas.java17);
    let mut cassandra_args = render::cassandra_jvm_options(config, &cassandra_conf, layout);
    cassandra_args.extend([
        "-cp".into(),
        format!(
            "{}:{}:{}",
            cassandra_conf.display(),
            classpath(&layout.cassandra_lib()),
            layout.cassandra_auth_jar().display()
        ),
        "org.apache.cassandra.service.CassandraDaemon".into(),
    ]);
    let mut cassandra_env = java_env(&javas.java17);
    // Cassandra's own launcher caps glibc arenas; without it RSS grows with thread count.
    cassandra_env.push(("MALLOC_ARENA_MAX".into(), "4".into()));
    // The role manager creates this admin role on a new node (never `cassandra`/`cassandra`).
    // The environment, not `-D` options: process arguments are visible to every local user.
    cassandra_env.extend([
        (
            render::CASSANDRA_ADMIN_ROLE_ENV.into(),
            credentials.cassandra.admin.username.clone(),
        ),
        (
            render::CASSANDRA_ADMIN_PASSWORD_ENV.into(),
            credentials.cassandra.admin.password.clone(),
        ),
    ]);
    ServiceSpec {
        name: "cassandra",
        engine: "Cassandra",
        depends_on: vec![],
        program: java17.clone(),
        args: cassandra_args,
        env: cassandra_env,
        cwd: layout.state().to_path_buf(),
        ports: vec![config.ports.cassandra, config.ports.cassandra_storage],
        pre_start: vec![],
        after_healthy: vec![],
        health: Health::Cassandra {
            contact_point: config.endpoints().cassandra,
            logins: credentials.cassandra.clone(),
        },
        files: vec![
            (
                cassandra_conf.join("cassandra.yaml"),
                render::cassandra_yaml(config, layout),
            ),
            (
                cassandra_conf.join("logback.xml"),
                render::cassandra_logback().to_owned(),
            ),
        ],
    }
}

/// The environment of every Spark process: Java 17, Spark's home, loopback, its logs and
/// configuration in the state directory, in the foreground.
fn spark_env(inputs: &Inputs<'_>, extra: Vec<(String, String)>) -> Vec<(String, String)> {
    let layout = inputs.layout;
    let mut env = java_env(&inputs.javas.java17);
    env.extend([
        ("SPARK_HOME".into(), inputs.spark_home.display().to_string()),
        ("SPARK_LOCAL_IP".into(), "127.0.0.1".into()),
        ("SPARK_LOG_DIR".into(), layout.logs().display().to_string()),
        (
            "SPARK_CONF_DIR".into(),
            layout.conf("spark").display().to_string(),
        ),
        ("SPARK_NO_DAEMONIZE".into(), "1".into()),
    ]);
    env.extend(extra);
    env
}

/// Master and worker: the UI filter's jar on their class path, the console token it asks for
/// in their environment, and `options` (`SPARK_MASTER_OPTS` or `SPARK_WORKER_OPTS`).
fn spark_daemon_env(inputs: &Inputs<'_>, options: (&str, String)) -> Vec<(String, String)> {
    spark_env(
        inputs,
        vec![
            (
                "SPARK_DAEMON_MEMORY".into(),
                inputs.config.spark_daemon_heap.to_string(),
            ),
            (
                "SPARK_DAEMON_CLASSPATH".into(),
                inputs.layout.spark_connect_auth_jar().display().to_string(),
            ),
            (
                render::SPARK_UI_TOKEN_ENV.into(),
                inputs.secrets.credentials.console_token.clone(),
            ),
            (options.0.into(), options.1),
        ],
    )
}

/// Master's and worker's spark-defaults.conf (RPC secret, UI filter), written by whichever
/// starts first.
fn spark_defaults(inputs: &Inputs<'_>) -> Vec<(PathBuf, String)> {
    vec![(
        inputs.layout.conf("spark").join("spark-defaults.conf"),
        render::spark_daemon_properties(inputs.secrets),
    )]
}

fn spark_master(inputs: &Inputs<'_>) -> ServiceSpec {
    let Inputs {
        config,
        layout,
        spark_home,
        secrets,
        ..
    } = *inputs;
    let credentials = &secrets.credentials;
    ServiceSpec {
        name: "spark-master",
        engine: "Spark",
        depends_on: vec![],
        program: spark_home.join("bin/spark-class"),
        args: vec![
            "org.apache.spark.deploy.master.Master".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            config.ports.spark_master.to_string(),
            "--webui-port".into(),
            config.ports.spark_master_ui.to_string(),
        ],
        // Without recovery, a restarted master knows neither the Connect server's
        // application nor the worker's executors: it has the worker kill them, and the
        // application never gets executors again (every Spark job hangs). With it, the
        // new master reads them back and both reconnect; the worker timeout bounds how
        // long it waits for ones that are gone (see `down`, which clears the directory).
        env: spark_daemon_env(
            inputs,
            (
                "SPARK_MASTER_OPTS",
                format!(
                    "-Dspark.deploy.recoveryMode=FILESYSTEM -Dspark.deploy.recoveryDirectory={} \
                     -Dspark.worker.timeout=30",
                    layout.spark_master_recovery().display()
                ),
            ),
        ),
        cwd: layout.state().to_path_buf(),
        ports: vec![config.ports.spark_master, config.ports.spark_master_ui],
        pre_start: vec![],
        after_healthy: vec![],
        health: Health::SparkMaster {
            ui_url: config.endpoints().spark_master_ui_url,
            token: credentials.console_token.clone(),
        },
        files: spark_defaults(inputs),
    }
}

fn spark_worker(inputs: &Inputs<'_>) -> ServiceSpec {
    let Inputs {
        config,
        layout,
        spark_home,
        secrets,
        ..
    } = *inputs;
    let credentials = &secrets.credentials;
    // The worker offers what the executor needs plus headroom for its off-heap overhead.
    let worker_memory = format!("{}m", config.spark_executor_heap.as_mib() + 512);
    ServiceSpec {
        name: "spark-worker",
        engine: "Spark",
        depends_on: vec!["spark-master"],
        program: spark_home.join("bin/spark-class"),
        args: vec![
            "org.apache.spark.deploy.worker.Worker".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--cores".into(),
            config.spark_worker_cores.to_string(),
            "--memory".into(),
            worker_memory,
            "--webui-port".into(),
            config.ports.spark_worker_ui.to_string(),
            "--work-dir".into(),
            layout.data("spark-worker").display().to_string(),
            config.endpoints().spark_master_url,
        ],
        // Old application directories (executor logs, jars) would fill the disk.
        env: spark_daemon_env(
            inputs,
            (
                "SPARK_WORKER_OPTS",
                "-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400"
                    .into(),
            ),
        ),
        cwd: layout.state().to_path_buf(),
        ports: vec![config.ports.spark_worker_ui],
        pre_start: vec![],
        after_healthy: vec![],
        health: Health::SparkWorker {
            master_ui_url: config.endpoints().spark_master_ui_url,
            token: credentials.console_token.clone(),
        },
        files: spark_defaults(inputs),
    }
}

fn spark_connect(inputs: &Inputs<'_>) -> ServiceSpec {
    let Inputs {
        config,
        layout,
        spark_home,
        secrets,
        ..
    } = *inputs;
    let credentials = &secrets.credentials;
    let spark_connect_conf = layout.conf("spark-connect");
    let spark_connect_jaas = spark_connect_conf.join(render::SPARK_CONNECT_KAFKA_JAAS);
    ServiceSpec {
        name: "spark-connect",
        engine: "Spark",
        depends_on: vec!["spark-worker", "kafka", "cassandra"],
        program: spark_home.join("bin/spark-submit"),
        args: render::spark_connect_args(config, inputs.spark_jars, layout),
        env: spark_env(
            inputs,
            vec![
                (
                    render::SPARK_CONNECT_TOKEN_ENV.into(),
                    credentials.spark_connect_token.clone(),
                ),
                (
                    render::SPARK_UI_TOKEN_ENV.into(),
                    credentials.console_token.clone(),
                ),
            ],
        ),
        cwd: layout.state().to_path_buf(),
        ports: vec![config.ports.spark_connect, config.ports.spark_driver_ui],
        pre_start: vec![],
        after_healthy: vec![],
        health: Health::SparkConnect {
            url: config.endpoints().spark_connect_url,
            token: credentials.spark_connect_token.clone(),
        },
        // The job's logins: the server's own, so its plans carry none.
        files: vec![
            (
                spark_connect_conf.join(render::SPARK_CONNECT_PROPERTIES),
                render::spark_connect_properties(secrets, &spark_connect_jaas),
            ),
            (
                spark_connect_jaas.clone(),
                render::kafka_client_jaas(&credentials.kafka.reader),
            ),
        ],
    }
}

fn airflow(inputs: &Inputs<'_>) -> Vec<ServiceSpec> {
    let Inputs {
        config,
        layout,
        secrets,
        userstream_bin,
        ..
    } = *inputs;
    let airflow_secrets = &secrets.airflow;
    let airflow_bin = layout.airflow_venv().join("bin/airflow");
    let airflow_env = render::airflow_env(config, layout, airflow_secrets, userstream_bin);
    let passwords = serde_json::json!({ "admin": airflow_secrets.admin_password }).to_string();
    let spec = |name: &'static str,
                args: &[&str],
                component: &'static str,
                depends_on: Vec<&'static str>,
                ports: Vec<u16>| ServiceSpec {
        name,
        engine: "Airflow",
        depends_on,
        program: airflow_bin.clone(),
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        env: airflow_env.clone(),
        cwd: layout.airflow_home(),
        ports,
        pre_start: vec![],
        after_healthy: vec![],
        health: Health::Airflow {
            url: config.endpoints().airflow_url,
            component,
        },
        files: vec![],
    };
    let mut api_server = spec(
        "airflow-api-server",
        &["api-server"],
        "metadatabase",
        vec![],
        vec![config.ports.airflow],
    );
    api_server.pre_start.push(PreStart {
        description: "migrate the Airflow metadata database".into(),
        program: airflow_bin.clone(),
        args: vec!["db".into(), "migrate".into()],
        unless_exists: None,
        marks_done: None,
    });
    api_server
        .files
        .push((layout.airflow_passwords(), passwords));
    let scheduler = spec(
        "airflow-scheduler",
        &["scheduler", "--skip-serve-logs"],
        "scheduler",
        vec!["airflow-api-server"],
        vec![],
    );
    let dag_processor = spec(
        "airflow-dag-processor",
        &["dag-processor"],
        "dag_processor",
        vec!["airflow-api-server"],
        vec![],
    );
    let triggerer = spec(
        "airflow-triggerer",
        &["triggerer", "--skip-serve-logs"],
        "triggerer",
        vec!["airflow-api-server"],
        vec![],
    );
    vec![api_server, scheduler, dag_processor, triggerer]
}

/// The steps that grant the pipeline's Kafka ACLs on `topics` (Kafka's own `AclCommand`, as
/// admin, its password in a 0600 properties file, not in arguments). Granting is idempotent;
/// a marker named after what is granted skips them on later starts.
pub fn kafka_acl_steps(
    layout: &Layout,
    java17: &Path,
    java_options: &[String],
    config: &StackConfig,
    kafka: &userstream_endpoints::credentials::KafkaLogins,
    topics: &[String],
) -> Vec<PreStart> {
    let grants = render::kafka_acls(kafka, topics);
    let marker_name = format!(
        "acls-{:016x}.done",
        u64::from_be_bytes(
            fnv128(format!("{grants:?}").as_bytes())[..8]
                .try_into()
                .unwrap_or_default()
        )
    );
    let marker = layout.data("kafka").join(marker_name);
    let count = grants.len();
    grants
        .into_iter()
        .enumerate()
        .map(|(i, grant)| {
            let mut args = java_options.to_vec();
            args.extend([
                "org.apache.kafka.tools.AclCommand".into(),
                "--bootstrap-server".into(),
                config.endpoints().kafka_bootstrap,
                "--command-config".into(),
                layout
                    .conf("kafka")
                    .join("admin.properties")
                    .display()
                    .to_string(),
            ]);
            args.extend(grant.args());
            PreStart {
                description: format!(
                    "grant ACLs {}/{count}: {} {} on {}",
                    i + 1,
                    grant.principals.join(","),
                    grant.operations.join(","),
                    grant
                        .topics
                        .iter()
                        .chain(&grant.groups)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                program: java17.to_path_buf(),
                args,
                unless_exists: Some(marker.clone()),
                marks_done: (i + 1 == count).then(|| marker.clone()),
            }
        })
        .collect()
}

/// The KRaft cluster id: stable per state directory, so re-formatting is never needed.
fn kafka_cluster_id(layout: &Layout) -> String {
    use base64::Engine;
    // A Kafka cluster id is 16 bytes, URL-safe base64 without padding (22 characters).
    let digest = fnv128(layout.state().display().to_string().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn fnv128(bytes: &[u8]) -> [u8; 16] {
    // Two FNV-1a passes with different offsets: stable across Rust versions, unlike DefaultHasher.
    let mut out = [0u8; 16];
    for (half, offset) in [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4]
        .iter()
        .enumerate()
    {
        let mut hash = *offset;
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        out[half * 8..half * 8 + 8].copy_from_slice(&hash.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<ServiceSpec> {
        let mut config = StackConfig::with_state_dir("/s");
        config.ports = userstream_endpoints::Ports::default();
        let layout = Layout::new("/s".into(), "/r".into(), "/d".into());
        let javas = Javas {
            java17: "/jdk17".into(),
            java21: "/jdk21".into(),
        };
        let secrets = Secrets::withheld();
        all(
            &config,
            &layout,
            &javas,
            Path::new("/spark"),
            &[],
            &secrets,
            Path::new("/bin/userstream"),
        )
    }

    #[test]
    fn every_dependency_is_listed_before_its_dependents() {
        // `up` gates each service on the services listed before it.
        let specs = specs();
        for (i, spec) in specs.iter().enumerate() {
            for dep in &spec.depends_on {
                assert!(
                    specs[..i].iter().any(|s| s.name == *dep),
                    "{} depends on {dep}, listed later or not at all",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn registry_runs_on_the_newer_java_and_the_rest_on_17() {
        let specs = specs();
        let by_name = |n: &str| specs.iter().find(|s| s.name == n).unwrap();
        assert_eq!(
            by_name("registry").program,
            PathBuf::from("/jdk21/bin/java")
        );
        assert_eq!(by_name("kafka").program, PathBuf::from("/jdk17/bin/java"));
        assert_eq!(
            by_name("cassandra").program,
            PathBuf::from("/jdk17/bin/java")
        );
    }

    #[test]
    fn kafka_formats_once_with_a_stable_cluster_id() {
        let specs = specs();
        let kafka = &specs[0];
        let format = &kafka.pre_start[0];
        // The tool's arguments (SCRAM passwords) are in a 0600 argument file, not in argv.
        assert_eq!(
            format.args.last().map(String::as_str),
            Some("@/s/conf/kafka/format.args")
        );
        assert!(!format.args.iter().any(|a| a.contains("password")));
        let argfile = &kafka
            .files
            .iter()
            .find(|(path, _)| path.ends_with("format.args"))
            .unwrap()
            .1;
        assert!(argfile.starts_with("kafka.tools.StorageTool\nformat\n--standalone\n"));
        assert!(argfile.contains("--add-scram\nSCRAM-SHA-512=[name=producer,password=<withheld: kafka producer password>]"));
        assert_eq!(
            format.unless_exists,
            Some(PathBuf::from("/s/data/kafka/meta.properties"))
        );
        let layout = Layout::new("/s".into(), "/r".into(), "/d".into());
        let id = kafka_cluster_id(&layout);
        assert_eq!(id.len(), 22);
        assert_eq!(id, kafka_cluster_id(&layout));
    }

    #[test]
    fn no_secret_is_in_any_process_argument() {
        let withheld = Secrets::withheld();
        let secrets = withheld.values();
        for spec in specs() {
            let steps = spec.pre_start.iter().chain(&spec.after_healthy);
            let argvs = std::iter::once(&spec.args).chain(steps.map(|s| &s.args));
            for arg in argvs.flatten() {
                assert!(
                    !secrets.iter().any(|secret| arg.contains(secret)),
                    "{}: a secret in argument {arg}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn kafka_grants_its_acls_once_it_is_healthy() {
        let specs = specs();
        let steps = &specs[0].after_healthy;
        // One step per grant.
        let grants = render::kafka_acls(&Secrets::withheld().credentials.kafka, &[]);
        assert_eq!(steps.len(), grants.len());
        assert!(steps[0]
            .args
            .contains(&"org.apache.kafka.tools.AclCommand".to_owned()));
        assert!(steps[0].args.contains(&"--command-config".to_owned()));
        let marker = steps[0].unless_exists.clone().unwrap();
        assert!(steps
            .iter()
            .all(|s| s.unless_exists.as_ref() == Some(&marker)));
        // Only the last one marks them done.
        let (last, before) = steps.split_last().unwrap();
        assert_eq!(last.marks_done.as_ref(), Some(&marker));
        assert!(before.iter().all(|s| s.marks_done.is_none()));
    }

    #[test]
    fn the_acl_marker_names_what_is_granted() {
        // A stack that granted fewer ACLs runs the steps again: its marker has another name.
        let layout = Layout::new("/s".into(), "/r".into(), "/d".into());
        let config = StackConfig::with_state_dir("/s");
        let kafka = Secrets::withheld().credentials.kafka;
        let marker = |topics: &[String]| {
            kafka_acl_steps(&layout, Path::new("/j"), &[], &config, &kafka, topics)[0]
                .unless_exists
                .clone()
        };
        assert_ne!(
            marker(&["users".into()]),
            marker(&["users".into(), "x".into()])
        );
        assert_eq!(marker(&["users".into()]), marker(&["users".into()]));
    }

    #[test]
    fn spark_connect_keeps_its_logins_in_private_files_it_is_started_with() {
        let specs = specs();
        let spark = specs.iter().find(|s| s.name == "spark-connect").unwrap();
        let at = spark
            .args
            .iter()
            .position(|a| a == "--properties-file")
            .unwrap();
        let properties = PathBuf::from(&spark.args[at + 1]);
        assert_eq!(
            properties,
            PathBuf::from("/s/conf/spark-connect/spark-connect.properties")
        );
        let file = |path: &Path| {
            spark
                .files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, text)| text.as_str())
                .unwrap()
        };
        let text = file(&properties);
        assert!(text.contains("spark.cassandra.auth.password=<withheld: cassandra app password>\n"));
        assert!(text.contains(
            "spark.executor.extraJavaOptions=\"-Djava.security.auth.login.config=/s/conf/spark-connect/kafka-client.jaas\"\n"
        ));
        let jaas = file(Path::new("/s/conf/spark-connect/kafka-client.jaas"));
        assert!(jaas.contains("username=\"reader\""));
        assert!(jaas.contains("password=\"<withheld: kafka reader password>\";"));
    }

    #[test]
    fn every_port_is_owned_by_one_service() {
        let specs = specs();
        let mut ports: Vec<u16> = specs.iter().flat_map(|s| s.ports.clone()).collect();
        let before = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), before);
    }
}
