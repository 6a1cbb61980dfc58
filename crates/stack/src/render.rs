//! Configuration files and JVM options for each engine, rendered from the stack config.
//! Pure functions: no I/O, unit-tested below.

use std::path::Path;

use userstream_endpoints::credentials::{Credentials, KafkaLogins, Login};

use crate::{Layout, StackConfig};

/// Kafka `server.properties`: KRaft combined mode (broker + controller) on loopback, every
/// listener authenticated: clients and the broker itself with SCRAM-SHA-512, the controller
/// listener with PLAIN (Kafka does not support SCRAM between controllers), and the standard
/// authorizer, which denies whatever no ACL allows (only `admin` and `controller` are super users).
pub fn kafka_server_properties(
    config: &StackConfig,
    layout: &Layout,
    kafka: &KafkaLogins,
) -> String {
    let broker = config.ports.kafka;
    let controller = config.ports.kafka_controller;
    let data = layout.data("kafka");
    format!(
        "# Rendered by `userstream stack up`; edits are overwritten. Holds passwords: mode 0600.\n\
         process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n\
         listeners=SASL_PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}\n\
         inter.broker.listener.name=SASL_PLAINTEXT\n\
         controller.listener.names=CONTROLLER\n\
         listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT\n\
         sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n\
         sasl.mechanism.controller.protocol=PLAIN\n\
         listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512\n\
         listener.name.controller.sasl.enabled.mechanisms=PLAIN\n\
         listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={admin_jaas}\n\
         listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{cuser}\" password=\"{cpw}\" user_{cuser}=\"{cpw}\";\n\
         authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n\
         super.users=User:{admin};User:{cuser}\n\
         allow.everyone.if.no.acl.found=false\n\
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
        data = data.display(),
        admin_jaas = scram_jaas(&kafka.admin),
        admin = kafka.admin.username,
        cuser = kafka.controller.username,
        cpw = kafka.controller.password,
    )
}

/// A Kafka client's JAAS line for a SCRAM login.
pub fn scram_jaas(login: &Login) -> String {
    format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{}\" password=\"{}\";",
        login.username, login.password
    )
}

/// A Kafka Java tool's client properties (`--command-config`) for `login`.
pub fn kafka_client_properties(login: &Login) -> String {
    format!(
        "# Rendered by `userstream stack up`; holds a password: mode 0600.\n\
         security.protocol=SASL_PLAINTEXT\n\
         sasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config={}\n",
        scram_jaas(login)
    )
}

/// The storage tool's arguments for the first format, as a Java launcher argument file (read
/// by `java @file`, so the SCRAM passwords never appear in a process's arguments). Its first
/// token is the main class: the launcher expands argument files before the main class only.
pub fn kafka_format_argfile(
    cluster_id: &str,
    server_properties: &Path,
    kafka: &KafkaLogins,
) -> String {
    let mut lines = vec![
        "kafka.tools.StorageTool".to_owned(),
        "format".into(),
        "--standalone".into(),
        "--ignore-formatted".into(),
        // One token: a cluster id may start with `-`, which the tool would read as an option.
        format!("--cluster-id={cluster_id}"),
        "-c".into(),
        format!("\"{}\"", server_properties.display()),
    ];
    for login in [
        &kafka.admin,
        &kafka.producer,
        &kafka.reader,
        &kafka.registry,
    ] {
        lines.push("--add-scram".into());
        lines.push(format!(
            "SCRAM-SHA-512=[name={},password={}]",
            login.username, login.password
        ));
    }
    lines.join("\n") + "\n"
}

/// One `kafka-acls` run: principals, operations and resources of one pattern type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclGrant {
    /// Kafka users (`User:` is added).
    pub principals: Vec<String>,
    /// Operations (`Read`, `Write`, `Describe`, `All`, ...).
    pub operations: Vec<&'static str>,
    /// Topics.
    pub topics: Vec<String>,
    /// Consumer groups.
    pub groups: Vec<String>,
    /// Resource names are prefixes, not literal names.
    pub prefixed: bool,
}

