//! What the console shows, as plain data, and the pure logic that turns samples into rates,
//! lag and the flow diagram. No I/O here: everything is tested with made-up samples.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// One area of the page (Kafka, Spark, ...) as last gathered.
///
/// A failed gather keeps the last good data (marked by `ok: false` and the `error`), so a
/// service that goes down shows as down with its error while the rest of the page keeps
/// working and the last figures stay readable.
#[derive(Debug, Clone, Serialize)]
pub struct Section<T> {
    /// Whether the last gather succeeded.
    pub ok: bool,
    /// Why the last gather failed.
    pub error: Option<String>,
    /// The last good data; `None` until one gather succeeded.
    pub data: Option<T>,
    /// When the last gather finished, ms since the epoch; `None` before the first.
    pub updated_at_ms: Option<i64>,
    /// How long the last gather took.
    pub took_ms: u64,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Self {
            ok: false,
            error: Some("not gathered yet".to_owned()),
            data: None,
            updated_at_ms: None,
            took_ms: 0,
        }
    }
}

impl<T> Section<T> {
    /// Records the outcome of one gather.
    pub fn record(&mut self, outcome: Result<T, String>, now_ms: i64, took_ms: u64) {
        self.updated_at_ms = Some(now_ms);
        self.took_ms = took_ms;
        match outcome {
            Ok(data) => {
                self.ok = true;
                self.error = None;
                self.data = Some(data);
            }
            Err(error) => {
                self.ok = false;
                self.error = Some(error);
            }
        }
    }

    /// The data, only when the last gather succeeded.
    pub fn fresh(&self) -> Option<&T> {
        if self.ok {
            self.data.as_ref()
        } else {
            None
        }
    }
}

/// One service of the stack, as `stack status` sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    /// Service name, e.g. `kafka`, `spark-connect`.
    pub service: String,
    /// Engine it belongs to.
    pub engine: String,
    /// Running and healthy.
    pub healthy: bool,
    /// Pid when running.
    pub pid: Option<i32>,
    /// Ports it owns.
    pub ports: Vec<u16>,
    /// Health detail, or the error.
    pub detail: String,
    /// Seconds since start.
    pub uptime_seconds: Option<u64>,
    /// Resident memory of its process group.
    pub rss_bytes: u64,
    /// Its log file.
    pub log: String,
}

/// Role of a topic in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicRole {
    /// The users topic.
    Users,
    /// The dead-letter topic.
    DeadLetter,
    /// Anything else on the cluster (the registry's journal, test topics).
    Other,
}

/// One topic on the page.
#[derive(Debug, Clone, Serialize)]
pub struct TopicView {
    /// Name.
    pub name: String,
    /// What it is for.
    pub role: TopicRole,
    /// Per-partition offsets.
    pub partitions: Vec<userstream_kafka::PartitionOffsets>,
    /// Sum of end offsets.
    pub end_offset: i64,
    /// Messages held now.
    pub messages: i64,
    /// Messages per second over the last interval; `None` until two samples exist.
    pub rate_per_second: Option<f64>,
    /// Recent messages per second, oldest first (the sparkline).
    pub rate_history: Vec<f64>,
}

/// One dead letter, as its headers describe it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetterView {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// When it was written, ms since the epoch.
    pub timestamp_ms: Option<i64>,
    /// `reason` header.
    pub reason: String,
    /// `error_code` header.
    pub error_code: String,
    /// `record` or `page`.
    pub scope: String,
    /// `source_page` header.
    pub source_page: Option<String>,
}

/// The Kafka area.
#[derive(Debug, Clone, Serialize)]
pub struct KafkaView {
    /// Pipeline topics first, then the rest by name.
    pub topics: Vec<TopicView>,
    /// The dead-letter topic's name.
    pub dlq_topic: String,
    /// Messages in it (`None` when it does not exist yet).
    pub dlq_size: Option<i64>,
    /// Its newest entries.
    pub dlq_newest: Vec<DeadLetterView>,
}

/// One subject of the registry.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectView {
    /// Subject name.
    pub name: String,
    /// Registered versions (only gathered for the pipeline's subject).
    pub versions: Vec<u32>,
    /// Its own compatibility level, if set.
    pub compatibility: Option<String>,
    /// Latest version's schema id.
    pub latest_id: Option<u32>,
    /// Latest schema, pretty-printed.
    pub latest_schema: Option<String>,
}

/// The Schema Registry area.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryView {
    /// The registry's base URL.
    pub url: String,
    /// The pipeline's subject, in full, when registered.
    pub pipeline_subject: Option<SubjectView>,
    /// Every subject name.
    pub subjects: Vec<String>,
}

/// One streaming query.
#[derive(Debug, Clone, Serialize)]
pub struct QueryView {
    /// Query name.
    pub name: String,
    /// Runs now.
    pub active: bool,
    /// Spark's status message.
    pub message: Option<String>,
    /// A trigger executes now.
    pub trigger_active: bool,
    /// Last finished batch.
    pub batch_id: Option<i64>,
    /// When it started.
    pub batch_timestamp: Option<String>,
    /// Rows in it.
    pub batch_rows: Option<i64>,
    /// Spark's input rows/s of that batch.
    pub input_rows_per_second: Option<f64>,
    /// Spark's processed rows/s of that batch.
    pub processed_rows_per_second: Option<f64>,
    /// Its duration.
    pub batch_duration_ms: Option<i64>,
    /// Offsets processed so far per topic and partition (the last batch's end offsets).
    pub committed: BTreeMap<String, BTreeMap<i32, i64>>,
    /// The exception that stopped it.
    pub exception: Option<String>,
}

