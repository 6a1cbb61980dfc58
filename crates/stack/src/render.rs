//! Configuration files and JVM options for each engine, rendered from the stack config.
//! Pure functions: no I/O, unit-tested below.

use std::path::Path;

use crate::{Layout, StackConfig};

/// Kafka `server.properties`: KRaft combined mode (broker + controller) on loopback.
pub fn kafka_server_properties(config: &StackConfig, layout: &Layout) -> String {
    let broker = config.ports.kafka;
    let controller = config.ports.kafka_controller;
    let data = layout.data("kafka");
    format!(
        "# Rendered by `userstream stack up`; edits are overwritten.\n\
         process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n\
         listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}\n\
         inter.broker.listener.name=PLAINTEXT\n\
         controller.listener.names=CONTROLLER\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
         log.dirs={data}\n\
         num.partitions=3\n\
         offsets.topic.replication.factor=1\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         # Single node: no reason to wait for more group members before the first rebalance.\n\
         group.initial.rebalance.delay.ms=0\n\
         # Topics are created explicitly by `userstream setup`, with the partitions asked for.\n\
         auto.create.topics.enable=false\n",
        data = data.display()
    )
}

/// log4j2 configuration shared by Kafka's tools and broker: everything to stdout, which the
/// stack redirects into the service's one log file.
pub fn kafka_log4j2() -> &'static str {
    "Configuration:\n  \
       Appenders:\n    \
         Console:\n      \
           name: STDOUT\n      \
           PatternLayout:\n        \
             pattern: \"[%d] %p %m (%c)%n\"\n  \
       Loggers:\n    \
         Logger:\n      \
           - name: kafka.request.logger\n        \
             level: WARN\n    \
         Root:\n      \
           level: INFO\n      \
           AppenderRef:\n        \
             - ref: STDOUT\n"
}

/// JVM options for the Kafka broker (those of `kafka-run-class.sh`, heap from the config).
pub fn kafka_jvm_options(config: &StackConfig, conf_dir: &Path, logs: &Path) -> Vec<String> {
    let heap = config.kafka_heap;
    vec![
        format!("-Xmx{heap}"),
        format!("-Xms{heap}"),
        "-server".into(),
        "-XX:+UseG1GC".into(),
        "-XX:MaxGCPauseMillis=20".into(),
        "-XX:InitiatingHeapOccupancyPercent=35".into(),
        "-XX:+ExplicitGCInvokesConcurrent".into(),
        "-XX:MaxInlineLevel=15".into(),
        "-Djava.awt.headless=true".into(),
        format!("-Dkafka.logs.dir={}", logs.display()),
        format!(
            "-Dlog4j2.configurationFile={}",
            conf_dir.join("log4j2.yaml").display()
        ),
    ]
}

/// `cassandra.yaml` for one node on loopback. Every key is one Cassandra 5.0 knows; unknown
/// keys are fatal there.
pub fn cassandra_yaml(config: &StackConfig, layout: &Layout) -> String {
    let data = layout.data("cassandra");
    format!(
        "# Rendered by `userstream stack up`; edits are overwritten.\n\
         cluster_name: userstream\n\
         num_tokens: 16\n\
         allocate_tokens_for_local_replication_factor: 1\n\
         partitioner: org.apache.cassandra.dht.Murmur3Partitioner\n\
         endpoint_snitch: SimpleSnitch\n\
         commitlog_sync: periodic\n\
         commitlog_sync_period: 10000ms\n\
         seed_provider:\n  \
           - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    \
             parameters:\n      \
               - seeds: \"127.0.0.1:{storage}\"\n\
         listen_address: 127.0.0.1\n\
         rpc_address: 127.0.0.1\n\
         storage_port: {storage}\n\
         native_transport_port: {cql}\n\
         start_native_transport: true\n\
         data_file_directories:\n  \
           - {data}/data\n\
         commitlog_directory: {data}/commitlog\n\
         hints_directory: {data}/hints\n\
         saved_caches_directory: {data}/saved_caches\n\
         # One node on 2 cores: keep background work modest so writes get the CPU.\n\
         concurrent_compactors: 1\n\
         compaction_throughput: 64MiB/s\n",
        storage = config.ports.cassandra_storage,
        cql = config.ports.cassandra,
        data = data.display(),
    )
}

