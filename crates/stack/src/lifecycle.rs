//! `stack up` and `stack down`: the specs of every service, started health-gated in
//! dependency order, stopped in reverse.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::{join_all, BoxFuture, FutureExt, Shared};

use crate::engines::{self, spark, Engine, Inputs, Java};
use crate::error::{io_err, StackError};
use crate::install::{find_java17, find_java21};
use crate::installer;
use crate::lock::lock_stack;
use crate::process::{self, Launch, PidRecord};
use crate::secrets::{self, write_private, Secrets};
use crate::spec::{Javas, PreStart, ServiceSpec};
use crate::{health, private, Layout, StackConfig};

/// Builds every service spec from the configuration and what is installed.
pub fn specs(config: &StackConfig) -> Result<(Layout, Vec<ServiceSpec>), StackError> {
    let layout = config.layout();
    let secrets = secrets::load(&layout)?;
    specs_with(config, &secrets)
}

/// The specs with the given secrets (real ones to start, withheld ones to render).
pub(crate) fn specs_with(
    config: &StackConfig,
    secrets: &Secrets,
) -> Result<(Layout, Vec<ServiceSpec>), StackError> {
    specs_of(config, secrets, &engines::ENGINES)
}

/// The specs of `engines`' services only, needing only what those engines need installed:
/// `stack run <service>` in an image that holds one engine's runtime and Java.
pub(crate) fn specs_of(
    config: &StackConfig,
    secrets: &Secrets,
    engines: &[&dyn Engine],
) -> Result<(Layout, Vec<ServiceSpec>), StackError> {
    config.validate().map_err(StackError::Config)?;
    let layout = config.layout();
    installer::are_installed(&layout, engines).map_err(StackError::NotInstalled)?;
    let needs = |java| engines.iter().any(|e| e.java() == Some(java));
    // A Java no engine here runs on stays unset: none of their specs reads it.
    let javas = Javas {
        java17: match needs(Java::V17) {
            true => find_java17(config.java_home.as_deref())?,
            false => PathBuf::new(),
        },
        java21: match needs(Java::V21) {
            true => find_java21(config.registry_java_home.as_deref())?,
            false => PathBuf::new(),
        },
    };
    let (spark_home, jars) = if engines.iter().any(|e| e.uses_spark_distribution()) {
        let home = layout
            .spark_home()
            .ok_or(StackError::NotInstalled(vec!["spark"]))?;
        let jars = spark::install::installed_jars(&layout)
            .map_err(io_err("read", &layout.spark_jars()))?;
        (home, jars)
    } else {
        (PathBuf::new(), Vec::new())
    };
    let bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("userstream"));
    let inputs = Inputs {
        config,
        layout: &layout,
        javas: &javas,
        spark_home: &spark_home,
        spark_jars: &jars,
        secrets,
        userstream_bin: &bin,
    };
    let specs = engines
        .iter()
        .flat_map(|engine| engine.services(&inputs))
        .collect();
    Ok((layout, specs))
}

/// The specs of the engine that runs `service` (with its secrets), or an error naming the
/// services there are.
pub(crate) fn specs_of_service(
    config: &StackConfig,
    service: &str,
) -> Result<(Layout, Vec<ServiceSpec>), StackError> {
    let engine = engines::engine_of(service).ok_or_else(|| StackError::UnknownService {
        service: service.to_owned(),
        known: engines::service_names().join(", "),
    })?;
    let secrets = secrets::load(&config.layout())?;
    specs_of(config, &secrets, &[engine])
}

/// The spec of `service`, or an error naming the services there are.
pub(crate) fn find_spec<'a>(
    specs: &'a [ServiceSpec],
    service: &str,
) -> Result<&'a ServiceSpec, StackError> {
    specs
        .iter()
        .find(|s| s.name == service)
        .ok_or_else(|| StackError::UnknownService {
            service: service.to_owned(),
            known: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })
}

/// A service's rendered configuration files and its data directory, before it starts (by
/// `up` or `stack run`).
/// Every file is private (0600): some hold passwords (Kafka's), none needs other readers.
pub(crate) fn write_service_files(spec: &ServiceSpec, layout: &Layout) -> Result<(), StackError> {
    for (path, content) in &spec.files {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        write_private(path, content)?;
    }
    let data = layout.data(spec.name);
    fs::create_dir_all(&data).map_err(io_err("create", &data))
}

/// The outcome of `up` for one service.
#[derive(Debug, Clone)]
pub struct Started {
    /// Service name.
    pub service: &'static str,
    /// True when it was already running before this `up`.
    pub already_running: bool,
    /// Time to healthy.
    pub took: Duration,
    /// Health detail.
    pub detail: String,
}

/// Takes group and other bits off everything under the state directory (see [`private`]),
/// saying how many paths were open.
fn make_state_private(layout: &Layout) -> Result<(), StackError> {
    let state = layout.state();
    let done = private::tighten_tree(state).map_err(io_err("make private", state))?;
    if !done.changed.is_empty() {
        eprintln!(
            "  {} of {} paths under {} were readable or writable by other users; now only by you",
            done.changed.len(),
            done.seen,
            state.display()
        );
    }
    Ok(())
}