impl AclGrant {
    /// `AclCommand` arguments after `--bootstrap-server` and `--command-config`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["--add".to_owned()];
        for principal in &self.principals {
            args.extend(["--allow-principal".into(), format!("User:{principal}")]);
        }
        for operation in &self.operations {
            args.extend(["--operation".into(), (*operation).to_owned()]);
        }
        for topic in &self.topics {
            args.extend(["--topic".into(), topic.clone()]);
        }
        for group in &self.groups {
            args.extend(["--group".into(), group.clone()]);
        }
        if self.prefixed {
            args.extend(["--resource-pattern-type".into(), "prefixed".into()]);
        }
        args
    }
}

/// Prefixes of the topics the tests (`test-`) and `bench e2e` (`userstream-bench-`) create,
/// produce to and delete as the Kafka admin. The Spark job reads every topic as the reader
/// (its login is the Connect server's own, see [`spark_connect_properties`]), so the reader
/// may read these too.
pub const READER_TOPIC_PREFIXES: [&str; 2] = ["test-", "userstream-bench-"];

/// The ACLs of the pipeline's topics and the registry's: the producer writes the users topic
/// and its dead-letter topic (Write on a topic also allows its idempotent producer, KIP-679);
/// the reader (the Spark job, `verify`, the console) reads them and the topics named with
/// [`READER_TOPIC_PREFIXES`], in the Spark source's consumer groups and the project's own;
/// the registry owns its KafkaSQL topics and groups.
pub fn kafka_acls(kafka: &KafkaLogins, topics: &[String]) -> Vec<AclGrant> {
    let grant = |who: &Login, operations: Vec<&'static str>, topics: Vec<String>| AclGrant {
        principals: vec![who.username.clone()],
        operations,
        topics,
        groups: vec![],
        prefixed: false,
    };
    vec![
        grant(&kafka.producer, vec!["Write", "Describe"], topics.to_vec()),
        grant(&kafka.reader, vec!["Read", "Describe"], topics.to_vec()),
        AclGrant {
            principals: vec![kafka.reader.username.clone()],
            operations: vec!["Read", "Describe"],
            topics: READER_TOPIC_PREFIXES.map(String::from).to_vec(),
            groups: vec![],
            prefixed: true,
        },
        AclGrant {
            principals: vec![kafka.reader.username.clone()],
            operations: vec!["Read"],
            topics: vec![],
            groups: vec!["spark-kafka-source".into(), "userstream".into()],
            prefixed: true,
        },
        grant(
            &kafka.registry,
            vec!["All"],
            ["kafkasql-journal", "kafkasql-snapshots", "registry-events"]
                .map(String::from)
                .to_vec(),
        ),
        AclGrant {
            principals: vec![kafka.registry.username.clone()],
            operations: vec!["Read"],
            topics: vec![],
            groups: vec!["apicurio-".into()],
            prefixed: true,
        },
    ]
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

/// The class of the stack's Cassandra role manager (`stack/cassandra-auth`, built by
/// `stack install`), for `role_manager` in cassandra.yaml.
pub const CASSANDRA_ROLE_MANAGER_CLASS: &str = "dev.userstream.cassandra.StackAdminRoleManager";

/// The environment variables the role manager reads the admin role's name and password from.
pub const CASSANDRA_ADMIN_ROLE_ENV: &str = "USERSTREAM_CASSANDRA_ADMIN_ROLE";
/// See [`CASSANDRA_ADMIN_ROLE_ENV`].
pub const CASSANDRA_ADMIN_PASSWORD_ENV: &str = "USERSTREAM_CASSANDRA_ADMIN_PASSWORD";

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
         # Every client logs in; roles and grants decide what it may do (see `stack up`).\n\
         authenticator: PasswordAuthenticator\n\
         authorizer: CassandraAuthorizer\n\
         # A new node gets the stack's admin role, never the well-known `cassandra`.\n\
         role_manager: {role_manager}\n\
         data_file_directories:\n  \
           - {data_dir}\n\
         commitlog_directory: {commitlog}\n\
         hints_directory: {hints}\n\
         saved_caches_directory: {saved_caches}\n\
         # One node on 2 cores: keep background work modest so writes get the CPU.\n\
         concurrent_compactors: 1\n\
         compaction_throughput: 64MiB/s\n",
        storage = config.ports.cassandra_storage,
        cql = config.ports.cassandra,
        role_manager = CASSANDRA_ROLE_MANAGER_CLASS,
        data_dir = yaml_path(&data.join("data")),
        commitlog = yaml_path(&data.join("commitlog")),
        hints = yaml_path(&data.join("hints")),
        saved_caches = yaml_path(&data.join("saved_caches")),
    )
}

