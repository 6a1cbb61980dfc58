//! The stall rule: when a query that Spark lists as active has stopped delivering.
//!
//! A query can stay "active" while its stream thread is parked for good (seen: the Cassandra
//! driver's schema refresh after Cassandra restarted). Nothing fails, so nothing restarts it.
//! The rule: input waits in Kafka (lag > 0) and no new batch has finished for longer than
//! [`Watchdog::stall_after`] → stalled. The remedies alternate, cheapest first: restart the
//! queries from their checkpoints, then (if that brought no batch) restart the Connect server.
//!
//! Pure: observations and the clock come in, a verdict goes out. The supervisor (`stream run`)
//! keeps one [`WatchState`] per query in memory; `stream ensure` keeps it in the job's state
//! file between its runs, so both callers apply the same rule.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use userstream_kafka::PartitionOffsets;

/// What the caller saw of one query at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observation {
    /// Spark lists the query as active.
    pub active: bool,
    /// Id of the newest batch in the query's recent progress; `None` when this run of the
    /// query has reported none yet.
    pub last_batch: Option<i64>,
    /// Per partition, the offset the query has read up to (end of its newest batch).
    pub read_up_to: Option<BTreeMap<i32, i64>>,
    /// The topic's partitions now (log start and end); `None` when Kafka could not say.
    pub topic: Option<Vec<PartitionOffsets>>,
}

/// What to do about a stall, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// Stop the job's queries and start them again from their checkpoints.
    RestartQueries,
    /// Restart the Spark Connect server (a fresh driver and connector sessions), then start
    /// the queries.
    RestartConnect,
}

impl std::fmt::Display for Remedy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::RestartQueries => "restart the queries from their checkpoints",
            Self::RestartConnect => "restart the Spark Connect server, then the queries",
        })
    }
}

/// The rule's answer for one observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A new batch finished, or nothing waits in Kafka, or the query is not running (the
    /// supervisor's restart rule handles that), or Kafka could not say how much waits.
    Fine,
    /// Records wait and no batch has finished for `since` (under the bound so far).
    Behind {
        /// Records waiting.
        lag: u64,
        /// Time since the last batch (or since the lag was first seen).
        since: Duration,
    },
    /// Records have waited longer than the bound with no batch: apply `remedy`.
    Stalled {
        /// Records waiting.
        lag: u64,
        /// Time without a batch.
        since: Duration,
        /// What to do.
        remedy: Remedy,
    },
}

/// What the rule remembers of one query between observations (serializable: `stream ensure`
/// keeps it in the job's state file between its runs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WatchState {
    /// Newest batch id seen.
    pub last_batch: Option<i64>,
    /// Offsets the query had read up to at the newest batch seen (kept across a restart,
    /// whose new run reports no batch until its first one finishes).
    pub read_up_to: BTreeMap<i32, i64>,
    /// When the query was last seen delivering or idle (milliseconds since the epoch).
    pub fine_at_ms: Option<i64>,
    /// Remedies applied since the last batch.
    pub remedies: u32,
}

/// The rule with its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchdog {
    /// Longest time without a finished batch while records wait.
    pub stall_after: Duration,
}

impl Observation {
    /// What `status` says of one query, with the topic's offsets taken now.
    pub fn of(
        query: &crate::QueryStatus,
        topic_name: &str,
        topic: Option<Vec<PartitionOffsets>>,
    ) -> Self {
        let progress = query.last_progress.as_ref();
        Self {
            active: query.active,
            last_batch: progress.map(|p| p.batch_id),
            read_up_to: progress.and_then(|p| read_up_to(p, topic_name)),
            topic,
        }
    }
}

/// The offsets a batch read up to, from its progress report (`{"topic": {"0": 12}}`).
fn read_up_to(progress: &crate::Progress, topic_name: &str) -> Option<BTreeMap<i32, i64>> {
    let source = progress.sources.first()?;
    let partitions = source.end_offset.get(topic_name)?.as_object()?;
    partitions
        .iter()
        .map(|(partition, offset)| Some((partition.parse().ok()?, offset.as_i64()?)))
        .collect()
}

/// Records in `topic` that the query has not read: per partition, from what it read (or the
/// log start, when Kafka deleted records before the query read them, or the partition is
/// new to it) to the end.
pub fn lag(read_up_to: &BTreeMap<i32, i64>, topic: &[PartitionOffsets]) -> u64 {
    topic
        .iter()
        .map(|p| {
            let read = read_up_to
                .get(&p.partition)
                .copied()
                .unwrap_or(0)
                .max(p.low);
            u64::try_from(p.high - read).unwrap_or(0)
        })
        .sum()
}