/// Starts every service not yet running, each as soon as its dependencies are healthy.
pub async fn up(config: &StackConfig) -> Result<Vec<Started>, StackError> {
    let (layout, specs) = specs(config)?;
    let _lock = lock_stack(&layout)?;
    let started = Instant::now();
    make_state_private(&layout)?;
    let http = http_client();
    let mut results = Vec::new();
    let all_running = specs
        .iter()
        .all(|s| process::running(&layout.pid_file(s.name)).is_some());
    eprintln!(
        "Starting the stack (state: {}, logs: {})",
        layout.state().display(),
        layout.logs().display()
    );
    // Every service starts as soon as its own dependencies are healthy (not a whole wave):
    // the registry need not wait for Cassandra's minute-long start.
    let mut gates: HashMap<&'static str, Gate<'_>> = HashMap::new();
    for spec in &specs {
        let deps: Vec<Gate<'_>> = spec
            .depends_on
            .iter()
            .filter_map(|d| gates.get(d).cloned())
            .collect();
        let (layout, http, timeout) = (&layout, &http, config.start_timeout);
        let gate: Gate<'_> = async move {
            for dep in deps {
                if let Err(failed) = dep.await {
                    return Err(StartFailure::Blocked(format!(
                        "not started: it needs {failed}"
                    )));
                }
            }
            start_one(spec, layout, timeout, http)
                .await
                .map_err(|e| StartFailure::Failed(userstream_endpoints::error_chain(&e)))
        }
        .boxed()
        .shared();
        gates.insert(spec.name, gate);
    }
    let outcomes = join_all(specs.iter().filter_map(|s| gates.get(s.name).cloned())).await;
    let mut failures = Vec::new();
    for (spec, outcome) in specs.iter().zip(outcomes) {
        match outcome {
            Ok(started) => results.push(started),
            // Reported where it happens; the failure that caused it is in `failures`.
            Err(StartFailure::Blocked(why)) => eprintln!("  {:<22} {why}", spec.name),
            Err(StartFailure::Failed(error)) => failures.push(error),
        }
    }
    if !failures.is_empty() {
        return Err(StackError::Failed(failures));
    }
    if all_running {
        eprintln!("The stack was already up; nothing started.");
    } else {
        eprintln!(
            "Stack up in {:.1}s. `userstream stack status` shows it; `userstream stack credentials` the logins (from {})",
            started.elapsed().as_secs_f64(),
            layout.secrets().display()
        );
    }
    Ok(results)
}

pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// A service's start, shareable so every dependent can await it. `Err` names what failed.
type Gate<'a> = Shared<BoxFuture<'a, Result<Started, StartFailure>>>;

/// Why a service did not come up during `up` (cloned to every service that waits on it).
#[derive(Debug, Clone)]
enum StartFailure {
    /// It failed itself: the message names it and the cause.
    Failed(String),
    /// It was not started because a dependency failed.
    Blocked(String),
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(message) | Self::Blocked(message) => f.write_str(message),
        }
    }
}

async fn start_one(
    spec: &ServiceSpec,
    layout: &Layout,
    timeout: Duration,
    http: &reqwest::Client,
) -> Result<Started, StackError> {
    let begin = Instant::now();
    let pid_file = layout.pid_file(spec.name);
    let log = layout.log_file(spec.name);
    let already_running = process::running(&pid_file);
    let record = match already_running {
        Some(record) => record,
        None => launch(spec, layout, &pid_file, &log).await?,
    };
    let detail = wait_healthy(spec, &record, timeout, http, layout).await?;
    run_steps(spec, &spec.after_healthy, &log).await?;
    let took = begin.elapsed();
    if already_running.is_some() {
        eprintln!(
            "  {:<22} already running (pid {}): {detail}",
            spec.name, record.pid
        );
    } else {
        eprintln!(
            "  {:<22} healthy in {:>5.1}s (pid {}): {detail}",
            spec.name,
            took.as_secs_f64(),
            record.pid
        );
    }
    Ok(Started {
        service: spec.name,
        already_running: already_running.is_some(),
        took,
        detail,
    })
}

async fn launch(
    spec: &ServiceSpec,
    layout: &Layout,
    pid_file: &Path,
    log: &Path,
) -> Result<PidRecord, StackError> {
    for port in &spec.ports {
        // A process stopped a moment ago (a restart) may still be letting go of its ports.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !process::port_is_free(*port) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if !process::port_is_free(*port) {
            return Err(StackError::PortTaken {
                service: spec.name.to_owned(),
                port: *port,
            });
        }
    }
    write_service_files(spec, layout)?;
    run_steps(spec, &spec.pre_start, log).await?;
    let record = process::spawn(
        &Launch {
            service: spec.name,
            program: &spec.program,
            args: &spec.args,
            env: &spec.env,
            cwd: &spec.cwd,
            log,
        },
        pid_file,
    )?;
    eprintln!("  {:<22} started (pid {})", spec.name, record.pid);
    Ok(record)
}