/// The Spark area.
#[derive(Debug, Clone, Serialize)]
pub struct SparkView {
    /// Session holding the queries.
    pub session_id: String,
    /// The users query, then the rejected-records query.
    pub queries: Vec<QueryView>,
    /// What the job's supervisor (`stream run`, the `users_stream` DAG) did last, oldest
    /// first: restarts, stalls and their remedies, schema ids learned.
    pub supervisor_events: Vec<userstream_spark::JournalEntry>,
}

/// One user row as the page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct UserRowView {
    /// Id.
    pub id: String,
    /// Computed full name.
    pub full_name: Option<String>,
    /// Lower-cased email.
    pub email: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Age when ingested.
    pub age_at_ingest: Option<i32>,
    /// When the job processed it, ms since the epoch.
    pub processed_at_ms: Option<i64>,
    /// Kafka partition/offset it came from.
    pub kafka_position: Option<String>,
}

/// One rejected row.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedView {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Why.
    pub reason: Option<String>,
    /// When first seen, ms since the epoch.
    pub first_seen_ms: Option<i64>,
}

/// Rows of a table from Cassandra's own figures: never a scan, so an estimate.
///
/// Cassandra 5.0 offers two figures over CQL, neither a row count:
/// - `on_disk`: `partitions_count` summed over the node's primary ranges of
///   `system.table_estimates` (for `users`, one row per partition). Cassandra records it every
///   5 minutes from the SSTables on disk: rows still in memtables are not in it (a table
///   written for minutes may show 0), nor rows written since.
/// - `writes_since_start`: its write counter (`system_views.local_write_latency`). Every
///   upsert counts, also one that replays an existing row.
///
/// `rows` is the larger of `on_disk` plus the writes counted since it was recorded (when the
/// console sampled the counter then) and `writes_since_start`. It trails by the rows that were
/// in memtables when Cassandra recorded the estimate, and leads by the upserts of existing
/// rows (replays). `basis` says which figure gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowEstimate {
    /// Always `true`: an estimate, not a count (for scripts reading the JSON).
    pub estimate: bool,
    /// The estimated rows; `None` when Cassandra has neither figure yet.
    pub rows: Option<i64>,
    /// Which figure `rows` comes from.
    pub basis: EstimateBasis,
    /// Where the figures come from.
    pub source: String,
    /// Partitions on disk as Cassandra last recorded them; `None` before its first recording.
    pub on_disk: Option<i64>,
    /// When it recorded them, ms since the epoch.
    pub recorded_at_ms: Option<i64>,
    /// Writes Cassandra counted since it started.
    pub writes_since_start: Option<i64>,
    /// Writes it counted since it recorded `on_disk`, when the console sampled the counter then.
    pub writes_since_recorded: Option<i64>,
}

/// Which of Cassandra's figures an estimate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimateBasis {
    /// The partitions on disk at the last recording plus the writes counted since.
    OnDiskPlusWrites,
    /// The partitions on disk at the last recording (the writes since are unknown).
    OnDisk,
    /// The writes counted since Cassandra started: more than on disk, so rows are still in
    /// memtables (a young table, or one created since Cassandra started).
    WritesSinceStart,
    /// Neither figure exists yet.
    Nothing,
}

/// One token range of `system.table_estimates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeEstimate {
    /// Partitions in the range.
    pub partitions: i64,
    /// When Cassandra wrote this range's estimate, microseconds since the epoch.
    pub written_at_micros: Option<i64>,
}

/// The sources named in [`RowEstimate::source`].
pub const ESTIMATE_SOURCES: &str = "system.table_estimates, system_views.local_write_latency";

impl RowEstimate {
    /// From the ranges of `system.table_estimates` (none before Cassandra's first recording)
    /// and the write counter; the writes since the recording are not known yet
    /// ([`RowEstimate::with_writes_at_recording`]).
    pub fn new(ranges: &[RangeEstimate], writes_since_start: Option<i64>) -> Self {
        let mut estimate = Self {
            estimate: true,
            rows: None,
            basis: EstimateBasis::Nothing,
            source: ESTIMATE_SOURCES.to_owned(),
            on_disk: (!ranges.is_empty()).then(|| ranges.iter().map(|r| r.partitions.max(0)).sum()),
            recorded_at_ms: ranges
                .iter()
                .filter_map(|r| r.written_at_micros)
                .max()
                .map(|us| us / 1_000),
            writes_since_start,
            writes_since_recorded: None,
        };
        estimate.settle();
        estimate
    }

    /// Given the write counter's value when `on_disk` was recorded (from the console's own
    /// samples), counts the writes since on top of it.
    pub fn with_writes_at_recording(mut self, writes_at_recording: Option<i64>) -> Self {
        self.writes_since_recorded = match (self.writes_since_start, writes_at_recording) {
            (Some(now), Some(then)) if now >= then => Some(now - then),
            _ => None,
        };
        self.settle();
        self
    }

