//! Apicurio Registry, serving the Confluent Schema Registry API, its schemas stored in Kafka
//! (KafkaSQL), every API behind a login, its management port serving health only.

pub mod health;
pub mod install;
pub mod render;

use super::{Engine, Inputs};
use crate::install::{Fingerprint, InstallStep};
use crate::spec::{java_bin, java_env, Health, ServiceSpec};
use render::{registry_auth_env, registry_jvm_options};

/// The engine's name in `stack status`.
const NAME: &str = "Schema Registry";

/// The registry, as the stack runs it: one process, `registry`, on the newer Java.
pub struct Registry;

impl Engine for Registry {
    fn name(&self) -> &'static str {
        NAME
    }

    fn service_names(&self) -> &'static [&'static str] {
        &["registry"]
    }

    fn services(&self, inputs: &Inputs<'_>) -> Vec<ServiceSpec> {
        vec![registry(inputs)]
    }

    fn java(&self) -> Option<super::Java> {
        Some(super::Java::V21)
    }

    fn install_steps(&self) -> Vec<InstallStep> {
        vec![InstallStep {
            what: "Apicurio Registry (Maven Central) and its agent (javac)",
            components: vec![
                Fingerprint::new("registry", "registry", install::REGISTRY_POM),
                Fingerprint::new(
                    "registry-agent",
                    "registry/agent",
                    &install::registry_agent_fingerprint(),
                ),
            ],
            run: |cx| {
                Ok(vec![
                    install::registry(cx.layout, cx.log)?,
                    install::registry_agent(cx.layout, cx.java17, cx.log)?,
                ])
            },
        }]
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
    let mut registry_args = registry_jvm_options(config);
    // Its management port would serve metrics without a login too: the agent swaps the
    // handler for one answering 404, so it serves health only (see stack/registry-agent).
    registry_args.push(format!(
        "-javaagent:{}",
        layout.registry_agent_jar().display()
    ));
    registry_args.extend(["-jar".into(), "quarkus-run.jar".into()]);
    ServiceSpec {
        name: "registry",
        engine: NAME,
        depends_on: vec!["kafka"],
        program: java_bin(&javas.java21),
        args: registry_args,
        env: java_env(&javas.java21)
            .into_iter()
            .chain(registry_auth_env(credentials))
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
