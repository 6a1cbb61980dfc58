//! The stack's one error type: what `up`, `down`, `status`, `stack run` and the secrets'
//! handling report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{install, process};

/// Errors of the stack lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A credential could not be rotated; the old one is still in use everywhere.
    #[error("rotation failed, the old credential is still in use: {0}")]
    Rotate(String),
    /// The configuration is inconsistent.
    #[error("invalid stack configuration:\n  {}", .0.join("\n  "))]
    Config(Vec<String>),
    /// Runtimes are missing.
    #[error("not installed: {}. Run `userstream stack install` first.", .0.join(", "))]
    NotInstalled(Vec<&'static str>),
    /// Installation-time discovery failed (Java, Spark home).
    #[error(transparent)]
    Install(#[from] install::InstallError),
    /// A port we need is taken by a process that is not ours.
    #[error("port {port} ({service}) is already in use by another process; stop it or move {service} with its USERSTREAM_*_PORT setting (`userstream stack up --help`)")]
    PortTaken {
        /// The service that needs it.
        service: String,
        /// The port.
        port: u16,
    },
    /// A service did not become healthy in time or died.
    #[error("{service} did not become healthy within {timeout:?}: {reason}\nlast lines of {log}:\n{tail}")]
    Unhealthy {
        /// The service.
        service: String,
        /// The limit.
        timeout: Duration,
        /// The last health-check error or the exit.
        reason: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// One or more services failed to start (each message names its service).
    #[error("the stack did not come up:\n{}\nOther services keep running; fix the cause and run `userstream stack up` again.", .0.join("\n"))]
    Failed(Vec<String>),
    /// A pre-start step failed.
    #[error("{service}: {step} failed ({status}); see {log}:\n{tail}")]
    PreStart {
        /// The service.
        service: String,
        /// The step.
        step: String,
        /// Its exit.
        status: String,
        /// Log file.
        log: PathBuf,
        /// End of the log.
        tail: String,
    },
    /// No service has this name.
    #[error("no service named `{service}`; known: {known}")]
    UnknownService {
        /// The name asked for.
        service: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// Process handling failed.
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    /// The secrets file exists but cannot be used. Never replaced silently: new secrets would
    /// make what Airflow encrypted with the old Fernet key unreadable and log everybody out.
    #[error("the stack's secrets file {path} exists but {problem}. It is left untouched: the engines' data (Kafka's users, Cassandra's roles, Airflow's database) was set up with its passwords. Restore it from a backup, or, to start over with new secrets, stop the stack and delete it together with all data (`userstream stack down --purge --yes`)")]
    SecretsUnusable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A file could not be written.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> StackError {
    let path = path.to_path_buf();
    move |source| StackError::Io {
        action,
        path,
        source,
    }
}