/// Runs `steps` of `spec` in order (output into the service's log), each skipped when its
/// marker exists, and marks those that have one done.
pub(crate) async fn run_steps(
    spec: &ServiceSpec,
    steps: &[PreStart],
    log: &Path,
) -> Result<(), StackError> {
    for step in steps {
        if step.unless_exists.as_ref().is_some_and(|p| p.exists()) {
            continue;
        }
        eprintln!("  {:<22} {}", spec.name, step.description);
        let (program, args, env, cwd, step_log) = (
            step.program.clone(),
            step.args.clone(),
            spec.env.clone(),
            spec.cwd.clone(),
            log.to_path_buf(),
        );
        let name = spec.name;
        let status = tokio::task::spawn_blocking(move || {
            process::run_to_completion(name, &program, &args, &env, &cwd, &step_log)
        })
        .await
        .map_err(|e| StackError::PreStart {
            service: spec.name.to_owned(),
            step: step.description.clone(),
            status: e.to_string(),
            log: log.to_path_buf(),
            tail: String::new(),
        })??;
        if !status.success() {
            return Err(StackError::PreStart {
                service: spec.name.to_owned(),
                step: step.description.clone(),
                status: status.to_string(),
                log: log.to_path_buf(),
                tail: process::tail(log, 20),
            });
        }
        if let Some(marker) = &step.marks_done {
            fs::write(marker, "").map_err(io_err("write", marker))?;
        }
    }
    Ok(())
}

async fn wait_healthy(
    spec: &ServiceSpec,
    record: &PidRecord,
    timeout: Duration,
    http: &reqwest::Client,
    layout: &Layout,
) -> Result<String, StackError> {
    let log = &layout.log_file(spec.name);
    let deadline = Instant::now() + timeout;
    loop {
        if !process::is_running(record) {
            return Err(StackError::Unhealthy {
                service: spec.name.to_owned(),
                timeout,
                reason: format!("the process (pid {}) exited", record.pid),
                log: log.to_path_buf(),
                tail: process::tail(log, 25),
            });
        }
        let last_error = match health::check(&spec.health, http, &layout.run()).await {
            Ok(detail) => return Ok(detail),
            Err(error) => error,
        };
        if Instant::now() >= deadline {
            return Err(StackError::Unhealthy {
                service: spec.name.to_owned(),
                timeout,
                reason: last_error,
                log: log.to_path_buf(),
                tail: process::tail(log, 25),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Stops every running service, in reverse start order. Data is kept unless `purge`.
pub fn down(config: &StackConfig, purge: bool) -> Result<(), StackError> {
    config.validate().map_err(StackError::Config)?;
    let layout = config.layout();
    let _lock = lock_stack(&layout)?;
    // Stop by pid files, in reverse start order, so `down` works even if the install is gone
    // or half-done.
    let mut order = engines::service_names();
    order.reverse();
    let mut stopped = 0;
    for service in order {
        let pid_file = layout.pid_file(service);
        if let Some(record) = process::running(&pid_file) {
            let begin = Instant::now();
            // Cassandra and Kafka flush on SIGTERM; give them time before SIGKILL.
            let killed = process::stop(&record, Duration::from_secs(45));
            eprintln!(
                "  {service:<22} stopped in {:.1}s{}",
                begin.elapsed().as_secs_f64(),
                if killed {
                    " (SIGKILL after timeout)"
                } else {
                    ""
                }
            );
            stopped += 1;
        }
        let _ = fs::remove_file(&pid_file);
    }
    // A clean stop leaves no application or worker for the next master to recover (it would
    // wait up to the worker timeout for them before scheduling).
    let _ = fs::remove_dir_all(layout.spark_master_recovery());
    if stopped == 0 {
        eprintln!("Nothing was running.");
    } else {
        eprintln!(
            "Stopped {stopped} services; data kept in {}.",
            layout.data_root().display()
        );
    }
    if purge {
        // Data, rendered configs and pid files go; logs and installed runtimes stay.
        for dir in [layout.data_root(), layout.conf_root(), layout.run()] {
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))?;
            }
        }
        eprintln!("Purged data under {}.", layout.state().display());
    }
    Ok(())
}

/// Stops one service (for tests and `stack restart`).
pub fn stop_service(config: &StackConfig, service: &str) -> Result<bool, StackError> {
    let layout = config.layout();
    let pid_file = layout.pid_file(service);
    let Some(record) = process::running(&pid_file) else {
        return Ok(false);
    };
    process::stop(&record, Duration::from_secs(45));
    let _ = fs::remove_file(&pid_file);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_removes_data_but_keeps_runtimes_and_logs() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StackConfig::with_state_dir(dir.path());
        config.runtime_dir = None;
        let layout = config.layout();
        for keep_or_go in [
            layout.data("kafka"),
            layout.conf("kafka"),
            layout.run(),
            layout.kafka_lib(),
            layout.logs(),
        ] {
            fs::create_dir_all(&keep_or_go).unwrap();
        }
        down(&config, true).unwrap();
        assert!(!layout.data_root().exists());
        assert!(!layout.conf_root().exists());
        assert!(
            layout.kafka_lib().exists(),
            "the installed runtime must survive --purge"
        );
        assert!(layout.logs().exists());
    }
}
