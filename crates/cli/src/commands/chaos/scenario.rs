//! The chaos matrix and its verdicts, without I/O: which scenarios exist, what each one does
//! to the stack, and how a scenario's counts become pass or fail.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// What a scenario does to the stack while users are produced and streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the service's process group, wait, start it again with `stack up`.
    Kill(&'static str),
    /// SIGKILL the Spark executors (the worker starts new ones by itself).
    KillExecutors,
    /// SIGSTOP the service's process group, wait longer than the clients' timeouts, SIGCONT.
    Pause(&'static str),
    /// Another producer registers a new compatible schema version and writes under it.
    NewSchemaVersion,
    /// The same seed is produced again once it has landed.
    Replay,
    /// The producer is SIGKILLed and a new one resumes from the page its last progress line
    /// printed.
    KillProducer,
}

/// One row of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Its name on the command line and in the report.
    pub name: &'static str,
    /// The fault.
    pub fault: Fault,
}

/// Every scenario, in the order they run.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "kafka-kill",
        fault: Fault::Kill("kafka"),
    },
    Scenario {
        name: "registry-kill",
        fault: Fault::Kill("registry"),
    },
    Scenario {
        name: "cassandra-kill",
        fault: Fault::Kill("cassandra"),
    },
    Scenario {
        name: "spark-master-kill",
        fault: Fault::Kill("spark-master"),
    },
    Scenario {
        name: "spark-worker-kill",
        fault: Fault::Kill("spark-worker"),
    },
    Scenario {
        name: "executor-kill",
        fault: Fault::KillExecutors,
    },
    Scenario {
        name: "connect-kill",
        fault: Fault::Kill("spark-connect"),
    },
    Scenario {
        name: "airflow-scheduler-kill",
        fault: Fault::Kill("airflow-scheduler"),
    },
    Scenario {
        name: "cassandra-pause",
        fault: Fault::Pause("cassandra"),
    },
    Scenario {
        name: "kafka-pause",
        fault: Fault::Pause("kafka"),
    },
    Scenario {
        name: "schema-version",
        fault: Fault::NewSchemaVersion,
    },
    Scenario {
        name: "replay",
        fault: Fault::Replay,
    },
    Scenario {
        name: "producer-kill",
        fault: Fault::KillProducer,
    },
];

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kill(service) => write!(f, "SIGKILL {service}, then `stack up`"),
            Self::KillExecutors => f.write_str("SIGKILL the Spark executors"),
            Self::Pause(service) => write!(f, "SIGSTOP {service}, then SIGCONT"),
            Self::NewSchemaVersion => {
                f.write_str("a second producer registers a new schema version and writes under it")
            }
            Self::Replay => f.write_str("the same seed produced again"),
            Self::KillProducer => {
                f.write_str("SIGKILL the producer, resume from its last printed page")
            }
        }
    }
}

