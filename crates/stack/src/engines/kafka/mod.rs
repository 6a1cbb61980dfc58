//! Apache Kafka in KRaft combined mode (one broker and controller): SCRAM users created when
//! its storage is formatted, the pipeline's ACLs granted once it is healthy.

pub mod health;
pub mod render;

use std::path::Path;

use userstream_endpoints::KafkaAccess;

use super::{Engine, Inputs};
use crate::install::{maven_jars, Fingerprint, InstallStep};
use crate::spec::{classpath, java_bin, java_env, Health, PreStart, ServiceSpec};
use crate::{Layout, StackConfig};

pub use render::READER_TOPIC_PREFIXES;
use render::{
    kafka_acls, kafka_client_properties, kafka_format_argfile, kafka_jvm_options, kafka_log4j2,
    kafka_server_properties,
};

/// Kafka broker jars.
pub const KAFKA_POM: &str = include_str!("../../../../../stack/maven/kafka/pom.xml");

/// The engine's name in `stack status`.
const NAME: &str = "Kafka";

/// Kafka, as the stack runs it: one process, `kafka`.
pub struct Kafka;

impl Engine for Kafka {
    fn name(&self) -> &'static str {
        NAME
    }

    fn service_names(&self) -> &'static [&'static str] {
        &["kafka"]
    }

    fn services(&self, inputs: &Inputs<'_>) -> Vec<ServiceSpec> {
        vec![kafka(inputs)]
    }

    fn java(&self) -> Option<super::Java> {
        Some(super::Java::V17)
    }

    fn install_steps(&self) -> Vec<InstallStep> {
        vec![InstallStep {
            what: "Kafka jars (Maven Central)",
            components: vec![Fingerprint::new("kafka", "kafka", KAFKA_POM)],
            run: |cx| {
                Ok(vec![maven_jars(
                    "kafka",
                    KAFKA_POM,
                    &cx.layout.kafka_lib(),
                    cx.log,
                )?])
            },
        }]
    }
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

    let mut kafka_args = kafka_jvm_options(config, &kafka_conf, &logs);
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
        engine: NAME,
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
                kafka_server_properties(config, layout, &credentials.kafka),
            ),
            (kafka_conf.join("log4j2.yaml"), kafka_log4j2().to_owned()),
            (
                format_argfile,
                kafka_format_argfile(&cluster_id, &server_properties, &credentials.kafka),
            ),
            (
                kafka_conf.join("admin.properties"),
                kafka_client_properties(&credentials.kafka.admin),
            ),
        ],
    }
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
    let grants = kafka_acls(kafka, topics);
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
    use crate::engines::test_specs as specs;
    use crate::secrets::Secrets;
    use std::path::PathBuf;

    #[test]
    fn the_pins_are_reviewable_versions() {
        assert!(KAFKA_POM.contains("<kafka.version>4.3.1</kafka.version>"));
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
    fn kafka_grants_its_acls_once_it_is_healthy() {
        let specs = specs();
        let steps = &specs[0].after_healthy;
        // One step per grant.
        let grants = kafka_acls(&Secrets::withheld().credentials.kafka, &[]);
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
}
