//! The engines of the stack, one folder each holding everything about it: its services' specs
//! (`mod.rs`), their configuration files and options (`render.rs`), what `stack install` puts
//! in place for it (`install.rs`) and its health checks (`health.rs`). `up`, `down`, `status`
//! and `install` go through [`ENGINES`]; a new engine, or a second node of one, is a change in
//! its folder (and, for a new kind of health check, a [`Health`](crate::spec::Health) variant).

pub mod airflow;
pub mod cassandra;
pub mod kafka;
pub mod registry;
pub mod spark;

use std::path::Path;

use crate::install::InstallStep;
use crate::secrets::Secrets;
use crate::spec::{Javas, ServiceSpec};
use crate::{Layout, StackConfig};

/// One engine of the stack: the processes it runs and what `stack install` puts in place
/// for it.
pub trait Engine {
    /// Its name, as `stack status` groups its services ("Kafka", "Spark").
    fn name(&self) -> &'static str;

    /// Its services' names, in start order: what `down` stops (in reverse) by their pid files,
    /// with no spec built, so it works with a half-done install.
    fn service_names(&self) -> &'static [&'static str];

    /// Its services, in start order, from what every spec is made from.
    fn services(&self, inputs: &Inputs<'_>) -> Vec<ServiceSpec>;

    /// What `stack install` does for it, in order, each step with the components it puts in
    /// place (and the fingerprints `up` checks them by).
    fn install_steps(&self) -> Vec<InstallStep>;

    /// The Java its services run on, if any: only that one is looked for when only this
    /// engine's services are built (`stack run`, one engine per image).
    fn java(&self) -> Option<Java> {
        None
    }

    /// Whether its specs need the Spark distribution and the connector jars ([`Inputs`]'
    /// `spark_home` and `spark_jars`).
    fn uses_spark_distribution(&self) -> bool {
        false
    }
}

/// A Java release the engines run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Java {
    /// 17: Kafka, Cassandra, Spark.
    V17,
    /// 21 or newer: the registry (a Quarkus application built for it).
    V21,
}

/// The engine that runs `service`, if any.
pub fn engine_of(service: &str) -> Option<&'static dyn Engine> {
    ENGINES
        .into_iter()
        .find(|engine| engine.service_names().contains(&service))
}

/// Every engine, in start order: an engine's services depend only on services of engines
/// listed before it (or its own, listed before them).
pub const ENGINES: [&dyn Engine; 5] = [
    &kafka::Kafka,
    &registry::Registry,
    &cassandra::Cassandra,
    &spark::Spark,
    &airflow::Airflow,
];

/// What every service's spec is made from: the config, the layout, the installed runtimes
/// and the secrets. When only some engines' specs are built, what no engine among them needs
/// ([`Engine::java`], [`Engine::uses_spark_distribution`]) is left empty and never read.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The stack's configuration.
    pub config: &'a StackConfig,
    /// Its directories.
    pub layout: &'a Layout,
    /// The Java installations.
    pub javas: &'a Javas,
    /// The Spark distribution (inside the pyspark venv).
    pub spark_home: &'a Path,
    /// The Connect server's `--jars`.
    pub spark_jars: &'a [String],
    /// The secrets (real ones to start, withheld ones to render).
    pub secrets: &'a Secrets,
    /// This binary, for the DAGs to call.
    pub userstream_bin: &'a Path,
}

/// Every service of the stack, in start order.
pub fn all(inputs: &Inputs<'_>) -> Vec<ServiceSpec> {
    ENGINES
        .iter()
        .flat_map(|engine| engine.services(inputs))
        .collect()
}

/// Every service's name, in start order.
pub fn service_names() -> Vec<&'static str> {
    ENGINES
        .iter()
        .flat_map(|engine| engine.service_names().iter().copied())
        .collect()
}

/// The configuration and layout the engines' rendering tests share: the documented ports
/// (whatever the environment moved: the test command moves them) under `/srv/us`.
#[cfg(test)]
pub(crate) fn render_fixture() -> (StackConfig, Layout) {
    let mut config = StackConfig::with_state_dir("/srv/us");
    config.ports = userstream_endpoints::Ports::default();
    let layout = Layout::new("/srv/us".into(), "/cache/rt".into(), "/repo/dags".into());
    (config, layout)
}

/// Every spec on fixed inputs (documented ports, withheld secrets), for the engines' tests.
#[cfg(test)]
pub(crate) fn test_specs() -> Vec<ServiceSpec> {
    let mut config = StackConfig::with_state_dir("/s");
    config.ports = userstream_endpoints::Ports::default();
    let layout = Layout::new("/s".into(), "/r".into(), "/d".into());
    let javas = Javas {
        java17: "/jdk17".into(),
        java21: "/jdk21".into(),
    };
    let secrets = Secrets::withheld();
    all(&Inputs {
        config: &config,
        layout: &layout,
        javas: &javas,
        spark_home: Path::new("/spark"),
        spark_jars: &[],
        secrets: &secrets,
        userstream_bin: Path::new("/bin/userstream"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use test_specs as specs;

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
    fn every_port_is_owned_by_one_service() {
        let specs = specs();
        let mut ports: Vec<u16> = specs.iter().flat_map(|s| s.ports.clone()).collect();
        let before = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), before);
    }

    #[test]
    fn each_engine_names_its_services_and_groups_them_under_its_name() {
        // `down` stops what `service_names` lists, without building specs.
        let specs = specs();
        let mut at = 0;
        for engine in ENGINES {
            for name in engine.service_names() {
                assert_eq!(specs[at].name, *name);
                assert_eq!(specs[at].engine, engine.name());
                at += 1;
            }
        }
        assert_eq!(at, specs.len());
    }

    #[test]
    fn each_engine_says_which_java_and_whether_spark_it_needs() {
        // What `stack run <service>` looks for: nothing of another engine.
        let needs: Vec<(&str, Option<Java>, bool)> = ENGINES
            .iter()
            .map(|e| (e.name(), e.java(), e.uses_spark_distribution()))
            .collect();
        assert_eq!(
            needs,
            [
                ("Kafka", Some(Java::V17), false),
                ("Schema Registry", Some(Java::V21), false),
                ("Cassandra", Some(Java::V17), false),
                ("Spark", Some(Java::V17), true),
                ("Airflow", None, false),
            ]
        );
        assert_eq!(engine_of("spark-connect").map(|e| e.name()), Some("Spark"));
        assert!(engine_of("nonsense").is_none());
    }

    #[test]
    fn kafka_and_cassandra_need_the_after_start_helper() {
        let needing: Vec<&str> = specs()
            .iter()
            .filter(|s| s.needs_after_start())
            .map(|s| s.name)
            .collect();
        assert_eq!(needing, ["kafka", "cassandra"]);
    }
}
