//! [`VerifyReport`]: what a run compared and found, printed as text or JSON (`--json`, whose
//! schema the DAGs read: `dags/contracts/verify.schema.json`).

use std::fmt;

use serde::Serialize;
use userstream_kafka::TopicCut;
use uuid::Uuid;

/// Which comparison ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerifyMode {
    /// Every record inside the cut against every row of the table.
    Full,
    /// Only the records after the last verified cut, against their users' rows read by key,
    /// plus a sample of older records rechecked.
    Incremental,
}

/// One field that differs between the record in Kafka and the row in Cassandra.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldMismatch {
    /// The user.
    pub id: Uuid,
    /// The column.
    pub field: String,
    /// What the record (and the job's rules) say it should be.
    pub expected: String,
    /// What Cassandra holds.
    pub actual: String,
}

/// The comparison. [`VerifyReport::ok`] is the verdict.
///
/// "The records read" are every record inside `cut` in full mode, and the records between
/// `previous_cut` and `cut` in incremental mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    /// Topic read.
    pub topic: String,
    /// Keyspace read.
    pub keyspace: String,
    /// Which comparison ran: `full` (plain `verify`, or `--incremental` falling back, see
    /// `fallback_reason`) or `incremental`.
    pub mode: VerifyMode,
    /// Incremental mode: the last verified cut this run started from; only records at or
    /// past its `high`s were read. `null` in full mode.
    pub previous_cut: Option<TopicCut>,
    /// Why `--incremental` ran the full comparison instead (no cut stored yet, an unreadable
    /// one, a recreated topic); `null` otherwise.
    pub fallback_reason: Option<String>,
    /// Where `--incremental` keeps the last verified cut; `null` for plain `verify`.
    pub cut_file: Option<String>,
    /// Whether this run's `cut` was stored there as the next incremental run's start: only
    /// with `--incremental`, and only when `ok` (a failed range is read again next time).
    pub cut_saved: bool,
    /// The cut compared: per partition, `low` (older records were deleted by retention) and
    /// `high` (records from there on came after the cut and are not compared).
    pub cut: TopicCut,
    /// Records read.
    pub kafka_records: u64,
    /// Records read that decode to a `User`.
    pub kafka_decoded: u64,
    /// Records read that do not (expected in `rejected_rows`).
    pub kafka_undecodable: u64,
    /// Distinct user ids among the decoded records read.
    pub kafka_unique_ids: u64,
    /// Records Kafka already deleted (retention): the sum of the partitions' log starts.
    pub kafka_deleted: i64,
    /// Incremental mode: records after the previous cut that retention deleted before this
    /// run could read them; out of reach, not checked. 0 in full mode.
    pub kafka_skipped: u64,
    /// Rows in `users`. `null` in incremental mode, which reads only the rows of the ids it
    /// checks, by key, and never counts the table.
    pub cassandra_rows: Option<u64>,
    /// Rows of this topic in `rejected_rows` whose record is among the records read (in
    /// incremental mode: the rejections since the previous verified cut).
    pub rejected_rows: u64,
    /// Messages held in the dead-letter topic (0 when it does not exist); `None` when not
    /// asked for. A total in both modes.
    pub dlq_count: Option<i64>,
    /// Ids whose newest record read Cassandra does not reflect.
    pub missing_count: u64,
    /// Of those, ids whose row exists but was written from an older record.
    pub outdated_count: u64,
    /// Some missing ids.
    pub missing_ids: Vec<Uuid>,
    /// Rows no record accounts for (their source lies inside the cut, or another topic).
    /// `null` in incremental mode: such a row has no new record to be found from, so only the
    /// full comparison looks for them.
    pub extra_count: Option<u64>,
    /// Some of them (always empty in incremental mode).
    pub extra_ids: Vec<Uuid>,
    /// Rows written from records after the cut: not compared. In incremental mode, among the
    /// rows of the ids read.
    pub past_cut_rows: u64,
    /// Rows whose source record Kafka has deleted: out of reach, neither extra nor missing.
    /// `null` in incremental mode (found only by reading every row).
    pub out_of_reach_rows: Option<u64>,
    /// Incremental mode: older records (before the previous cut, still held by Kafka) drawn
    /// at random and checked again: their user's row must come from them or a newer record.
    /// Records that no longer decode or were deleted meanwhile are not counted. 0 in full mode,
    /// which compares every record anyway.
    pub rechecked: u64,
    /// Of those, how many have no row, or one from an older record.
    pub recheck_failed: u64,
    /// Some of their user ids.
    pub recheck_failed_ids: Vec<Uuid>,
    /// Users compared field by field.
    pub sampled: usize,
    /// Differing fields found in the sample.
    pub field_mismatch_count: usize,
    /// Some of them.
    pub field_mismatches: Vec<FieldMismatch>,
    /// Sorted runs spilled to disk (the Kafka side, and in full mode the Cassandra side; 0 =
    /// all fit in memory).
    pub spilled_runs: usize,
    /// Peak resident memory of this process (Linux `VmHWM`), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Time taken.
    pub took_ms: u64,
    /// No missing id, no differing field, at least as many rejected rows as undecodable
    /// records read; in full mode also no extra row, in incremental mode also no failed
    /// recheck.
    pub ok: bool,
}

