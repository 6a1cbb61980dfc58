//! Signals to the stack's processes: each service leads its own process group (its pid file
//! names the leader), so a signal to the group reaches the engine and whatever it forked.

use anyhow::{bail, Context};
use userstream_stack::Layout;

/// The process group of `service`, from its pid file.
pub fn service_group(layout: &Layout, service: &str) -> anyhow::Result<i32> {
    let path = layout.pid_file(service);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{service} is not running (no {}); run `userstream stack up`",
            path.display()
        )
    })?;
    text.split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok())
        .filter(|pid: &i32| *pid > 1)
        .with_context(|| format!("{} does not hold a pid", path.display()))
}

/// Sends `signal` (KILL, STOP, CONT) to every process of group `pgid`.
pub fn signal_group(pgid: i32, signal: &str) -> anyhow::Result<()> {
    signal_target(&format!("-{pgid}"), signal)
}

/// Sends `signal` to one process.
pub fn signal_process(pid: u32, signal: &str) -> anyhow::Result<()> {
    signal_target(&pid.to_string(), signal)
}

fn signal_target(target: &str, signal: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .args(["-s", signal, "--", target])
        .status()
        .context("running kill(1)")?;
    if !status.success() {
        bail!("kill -s {signal} -- {target} failed ({status})");
    }
    Ok(())
}

/// The process group of a `/proc/<pid>/stat` line (field 5; the command name before it may
/// hold spaces and parentheses, so fields count from the last `)`).
fn group_of_stat(stat: &str) -> Option<i32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2)?.parse().ok()
}

/// The Spark executors the worker of group `worker_group` runs (they stay in its group).
pub fn executor_pids(worker_group: i32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            group_of_stat(&stat) == Some(worker_group)
                && String::from_utf8_lossy(&cmdline).contains("CoarseGrainedExecutorBackend")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_read_after_the_command_name() {
        let stat = "4242 (java (x) y) S 1 4240 4240 0 -1 4194560 ...";
        assert_eq!(group_of_stat(stat), Some(4240));
        assert_eq!(group_of_stat("garbage"), None);
    }
}