/// `file://` URL of an absolute `path`, every byte but unreserved ones and `/` percent-encoded.
fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// `path` as a YAML double-quoted scalar. A JSON string is one (same escapes), so a state
/// directory with a space, `#`, `:` or a quote in its name reads back as itself.
fn yaml_path(path: &Path) -> String {
    serde_json::Value::from(path.display().to_string()).to_string()
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
        // A URL: a space or `%` in the state directory's path must be percent-encoded.
        format!(
            "-Dcassandra.config={}",
            file_url(&conf_dir.join("cassandra.yaml"))
        ),
        format!(
            "-Dlogback.configurationFile={}",
            conf_dir.join("logback.xml").display()
        ),
        format!("-Dcassandra.logdir={}", layout.logs().display()),
        // The admin role is created this long after start-up (and retried as often): no
        // login works before, so the stack's first one should not wait the default 10 s.
        "-Dcassandra.superuser_setup_delay_ms=1000".into(),
        format!(
            "-Dcassandra.storagedir={}",
            layout.data("cassandra").display()
        ),
        // No JMX: neither `cassandra.jmx.local.port` nor `.remote.port` is set, so Cassandra
        // starts no JMX server. Its local one takes no login, lets any user of the machine read
        // files and run code as the stack's user, and the stack never uses it (no nodetool).
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

/// The registry's environment for authentication: HTTP basic auth with three embedded users
/// and role-based authorization on every API (the Confluent one included), and its KafkaSQL
/// storage's Kafka login. Environment, not `-D` options: process arguments are visible to
/// every local user. The management port (health) stays open: it shows no data.
pub fn registry_auth_env(credentials: &Credentials) -> Vec<(String, String)> {
    let users = &credentials.registry;
    let mut env: Vec<(String, String)> = vec![
        ("QUARKUS_HTTP_AUTH_BASIC".into(), "true".into()),
        ("QUARKUS_OIDC_TENANT_ENABLED".into(), "false".into()),
        (
            "QUARKUS_SECURITY_USERS_EMBEDDED_ENABLED".into(),
            "true".into(),
        ),
        (
            "QUARKUS_SECURITY_USERS_EMBEDDED_PLAIN_TEXT".into(),
            "true".into(),
        ),
        (
            "APICURIO_AUTH_ROLE_BASED_AUTHORIZATION".into(),
            "true".into(),
        ),
        (
            "APICURIO_AUTH_ANONYMOUS_READ_ACCESS_ENABLED".into(),
            "false".into(),
        ),
        (
            "APICURIO_AUTH_AUTHENTICATED_READ_ACCESS_ENABLED".into(),
            "false".into(),
        ),
    ];
    for (login, role) in [
        (&users.admin, "sr-admin"),
        (&users.producer, "sr-developer"),
        (&users.reader, "sr-readonly"),
    ] {
        // Quarkus maps the variable's name to the user: lower case, `_` to `.`; the stack's
        // user names are lower-case letters only.
        let name = login.username.to_uppercase();
        env.push((
            format!("QUARKUS_SECURITY_USERS_EMBEDDED_USERS_{name}"),
            login.password.clone(),
        ));
        env.push((
            format!("QUARKUS_SECURITY_USERS_EMBEDDED_ROLES_{name}"),
            role.into(),
        ));
    }
    // `apicurio.kafka.common.*` reaches every KafkaSQL client (producer, consumer, admin).
    // (`apicurio.kafkasql.security.sasl.enabled` would force OAuth instead.)
    env.extend([
        (
            "APICURIO_KAFKA_COMMON_SECURITY_PROTOCOL".into(),
            "SASL_PLAINTEXT".into(),
        ),
        (
            "APICURIO_KAFKA_COMMON_SASL_MECHANISM".into(),
            "SCRAM-SHA-512".into(),
        ),
        (
            "APICURIO_KAFKA_COMMON_SASL_JAAS_CONFIG".into(),
            scram_jaas(&credentials.kafka.registry),
        ),
    ]);
    env
}

/// The class of `spark/interceptor`: refuses Spark Connect calls from beyond loopback and
/// calls without the stack's token (Spark 3.5 has neither a bind address nor authentication).
pub const SPARK_CONNECT_INTERCEPTOR: &str = "dev.userstream.spark.LoopbackTokenInterceptor";

/// The environment variable the interceptor reads the token from (never a Spark conf: any
/// client may read confs back).
pub const SPARK_CONNECT_TOKEN_ENV: &str = "USERSTREAM_SPARK_CONNECT_TOKEN";

/// The Spark Connect server's properties file (in its conf dir): its logins, see
/// [`spark_connect_properties`].
pub const SPARK_CONNECT_PROPERTIES: &str = "spark-connect.properties";

/// The JAAS file of the Spark Connect server's Kafka clients (in its conf dir), see
/// [`kafka_client_jaas`].
pub const SPARK_CONNECT_KAFKA_JAAS: &str = "kafka-client.jaas";

/// The Spark Connect server's own configuration that holds passwords: the Cassandra
/// application role (the connector reads `spark.cassandra.auth.*` from the SparkConf), and the
/// JAAS file of the Kafka reader for the driver's and the executors' Kafka clients (they use
/// its `KafkaClient` section when a source sets no `sasl.jaas.config`). So the job's plans
/// carry no credential: Spark Connect logs whole plans unredacted, and its UI shows them.
///
/// Passed with `--properties-file` (`--conf` would put the password in the process's
/// arguments); in Spark 3.5 this file replaces `$SPARK_CONF_DIR/spark-defaults.conf`, which
/// the stack does not write. Java properties syntax, read as UTF-8.
pub fn spark_connect_properties(secrets: &Secrets, kafka_jaas: &Path) -> String {
    let app = &secrets.credentials.cassandra.app;
    // Spark splits extraJavaOptions on whitespace, with shell-like quotes and backslashes.
    let jaas_option = java_option_quote(&format!(
        "-Djava.security.auth.login.config={}",
        kafka_jaas.display()
    ));
    let mut properties = vec![
        ("spark.cassandra.auth.username", app.username.as_str()),
        ("spark.cassandra.auth.password", app.password.as_str()),
        ("spark.driver.extraJavaOptions", jaas_option.as_str()),
        ("spark.executor.extraJavaOptions", jaas_option.as_str()),
    ];
    properties.extend(spark_security_properties(secrets));
    properties_file(&properties)
}

/// `$SPARK_CONF_DIR/spark-defaults.conf` of the master and the worker (mode 0600): Spark's RPC
/// authentication, the UI's login filter and no kill links.
pub fn spark_daemon_properties(secrets: &Secrets) -> String {
    properties_file(&spark_security_properties(secrets))
}

/// What every Spark process of the stack shares. `spark.authenticate` makes the master, the
/// worker, the driver and the executors prove the shared secret on every RPC connection, so a
/// local user's `spark-submit` (whose executors would run as the stack's user) is refused.
/// The worker hands the secret to the executors it starts in their environment, never in
/// their arguments. The secret is in 0600 files only: `--conf` would put it in argv.
fn spark_security_properties(secrets: &Secrets) -> Vec<(&'static str, &str)> {
    vec![
        ("spark.authenticate", "true"),
        (
            "spark.authenticate.secret",
            secrets.spark_auth_secret.as_str(),
        ),
        // The master UI's kill links would let anyone who reaches it stop the Connect server.
        ("spark.ui.killEnabled", "false"),
        ("spark.ui.filters", SPARK_UI_FILTER),
        // Should a value ever hold a credential, the environment page and the event log show
        // it redacted.
        ("spark.redaction.regex", SPARK_REDACTION_REGEX),
        // Checkpoints are written through Hadoop's file system, which sets each file's mode
        // from its own umask setting (022 by default), not the process's.
        ("spark.hadoop.fs.permissions.umask-mode", "077"),
    ]
}

/// The login filter of every Spark UI (in the interceptor's jar).
pub const SPARK_UI_FILTER: &str = "dev.userstream.spark.UiTokenFilter";

/// The environment variable the UI filter reads the console token from.
pub const SPARK_UI_TOKEN_ENV: &str = "USERSTREAM_SPARK_UI_TOKEN";

/// Conf keys whose values Spark shows redacted (the defaults plus `jaas` and `token`).
const SPARK_REDACTION_REGEX: &str = "(?i)secret|password|token|access[.]?key|jaas";

/// A Java properties file, rendered: the header, then `key=value` lines.
fn properties_file(properties: &[(&str, &str)]) -> String {
    let mut text = "# Rendered by `userstream stack up`; edits are overwritten. Holds a password: mode 0600.\n"
        .to_owned();
    for (key, value) in properties {
        text.push_str(&format!("{key}={}\n", java_properties_value(value)));
    }
    text
}

/// A JAAS configuration file with the `KafkaClient` section for a SCRAM login: the static
/// login of every Kafka client in a JVM started with `-Djava.security.auth.login.config`.
///
/// The JDK's parser reads `\"`, `\\` and `\n` escapes in quoted values, and expands
/// `${name}` to a system property afterwards, which no escape prevents: the stack's
/// passwords are URL-safe base64 (`lifecycle::new_password`), so they hold no `$`.
pub fn kafka_client_jaas(login: &Login) -> String {
    format!(
        "// Rendered by `userstream stack up`; edits are overwritten. Holds a password: mode 0600.\n\
         KafkaClient {{\n  \
           org.apache.kafka.common.security.scram.ScramLoginModule required\n  \
           username=\"{}\"\n  \
           password=\"{}\";\n\
         }};\n",
        jaas_escape(&login.username),
        jaas_escape(&login.password)
    )
}

/// `value` for a double-quoted JAAS option value.
fn jaas_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// `option` as one token of a Spark Java options string (`spark.*.extraJavaOptions`): in
/// double quotes, with `"` and `\` escaped. The launcher (the driver's options) and the
/// standalone worker (the executors') both split these strings this way.
fn java_option_quote(option: &str) -> String {
    let mut out = String::with_capacity(option.len() + 2);
    out.push('"');
    for c in option.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `value` as the value of a line of a Java properties file (`Properties.load`). (Spark then
/// trims the value: white space at either end of a password would be lost. The stack's
/// passwords have none.)
fn java_properties_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Leading white space is skipped by the reader.
            ' ' if i == 0 => out.push_str("\\ "),
            c => out.push(c),
        }
    }
    out
}