/// The scenarios named in `list` (comma-separated; `all` or empty for every one), in matrix
/// order.
pub fn select(list: &str) -> Result<Vec<Scenario>, String> {
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() || names == ["all"] {
        return Ok(SCENARIOS.to_vec());
    }
    if let Some(unknown) = names
        .iter()
        .find(|n| !SCENARIOS.iter().any(|s| s.name == **n))
    {
        return Err(format!(
            "no scenario `{unknown}`; the scenarios are: {}",
            SCENARIOS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(SCENARIOS
        .iter()
        .filter(|s| names.contains(&s.name))
        .copied()
        .collect())
}

/// What one scenario measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counts {
    /// Distinct users the scenario produced (every producer run and writer together).
    pub produced: u64,
    /// Kafka records of those users (a replay or a resumed producer writes some twice).
    pub records: u64,
    /// Records beyond one per user within one producer run: duplicates nobody asked for.
    pub duplicated: u64,
    /// Those users with a row in `users`.
    pub landed: u64,
    /// The scenario's records in `rejected_rows`.
    pub rejected: u64,
}

impl Counts {
    /// Produced users without a row.
    pub fn lost(&self) -> u64 {
        self.produced.saturating_sub(self.landed)
    }
}

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The scenario's name.
    pub scenario: String,
    /// What was done, with timings (e.g. "SIGKILL cassandra at 3.0s, back after 41.2s").
    pub fault: String,
    /// The counts, once the users landed or the bound passed.
    pub counts: Counts,
    /// Users lost (produced, no row).
    pub lost: u64,
    /// From the fault to the moment every produced user had its row, seconds; `None` when
    /// that did not happen within the bound.
    pub recovered_secs: Option<f64>,
    /// The recovery bound, seconds.
    pub bound_secs: f64,
    /// Supervisor events during the scenario (restarts, stalls healed).
    pub events: Vec<String>,
    /// Why it failed; empty when it passed.
    pub problems: Vec<String>,
    /// Whether it passed.
    pub passed: bool,
}

impl Outcome {
    /// Judges a scenario: it passes only with no user lost, no duplicate, nothing rejected,
    /// every producer run successful and recovery within `bound`.
    pub fn judge(
        scenario: &str,
        fault: String,
        counts: Counts,
        recovered: Option<Duration>,
        bound: Duration,
        events: Vec<String>,
        mut problems: Vec<String>,
    ) -> Self {
        let lost = counts.lost();
        if lost > 0 {
            problems.push(format!("{lost} users without a row"));
        }
        if counts.duplicated > 0 {
            problems.push(format!("{} duplicated records", counts.duplicated));
        }
        if counts.rejected > 0 {
            problems.push(format!("{} records in rejected_rows", counts.rejected));
        }
        match recovered {
            None => problems.push(format!(
                "not every user landed within {}",
                humantime::format_duration(bound)
            )),
            Some(took) if took > bound => problems.push(format!(
                "recovery took {:.0}s, more than the bound {}",
                took.as_secs_f64(),
                humantime::format_duration(bound)
            )),
            Some(_) => {}
        }
        Self {
            scenario: scenario.to_owned(),
            fault,
            lost,
            counts,
            recovered_secs: recovered.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
            bound_secs: bound.as_secs_f64(),
            events,
            passed: problems.is_empty(),
            problems,
        }
    }
}

/// The report's table: one line per scenario, then the problems of those that failed.
pub fn render_table(outcomes: &[Outcome]) -> String {
    let mut out = format!(
        "{:<24} {:>8} {:>8} {:>8} {:>5} {:>10} {:>8} {:>10}  {}\n",
        "scenario",
        "produced",
        "records",
        "landed",
        "lost",
        "duplicated",
        "rejected",
        "recovered",
        "result"
    );
    for o in outcomes {
        let recovered = o
            .recovered_secs
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.1}s"));
        out.push_str(&format!(
            "{:<24} {:>8} {:>8} {:>8} {:>5} {:>10} {:>8} {:>10}  {}\n",
            o.scenario,
            o.counts.produced,
            o.counts.records,
            o.counts.landed,
            o.lost,
            o.counts.duplicated,
            o.counts.rejected,
            recovered,
            if o.passed { "pass" } else { "FAIL" }
        ));
    }
    for o in outcomes.iter().filter(|o| !o.passed) {
        out.push_str(&format!("{}: {}\n", o.scenario, o.problems.join("; ")));
    }
    let passed = outcomes.iter().filter(|o| o.passed).count();
    out.push_str(&format!("{passed}/{} scenarios passed\n", outcomes.len()));
    out
}

/// Records beyond one per key, among `keys` (one producer run's records, in any order).
pub fn duplicates<'a>(keys: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter().filter(|k| !seen.insert(*k)).count() as u64
}