    fn settle(&mut self) {
        let on_disk = self.on_disk.map(|rows| match self.writes_since_recorded {
            Some(writes) => (rows + writes, EstimateBasis::OnDiskPlusWrites),
            None => (rows, EstimateBasis::OnDisk),
        });
        let writes = self
            .writes_since_start
            .map(|w| (w, EstimateBasis::WritesSinceStart));
        let best = match (on_disk, writes) {
            (Some(d), Some(w)) => Some(if w.0 > d.0 { w } else { d }),
            (d, w) => d.or(w),
        };
        (self.rows, self.basis) = match best {
            Some((rows, basis)) => (Some(rows), basis),
            None => (None, EstimateBasis::Nothing),
        };
    }
}

/// Rejected rows read with a bound: at most `per_partition_limit` newest rows of each
/// partition of `rejected_rows` (one per topic and Kafka partition), never the whole table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BoundedCount {
    /// Rows read.
    pub rows: usize,
    /// `true` when a partition had more rows than the bound: then there are at least `rows`.
    pub at_least: bool,
    /// The bound per partition.
    pub per_partition_limit: usize,
}

/// The Cassandra area. Gathered every few seconds, so nothing here scans a table: row counts
/// are Cassandra's estimates or bounded reads; an exact count is the explicit
/// `POST /api/cassandra/count` ([`CountView`]).
#[derive(Debug, Clone, Serialize)]
pub struct CassandraView {
    /// Keyspace.
    pub keyspace: String,
    /// Rows in `users`, as Cassandra estimates them.
    pub users_estimate: RowEstimate,
    /// Writes to `users` since Cassandra started (its own metrics).
    pub users_writes: Option<i64>,
    /// Rows in `rejected_rows`, read with a bound.
    pub rejected: BoundedCount,
    /// The rows of the newest records in the users topic that have landed.
    pub newest_users: Vec<UserRowView>,
    /// The newest rejected rows.
    pub newest_rejected: Vec<RejectedView>,
}

/// Where an explicit count stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountState {
    /// Paging through the table now.
    Running,
    /// Went through the whole table: `rows` is exact.
    Finished,
    /// Stopped at its time limit: there are at least `rows`.
    TimedOut,
    /// Cassandra failed it: `rows` were counted before.
    Failed,
}

/// The explicit, bounded count of a table (`POST /api/cassandra/count`): pages through its
/// ids off the gather loops and gives up at `limit_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountView {
    /// `keyspace.table`.
    pub table: String,
    /// Where it stands.
    pub state: CountState,
    /// Rows counted so far (exact once `finished`).
    pub rows: u64,
    /// When it started, ms since the epoch.
    pub started_at_ms: i64,
    /// When it ended; `None` while running.
    pub finished_at_ms: Option<i64>,
    /// How long it ran (so far).
    pub took_ms: u64,
    /// Its time limit.
    pub limit_seconds: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// One line for humans, e.g. `1,234 rows (exact, counted in 2.1 s)`.
    pub summary: String,
}

impl CountView {
    /// A count of `table` starting at `now_ms`.
    pub fn start(table: String, limit_seconds: u64, now_ms: i64) -> Self {
        let mut view = Self {
            table,
            state: CountState::Running,
            rows: 0,
            started_at_ms: now_ms,
            finished_at_ms: None,
            took_ms: 0,
            limit_seconds,
            error: None,
            summary: String::new(),
        };
        view.summary = view.describe();
        view
    }

    /// Rows counted so far, at `now_ms`.
    pub fn progress(&mut self, rows: u64, now_ms: i64) {
        if self.state == CountState::Running {
            self.rows = rows;
            self.took_ms = (now_ms - self.started_at_ms).max(0) as u64;
            self.summary = self.describe();
        }
    }

    /// The end: `state` (not `Running`) with `rows` counted, `error` when failed.
    pub fn finish(&mut self, state: CountState, rows: u64, error: Option<String>, now_ms: i64) {
        self.state = state;
        self.rows = rows;
        self.error = error;
        self.finished_at_ms = Some(now_ms);
        self.took_ms = (now_ms - self.started_at_ms).max(0) as u64;
        self.summary = self.describe();
    }