/// Arguments of `spark-submit` that start the Spark Connect server as a driver on the cluster.
/// Its logins are in [`SPARK_CONNECT_PROPERTIES`] in its conf dir, never in the arguments.
pub fn spark_connect_args(config: &StackConfig, jars: &[String], layout: &Layout) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--properties-file".into(),
        layout
            .conf("spark-connect")
            .join(SPARK_CONNECT_PROPERTIES)
            .display()
            .to_string(),
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
        // Every call passes the interceptor: loopback peers with the token only.
        (
            "spark.connect.grpc.interceptor.classes",
            SPARK_CONNECT_INTERCEPTOR.into(),
        ),
        // Plans carry no credential (see `spark_connect_properties`); should a caller's
        // option hold one, the UI's plans and the query progress redact it. (Spark Connect's
        // own log of an abandoned execution prints its plan unredacted.)
        (
            "spark.sql.redaction.options.regex",
            "(?i)url|jaas|password|secret|token".into(),
        ),
        // The SQL text Spark shows (plans, `EXPLAIN`): any `password=…` and the like.
        (
            "spark.sql.redaction.string.regex",
            "(?i)(password|secret|token|jaas[.]config)[\"']?\\s*[=:]\\s*[^,)\\s]+".into(),
        ),
    ];
    for (key, value) in confs {
        args.push("--conf".into());
        args.push(format!("{key}={value}"));
    }
    args
}

