//! Apache Airflow 3: api-server, scheduler, DAG processor and triggerer sharing one
//! environment and one set of secrets; SQLite metadata; the stack's DAGs.

pub mod api;
pub mod health;
pub mod render;

use super::{Engine, Inputs};
use crate::install::{venv, Fingerprint, InstallStep};
use crate::spec::{Health, PreStart, ServiceSpec};
use render::airflow_env;

/// Airflow and all its dependencies.
pub const AIRFLOW_LOCK: &str = include_str!("../../../../../stack/python/airflow.lock");

/// The engine's name in `stack status`.
const NAME: &str = "Airflow";

/// Airflow, as the stack runs it: one process per component.
pub struct Airflow;

impl Engine for Airflow {
    fn name(&self) -> &'static str {
        NAME
    }

    fn service_names(&self) -> &'static [&'static str] {
        &[
            "airflow-api-server",
            "airflow-scheduler",
            "airflow-dag-processor",
            "airflow-triggerer",
        ]
    }

    fn services(&self, inputs: &Inputs<'_>) -> Vec<ServiceSpec> {
        airflow(inputs)
    }

    fn install_steps(&self) -> Vec<InstallStep> {
        vec![InstallStep {
            what: "Airflow (PyPI, pinned lock; ~5 min when cold)",
            components: vec![Fingerprint::new("airflow", "airflow/venv", AIRFLOW_LOCK)],
            run: |cx| {
                Ok(vec![venv(
                    "airflow",
                    cx.python,
                    &cx.layout.airflow_venv(),
                    AIRFLOW_LOCK,
                    cx.log,
                )?])
            },
        }]
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
    let airflow_env = airflow_env(config, layout, airflow_secrets, userstream_bin);
    let passwords = serde_json::json!({ "admin": airflow_secrets.admin_password }).to_string();
    let spec = |name: &'static str,
                args: &[&str],
                component: &'static str,
                depends_on: Vec<&'static str>,
                ports: Vec<u16>| ServiceSpec {
        name,
        engine: NAME,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pins_are_reviewable_versions() {
        assert!(AIRFLOW_LOCK.contains("apache-airflow==3.1.8"));
    }
}
