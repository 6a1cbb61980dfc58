//! What each service of the stack costs over a window: CPU time and resident memory of its
//! process group, read from /proc before and after (`bench e2e` reports them per 1,000 rows).
//!
//! A service's process group holds everything it forked (a Spark worker's executors, Airflow's
//! task processes), and the CPU time of a child that has exited is added to its parent's when
//! the parent reaps it, so the delta covers the whole tree.

use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

use crate::engines::ENGINES;
use crate::process::{self, PidRecord, ProcStat};

/// Linux reports CPU times in USER_HZ, which is 100 on every mainstream architecture.
const TICKS_PER_SECOND: u64 = 100;
const PAGE_BYTES: u64 = 4096;

/// One service at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSample {
    /// Service name.
    pub service: &'static str,
    /// Its process when running (pid and start time: a restart in between is seen).
    pub process: Option<PidRecord>,
    /// CPU time of its process group so far, clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory of its process group, bytes.
    pub rss_bytes: u64,
}

/// Every service of the stack at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSample {
    /// In start order.
    pub services: Vec<ServiceSample>,
}

/// What one service cost over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceCost {
    /// Service name (`producer` for the bench's own process).
    pub service: String,
    /// CPU time spent in the window, milliseconds (10 ms resolution).
    pub cpu_ms: f64,
    /// The same per 1,000 rows.
    pub cpu_ms_per_1k_rows: f64,
    /// Resident memory at the end of the window, bytes.
    pub rss_bytes: u64,
    /// It was not running at the end, or it restarted inside the window (its CPU time is
    /// then the new process's alone).
    pub note: Option<String>,
}

/// The stack's services now, from their pid files in `stack_run_dir` and one pass over /proc.
pub fn sample_usage(stack_run_dir: &Path) -> UsageSample {
    let by_group = group_totals(&process::all_stats());
    let services = ENGINES
        .iter()
        .flat_map(|engine| engine.service_names().iter().copied())
        .map(|service| {
            let process = process::running(&stack_run_dir.join(format!("{service}.pid")));
            let (cpu_ticks, rss_pages) = process
                .and_then(|p| by_group.get(&p.pid).copied())
                .unwrap_or((0, 0));
            ServiceSample {
                service,
                process,
                cpu_ticks,
                rss_bytes: rss_pages * PAGE_BYTES,
            }
        })
        .collect();
    UsageSample { services }
}

/// CPU ticks and resident pages per process group (zombies hold neither).
fn group_totals(stats: &[ProcStat]) -> HashMap<i32, (u64, u64)> {
    let mut totals: HashMap<i32, (u64, u64)> = HashMap::new();
    for stat in stats.iter().filter(|s| s.state != 'Z') {
        let entry = totals.entry(stat.pgrp).or_default();
        entry.0 += stat.cpu_ticks;
        entry.1 += stat.rss_pages;
    }
    totals
}

/// CPU time this process has used so far (all its threads), clock ticks.
pub fn own_cpu_ticks() -> u64 {
    process::read_stat(std::process::id() as i32)
        .map(|s| s.cpu_ticks)
        .unwrap_or(0)
}

/// Milliseconds of `ticks`.
pub fn ticks_to_ms(ticks: u64) -> f64 {
    ticks as f64 * 1000.0 / TICKS_PER_SECOND as f64
}

/// Per 1,000 of `rows` (0 when no row).
pub fn per_thousand(ms: f64, rows: u64) -> f64 {
    if rows == 0 {
        0.0
    } else {
        ms * 1000.0 / rows as f64
    }
}

/// What each service cost between `before` and `after`, per 1,000 of `rows`.
pub fn cost(before: &UsageSample, after: &UsageSample, rows: u64) -> Vec<ServiceCost> {
    after
        .services
        .iter()
        .map(|now| {
            let then = before.services.iter().find(|s| s.service == now.service);
            let same_process =
                then.is_some_and(|t| t.process.is_some() && t.process == now.process);
            let (ticks, note) = match (now.process, same_process) {
                (None, _) => (0, Some("not running at the end".to_owned())),
                (Some(_), true) => (
                    now.cpu_ticks
                        .saturating_sub(then.map(|t| t.cpu_ticks).unwrap_or(0)),
                    None,
                ),
                (Some(_), false) => (
                    now.cpu_ticks,
                    Some("started inside the window: its own CPU time only".to_owned()),
                ),
            };
            let cpu_ms = ticks_to_ms(ticks);
            ServiceCost {
                service: now.service.to_owned(),
                cpu_ms,
                cpu_ms_per_1k_rows: per_thousand(cpu_ms, rows),
                rss_bytes: now.rss_bytes,
                note,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(service: &'static str, pid: Option<i32>, cpu_ticks: u64) -> ServiceSample {
        ServiceSample {
            service,
            process: pid.map(|pid| PidRecord {
                pid,
                start_ticks: 7,
            }),
            cpu_ticks,
            rss_bytes: 1 << 20,
        }
    }

    #[test]
    fn cost_is_the_delta_per_thousand_rows_and_says_when_a_service_restarted() {
        let before = UsageSample {
            services: vec![
                sample("kafka", Some(10), 100),
                sample("cassandra", Some(20), 500),
                sample("spark-worker", None, 0),
            ],
        };
        let after = UsageSample {
            services: vec![
                sample("kafka", Some(10), 130),
                sample("cassandra", Some(21), 40),
                sample("spark-worker", None, 0),
            ],
        };
        let costs = cost(&before, &after, 3_000);
        assert_eq!(costs[0].cpu_ms, 300.0);
        assert_eq!(costs[0].cpu_ms_per_1k_rows, 100.0);
        assert_eq!(costs[0].note, None);
        // Restarted: the new process's 400 ms, not a negative delta.
        assert_eq!(costs[1].cpu_ms, 400.0);
        assert!(costs[1].note.is_some());
        assert_eq!(costs[2].cpu_ms, 0.0);
        assert!(costs[2].note.is_some());
        assert_eq!(per_thousand(5.0, 0), 0.0);
    }

    #[test]
    fn groups_sum_their_members_and_skip_zombies() {
        let stat = |pgrp, state, cpu_ticks| ProcStat {
            state,
            pgrp,
            start_ticks: 1,
            rss_pages: 2,
            cpu_ticks,
        };
        let totals = group_totals(&[
            stat(5, 'S', 10),
            stat(5, 'R', 5),
            stat(5, 'Z', 99),
            stat(6, 'S', 1),
        ]);
        assert_eq!(totals[&5], (15, 4));
        assert_eq!(totals[&6], (1, 2));
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let start = std::time::Instant::now();
        while own_cpu_ticks() == 0 && start.elapsed() < Duration::from_secs(2) {}
        assert!(own_cpu_ticks() > 0);
    }
}