/// Cassandra's logback configuration: everything to stdout (the service log).
pub fn cassandra_logback() -> &'static str {
    r#"<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra.utils.SigarLibrary" level="WARN"/>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"#
}

/// Cassandra 5.0 JVM options: `jvm-server.options` + `jvm17-server.options` as shipped, minus
/// what only makes sense for a dedicated host (AlwaysPreTouch, NUMA).
pub fn cassandra_jvm_options(
    config: &StackConfig,
    conf_dir: &Path,
    layout: &Layout,
) -> Vec<String> {
    let heap = config.cassandra_heap;
    let mut options: Vec<String> = [
        // jvm-server.options
        "-ea",
        "-da:net.openhft...",
        "-XX:+UseThreadPriorities",
        "-XX:+HeapDumpOnOutOfMemoryError",
        "-Xss256k",
        "-XX:+UseTLAB",
        "-XX:+ResizeTLAB",
        "-XX:+PerfDisableSharedMem",
        "-Djava.net.preferIPv4Stack=true",
        "-Dchronicle.analytics.disable=true",
        // jvm17-server.options
        "-XX:+UseG1GC",
        "-XX:+ParallelRefProcEnabled",
        "-XX:MaxTenuringThreshold=1",
        "-XX:G1HeapRegionSize=16m",
        "-XX:G1RSetUpdatingPauseTimePercent=5",
        "-XX:MaxGCPauseMillis=300",
        "-XX:InitiatingHeapOccupancyPercent=70",
        "-Djdk.attach.allowAttachSelf=true",
        "-Dio.netty.tryReflectionSetAccessible=true",
        "-Dio.netty.allocator.useCacheForAllThreads=true",
        "-Dio.netty.allocator.maxOrder=11",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for export in [
        "java.base/jdk.internal.misc",
        "java.management.rmi/com.sun.jmx.remote.internal.rmi",
        "java.management/com.sun.jmx.remote.security",
        "java.rmi/sun.rmi.registry",
        "java.rmi/sun.rmi.server",
        "java.sql/java.sql",
        "java.base/java.lang.ref",
        "jdk.unsupported/sun.misc",
    ] {
        options.push("--add-exports".into());
        options.push(format!("{export}=ALL-UNNAMED"));
    }
    for open in [
        "java.base/java.lang.module",
        "java.base/jdk.internal.loader",
        "java.base/jdk.internal.ref",
        "java.base/jdk.internal.reflect",
        "java.base/jdk.internal.math",
        "java.base/jdk.internal.module",
        "java.base/jdk.internal.util.jar",
        "jdk.management/com.sun.management.internal",
        "java.base/sun.nio.ch",
        "java.base/java.io",
        "java.base/java.lang.reflect",
        "java.base/java.lang",
        "java.base/java.util",
        "java.base/java.nio",
    ] {
        options.push("--add-opens".into());
        options.push(format!("{open}=ALL-UNNAMED"));
    }
    options.extend([
        format!("-Xms{heap}"),
        format!("-Xmx{heap}"),
        // Without this Cassandra closes stdout/stderr after start-up and the log goes silent.
        "-Dcassandra-foreground=yes".into(),
        format!(
            "-Dcassandra.config=file://{}",
            conf_dir.join("cassandra.yaml").display()
        ),
        format!(
            "-Dlogback.configurationFile={}",
            conf_dir.join("logback.xml").display()
        ),
        format!("-Dcassandra.logdir={}", layout.logs().display()),
        format!(
            "-Dcassandra.storagedir={}",
            layout.data("cassandra").display()
        ),
        // Local JMX only, so nodetool works and nothing listens beyond loopback.
        format!("-Dcassandra.jmx.local.port={}", config.ports.cassandra_jmx),
    ]);
    options
}

/// System properties for the Apicurio Registry: Confluent API on loopback, schemas stored in
/// Kafka (so they survive restarts), management (health) port bound to loopback too.
pub fn registry_jvm_options(config: &StackConfig) -> Vec<String> {
    let heap = config.registry_heap;
    vec![
        format!("-Xmx{heap}"),
        format!("-Xms{heap}"),
        "-Djava.util.logging.manager=org.jboss.logmanager.LogManager".into(),
        "-Dquarkus.http.host=127.0.0.1".into(),
        format!("-Dquarkus.http.port={}", config.ports.registry),
        "-Dquarkus.management.host=127.0.0.1".into(),
        format!(
            "-Dquarkus.management.port={}",
            config.ports.registry_management
        ),
        "-Dapicurio.storage.kind=kafkasql".into(),
        format!(
            "-Dapicurio.kafkasql.bootstrap.servers={}",
            config.endpoints().kafka_bootstrap
        ),
        // Never phone home from a loopback stack.
        "-Dquarkus.analytics.disabled=true".into(),
    ]
}

/// Arguments of `spark-submit` that start the Spark Connect server as a driver on the cluster.
pub fn spark_connect_args(config: &StackConfig, jars: &[String], layout: &Layout) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--class".into(),
        "org.apache.spark.sql.connect.service.SparkConnectServer".into(),
        "--name".into(),
        "userstream Spark Connect".into(),
        "--master".into(),
        config.endpoints().spark_master_url,
        "--driver-memory".into(),
        config.spark_driver_heap.to_string(),
        "--executor-memory".into(),
        config.spark_executor_heap.to_string(),
        "--total-executor-cores".into(),
        config.spark_worker_cores.to_string(),
    ];
    if !jars.is_empty() {
        args.push("--jars".into());
        args.push(jars.join(","));
    }
    let confs = [
        (
            "spark.connect.grpc.binding.port",
            config.ports.spark_connect.to_string(),
        ),
        ("spark.driver.host", "127.0.0.1".into()),
        ("spark.driver.bindAddress", "127.0.0.1".into()),
        ("spark.ui.port", config.ports.spark_driver_ui.to_string()),
        // Fail instead of hunting for a free port: the port is part of the contract.
        ("spark.port.maxRetries", "0".into()),
        ("spark.cassandra.connection.host", "127.0.0.1".into()),
        (
            "spark.cassandra.connection.port",
            config.ports.cassandra.to_string(),
        ),
        ("spark.sql.shuffle.partitions", "4".into()),
        (
            "spark.local.dir",
            layout
                .data("spark-connect")
                .join("tmp")
                .display()
                .to_string(),
        ),
        // Streaming progress is what `stream status` reads; keep some history.
        ("spark.sql.streaming.numRecentProgressUpdates", "100".into()),
    ];
    for (key, value) in confs {
        args.push("--conf".into());
        args.push(format!("{key}={value}"));
    }
    args
}