    fn describe(&self) -> String {
        let rows = thousands(self.rows);
        let took = format!("{:.1} s", self.took_ms as f64 / 1000.0);
        match self.state {
            CountState::Running => format!(
                "counting {}… {rows} rows so far ({took}, gives up after {} s)",
                self.table, self.limit_seconds
            ),
            CountState::Finished => {
                format!("{rows} rows in {} (exact, counted in {took})", self.table)
            }
            CountState::TimedOut => format!(
                "did not finish within {} s (counted at least {rows} rows in {})",
                self.limit_seconds, self.table
            ),
            CountState::Failed => format!(
                "failed after {took} ({rows} rows counted): {}",
                self.error.as_deref().unwrap_or("unknown error")
            ),
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One DAG run.
#[derive(Debug, Clone, Serialize)]
pub struct DagRunView {
    /// Run id.
    pub run_id: String,
    /// queued, running, success, failed.
    pub state: String,
    /// Logical date, when it has one.
    pub logical_date: Option<String>,
    /// Start.
    pub start_date: Option<String>,
    /// End.
    pub end_date: Option<String>,
}

/// One DAG.
#[derive(Debug, Clone, Serialize)]
pub struct DagView {
    /// DAG id.
    pub dag_id: String,
    /// Paused DAGs are not scheduled.
    pub is_paused: bool,
    /// Schedule, as Airflow describes it.
    pub schedule: Option<String>,
    /// Next scheduled run.
    pub next_run: Option<String>,
    /// Newest runs first.
    pub runs: Vec<DagRunView>,
}

/// The Airflow area.
#[derive(Debug, Clone, Serialize)]
pub struct AirflowView {
    /// The DAGs tagged `userstream`.
    pub dags: Vec<DagView>,
}

/// The users API the producer reads.
#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    /// Its URL.
    pub url: String,
    /// Whether it answered a one-user request.
    pub reachable: bool,
    /// What it answered, or why not.
    pub detail: String,
}

/// The state of a node of the flow diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Working.
    Ok,
    /// Nothing flows through it, and nothing is wrong (e.g. no producer running).
    Idle,
    /// Running but not keeping up.
    Behind,
    /// Down or failed.
    Down,
}

/// One node of the flow diagram.
#[derive(Debug, Clone, Serialize)]
pub struct FlowNode {
    /// `source`, `kafka`, `spark`, `cassandra`.
    pub id: &'static str,
    /// What the page prints.
    pub label: &'static str,
    /// Its state.
    pub state: NodeState,
    /// Why, in a few words.
    pub detail: String,
}

/// One edge of the flow diagram.
#[derive(Debug, Clone, Serialize)]
pub struct FlowEdge {
    /// From node id.
    pub from: &'static str,
    /// To node id.
    pub to: &'static str,
    /// Records per second along it, when known.
    pub rate_per_second: Option<f64>,
}

/// The pipeline as a diagram.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// source, kafka, spark, cassandra.
    pub nodes: Vec<FlowNode>,
    /// Between consecutive nodes.
    pub edges: Vec<FlowEdge>,
    /// Users-topic records not yet processed by the query.
    pub lag: Option<i64>,
}

/// Links to the engines' own UIs.
#[derive(Debug, Clone, Serialize)]
pub struct Links {
    /// Spark master UI.
    pub spark_master: String,
    /// Spark worker UI.
    pub spark_worker: String,
    /// The Connect server's application UI (jobs, streaming tab).
    pub spark_driver: String,
    /// Airflow UI.
    pub airflow: String,
    /// Registry API.
    pub registry: String,
}

/// Everything on the page at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When assembled, ms since the epoch.
    pub generated_at_ms: i64,
    /// The diagram.
    pub flow: Flow,
    /// Stack services.
    pub stack: Section<Vec<ServiceRow>>,
    /// The users API.
    pub source: Section<SourceView>,
    /// Kafka.
    pub kafka: Section<KafkaView>,
    /// Schema Registry.
    pub registry: Section<RegistryView>,
    /// Spark.
    pub spark: Section<SparkView>,
    /// Processed offsets per second and lag over time, oldest first.
    pub spark_history: Vec<SparkSample>,
    /// Cassandra.
    pub cassandra: Section<CassandraView>,
    /// The last explicit count of `users` (`POST /api/cassandra/count`); `None` before one.
    pub cassandra_count: Option<CountView>,
    /// Airflow.
    pub airflow: Section<AirflowView>,
    /// UIs.
    pub links: Links,
}

/// A counter sampled over time: keeps the last `capacity` (time, value) pairs.
#[derive(Debug, Clone)]
pub struct Series {
    samples: VecDeque<(i64, i64)>,
    capacity: usize,
}

impl Series {
    /// An empty series keeping `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        Self {
            samples: VecDeque::with_capacity(capacity),
            capacity: capacity.max(2),
        }
    }

    /// Adds a sample at `at_ms`. A counter that went backwards (a topic deleted and
    /// re-created, a table truncated) starts the series over.
    pub fn push(&mut self, at_ms: i64, value: i64) {
        if let Some(&(last_at, last)) = self.samples.back() {
            if at_ms <= last_at {
                return;
            }
            if value < last {
                self.samples.clear();
            }
        }
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back((at_ms, value));
    }

    /// Per-second rates between consecutive samples, oldest first.
    pub fn rates(&self) -> Vec<f64> {
        self.samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .map(|(&(t0, v0), &(t1, v1))| (v1 - v0) as f64 * 1000.0 / (t1 - t0) as f64)
            .collect()
    }

    /// The rate over the last `window_ms` (at least the last interval); `None` with fewer
    /// than two samples. Smoother than the last interval alone.
    pub fn rate_over(&self, window_ms: i64) -> Option<f64> {
        let &(t1, v1) = self.samples.back()?;
        let &(t0, v0) = self
            .samples
            .iter()
            .rev()
            .skip(1)
            .find(|(t, _)| t1 - t >= window_ms)
            .or_else(|| self.samples.front().filter(|(t, _)| *t < t1))?;
        Some((v1 - v0) as f64 * 1000.0 / (t1 - t0) as f64)
    }

    /// The value of the last sample at or before `at_ms`; `None` when the series does not
    /// reach back that far.
    pub fn value_at(&self, at_ms: i64) -> Option<i64> {
        self.samples
            .iter()
            .rev()
            .find(|(t, _)| *t <= at_ms)
            .map(|&(_, v)| v)
    }

    /// The latest value.
    pub fn last(&self) -> Option<i64> {
        self.samples.back().map(|&(_, v)| v)
    }

    /// Every sample, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = &(i64, i64)> {
        self.samples.iter()
    }
}