fn offsets(cut: &TopicCut) -> String {
    cut.partitions
        .iter()
        .map(|p| format!("{}:{}..{}", p.partition, p.low, p.high))
        .collect::<Vec<_>>()
        .join(" ")
}

fn highs(cut: &TopicCut) -> String {
    cut.partitions
        .iter()
        .map(|p| format!("{}:{}", p.partition, p.high))
        .collect::<Vec<_>>()
        .join(" ")
}

impl VerifyReport {
    fn write_mode(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.previous_cut, &self.fallback_reason) {
            (Some(previous), _) => writeln!(
                f,
                "  mode:      incremental, from the last verified cut (ends {}); extra rows are \
                 only looked for by a full verify",
                highs(previous)
            ),
            (None, Some(why)) => writeln!(f, "  mode:      full (--incremental fell back: {why})"),
            (None, None) => writeln!(f, "  mode:      full"),
        }
    }

    fn write_sides(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let read = match self.mode {
            VerifyMode::Full => "in the cut",
            VerifyMode::Incremental => "since the last verified cut",
        };
        writeln!(
            f,
            "  kafka:     {} records {read}, {} decoded ({} distinct ids), {} undecodable; {} older records deleted by retention",
            self.kafka_records, self.kafka_decoded, self.kafka_unique_ids, self.kafka_undecodable, self.kafka_deleted
        )?;
        if self.kafka_skipped > 0 {
            writeln!(
                f,
                "             {} records after the last verified cut were deleted by retention before this run (out of reach, not checked)",
                self.kafka_skipped
            )?;
        }
        match (self.cassandra_rows, self.out_of_reach_rows) {
            (Some(rows), Some(out_of_reach)) => writeln!(
                f,
                "  cassandra: {rows} users, {} rejected rows; {} rows from records after the cut, {out_of_reach} from deleted records (out of reach)",
                self.rejected_rows, self.past_cut_rows
            ),
            _ => writeln!(
                f,
                "  cassandra: the rows of those ids read by key, {} rejected rows among the records read; {} rows from records after the cut",
                self.rejected_rows, self.past_cut_rows
            ),
        }
    }

    fn write_findings(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  missing in cassandra: {} ({} with a row from an older record)",
            self.missing_count, self.outdated_count
        )?;
        for id in &self.missing_ids {
            writeln!(f, "    {id}")?;
        }
        match self.extra_count {
            Some(extra) => writeln!(f, "  extra in cassandra:   {extra}")?,
            None => writeln!(
                f,
                "  extra in cassandra:   not looked for (full verify only)"
            )?,
        }
        for id in &self.extra_ids {
            writeln!(f, "    {id}")?;
        }
        if self.mode == VerifyMode::Incremental {
            writeln!(
                f,
                "  rechecked: {} older records, {} without a row from them or a newer one",
                self.rechecked, self.recheck_failed
            )?;
            for id in &self.recheck_failed_ids {
                writeln!(f, "    {id}")?;
            }
        }
        writeln!(
            f,
            "  field checks: {} users sampled, {} differing fields",
            self.sampled, self.field_mismatch_count
        )?;
        for m in &self.field_mismatches {
            writeln!(
                f,
                "    {} {}: expected {:?}, found {:?}",
                m.id, m.field, m.expected, m.actual
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify {} (Kafka) vs {}.users (Cassandra), cut at offsets {}",
            self.topic,
            self.keyspace,
            offsets(&self.cut)
        )?;
        self.write_mode(f)?;
        self.write_sides(f)?;
        if let Some(dlq) = self.dlq_count {
            writeln!(
                f,
                "  dead letters: {dlq} (not compared: they never reach the topic)"
            )?;
        }
        self.write_findings(f)?;
        if let Some(rss) = self.peak_rss_bytes {
            writeln!(
                f,
                "  took {:.1}s, peak memory {} MiB, {} sorted runs spilled to disk",
                self.took_ms as f64 / 1000.0,
                rss / (1024 * 1024),
                self.spilled_runs
            )?;
        }
        if let Some(path) = &self.cut_file {
            if self.cut_saved {
                writeln!(
                    f,
                    "  cut stored in {path}: the next --incremental run starts there"
                )?;
            } else {
                writeln!(
                    f,
                    "  cut not stored ({path} unchanged): the next --incremental run starts from the same place"
                )?;
            }
        }
        write!(
            f,
            "{}",
            if self.ok {
                "OK: no difference"
            } else {
                "DIFFERENCE FOUND"
            }
        )
    }
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux).
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use userstream_kafka::PartitionOffsets;

    fn cut(high: i64) -> TopicCut {
        TopicCut {
            topic: "users".into(),
            partitions: vec![PartitionOffsets {
                partition: 0,
                low: 0,
                high,
            }],
        }
    }

    fn full() -> VerifyReport {
        VerifyReport {
            topic: "users".into(),
            keyspace: "userstream".into(),
            mode: VerifyMode::Full,
            previous_cut: None,
            fallback_reason: None,
            cut_file: None,
            cut_saved: false,
            cut: cut(120),
            kafka_records: 120,
            kafka_decoded: 120,
            kafka_undecodable: 0,
            kafka_unique_ids: 100,
            kafka_deleted: 0,
            kafka_skipped: 0,
            cassandra_rows: Some(100),
            rejected_rows: 0,
            dlq_count: None,
            missing_count: 0,
            outdated_count: 0,
            missing_ids: Vec::new(),
            extra_count: Some(0),
            extra_ids: Vec::new(),
            past_cut_rows: 0,
            out_of_reach_rows: Some(0),
            rechecked: 0,
            recheck_failed: 0,
            recheck_failed_ids: Vec::new(),
            sampled: 10,
            field_mismatch_count: 0,
            field_mismatches: Vec::new(),
            spilled_runs: 0,
            peak_rss_bytes: None,
            took_ms: 5,
            ok: true,
        }
    }

    #[test]
    fn the_text_says_which_comparison_ran_and_from_which_cut() {
        let text = full().to_string();
        assert!(text.contains("mode:      full\n"), "{text}");
        assert!(text.contains("120 records in the cut") && text.contains("100 users"));
        assert!(!text.contains("cut stored") && !text.contains("rechecked"));

        let fallback = VerifyReport {
            fallback_reason: Some("no verified cut stored yet".into()),
            cut_file: Some("/s/data/verify/userstream.users.cut.json".into()),
            cut_saved: true,
            ..full()
        };
        let text = fallback.to_string();
        assert!(text.contains("full (--incremental fell back: no verified cut stored yet)"));
        assert!(text.contains("cut stored in /s/data/verify/userstream.users.cut.json"));

        let incremental = VerifyReport {
            mode: VerifyMode::Incremental,
            previous_cut: Some(cut(100)),
            cut_file: Some("/s/c.json".into()),
            kafka_records: 20,
            kafka_skipped: 3,
            cassandra_rows: None,
            extra_count: None,
            out_of_reach_rows: None,
            rechecked: 200,
            recheck_failed: 1,
            recheck_failed_ids: vec![Uuid::from_u128(7)],
            ok: false,
            ..full()
        };
        let text = incremental.to_string();
        assert!(
            text.contains("incremental, from the last verified cut (ends 0:100)"),
            "{text}"
        );
        assert!(text.contains("20 records since the last verified cut"));
        assert!(text.contains("3 records after the last verified cut were deleted"));
        assert!(text.contains("extra in cassandra:   not looked for"));
        assert!(text.contains("rechecked: 200 older records, 1 without"));
        assert!(text.contains("cut not stored (/s/c.json unchanged)"));
        assert!(text.ends_with("DIFFERENCE FOUND"));
    }

    #[test]
    fn the_json_names_the_mode_in_lowercase_and_prints_not_computed_as_null() {
        let json = serde_json::to_value(VerifyReport {
            mode: VerifyMode::Incremental,
            extra_count: None,
            ..full()
        })
        .unwrap();
        assert_eq!(json["mode"], "incremental");
        assert!(json["extra_count"].is_null() && json["previous_cut"].is_null());
    }
}