/// The count a resumed producer run needs: `total` users from `start_page`, resumed at
/// `resume_page` with `per_page` users a page.
pub fn remaining_after_resume(total: u64, start_page: u32, resume_page: u32, per_page: u32) -> u64 {
    let done_pages = u64::from(resume_page.saturating_sub(start_page));
    total.saturating_sub(done_pages * u64::from(per_page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(produced: u64, landed: u64) -> Counts {
        Counts {
            produced,
            records: produced,
            duplicated: 0,
            landed,
            rejected: 0,
        }
    }

    #[test]
    fn selection_keeps_matrix_order_and_names_unknown_scenarios() {
        assert_eq!(select("").map(|s| s.len()), Ok(SCENARIOS.len()));
        assert_eq!(select("all").map(|s| s.len()), Ok(SCENARIOS.len()));
        let picked = select("replay, kafka-kill").unwrap_or_default();
        assert_eq!(
            picked.iter().map(|s| s.name).collect::<Vec<_>>(),
            ["kafka-kill", "replay"]
        );
        let err = select("kafka-kill,nope").err().unwrap_or_default();
        assert!(
            err.contains("`nope`") && err.contains("cassandra-kill"),
            "{err}"
        );
    }

    #[test]
    fn a_scenario_passes_only_when_nothing_is_lost_duplicated_or_late() {
        let bound = Duration::from_secs(300);
        let ok = Outcome::judge(
            "x",
            String::new(),
            counts(100, 100),
            Some(Duration::from_secs(5)),
            bound,
            vec![],
            vec![],
        );
        assert!(ok.passed && ok.lost == 0, "{ok:?}");
        let lost = Outcome::judge(
            "x",
            String::new(),
            counts(100, 99),
            Some(Duration::from_secs(5)),
            bound,
            vec![],
            vec![],
        );
        assert!(!lost.passed && lost.lost == 1 && lost.problems[0].contains("1 users"));
        let late = Outcome::judge(
            "x",
            String::new(),
            counts(100, 100),
            None,
            bound,
            vec![],
            vec![],
        );
        assert!(!late.passed && late.problems[0].contains("within 5m"));
        let mut dup = counts(100, 100);
        dup.duplicated = 2;
        let dup = Outcome::judge(
            "x",
            String::new(),
            dup,
            Some(Duration::from_secs(5)),
            bound,
            vec![],
            vec![],
        );
        assert!(!dup.passed);
        let failed_run = Outcome::judge(
            "x",
            String::new(),
            counts(100, 100),
            Some(Duration::from_secs(5)),
            bound,
            vec![],
            vec!["producer exited 1".into()],
        );
        assert!(!failed_run.passed);
    }

    #[test]
    fn the_table_has_a_row_per_scenario_and_says_why_one_failed() {
        let bound = Duration::from_secs(300);
        let outcomes = [
            Outcome::judge(
                "kafka-kill",
                String::new(),
                counts(10, 10),
                Some(Duration::from_millis(12_340)),
                bound,
                vec![],
                vec![],
            ),
            Outcome::judge(
                "replay",
                String::new(),
                counts(10, 9),
                None,
                bound,
                vec![],
                vec![],
            ),
        ];
        let table = render_table(&outcomes);
        assert!(table.contains("kafka-kill") && table.contains("12.3s") && table.contains("pass"));
        assert!(table.contains("replay: 1 users without a row"), "{table}");
        assert!(table.ends_with("1/2 scenarios passed\n"), "{table}");
    }

    #[test]
    fn duplicates_count_records_beyond_one_per_key() {
        assert_eq!(duplicates(["a", "b", "a", "a"]), 2);
        assert_eq!(duplicates(Vec::<&str>::new()), 0);
    }

    #[test]
    fn a_resumed_run_produces_what_the_killed_one_had_not_acknowledged() {
        assert_eq!(remaining_after_resume(10_000, 1, 4, 1_000), 7_000);
        assert_eq!(remaining_after_resume(10_000, 1, 1, 1_000), 10_000);
        assert_eq!(remaining_after_resume(10_000, 1, 12, 1_000), 0);
    }
}
