//! Spark's configuration: the Connect server's `spark-submit` arguments and private
//! properties, and the security settings every Spark process shares. Pure functions,
//! unit-tested below.

use std::path::Path;

use crate::secrets::Secrets;
use crate::text::{java_option_quote, properties_file};
use crate::{Layout, StackConfig};

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
/// [`crate::engines::kafka::render::kafka_client_jaas`].
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

/// Log4j 2 configuration of every Spark process (master, worker, the Connect server and the
/// executors all read `SPARK_CONF_DIR`): Spark's own defaults, plus one rule of ours.
pub fn spark_log4j2() -> &'static str {
    "# Rendered by `userstream stack up`; edits are overwritten.\n\
     rootLogger.level = info\n\
     rootLogger.appenderRef.stdout.ref = console\n\
     appender.console.type = Console\n\
     appender.console.name = console\n\
     appender.console.target = SYSTEM_ERR\n\
     appender.console.layout.type = PatternLayout\n\
     appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex\n\
     logger.jetty.name = org.sparkproject.jetty\n\
     logger.jetty.level = warn\n\
     logger.jetty2.name = org.sparkproject.jetty.util.component.AbstractLifeCycle\n\
     logger.jetty2.level = error\n\
     # The Cassandra driver logs each warning Cassandra sends back together with the\n\
     # statement and its bound values: people's names, e-mails and addresses. Never log them.\n\
     logger.cql_warnings.name = com.datastax.oss.driver.internal.core.cql.CqlRequestHandler\n\
     logger.cql_warnings.level = error\n"
}

/// The environment variable the UI filter reads the console token from.
pub const SPARK_UI_TOKEN_ENV: &str = "USERSTREAM_SPARK_UI_TOKEN";

/// Conf keys whose values Spark shows redacted (the defaults plus `jaas` and `token`).
const SPARK_REDACTION_REGEX: &str = "(?i)secret|password|token|access[.]?key|jaas";

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
        // Executor logs (the worker keeps one per application) must not grow without bound.
        ("spark.executor.logs.rolling.strategy", "size".into()),
        (
            "spark.executor.logs.rolling.maxSize",
            (64 * 1024 * 1024).to_string(),
        ),
        ("spark.executor.logs.rolling.maxRetainedFiles", "4".into()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use userstream_endpoints::credentials::Login;

    use crate::engines::render_fixture as fixture;

    #[test]
    fn the_cassandra_driver_never_logs_bound_values() {
        let log4j = spark_log4j2();
        assert!(log4j.contains(
            "logger.cql_warnings.name = com.datastax.oss.driver.internal.core.cql.CqlRequestHandler\n\
             logger.cql_warnings.level = error\n"
        ));
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
}