/// Everything secret of the stack, generated by the first `stack up` into one file
/// (`<state>/secrets.json`, mode 0600): Airflow's own secrets and every client credential.
/// One flat JSON object; each reader takes the part it knows.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Secrets {
    /// Airflow's secrets and admin password.
    #[serde(flatten)]
    pub airflow: AirflowSecrets,
    /// The engines' users and the stack's tokens.
    #[serde(flatten)]
    pub credentials: Credentials,
    /// Spark's own RPC secret (`spark.authenticate`), shared by the master, the worker, the
    /// Connect server's driver and its executors; no client of the stack needs it. Empty in a
    /// secrets file written before it existed: `lifecycle::secrets` adds one.
    #[serde(default)]
    pub spark_auth_secret: String,
}

/// Names only: a `{:?}` of the secrets (an error, a log line) shows no value.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("airflow", &"<withheld>")
            .field("credentials", &self.credentials)
            .field("spark_auth_secret", &"<withheld>")
            .finish()
    }
}

impl Secrets {
    /// Stand-ins for rendering a service's files without its secrets.
    pub fn withheld() -> Self {
        Self {
            airflow: AirflowSecrets::withheld(),
            credentials: Credentials::withheld(),
            spark_auth_secret: "<withheld: spark auth secret>".into(),
        }
    }

