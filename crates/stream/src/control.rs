//! One controller of the job at a time.
//!
//! Whoever starts, stops or restarts the job's queries or the Spark Connect server (a person's
//! `stream start`/`stop`, the DAG's `stream ensure`, a `stream run` supervisor, chaos, the demo)
//! holds the job's **control lock** while it acts: an exclusive `flock` on
//! `<checkpoint root>/<query>.control.lock`, released by the kernel when the process dies, so a
//! crashed controller never leaves the job locked. A second caller waits a bounded time, says
//! who holds the lock, then re-reads the job's state before acting (a start that finds the
//! queries running is a success).
//!
//! A `stream run` supervisor also holds `<query>.supervisor.lock` for its whole life: while it
//! lives, `stream ensure` reports instead of acting, and a second `stream run` does not start.
//!
//! Each lock file holds its holder (command, pid, since), which is only believed while the lock
//! is held.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{StreamConfig, StreamError};

/// How often a waiting caller tries the lock again.
const POLL: Duration = Duration::from_millis(200);

/// How long a new `stream run` tries for the supervisor lock: a status probe holds it for an
/// instant, and a supervisor that has just been stopped needs a moment to exit.
const SUPERVISOR_GRACE: Duration = Duration::from_secs(3);

/// A process holding one of the job's locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Controller {
    /// The command, as a person would type it (`stream run`, `stream ensure`, `chaos`).
    pub command: String,
    /// Its process id.
    pub pid: u32,
    /// Since when it holds the lock (RFC 3339, UTC).
    pub since: String,
}

