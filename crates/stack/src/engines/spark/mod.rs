//! Apache Spark: a standalone master and worker, and the Spark Connect server as the driver
//! on them; Spark's RPC authentication, the UIs' login filter, the Connect server's token and
//! loopback interceptor, and the job's logins in the server's own private files.

pub mod health;
pub mod install;
pub mod render;

use std::path::PathBuf;

use super::{Engine, Inputs};
use crate::engines::kafka::render::kafka_client_jaas;
use crate::install::{venv, Fingerprint, InstallStep};
use crate::spec::{java_env, Health, ServiceSpec};
use render::{
    spark_connect_args, spark_connect_properties, spark_daemon_properties, spark_log4j2,
    SPARK_CONNECT_KAFKA_JAAS, SPARK_CONNECT_PROPERTIES, SPARK_CONNECT_TOKEN_ENV,
    SPARK_UI_TOKEN_ENV,
};

pub use health::spark_connect_select_one;

/// The engine's name in `stack status`.
const NAME: &str = "Spark";

/// Spark, as the stack runs it: `spark-master`, `spark-worker`, `spark-connect`.
pub struct Spark;

impl Engine for Spark {
    fn name(&self) -> &'static str {
        NAME
    }

    fn service_names(&self) -> &'static [&'static str] {
        &["spark-master", "spark-worker", "spark-connect"]
    }

    fn services(&self, inputs: &Inputs<'_>) -> Vec<ServiceSpec> {
        vec![
            spark_master(inputs),
            spark_worker(inputs),
            spark_connect(inputs),
        ]
    }

    fn java(&self) -> Option<super::Java> {
        Some(super::Java::V17)
    }

    fn uses_spark_distribution(&self) -> bool {
        true
    }

    fn install_steps(&self) -> Vec<InstallStep> {
        vec![
            InstallStep {
                what: "pyspark (Spark distribution, PyPI)",
                components: vec![Fingerprint::new(
                    "spark",
                    "spark/venv",
                    install::PYSPARK_LOCK,
                )],
                run: |cx| {
                    Ok(vec![venv(
                        "spark",
                        cx.python,
                        &cx.layout.spark_venv(),
                        install::PYSPARK_LOCK,
                        cx.log,
                    )?])
                },
            },
            InstallStep {
                what: "Spark connector jars (Connect, Kafka, Avro, Cassandra)",
                components: vec![Fingerprint::new("spark-jars", "spark", install::SPARK_POM)],
                run: |cx| Ok(vec![install::spark_jars(cx.layout, cx.log)?]),
            },
            InstallStep {
                what: "Spark Connect auth interceptor (mvn package, Maven Central)",
                components: vec![Fingerprint::new(
                    "spark-connect-auth",
                    "spark/auth",
                    &install::spark_connect_auth_fingerprint(),
                )],
                run: |cx| {
                    Ok(vec![install::spark_connect_auth(
                        cx.layout, cx.java17, cx.log,
                    )?])
                },
            },
        ]
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
                SPARK_UI_TOKEN_ENV.into(),
                inputs.secrets.credentials.console_token.clone(),
            ),
            (options.0.into(), options.1),
        ],
    )
}

/// Master's and worker's spark-defaults.conf (RPC secret, UI filter) and every Spark
/// process's log4j2.properties, written by whichever starts first.
fn spark_defaults(inputs: &Inputs<'_>) -> Vec<(PathBuf, String)> {
    let conf = inputs.layout.conf("spark");
    vec![
        (
            conf.join("spark-defaults.conf"),
            spark_daemon_properties(inputs.secrets),
        ),
        (conf.join("log4j2.properties"), spark_log4j2().to_owned()),
    ]
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
        engine: NAME,
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
        engine: NAME,
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
    let spark_connect_jaas = spark_connect_conf.join(SPARK_CONNECT_KAFKA_JAAS);
    ServiceSpec {
        name: "spark-connect",
        engine: NAME,
        depends_on: vec!["spark-worker", "kafka", "cassandra"],
        program: spark_home.join("bin/spark-submit"),
        args: spark_connect_args(config, inputs.spark_jars, layout),
        env: spark_env(
            inputs,
            vec![
                (
                    SPARK_CONNECT_TOKEN_ENV.into(),
                    credentials.spark_connect_token.clone(),
                ),
                (SPARK_UI_TOKEN_ENV.into(), credentials.console_token.clone()),
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
                spark_connect_conf.join(SPARK_CONNECT_PROPERTIES),
                spark_connect_properties(secrets, &spark_connect_jaas),
            ),
            (
                spark_connect_jaas.clone(),
                kafka_client_jaas(&credentials.kafka.reader),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::test_specs as specs;
    use std::path::Path;

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
}