    /// Every secret value, to recognise them in an environment or a file.
    pub fn values(&self) -> Vec<&str> {
        let mut values = self.airflow.values().to_vec();
        values.extend(self.credentials.secret_values());
        values.push(&self.spark_auth_secret);
        values
    }
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
        let props = kafka_server_properties(&config, &layout, &Credentials::withheld().kafka);
        assert!(props
            .contains("listeners=SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:9093\n"));
        // Every listener authenticates; nothing is allowed without an ACL.
        assert!(!props.contains("PLAINTEXT:PLAINTEXT"));
        assert!(props.contains("CONTROLLER:SASL_PLAINTEXT"));
        assert!(props.contains("allow.everyone.if.no.acl.found=false\n"));
        assert!(props.contains("super.users=User:admin;User:controller\n"));
        assert!(props.contains("controller.quorum.bootstrap.servers=127.0.0.1:9093\n"));
        assert!(props.contains("log.dirs=/srv/us/data/kafka\n"));
        assert!(!props.contains("0.0.0.0"));
        // The dynamic quorum must not also name static voters: `format --standalone` refuses.
        assert!(!props.contains("controller.quorum.voters"));
    }

    #[test]
    fn the_registry_authenticates_every_api_and_its_kafka_clients() {
        let env = registry_auth_env(&Credentials::withheld());
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("QUARKUS_HTTP_AUTH_BASIC"), Some("true"));
        assert_eq!(get("APICURIO_AUTH_ROLE_BASED_AUTHORIZATION"), Some("true"));
        assert_eq!(
            get("QUARKUS_SECURITY_USERS_EMBEDDED_ROLES_READER"),
            Some("sr-readonly")
        );
        assert_eq!(
            get("QUARKUS_SECURITY_USERS_EMBEDDED_ROLES_PRODUCER"),
            Some("sr-developer")
        );
        assert!(get("APICURIO_KAFKA_COMMON_SASL_JAAS_CONFIG")
            .unwrap()
            .contains("username=\"registry\""));
    }

    #[test]
    fn acl_grants_are_one_pattern_type_each() {
        let grants = kafka_acls(
            &Credentials::withheld().kafka,
            &["users".into(), "users.dlq".into()],
        );
        let producer = &grants[0];
        assert_eq!(
            producer.args().join(" "),
            "--add --allow-principal User:producer --operation Write --operation Describe --topic users --topic users.dlq"
        );
        assert!(grants
            .iter()
            .any(|g| g.prefixed && g.groups.contains(&"spark-kafka-source".to_owned())));
        // The job reads the tests' and the bench's topics as the reader, never more.
        let prefixed_topics: Vec<String> = grants
            .iter()
            .filter(|g| g.prefixed && !g.topics.is_empty())
            .map(|g| g.args().join(" "))
            .collect();
        assert_eq!(
            prefixed_topics,
            ["--add --allow-principal User:reader --operation Read --operation Describe --topic test- --topic userstream-bench- --resource-pattern-type prefixed"]
        );
    }

    #[test]
    fn spark_connect_properties_hold_the_app_role_the_jaas_file_and_the_rpc_secret() {
        let mut secrets = Secrets::withheld();
        secrets.credentials.cassandra.app = Login::new("app", "p\\w=1 x");
        let text = spark_connect_properties(&secrets, Path::new("/s/conf/sc/kafka.jaas"));
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "spark.cassandra.auth.username=app",
                // Properties syntax: a backslash is doubled.
                "spark.cassandra.auth.password=p\\\\w=1 x",
                "spark.driver.extraJavaOptions=\"-Djava.security.auth.login.config=/s/conf/sc/kafka.jaas\"",
                "spark.executor.extraJavaOptions=\"-Djava.security.auth.login.config=/s/conf/sc/kafka.jaas\"",
                "spark.authenticate=true",
                "spark.authenticate.secret=<withheld: spark auth secret>",
                "spark.ui.killEnabled=false",
                "spark.ui.filters=dev.userstream.spark.UiTokenFilter",
                "spark.redaction.regex=(?i)secret|password|token|access[.]?key|jaas",
                "spark.hadoop.fs.permissions.umask-mode=077",
            ]
        );
        // No Kafka password: that is in the JAAS file.
        assert!(!text.contains("kafka reader password"));
        // The master and the worker share the RPC settings, and hold no login.
        let daemons = spark_daemon_properties(&secrets);
        assert!(daemons.contains("spark.authenticate.secret=<withheld: spark auth secret>\n"));
        assert!(daemons.contains("spark.ui.filters=dev.userstream.spark.UiTokenFilter\n"));
        assert!(!daemons.contains("cassandra"));
    }

    #[test]
    fn a_path_with_a_space_or_a_quote_stays_one_java_option() {
        let text = spark_connect_properties(
            &Secrets::withheld(),
            Path::new("/my state/say \"hi\"\\/k.jaas"),
        );
        // Quoted for Spark's option splitting (`\"` and `\\` inside), then each backslash
        // doubled for the properties file.
        assert!(text.contains(
            "spark.driver.extraJavaOptions=\"-Djava.security.auth.login.config=/my state/say \\\\\"hi\\\\\"\\\\\\\\/k.jaas\"\n"
        ), "{text}");
    }

    #[test]
    fn properties_values_keep_leading_space_and_line_breaks() {
        assert_eq!(java_properties_value(" a\nb\t"), "\\ a\\nb\\t");
        assert_eq!(java_properties_value("a b=c:d#e"), "a b=c:d#e");
    }

    #[test]
    fn the_kafka_jaas_file_has_the_login_escaped() {
        let jaas = kafka_client_jaas(&Login::new("reader", "a\"b\\c"));
        assert!(jaas.contains("KafkaClient {\n"));
        assert!(jaas.contains(
            "  org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=\"reader\"\n  password=\"a\\\"b\\\\c\";\n};\n"
        ), "{jaas}");
    }

    #[test]
    fn generated_passwords_need_no_jaas_escape() {
        // The JDK expands `${...}` in JAAS values, which no escape prevents.
        for _ in 0..100 {
            let password = crate::lifecycle::new_password();
            assert_eq!(jaas_escape(&password), password);
            assert!(!password.contains('$'));
        }
    }

    #[test]
    fn the_secret_values_are_every_value_of_the_secrets_file_but_the_user_names() {
        let secrets = Secrets::withheld();
        let json = serde_json::to_value(&secrets).unwrap();
        let mut strings = Vec::new();
        collect_strings(&json, None, &mut strings);
        let values = secrets.values();
        for value in strings {
            assert!(
                values.contains(&value.as_str()),
                "{value} is not scanned for"
            );
        }
    }

    /// Every string in `json`, except the `username` fields.
    fn collect_strings(json: &serde_json::Value, key: Option<&str>, out: &mut Vec<String>) {
        match json {
            serde_json::Value::String(s) if key != Some("username") => out.push(s.clone()),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    collect_strings(v, Some(k), out);
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    collect_strings(v, key, out);
                }
            }
            _ => {}
        }
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
            "authenticator: PasswordAuthenticator",
            "authorizer: CassandraAuthorizer",
            "role_manager: dev.userstream.cassandra.StackAdminRoleManager",
            "- \"/srv/us/data/cassandra/data\"",
        ] {
            assert!(yaml.contains(key), "missing {key} in\n{yaml}");
        }
    }

    #[test]
    fn a_state_directory_with_a_space_and_a_quote_is_quoted_in_cassandra_s_files() {
        let (mut config, _) = fixture();
        config.state_dir = PathBuf::from("/srv/my \"us\" #1");
        let layout = config.layout();
        let yaml = cassandra_yaml(&config, &layout);
        assert!(
            yaml.contains(r#"commitlog_directory: "/srv/my \"us\" #1/data/cassandra/commitlog""#),
            "{yaml}"
        );
        let opts = cassandra_jvm_options(&config, Path::new("/c d"), &layout);
        assert!(opts.contains(&"-Dcassandra.config=file:///c%20d/cassandra.yaml".to_owned()));
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
        assert!(joined
            .contains("--properties-file /srv/us/conf/spark-connect/spark-connect.properties"));
        assert!(!joined.contains("spark.cassandra.auth"));
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
