//! Kafka's configuration: `server.properties`, the storage tool's argument file, client
//! properties and JAAS files for SCRAM logins, the ACLs, log4j2 and the JVM options.
//! Pure functions: no I/O, unit-tested below.

use std::path::Path;

use userstream_endpoints::credentials::{KafkaLogins, Login};

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
/// (its login is the Connect server's own, see
/// [`crate::engines::spark::render::spark_connect_properties`]), so the reader may read these
/// too.
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

/// A JAAS configuration file with the `KafkaClient` section for a SCRAM login: the static
/// login of every Kafka client in a JVM started with `-Djava.security.auth.login.config`.
///
/// The JDK's parser reads `\"`, `\\` and `\n` escapes in quoted values, and expands
/// `${name}` to a system property afterwards, which no escape prevents: the stack's
/// passwords are URL-safe base64 (`secrets::new_password`), so they hold no `$`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use userstream_endpoints::credentials::Credentials;

    use crate::engines::render_fixture as fixture;

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
            let password = crate::secrets::new_password();
            assert_eq!(jaas_escape(&password), password);
            assert!(!password.contains('$'));
        }
    }
}