/// One point of the Spark chart.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SparkSample {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Records arriving in the users topic per second.
    pub input_per_second: f64,
    /// Records the query processed per second.
    pub processed_per_second: f64,
    /// Lag at that moment.
    pub lag: i64,
}

/// Records of `topic` the query has not processed: per partition, end offset minus the
/// offset the query has reached (a partition it has not seen counts from its log start).
pub fn lag(topic: &userstream_kafka::TopicOffsets, query: &QueryView) -> Option<i64> {
    let committed = query.committed.get(&topic.name)?;
    Some(
        topic
            .partitions
            .iter()
            .map(|p| {
                let reached = committed.get(&p.partition).copied().unwrap_or(p.low);
                (p.high - reached.max(p.low)).max(0)
            })
            .sum(),
    )
}

/// Offsets JSON of a Spark progress (`{"users": {"0": 12, "1": 40}}`) as numbers.
pub fn parse_offsets(value: &serde_json::Value) -> BTreeMap<String, BTreeMap<i32, i64>> {
    let mut out = BTreeMap::new();
    if let Some(topics) = value.as_object() {
        for (topic, partitions) in topics {
            let mut parsed = BTreeMap::new();
            if let Some(partitions) = partitions.as_object() {
                for (partition, offset) in partitions {
                    if let (Ok(p), Some(o)) = (partition.parse::<i32>(), offset.as_i64()) {
                        parsed.insert(p, o);
                    }
                }
            }
            out.insert(topic.clone(), parsed);
        }
    }
    out
}

/// When the query counts as falling behind: more than `max_lag` records waiting, or a lag
/// that grew at every one of the last `growing_samples` samples while above `min_lag`.
#[derive(Debug, Clone, Copy)]
pub struct BehindRule {
    /// Lag above which the query is behind whatever the trend.
    pub max_lag: i64,
    /// Lag under which a growing lag is still fine (one batch in flight).
    pub min_lag: i64,
    /// Consecutive growing samples that mark a trend.
    pub growing_samples: usize,
}

impl Default for BehindRule {
    fn default() -> Self {
        Self {
            max_lag: 100_000,
            min_lag: 5_000,
            growing_samples: 5,
        }
    }
}

impl BehindRule {
    /// Whether lags (oldest first) say the query is behind.
    pub fn is_behind(&self, lags: &[i64]) -> bool {
        let Some(&last) = lags.last() else {
            return false;
        };
        if last > self.max_lag {
            return true;
        }
        if last <= self.min_lag || lags.len() <= self.growing_samples {
            return false;
        }
        lags[lags.len() - self.growing_samples - 1..]
            .windows(2)
            .all(|w| w[1] > w[0])
    }
}

/// What the flow diagram is built from.
#[derive(Debug, Clone, Default)]
pub struct FlowInputs<'a> {
    /// Stack rows, when the last status succeeded.
    pub services: Option<&'a [ServiceRow]>,
    /// The users API.
    pub source: Option<&'a SourceView>,
    /// The users query, when the last Spark gather succeeded.
    pub users_query: Option<&'a QueryView>,
    /// The Spark gather's error.
    pub spark_error: Option<&'a str>,
    /// Whether the last Kafka gather succeeded, and its error.
    pub kafka_error: Option<&'a str>,
    /// Whether the last Cassandra gather succeeded, and its error.
    pub cassandra_error: Option<&'a str>,
    /// Users topic + DLQ messages per second.
    pub produced_per_second: Option<f64>,
    /// Offsets processed per second by the users query.
    pub processed_per_second: Option<f64>,
    /// Rows per second landing in Cassandra.
    pub landed_per_second: Option<f64>,
    /// Current lag.
    pub lag: Option<i64>,
    /// Whether the lag trend says behind.
    pub behind: bool,
}

fn services_down(services: Option<&[ServiceRow]>, prefix: &str) -> Vec<String> {
    services
        .unwrap_or_default()
        .iter()
        .filter(|s| s.service.starts_with(prefix) && !s.healthy)
        .map(|s| s.service.clone())
        .collect()
}

fn node(id: &'static str, label: &'static str, state: NodeState, detail: String) -> FlowNode {
    FlowNode {
        id,
        label,
        state,
        detail,
    }
}

/// Ok when records move at `rate`, idle when not.
fn ok_or_idle(rate: Option<f64>) -> NodeState {
    if rate.is_some_and(|r| r > 0.0) {
        NodeState::Ok
    } else {
        NodeState::Idle
    }
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map_or("no rate yet".to_owned(), |r| format!("{r:.0}/s"))
}

