//! The supervisor's journal: every event of `stream run` and `stream ensure`, one JSON line
//! each, next to the checkpoints, so `stream status` and the console show what the
//! supervisor did (another process) without reading its log.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::SparkJob;

/// Lines kept when the journal is trimmed (it is trimmed when it passes twice that).
const KEEP: usize = 200;

/// One event as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JournalEntry {
    /// When, RFC 3339 (UTC).
    pub at: String,
    /// The event's one-line text.
    pub event: String,
}

/// The journal of a job: `<checkpoint_root>/<query_name>.events.jsonl`, written by the
/// supervisor (and `start`), read by `stream status` and the console.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// The journal of `job`.
    pub fn of(job: &SparkJob) -> Self {
        Self {
            path: job
                .checkpoint_root
                .join(format!("{}.events.jsonl", job.query_name)),
        }
    }

    /// Appends `event` (best effort: a journal that cannot be written only costs the history;
    /// the event still goes to the caller's log).
    pub fn record(&self, event: &str) {
        let entry = JournalEntry {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            event: event.to_owned(),
        };
        let Ok(line) = serde_json::to_string(&entry) else {
            return;
        };
        let appended =
            crate::private_file::append(&self.path).and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = appended {
            tracing::debug!(path = %self.path.display(), error = %e, "journal not written");
            return;
        }
        if let Ok(text) = std::fs::read_to_string(&self.path) {
            if let Some(kept) = trimmed(&text, KEEP) {
                let _ = crate::private_file::write(&self.path, kept);
            }
        }
    }

    /// The last `n` entries, oldest first (unreadable lines skipped).
    pub fn recent(&self, n: usize) -> Vec<JournalEntry> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut entries: Vec<JournalEntry> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
        entries
    }
}

/// The last `keep` lines of `text` when it holds more than twice that, else `None`.
fn trimmed(text: &str, keep: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    (lines.len() > 2 * keep).then(|| {
        let mut kept = lines[lines.len() - keep..].join("\n");
        kept.push('\n');
        kept
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_keeps_the_newest_lines_once_it_doubles() {
        let text: String = (0..5).map(|i| format!("{i}\n")).collect();
        assert_eq!(trimmed(&text, 2), Some("3\n4\n".to_owned()));
        assert_eq!(trimmed("0\n1\n", 2), None);
    }

    #[test]
    fn entries_come_back_oldest_first() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let job = SparkJob {
            connect_url: "sc://127.0.0.1:15002".into(),
            connect_user: crate::DEFAULT_CONNECT_USER.into(),
            connect_token: None,
            query_name: "q".into(),
            checkpoint_root: dir.path().to_path_buf(),
            request_timeout: std::time::Duration::from_secs(1),
            stack_run_dir: dir.path().join("run"),
        };
        let journal = Journal::of(&job);
        assert_eq!(journal.path, dir.path().join("q.events.jsonl"));
        for event in ["a", "b", "c"] {
            journal.record(event);
        }
        let recent = journal.recent(2);
        assert_eq!(
            recent.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(recent[0].at.ends_with('Z'));
    }
}