/// Generated secrets that every Airflow component must share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AirflowSecrets {
    /// Signs the task JWTs the scheduler issues and the api-server checks.
    pub jwt_secret: String,
    /// Flask/FastAPI session secret.
    pub secret_key: String,
    /// Encrypts connections and variables in the metadata DB.
    pub fernet_key: String,
    /// The `admin` user's password (also written to the simple auth manager's password file).
    pub admin_password: String,
}

impl AirflowSecrets {
    /// Stand-ins for rendering a service's files without its secrets: each value is unique,
    /// so the variables that carry one can be found and left out.
    pub fn withheld() -> Self {
        Self {
            jwt_secret: "<withheld: jwt secret>".into(),
            secret_key: "<withheld: secret key>".into(),
            fernet_key: "<withheld: fernet key>".into(),
            admin_password: "<withheld: admin password>".into(),
        }
    }

    /// The four values, to recognise them in an environment.
    pub fn values(&self) -> [&str; 4] {
        [
            &self.jwt_secret,
            &self.secret_key,
            &self.fernet_key,
            &self.admin_password,
        ]
    }
}

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
        // Pick up DAG file changes quickly on a development stack.
        ("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30".into()),
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
    use std::path::PathBuf;

    fn fixture() -> (StackConfig, Layout) {
        let mut config = StackConfig::with_state_dir("/srv/us");
        // The documented ports, whatever the environment moved (the test command moves them).
        config.ports = userstream_endpoints::Ports::default();
        let layout = Layout::new(
            PathBuf::from("/srv/us"),
            PathBuf::from("/cache/rt"),
            PathBuf::from("/repo/dags"),
        );
        (config, layout)
    }

    #[test]
    fn kafka_properties_bind_loopback_and_use_the_data_dir() {
        let (mut config, layout) = fixture();
        config.ports.kafka = 19092;
        let props = kafka_server_properties(&config, &layout);
        assert!(
            props.contains("listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:9093\n")
        );
        assert!(props.contains("controller.quorum.bootstrap.servers=127.0.0.1:9093\n"));
        assert!(props.contains("log.dirs=/srv/us/data/kafka\n"));
        assert!(!props.contains("0.0.0.0"));
        // The dynamic quorum must not also name static voters: `format --standalone` refuses.
        assert!(!props.contains("controller.quorum.voters"));
    }

    #[test]
    fn cassandra_yaml_has_every_mandatory_directive() {
        let (config, layout) = fixture();
        let yaml = cassandra_yaml(&config, &layout);
        for key in [
            "commitlog_sync: periodic",
            "commitlog_sync_period: 10000ms",
            "partitioner: ",
            "endpoint_snitch: ",
            "seeds: \"127.0.0.1:7000\"",
            "listen_address: 127.0.0.1",
            "rpc_address: 127.0.0.1",
            "native_transport_port: 9042",
            "- /srv/us/data/cassandra/data",
        ] {
            assert!(yaml.contains(key), "missing {key} in\n{yaml}");
        }
    }

    #[test]
    fn cassandra_options_keep_stdout_open_and_size_the_heap() {
        let (config, layout) = fixture();
        let opts = cassandra_jvm_options(&config, Path::new("/c"), &layout);
        assert!(opts.contains(&"-Dcassandra-foreground=yes".to_owned()));
        assert!(opts.contains(&"-Xmx2g".to_owned()));
        assert!(opts.contains(&"-Dcassandra.config=file:///c/cassandra.yaml".to_owned()));
        let opens = opts.iter().position(|o| o == "--add-opens").unwrap();
        assert!(opts[opens + 1].ends_with("=ALL-UNNAMED"));
        assert!(
            !opts.iter().any(|o| o.starts_with("-Xmn")),
            "G1 must not get -Xmn"
        );
    }

    #[test]
    fn registry_binds_both_ports_to_loopback_and_stores_in_kafka() {
        let (config, _) = fixture();
        let opts = registry_jvm_options(&config);
        assert!(opts.contains(&"-Dquarkus.http.host=127.0.0.1".to_owned()));
        assert!(opts.contains(&"-Dquarkus.management.host=127.0.0.1".to_owned()));
        assert!(opts.contains(&"-Dapicurio.storage.kind=kafkasql".to_owned()));
        assert!(opts.contains(&"-Dapicurio.kafkasql.bootstrap.servers=127.0.0.1:9092".to_owned()));
    }

    #[test]
    fn spark_connect_runs_on_the_master_with_the_connector_jars() {
        let (config, layout) = fixture();
        let args = spark_connect_args(&config, &["/j/a.jar".into(), "/j/b.jar".into()], &layout);
        let joined = args.join(" ");
        assert!(joined.contains("--master spark://127.0.0.1:7077"));
        assert!(joined.contains("--jars /j/a.jar,/j/b.jar"));
        assert!(joined.contains("--conf spark.connect.grpc.binding.port=15002"));
        assert!(joined.contains("--conf spark.driver.bindAddress=127.0.0.1"));
    }

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
