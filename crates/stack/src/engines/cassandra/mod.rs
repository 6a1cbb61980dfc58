//! Apache Cassandra, one node on loopback: password authentication, the stack's own role
//! manager (no well-known superuser), the application role created by the first health check.

pub mod health;
pub mod install;
pub mod render;

use super::{Engine, Inputs};
use crate::install::{maven_jars, Fingerprint, InstallStep};
use crate::spec::{classpath, java_bin, java_env, Health, ServiceSpec};
use render::{
    cassandra_jvm_options, cassandra_logback, cassandra_yaml, CASSANDRA_ADMIN_PASSWORD_ENV,
    CASSANDRA_ADMIN_ROLE_ENV,
};

pub use health::cassandra_release_version;

/// The engine's name in `stack status`.
const NAME: &str = "Cassandra";

/// Cassandra, as the stack runs it: one process, `cassandra`.
pub struct Cassandra;

impl Engine for Cassandra {
    fn name(&self) -> &'static str {
        NAME
    }

    fn service_names(&self) -> &'static [&'static str] {
        &["cassandra"]
    }

    fn services(&self, inputs: &Inputs<'_>) -> Vec<ServiceSpec> {
        vec![cassandra(inputs)]
    }

    fn java(&self) -> Option<super::Java> {
        Some(super::Java::V17)
    }

    fn install_steps(&self) -> Vec<InstallStep> {
        vec![
            InstallStep {
                what: "Cassandra jars (Maven Central)",
                components: vec![Fingerprint::new(
                    "cassandra",
                    "cassandra",
                    install::CASSANDRA_POM,
                )],
                run: |cx| {
                    Ok(vec![maven_jars(
                        "cassandra",
                        install::CASSANDRA_POM,
                        &cx.layout.cassandra_lib(),
                        cx.log,
                    )?])
                },
            },
            InstallStep {
                what: "Cassandra role manager (javac)",
                components: vec![Fingerprint::new(
                    "cassandra-auth",
                    "cassandra/auth",
                    &install::cassandra_auth_fingerprint(),
                )],
                run: |cx| Ok(vec![install::cassandra_auth(cx.layout, cx.java17, cx.log)?]),
            },
        ]
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
    let mut cassandra_args = cassandra_jvm_options(config, &cassandra_conf, layout);
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
            CASSANDRA_ADMIN_ROLE_ENV.into(),
            credentials.cassandra.admin.username.clone(),
        ),
        (
            CASSANDRA_ADMIN_PASSWORD_ENV.into(),
            credentials.cassandra.admin.password.clone(),
        ),
    ]);
    ServiceSpec {
        name: "cassandra",
        engine: NAME,
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
                cassandra_yaml(config, layout),
            ),
            (
                cassandra_conf.join("logback.xml"),
                cassandra_logback().to_owned(),
            ),
        ],
    }
}
