//! `stack run` and `stack after-start`: one service in the foreground, as a container's
//! entrypoint, and the work it has once healthy.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::{io_err, StackError};
use crate::lifecycle::{find_spec, http_client, run_steps, specs_of_service, write_service_files};
use crate::process::{self, PidRecord};
use crate::{health, StackConfig};

/// One service, ready to become this process (see [`prepare_foreground`]).
pub struct Foreground {
    /// The service's name.
    pub service: &'static str,
    /// The service's program, arguments, environment and working directory.
    pub command: Command,
    /// The service has work to do once it is healthy (Kafka's ACLs, Cassandra's roles):
    /// whoever runs it starts `userstream stack after-start <service>` ([`after_start`])
    /// beside it, which waits for its health and does that work, as `stack up` does.
    pub after_start: bool,
}

/// Names only: the command's environment holds secrets (Cassandra's admin password, Airflow's
/// keys), which a `{:?}` must not show.
impl std::fmt::Debug for Foreground {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Foreground")
            .field("service", &self.service)
            .field("program", &self.command.get_program())
            .field("after_start", &self.after_start)
            .finish_non_exhaustive()
    }
}

impl Foreground {
    /// Replaces this process with the service (`exec`), so the service keeps this pid (PID 1
    /// in a container) and receives the stop signal itself. Returns only on failure.
    pub fn exec(mut self) -> StackError {
        use std::os::unix::process::CommandExt;
        let program = PathBuf::from(self.command.get_program());
        let source = self.command.exec();
        StackError::Process(process::ProcessError::Spawn {
            service: self.service.to_owned(),
            program,
            source,
        })
    }
}

/// Prepares one service to run in the foreground, as a container's entrypoint: writes its
/// configuration files, runs its first-start steps (each skipped once its marker exists) and
/// records this process's pid as the service's; then [`Foreground::exec`] becomes the service.
/// Output stays on this process's stdout and stderr (a container's log), not in
/// `<state>/logs`. The same specs as `stack up`: an image that runs
/// `userstream stack run <service>` runs what the local stack runs.
pub fn prepare_foreground(config: &StackConfig, service: &str) -> Result<Foreground, StackError> {
    let (layout, specs) = specs_of_service(config, service)?;
    let spec = find_spec(&specs, service)?;
    write_service_files(spec, &layout)?;
    fs::create_dir_all(&spec.cwd).map_err(io_err("create", &spec.cwd))?;
    for step in &spec.pre_start {
        if step.unless_exists.as_ref().is_some_and(|p| p.exists()) {
            continue;
        }
        eprintln!("{}: {}", spec.name, step.description);
        let status = Command::new(&step.program)
            .args(&step.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .status()
            .map_err(|source| {
                StackError::Process(process::ProcessError::Spawn {
                    service: spec.name.to_owned(),
                    program: step.program.clone(),
                    source,
                })
            })?;
        if !status.success() {
            return Err(StackError::PreStart {
                service: spec.name.to_owned(),
                step: step.description.clone(),
                status: status.to_string(),
                log: PathBuf::from("(stderr)"),
                tail: String::new(),
            });
        }
        if let Some(marker) = &step.marks_done {
            fs::write(marker, "").map_err(io_err("write", marker))?;
        }
    }
    // `stack status` and `down` inside the container find the service by this pid: exec
    // keeps it.
    let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let record = PidRecord {
        pid,
        start_ticks: process::read_stat(pid).map(|s| s.start_ticks).unwrap_or(0),
    };
    let pid_file = layout.pid_file(spec.name);
    if let Some(dir) = pid_file.parent() {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    fs::write(&pid_file, record.render()).map_err(io_err("write", &pid_file))?;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd);
    Ok(Foreground {
        service: spec.name,
        command,
        after_start: spec.needs_after_start(),
    })
}

/// Waits until `service` (started by someone else: `stack run` in a container) is healthy,
/// then runs what `stack up` runs once it is (Kafka's ACLs; Cassandra's roles are set up by
/// its health check itself).
pub async fn after_start(config: &StackConfig, service: &str) -> Result<String, StackError> {
    let (layout, specs) = specs_of_service(config, service)?;
    let spec = find_spec(&specs, service)?;
    let http = http_client();
    let deadline = Instant::now() + config.start_timeout;
    let detail = loop {
        match health::check(&spec.health, &http, &layout.run()).await {
            Ok(detail) => break detail,
            Err(error) if Instant::now() >= deadline => {
                return Err(StackError::Unhealthy {
                    service: spec.name.to_owned(),
                    timeout: config.start_timeout,
                    reason: error,
                    log: PathBuf::from("(the container's output)"),
                    tail: String::new(),
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    run_steps(spec, &spec.after_healthy, &layout.log_file(spec.name)).await?;
    Ok(detail)
}