impl Watchdog {
    /// Applies the rule to one observation at `now_ms` (milliseconds since the epoch).
    pub fn observe(&self, state: &mut WatchState, obs: &Observation, now_ms: i64) -> Verdict {
        // A new run of the query reports no batch at first: that is not progress, and what
        // was seen before stays the reference. Spark's idle reports carry the id of the batch
        // it will run next, so that batch finishing shows as moved offsets, not a new id.
        let progressed = obs.last_batch.is_some()
            && (obs.last_batch != state.last_batch
                || obs
                    .read_up_to
                    .as_ref()
                    .is_some_and(|r| *r != state.read_up_to));
        if progressed {
            state.last_batch = obs.last_batch;
            state.read_up_to = obs.read_up_to.clone().unwrap_or_default();
            state.remedies = 0;
        }
        let waiting = obs
            .topic
            .as_ref()
            .map(|topic| lag(&state.read_up_to, topic));
        let fine_at = *state.fine_at_ms.get_or_insert(now_ms);
        match waiting {
            _ if progressed || !obs.active => {
                state.fine_at_ms = Some(now_ms);
                Verdict::Fine
            }
            Some(0) => {
                state.fine_at_ms = Some(now_ms);
                state.remedies = 0;
                Verdict::Fine
            }
            None => Verdict::Fine,
            Some(lag) => {
                let since = Duration::from_millis(u64::try_from(now_ms - fine_at).unwrap_or(0));
                if since < self.stall_after {
                    return Verdict::Behind { lag, since };
                }
                let remedy = if state.remedies.is_multiple_of(2) {
                    Remedy::RestartQueries
                } else {
                    Remedy::RestartConnect
                };
                state.remedies += 1;
                // The remedy gets a whole bound to show a batch before the next one.
                state.fine_at_ms = Some(now_ms);
                Verdict::Stalled { lag, since, remedy }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_secs(120);
    const WATCHDOG: Watchdog = Watchdog { stall_after: BOUND };
    const S: i64 = 1000;

    fn offsets(pairs: &[(i32, i64)]) -> BTreeMap<i32, i64> {
        pairs.iter().copied().collect()
    }

    fn partition(partition: i32, low: i64, high: i64) -> PartitionOffsets {
        PartitionOffsets {
            partition,
            low,
            high,
        }
    }

    fn seen(batch: Option<i64>, read: i64, end: i64) -> Observation {
        Observation {
            active: true,
            last_batch: batch,
            read_up_to: batch.map(|_| offsets(&[(0, read)])),
            topic: Some(vec![partition(0, 0, end)]),
        }
    }

    #[test]
    fn the_offsets_read_come_from_the_newest_progress_report() -> Result<(), crate::StreamError> {
        let json = r#"{"id":"q","runId":"r","batchId":7,"timestamp":"2026-12-01T00:00:00Z",
            "numInputRows":3,"sources":[{"description":"KafkaV2[Subscribe[users]]",
            "startOffset":{"users":{"0":1,"1":2}},"endOffset":{"users":{"1":9,"0":4}},
            "latestOffset":{"users":{"0":4,"1":9}}}]}"#;
        let progress = crate::Progress::from_json(json)?;
        assert_eq!(
            read_up_to(&progress, "users"),
            Some(offsets(&[(0, 4), (1, 9)]))
        );
        assert_eq!(read_up_to(&progress, "other"), None);
        Ok(())
    }

    #[test]
    fn lag_counts_every_partition_from_what_is_still_held() {
        let read = offsets(&[(0, 10), (1, 50), (3, 2)]);
        let topic = [
            partition(0, 0, 15),
            partition(1, 0, 40),
            partition(2, 3, 7),
            partition(3, 9, 9),
        ];
        // 5 unread; none (read past the end); 4 in a partition never read, from its log
        // start; none where retention deleted what was not read.
        assert_eq!(lag(&read, &topic), 5 + 4);
    }

    #[test]
    fn a_query_that_keeps_finishing_batches_is_fine_however_far_behind() {
        let mut state = WatchState::default();
        for (i, batch) in (0..10).enumerate() {
            let now = i64::try_from(i).unwrap_or(0) * 100 * S;
            let obs = seen(Some(batch), batch * 10, 1_000_000);
            assert_eq!(WATCHDOG.observe(&mut state, &obs, now), Verdict::Fine);
        }
    }

    #[test]
    fn an_idle_query_is_fine_without_new_batches() {
        let mut state = WatchState::default();
        assert_eq!(
            WATCHDOG.observe(&mut state, &seen(Some(3), 500, 500), 0),
            Verdict::Fine
        );
        let later = seen(Some(3), 500, 500);
        assert_eq!(
            WATCHDOG.observe(&mut state, &later, 3600 * S),
            Verdict::Fine
        );
    }

    #[test]
    fn waiting_input_without_a_batch_is_behind_then_stalled_and_remedies_escalate() {
        let mut state = WatchState::default();
        assert_eq!(
            WATCHDOG.observe(&mut state, &seen(Some(3), 500, 500), 0),
            Verdict::Fine
        );
        // 200 records arrive; the query reports nothing new.
        let stuck = seen(Some(3), 500, 700);
        assert_eq!(
            WATCHDOG.observe(&mut state, &stuck, 60 * S),
            Verdict::Behind {
                lag: 200,
                since: Duration::from_secs(60)
            }
        );
        assert_eq!(
            WATCHDOG.observe(&mut state, &stuck, 121 * S),
            Verdict::Stalled {
                lag: 200,
                since: Duration::from_secs(121),
                remedy: Remedy::RestartQueries
            }
        );
        // The remedy gets a whole bound before the next one.
        assert!(matches!(
            WATCHDOG.observe(&mut state, &stuck, 200 * S),
            Verdict::Behind { .. }
        ));
        // The restarted run has reported no batch yet: still stuck, so escalate.
        let restarted = seen(None, 0, 700);
        assert_eq!(
            WATCHDOG.observe(&mut state, &restarted, 242 * S),
            Verdict::Stalled {
                lag: 200,
                since: Duration::from_secs(121),
                remedy: Remedy::RestartConnect
            }
        );
        // Still nothing: back to the cheap remedy, and so on.
        assert!(matches!(
            WATCHDOG.observe(&mut state, &restarted, 363 * S),
            Verdict::Stalled {
                remedy: Remedy::RestartQueries,
                ..
            }
        ));
        // A batch: fine again, and the escalation starts over.
        assert_eq!(
            WATCHDOG.observe(&mut state, &seen(Some(4), 700, 700), 370 * S),
            Verdict::Fine
        );
        assert_eq!(state.remedies, 0);
    }

    #[test]
    fn a_batch_under_the_id_of_an_idle_report_is_progress() {
        let mut state = WatchState::default();
        WATCHDOG.observe(&mut state, &seen(Some(1), 500, 500), 0);
        // The batch Spark announced as 1 while idle finishes under the same id.
        let obs = seen(Some(1), 700, 900);
        assert_eq!(WATCHDOG.observe(&mut state, &obs, 500 * S), Verdict::Fine);
        assert_eq!(state.read_up_to, offsets(&[(0, 700)]));
    }

    #[test]
    fn a_new_run_without_batches_keeps_the_offsets_seen_before() {
        let mut state = WatchState::default();
        WATCHDOG.observe(&mut state, &seen(Some(9), 900, 900), 0);
        // After a restart: no batch yet, nothing new in Kafka. Idle, not behind.
        assert_eq!(
            WATCHDOG.observe(&mut state, &seen(None, 0, 900), 500 * S),
            Verdict::Fine
        );
        assert_eq!(state.last_batch, Some(9));
    }

    #[test]
    fn a_query_that_is_down_or_unmeasurable_is_left_to_other_rules() {
        let mut state = WatchState::default();
        WATCHDOG.observe(&mut state, &seen(Some(1), 0, 0), 0);
        let down = Observation {
            active: false,
            ..seen(Some(1), 0, 900)
        };
        assert_eq!(WATCHDOG.observe(&mut state, &down, 500 * S), Verdict::Fine);
        let unknown = Observation {
            topic: None,
            ..seen(Some(1), 0, 900)
        };
        assert_eq!(
            WATCHDOG.observe(&mut state, &unknown, 600 * S),
            Verdict::Fine
        );
        // Kafka answers again: the time without a batch counts from when the query was last
        // seen fine (down and restarted at 500 s).
        assert!(matches!(
            WATCHDOG.observe(&mut state, &seen(Some(1), 0, 900), 700 * S),
            Verdict::Stalled { since, .. } if since == Duration::from_secs(200)
        ));
    }

    #[test]
    fn the_state_survives_a_round_trip_through_json() {
        let mut state = WatchState::default();
        WATCHDOG.observe(&mut state, &seen(Some(2), 40, 90), 7 * S);
        let text = serde_json::to_string(&state).unwrap_or_default();
        let back: WatchState = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, state);
    }
}