/// The diagram: each stage's state from its services, its gather and its rates.
pub fn flow(inputs: &FlowInputs<'_>) -> Flow {
    let produced = inputs.produced_per_second;
    // The producer may read the real randomuser.me or an in-process generator: a silent local
    // API is idle, not an error.
    let source = match inputs.source {
        None => node(
            "source",
            "users API",
            NodeState::Idle,
            "not checked yet".into(),
        ),
        Some(s) if s.reachable || ok_or_idle(produced) == NodeState::Idle => node(
            "source",
            "users API",
            ok_or_idle(produced),
            if s.reachable {
                format!("producing {}", rate_text(produced))
            } else {
                format!("{} not answering", s.url)
            },
        ),
        Some(s) => node(
            "source",
            "users API",
            NodeState::Ok,
            format!(
                "producing {} from another source ({} not answering)",
                rate_text(produced),
                s.url
            ),
        ),
    };

    let kafka_down = services_down(inputs.services, "kafka");
    let kafka = if let Some(error) = inputs.kafka_error {
        node("kafka", "Kafka", NodeState::Down, error.to_owned())
    } else if !kafka_down.is_empty() {
        node(
            "kafka",
            "Kafka",
            NodeState::Down,
            format!("{} down", kafka_down.join(", ")),
        )
    } else {
        node(
            "kafka",
            "Kafka",
            ok_or_idle(produced),
            format!("in {}", rate_text(produced)),
        )
    };

    let spark_down = services_down(inputs.services, "spark");
    let lag = inputs.lag.map_or("n/a".to_owned(), |l| l.to_string());
    let spark = if !spark_down.is_empty() {
        node(
            "spark",
            "Spark",
            NodeState::Down,
            format!("{} down", spark_down.join(", ")),
        )
    } else if let Some(error) = inputs.spark_error {
        node("spark", "Spark", NodeState::Down, error.to_owned())
    } else {
        match inputs.users_query {
            Some(q) if q.exception.is_some() => {
                node("spark", "Spark", NodeState::Down, "query failed".into())
            }
            Some(q) if q.active && inputs.behind => node(
                "spark",
                "Spark",
                NodeState::Behind,
                format!("behind: lag {lag}"),
            ),
            Some(q) if q.active => node(
                "spark",
                "Spark",
                ok_or_idle(inputs.processed_per_second),
                format!("lag {lag}"),
            ),
            _ => node(
                "spark",
                "Spark",
                NodeState::Down,
                "streaming query not running (`userstream stream start`)".into(),
            ),
        }
    };

    let cassandra = if let Some(error) = inputs.cassandra_error {
        node("cassandra", "Cassandra", NodeState::Down, error.to_owned())
    } else if !services_down(inputs.services, "cassandra").is_empty() {
        node(
            "cassandra",
            "Cassandra",
            NodeState::Down,
            "cassandra down".into(),
        )
    } else {
        node(
            "cassandra",
            "Cassandra",
            ok_or_idle(inputs.landed_per_second),
            format!("landing {}", rate_text(inputs.landed_per_second)),
        )
    };

    let edge = |from, to, rate_per_second| FlowEdge {
        from,
        to,
        rate_per_second,
    };
    Flow {
        nodes: vec![source, kafka, spark, cassandra],
        edges: vec![
            edge("source", "kafka", produced),
            edge("kafka", "spark", inputs.processed_per_second),
            edge("spark", "cassandra", inputs.landed_per_second),
        ],
        lag: inputs.lag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userstream_kafka::{PartitionOffsets, TopicOffsets};

    fn query(committed: &[(i32, i64)], active: bool) -> QueryView {
        QueryView {
            name: "userstream-users".into(),
            active,
            message: None,
            trigger_active: false,
            batch_id: Some(1),
            batch_timestamp: None,
            batch_rows: None,
            input_rows_per_second: None,
            processed_rows_per_second: None,
            batch_duration_ms: None,
            committed: BTreeMap::from([("users".to_owned(), committed.iter().copied().collect())]),
            exception: None,
        }
    }

    fn topic(parts: &[(i64, i64)]) -> TopicOffsets {
        TopicOffsets {
            name: "users".into(),
            partitions: parts
                .iter()
                .enumerate()
                .map(|(i, &(low, high))| PartitionOffsets {
                    partition: i as i32,
                    low,
                    high,
                })
                .collect(),
        }
    }

    fn service(name: &str, healthy: bool) -> ServiceRow {
        ServiceRow {
            service: name.into(),
            engine: name.into(),
            healthy,
            pid: healthy.then_some(1),
            ports: vec![],
            detail: String::new(),
            uptime_seconds: None,
            rss_bytes: 0,
            log: String::new(),
        }
    }

    #[test]
    fn rates_come_from_counter_deltas() {
        let mut s = Series::new(10);
        s.push(0, 0);
        s.push(2_000, 1_000);
        s.push(4_000, 1_000);
        s.push(5_000, 3_000);
        assert_eq!(s.rates(), vec![500.0, 0.0, 2_000.0]);
        assert_eq!(s.rate_over(1_000), Some(2_000.0));
        // The window reaches back to the first sample at least `window` old: 3000 over 5 s.
        assert_eq!(s.rate_over(5_000), Some(600.0));
        assert_eq!(s.last(), Some(3_000));
    }

    #[test]
    fn a_counter_going_backwards_restarts_the_series() {
        let mut s = Series::new(10);
        s.push(0, 500);
        s.push(1_000, 600);
        s.push(2_000, 10);
        assert_eq!(s.rates(), Vec::<f64>::new());
        assert_eq!(s.rate_over(5_000), None);
        s.push(3_000, 20);
        assert_eq!(s.rates(), vec![10.0]);
    }

    #[test]
    fn a_series_keeps_its_capacity_and_ignores_old_times() {
        let mut s = Series::new(3);
        for i in 0..10 {
            s.push(i * 1_000, i * 10);
        }
        s.push(5_000, 999);
        assert_eq!(s.samples().count(), 3);
        assert_eq!(s.last(), Some(90));
    }

    #[test]
    fn lag_is_end_minus_committed_per_partition() {
        let t = topic(&[(0, 100), (0, 50), (10, 30)]);
        // Partition 2 never seen by the query: counts from its log start.
        assert_eq!(lag(&t, &query(&[(0, 90), (1, 50)], true)), Some(10 + 20));
        // Committed beyond the end (topic re-created) never goes negative.
        assert_eq!(
            lag(&t, &query(&[(0, 500), (1, 50), (2, 30)], true)),
            Some(0)
        );
        let other = TopicOffsets {
            name: "other".into(),
            partitions: vec![],
        };
        assert_eq!(lag(&other, &query(&[], true)), None);
    }

    #[test]
    fn spark_offsets_json_parses() {
        let v = serde_json::json!({"users": {"0": 12, "1": 40, "x": 1}});
        let parsed = parse_offsets(&v);
        assert_eq!(parsed["users"], BTreeMap::from([(0, 12), (1, 40)]));
        assert!(parse_offsets(&serde_json::json!("nonsense")).is_empty());
    }

    #[test]
    fn behind_by_size_or_by_trend() {
        let rule = BehindRule::default();
        assert!(!rule.is_behind(&[]));
        assert!(rule.is_behind(&[200_000]));
        assert!(!rule.is_behind(&[6_000, 7_000, 8_000]), "too short a trend");
        assert!(rule.is_behind(&[6_000, 7_000, 8_000, 9_000, 10_000, 11_000]));
        assert!(!rule.is_behind(&[6_000, 7_000, 6_500, 9_000, 10_000, 11_000]));
        assert!(
            !rule.is_behind(&[100, 200, 300, 400, 500, 600]),
            "small lag"
        );
    }

    #[test]
    fn flow_marks_down_stages_and_keeps_the_others() {
        let services = [
            service("kafka", true),
            service("cassandra", false),
            service("spark-master", true),
            service("spark-connect", true),
        ];
        let q = query(&[(0, 10)], true);
        let source = SourceView {
            url: "http://127.0.0.1:8765/api/".into(),
            reachable: true,
            detail: String::new(),
        };
        let f = flow(&FlowInputs {
            services: Some(&services),
            source: Some(&source),
            users_query: Some(&q),
            produced_per_second: Some(100.0),
            processed_per_second: Some(90.0),
            landed_per_second: Some(0.0),
            lag: Some(20),
            ..FlowInputs::default()
        });
        let state = |id: &str| f.nodes.iter().find(|n| n.id == id).map(|n| n.state);
        assert_eq!(state("source"), Some(NodeState::Ok));
        assert_eq!(state("kafka"), Some(NodeState::Ok));
        assert_eq!(state("spark"), Some(NodeState::Ok));
        assert_eq!(state("cassandra"), Some(NodeState::Down));
        assert_eq!(f.edges[0].rate_per_second, Some(100.0));
    }

    #[test]
    fn flow_says_behind_failed_and_not_running() {
        let services = [service("spark-connect", true)];
        let mut q = query(&[(0, 10)], true);
        let behind = flow(&FlowInputs {
            services: Some(&services),
            users_query: Some(&q),
            lag: Some(500_000),
            behind: true,
            ..FlowInputs::default()
        });
        assert_eq!(behind.nodes[2].state, NodeState::Behind);
        q.exception = Some("boom".into());
        q.active = false;
        let failed = flow(&FlowInputs {
            users_query: Some(&q),
            ..FlowInputs::default()
        });
        assert_eq!(failed.nodes[2].state, NodeState::Down);
        let none = flow(&FlowInputs::default());
        assert_eq!(none.nodes[2].state, NodeState::Down);
        assert!(none.nodes[2].detail.contains("stream start"));
        assert_eq!(none.nodes[0].state, NodeState::Idle);
        let kafka_error = flow(&FlowInputs {
            kafka_error: Some("no metadata"),
            ..FlowInputs::default()
        });
        assert_eq!(kafka_error.nodes[1].state, NodeState::Down);
    }

    #[test]
    fn a_silent_local_api_is_idle_unless_records_arrive_from_elsewhere() {
        let silent = SourceView {
            url: "http://127.0.0.1:8765/api/".into(),
            reachable: false,
            detail: String::new(),
        };
        let idle = flow(&FlowInputs {
            source: Some(&silent),
            produced_per_second: Some(0.0),
            ..FlowInputs::default()
        });
        assert_eq!(idle.nodes[0].state, NodeState::Idle);
        assert!(idle.nodes[0].detail.contains("not answering"));
        let elsewhere = flow(&FlowInputs {
            source: Some(&silent),
            produced_per_second: Some(250.0),
            ..FlowInputs::default()
        });
        assert_eq!(elsewhere.nodes[0].state, NodeState::Ok);
        assert!(elsewhere.nodes[0].detail.contains("another source"));
    }

    #[test]
    fn a_failed_gather_keeps_the_last_data() {
        let mut s: Section<i32> = Section::default();
        assert!(!s.ok && s.data.is_none());
        s.record(Ok(5), 1, 2);
        assert_eq!(s.fresh(), Some(&5));
        s.record(Err("down".into()), 3, 4);
        assert!(!s.ok);
        assert_eq!(s.data, Some(5));
        assert_eq!(s.fresh(), None);
        assert_eq!(s.error.as_deref(), Some("down"));
    }

    #[test]
    fn the_row_estimate_takes_the_larger_of_cassandras_figures() {
        let ranges = [
            RangeEstimate {
                partitions: 300_000,
                written_at_micros: Some(5_000_000),
            },
            RangeEstimate {
                partitions: 100_000,
                written_at_micros: Some(7_000_000),
            },
        ];
        // A table from before Cassandra started: the on-disk figure, plus the writes since
        // its recording once the console knows the counter then.
        let e = RowEstimate::new(&ranges, Some(50_000));
        assert!(e.estimate);
        assert_eq!((e.on_disk, e.recorded_at_ms), (Some(400_000), Some(7_000)));
        assert_eq!((e.rows, e.basis), (Some(400_000), EstimateBasis::OnDisk));
        let e = e.with_writes_at_recording(Some(20_000));
        assert_eq!(e.writes_since_recorded, Some(30_000));
        assert_eq!(
            (e.rows, e.basis),
            (Some(430_000), EstimateBasis::OnDiskPlusWrites)
        );
        // A young table still in memtables: Cassandra recorded 0 on disk (as measured on
        // 5.0.6 with 100,000 fresh rows); the write counter is the better figure.
        let young = [RangeEstimate {
            partitions: 0,
            written_at_micros: Some(9_000_000),
        }];
        let e = RowEstimate::new(&young, Some(100_000)).with_writes_at_recording(Some(100_000));
        assert_eq!(
            (e.rows, e.basis),
            (Some(100_000), EstimateBasis::WritesSinceStart)
        );
        // A counter reset (Cassandra restarted since the sample) adds nothing.
        let e = RowEstimate::new(&ranges, Some(10)).with_writes_at_recording(Some(20_000));
        assert_eq!((e.rows, e.writes_since_recorded), (Some(400_000), None));
        // Nothing recorded and no writes is not zero rows.
        let none = RowEstimate::new(&[], None);
        assert_eq!((none.rows, none.basis), (None, EstimateBasis::Nothing));
        let json = serde_json::to_value(&none).unwrap();
        assert_eq!(json["estimate"], true);
        assert_eq!(json["basis"], "nothing");
    }

    #[test]
    fn a_series_tells_its_value_at_a_past_time() {
        let mut s = Series::new(10);
        assert_eq!(s.value_at(5), None);
        s.push(1_000, 10);
        s.push(2_000, 20);
        s.push(3_000, 30);
        assert_eq!(s.value_at(999), None, "before the first sample: unknown");
        assert_eq!(s.value_at(1_000), Some(10));
        assert_eq!(s.value_at(2_500), Some(20));
        assert_eq!(s.value_at(9_000), Some(30));
    }

    #[test]
    fn a_count_says_exact_or_at_least_and_how_long() {
        let mut c = CountView::start("ks.users".into(), 60, 1_000);
        assert_eq!(c.state, CountState::Running);
        c.progress(12_000, 3_000);
        assert_eq!((c.rows, c.took_ms), (12_000, 2_000));
        assert!(c.summary.contains("12,000 rows so far"), "{}", c.summary);
        c.finish(CountState::Finished, 530_123, None, 13_500);
        assert_eq!(c.finished_at_ms, Some(13_500));
        assert_eq!(
            c.summary,
            "530,123 rows in ks.users (exact, counted in 12.5 s)"
        );
        // Progress after the end changes nothing.
        c.progress(1, 20_000);
        assert_eq!(c.rows, 530_123);

        let mut t = CountView::start("ks.users".into(), 60, 0);
        t.finish(CountState::TimedOut, 2_400_000, None, 60_000);
        assert_eq!(
            t.summary,
            "did not finish within 60 s (counted at least 2,400,000 rows in ks.users)"
        );
        let mut f = CountView::start("ks.users".into(), 60, 0);
        f.finish(CountState::Failed, 5, Some("Cassandra: down".into()), 100);
        assert!(f.summary.contains("Cassandra: down"), "{}", f.summary);
        assert_eq!(serde_json::to_value(&f).unwrap()["state"], "failed");
    }

    #[test]
    fn thousands_separates_groups_of_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(530_000), "530,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
