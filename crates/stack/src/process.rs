//! Process handling: start detached in its own process group, pid files that survive pid
//! reuse, liveness, memory, uptime, stop with SIGTERM then SIGKILL.

use std::fs;
use std::io::{BufRead, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// What a pid file records: the pid and the process start time (clock ticks since boot), so a
/// recycled pid is never mistaken for our process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidRecord {
    /// Process id (also its process-group id: every service leads its own group).
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat` at start.
    pub start_ticks: u64,
}

impl PidRecord {
    /// Parses the pid file format `"<pid> <start_ticks>\n"`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_whitespace();
        let pid = parts.next()?.parse().ok()?;
        let start_ticks = parts.next()?.parse().ok()?;
        Some(Self { pid, start_ticks })
    }

    /// The pid file content.
    pub fn render(&self) -> String {
        format!("{} {}\n", self.pid, self.start_ticks)
    }
}

/// The fields of `/proc/<pid>/stat` that we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// State letter (R, S, D, Z, ...).
    pub state: char,
    /// Process group id.
    pub pgrp: i32,
    /// Start time, clock ticks after boot.
    pub start_ticks: u64,
    /// Resident set size, pages.
    pub rss_pages: u64,
    /// CPU time in clock ticks (USER_HZ): user and system time of the process and of its
    /// children it has waited for (fields 14-17), so work of exited children still counts.
    pub cpu_ticks: u64,
}

/// Parses one `/proc/<pid>/stat` line. The command name may hold spaces and parentheses, so
/// fields are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let after = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state); field N is at index N - 3.
    let ticks = |field: usize| -> Option<u64> {
        // cutime and cstime are signed in the kernel's format; never negative in practice.
        Some(fields.get(field - 3)?.parse::<i64>().ok()?.max(0) as u64)
    };
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
        rss_pages: fields.get(21)?.parse().ok()?,
        cpu_ticks: ticks(14)? + ticks(15)? + ticks(16)? + ticks(17)?,
    })
}

pub(crate) fn read_stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Errors of process handling.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started.
    #[error("cannot start {service} ({program})")]
    Spawn {
        /// Service name.
        service: String,
        /// Program path.
        program: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read or written.
    #[error("{action} {path}")]
    File {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
}

fn file_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProcessError {
    let path = path.to_path_buf();
    move |source| ProcessError::File {
        action,
        path,
        source,
    }
}

/// A process to start.
pub struct Launch<'a> {
    /// Service name.
    pub service: &'a str,
    /// Program.
    pub program: &'a Path,
    /// Arguments.
    pub args: &'a [String],
    /// Extra environment.
    pub env: &'a [(String, String)],
    /// Working directory.
    pub cwd: &'a Path,
    /// Log file (stdout and stderr are appended to it).
    pub log: &'a Path,
}

fn open_log(log: &Path) -> Result<fs::File, ProcessError> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).map_err(file_err("create log directory", dir))?;
    }
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(file_err("open log", log))
}

/// Starts a process detached from us, in a new process group, output appended to its log.
pub fn spawn(launch: &Launch<'_>, pid_file: &Path) -> Result<PidRecord, ProcessError> {
    let log = open_log(launch.log)?;
    let log_err = log.try_clone().map_err(file_err("open log", launch.log))?;
    fs::create_dir_all(launch.cwd).map_err(file_err("create directory", launch.cwd))?;
    let child = Command::new(launch.program)
        .args(launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(launch.cwd)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Own group: `down` signals the whole tree (Airflow forks workers) and Ctrl-C in the
        // terminal that ran `up` does not reach the services.
        .process_group(0)
        .spawn()
        .map_err(|source| ProcessError::Spawn {
            service: launch.service.to_owned(),
            program: launch.program.to_path_buf(),
            source,
        })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let start_ticks = read_stat(pid).map(|s| s.start_ticks).unwrap_or(0);
    let record = PidRecord { pid, start_ticks };
    if let Some(dir) = pid_file.parent() {
        fs::create_dir_all(dir).map_err(file_err("create directory", dir))?;
    }
    fs::write(pid_file, record.render()).map_err(file_err("write pid file", pid_file))?;
    // The child is reaped by init once we exit; while we live, a dead child stays a zombie,
    // which `is_running` treats as stopped.
    drop(child);
    Ok(record)
}

/// Runs a command to completion, output appended to `log`.
pub fn run_to_completion(
    service: &str,
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
    log: &Path,
) -> Result<std::process::ExitStatus, ProcessError> {
    let out = open_log(log)?;
    let err = out.try_clone().map_err(file_err("open log", log))?;
    fs::create_dir_all(cwd).map_err(file_err("create directory", cwd))?;
    Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|source| ProcessError::Spawn {
            service: service.to_owned(),
            program: program.to_path_buf(),
            source,
        })
}

/// Reads a pid file; `None` when missing or unreadable.
pub fn read_pid_file(pid_file: &Path) -> Option<PidRecord> {
    PidRecord::parse(&fs::read_to_string(pid_file).ok()?)
}

/// True when the recorded process is alive (same start time, not a zombie).
pub fn is_running(record: &PidRecord) -> bool {
    match read_stat(record.pid) {
        Some(stat) => {
            stat.state != 'Z' && (record.start_ticks == 0 || stat.start_ticks == record.start_ticks)
        }
        None => false,
    }
}

/// The running process recorded in `pid_file`, if any.
pub fn running(pid_file: &Path) -> Option<PidRecord> {
    read_pid_file(pid_file).filter(is_running)
}

/// Every process's stat line now (processes that exit meanwhile are skipped).
pub(crate) fn all_stats() -> Vec<ProcStat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_stat)
        .collect()
}

/// Resident memory of the whole process group (the service and everything it forked), bytes.
pub fn group_rss_bytes(pgid: i32) -> u64 {
    let page = 4096;
    all_stats()
        .iter()
        .filter(|s| s.pgrp == pgid && s.state != 'Z')
        .map(|s| s.rss_pages * page)
        .sum()
}

/// How long the process has run.
pub fn uptime(record: &PidRecord) -> Option<Duration> {
    // Linux reports start times in USER_HZ, which is 100 on every mainstream architecture.
    const TICKS_PER_SECOND: u64 = 100;
    let system_uptime: f64 = fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let started = record.start_ticks as f64 / TICKS_PER_SECOND as f64;
    Some(Duration::from_secs_f64((system_uptime - started).max(0.0)))
}

/// Stops a service's process group: SIGTERM, wait up to `grace`, then SIGKILL.
/// Returns true if SIGKILL was needed.
pub fn stop(record: &PidRecord, grace: Duration) -> bool {
    let group = Pid::from_raw(record.pid);
    if !is_running(record) {
        return false;
    }
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_running(record) && group_rss_bytes(record.pid) == 0 {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = killpg(group, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_running(record) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// The last `lines` lines of a log file (for error messages).
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    // Only the end of a big log matters.
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let all: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// True when nothing listens on 127.0.0.1:`port` (so we can bind it).
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4213 (java (main) x) S 1 4213 4213 0 -1 4194560 12 0 0 0 5 3 0 0 20 0 60 0 123456 987654321 2048 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.pgrp, 4213);
        assert_eq!(stat.start_ticks, 123456);
        assert_eq!(stat.rss_pages, 2048);
        assert_eq!(stat.cpu_ticks, 5 + 3);
    }

    #[test]
    fn pid_records_round_trip_and_reject_garbage() {
        let r = PidRecord {
            pid: 42,
            start_ticks: 7,
        };
        assert_eq!(PidRecord::parse(&r.render()), Some(r));
        assert_eq!(PidRecord::parse("hello"), None);
        assert_eq!(PidRecord::parse(""), None);
    }

    #[test]
    fn a_recycled_pid_is_not_ours() {
        let me = std::process::id() as i32;
        let stat = read_stat(me).unwrap();
        assert!(is_running(&PidRecord {
            pid: me,
            start_ticks: stat.start_ticks
        }));
        assert!(!is_running(&PidRecord {
            pid: me,
            start_ticks: stat.start_ticks + 1
        }));
    }

    #[test]
    fn spawn_then_stop_a_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let pid_file = dir.path().join("run/sleep.pid");
        // A shell that forks a child: stop must take down the whole group.
        let args = vec!["-c".to_owned(), "echo started; sleep 300 & wait".to_owned()];
        let record = spawn(
            &Launch {
                service: "sleep",
                program: Path::new("/bin/sh"),
                args: &args,
                env: &[],
                cwd: dir.path(),
                log: &log,
            },
            &pid_file,
        )
        .unwrap();
        assert_eq!(running(&pid_file), Some(record));
        std::thread::sleep(Duration::from_millis(300));
        assert!(group_rss_bytes(record.pid) > 0);
        assert!(uptime(&record).is_some());
        let killed = stop(&record, Duration::from_secs(5));
        assert!(!killed, "SIGTERM should be enough for sh + sleep");
        assert!(!is_running(&record));
        assert_eq!(group_rss_bytes(record.pid), 0);
        assert!(tail(&log, 5).contains("started"));
    }

    #[test]
    fn a_process_ignoring_sigterm_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec![
            "-c".to_owned(),
            "trap '' TERM; sleep 300 & wait; sleep 300".to_owned(),
        ];
        let record = spawn(
            &Launch {
                service: "stubborn",
                program: Path::new("/bin/sh"),
                args: &args,
                env: &[],
                cwd: dir.path(),
                log: &dir.path().join("s.log"),
            },
            &dir.path().join("s.pid"),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(stop(&record, Duration::from_millis(500)));
        assert!(!is_running(&record));
    }

    #[test]
    fn tail_returns_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        fs::write(&path, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&path, 2), "c\nd");
        assert!(tail(&dir.path().join("missing"), 2).contains("no log"));
    }
}