impl Controller {
    fn of_this_process() -> Self {
        Self {
            command: command_label(std::env::args().skip(1)),
            pid: std::process::id(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// Stands in for a holder whose file could not be read (it was being written).
    fn unknown() -> Self {
        Self {
            command: "another process".to_owned(),
            pid: 0,
            since: String::new(),
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pid == 0 {
            return f.write_str(&self.command);
        }
        write!(f, "`{}` (pid {}", self.command, self.pid)?;
        if !self.since.is_empty() {
            write!(f, ", since {}", self.since)?;
        }
        f.write_str(")")
    }
}

/// The sub-command words of a command line (`stream run` of `stream run --json`), without
/// flags or values, which may be paths; `userstream` when there are none.
pub fn command_label(args: impl IntoIterator<Item = String>) -> String {
    let words: Vec<String> = args
        .into_iter()
        .take_while(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    if words.is_empty() {
        "userstream".to_owned()
    } else {
        words.join(" ")
    }
}

/// Which of the job's two locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    Control,
    Supervisor,
}

fn lock_path(config: &StreamConfig, lock: Lock) -> PathBuf {
    let suffix = match lock {
        Lock::Control => "control.lock",
        Lock::Supervisor => "supervisor.lock",
    };
    config
        .checkpoint_root
        .join(format!("{}.{suffix}", config.query_name))
}

fn open(path: &Path) -> Result<File, StreamError> {
    let io = |source| StreamError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    // Not truncated: the holder's line must survive a waiter opening the file.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io)
}

fn read_holder(path: &Path) -> Controller {
    let mut text = String::new();
    let read = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    match read {
        Ok(_) => serde_json::from_str(text.trim()).unwrap_or_else(|_| Controller::unknown()),
        Err(_) => Controller::unknown(),
    }
}

fn write_holder(file: &mut File, holder: &Controller) -> std::io::Result<()> {
    let line = serde_json::to_string(holder).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(line.as_bytes())?;
    file.write_all(b"\n")
}

/// Tries the lock once: `Ok(None)` when taken, `Ok(Some(holder))` when another process has it.
fn try_take(path: &Path, file: &mut File) -> Result<Option<Controller>, StreamError> {
    match file.try_lock() {
        Ok(()) => {
            write_holder(file, &Controller::of_this_process()).map_err(|source| {
                StreamError::Io {
                    path: path.display().to_string(),
                    source,
                }
            })?;
            Ok(None)
        }
        Err(TryLockError::WouldBlock) => Ok(Some(read_holder(path))),
        Err(TryLockError::Error(source)) => Err(StreamError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Who holds `lock` now, if anyone.
fn holder(config: &StreamConfig, lock: Lock) -> Option<Controller> {
    let path = lock_path(config, lock);
    if !path.exists() {
        return None;
    }
    let file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        // Dropping the file releases the probe at once.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_holder(&path)),
        Err(TryLockError::Error(_)) => None,
    }
}

/// Another process acting on the job right now (holding its control lock), if any.
pub fn current_controller(config: &StreamConfig) -> Option<Controller> {
    holder(config, Lock::Control).filter(|h| h.pid != std::process::id())
}

/// The live `stream run` supervisor of the job, if any.
pub fn current_supervisor(config: &StreamConfig) -> Option<Controller> {
    holder(config, Lock::Supervisor)
}

/// The job's control lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct ControlGuard {
    _file: File,
    waited_for: Option<Controller>,
}

impl ControlGuard {
    /// The controller this caller waited for, if it had to wait: that one may have changed
    /// the job, so what was observed before the wait is stale.
    pub fn waited_for(&self) -> Option<&Controller> {
        self.waited_for.as_ref()
    }
}

/// Takes the job's control lock, waiting up to [`StreamConfig::control_wait`] for the current
/// holder; `on_wait` hears who that is, once. Fails with [`StreamError::Busy`] after the wait.
pub async fn take_control(
    config: &StreamConfig,
    mut on_wait: impl FnMut(&Controller),
) -> Result<ControlGuard, StreamError> {
    let path = lock_path(config, Lock::Control);
    let mut file = open(&path)?;
    let began = Instant::now();
    let mut waited_for: Option<Controller> = None;
    loop {
        match try_take(&path, &mut file)? {
            None => {
                return Ok(ControlGuard {
                    _file: file,
                    waited_for,
                })
            }
            Some(holder) => {
                if waited_for.is_none() {
                    on_wait(&holder);
                }
                if began.elapsed() >= config.control_wait {
                    return Err(StreamError::Busy {
                        holder: holder.to_string(),
                        waited: config.control_wait,
                    });
                }
                waited_for = Some(holder);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The supervisor lock of a `stream run`, held for its whole life.
#[derive(Debug)]
pub struct SupervisorGuard {
    _file: File,
}

/// Becomes the job's supervisor, or says which process already is
/// ([`StreamError::Supervised`]).
pub async fn become_supervisor(config: &StreamConfig) -> Result<SupervisorGuard, StreamError> {
    let path = lock_path(config, Lock::Supervisor);
    let mut file = open(&path)?;
    let began = Instant::now();
    loop {
        match try_take(&path, &mut file)? {
            None => return Ok(SupervisorGuard { _file: file }),
            Some(holder) if began.elapsed() >= SUPERVISOR_GRACE => {
                return Err(StreamError::Supervised {
                    supervisor: holder.to_string(),
                })
            }
            Some(_) => tokio::time::sleep(POLL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> StreamConfig {
        let mut config = StreamConfig::with_state_dir(dir);
        config.checkpoint_root = dir.to_path_buf();
        config.control_wait = Duration::from_millis(600);
        config
    }

    fn temp_dir() -> Result<tempfile::TempDir, StreamError> {
        tempfile::tempdir().map_err(|source| StreamError::Io {
            path: "tempdir".into(),
            source,
        })
    }

    #[test]
    fn the_label_is_the_sub_command_without_flags_or_paths() {
        let label = |args: &[&str]| command_label(args.iter().map(|s| (*s).to_owned()));
        assert_eq!(label(&["stream", "run", "--json"]), "stream run");
        assert_eq!(
            label(&["stream", "--state-dir", "/tmp/x", "start"]),
            "stream"
        );
        assert_eq!(label(&["chaos"]), "chaos");
        assert_eq!(label(&[]), "userstream");
    }

    #[tokio::test]
    async fn a_second_controller_waits_then_hears_who_held_the_lock() -> Result<(), StreamError> {
        let dir = temp_dir()?;
        let config = config(dir.path());
        assert_eq!(current_controller(&config), None);
        let first = take_control(&config, |_| {}).await?;
        assert!(first.waited_for().is_none());
        // This process holds it: it does not name itself.
        assert_eq!(current_controller(&config), None);

        // Held past the wait: the second caller is told who holds it.
        let mut heard = Vec::new();
        let busy = take_control(&config, |h| heard.push(h.clone())).await;
        assert!(
            matches!(&busy, Err(StreamError::Busy { holder, .. }) if holder.contains("pid")),
            "{busy:?}"
        );
        assert_eq!(heard.len(), 1, "told once");

        // Released while waiting: the second caller gets it and knows it waited.
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(first);
        });
        let second = take_control(&config, |_| {}).await?;
        assert!(second.waited_for().is_some());
        let _ = release.await;
        Ok(())
    }

    #[tokio::test]
    async fn one_supervisor_per_job() -> Result<(), StreamError> {
        let dir = temp_dir()?;
        let config = config(dir.path());
        assert_eq!(current_supervisor(&config), None);
        let guard = become_supervisor(&config).await?;
        assert!(current_supervisor(&config).is_some());
        let second = become_supervisor(&config).await;
        assert!(matches!(second, Err(StreamError::Supervised { .. })));
        drop(guard);
        assert_eq!(current_supervisor(&config), None);
        Ok(())
    }
}
