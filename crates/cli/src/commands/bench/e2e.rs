//! `bench e2e`: rows/s landed in Cassandra and end-to-end latency (`produced_at` to
//! `WRITETIME`), on a topic and keyspace of its own, produced by `userstream-ingest`'s
//! pipeline (the producer users run) from the in-process generator.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use userstream_ingest::{IngestConfig, IngestStats, RunSummary};
use userstream_kafka::TopicCut;
use userstream_stack::usage::{self, ServiceCost};
use userstream_store::Replication;

use userstream_stream::{StreamConfig, StreamError};

/// What to measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum BenchMode {
    /// Offer `rate` rows/s for `duration` while the job runs: latency at a fixed load.
    Latency {
        /// Offered rows per second.
        rate: f64,
        /// How long to offer it.
        duration: Duration,
    },
    /// Produce `rows` first, then start the job: the sustained rate it lands a backlog at.
    Throughput {
        /// Backlog size.
        rows: u64,
    },
}

/// How the bench runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// What to measure.
    pub mode: BenchMode,
    /// Left out of the figures: the first batches (JIT, connections).
    pub warmup: Duration,
    /// Partitions of the bench topic.
    pub partitions: i32,
    /// Longest wait for every row to land.
    pub drain_timeout: Duration,
    /// Keep the bench topic, keyspace and checkpoints (for inspection).
    pub keep: bool,
    /// The Cassandra role the job writes as: the Spark Connect server's own login (the
    /// stack's application role), granted on the bench keyspace. `None` for a Cassandra
    /// without authentication.
    pub application_role: Option<String>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            mode: BenchMode::Latency {
                rate: 7_000.0,
                duration: Duration::from_secs(60),
            },
            warmup: Duration::from_secs(10),
            partitions: 2,
            drain_timeout: Duration::from_secs(600),
            keep: false,
            application_role: None,
        }
    }
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Rows measured.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
}

/// The bench's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// What was measured.
    pub mode: BenchMode,
    /// Topic used.
    pub topic: String,
    /// Keyspace used.
    pub keyspace: String,
    /// Partitions of the topic.
    pub partitions: i32,
    /// Rows produced.
    pub produced: u64,
    /// Rate the producer achieved, rows/s.
    pub produced_rows_per_sec: f64,
    /// Rows in Cassandra at the end.
    pub landed: usize,
    /// Sustained landing rate after warm-up, rows/s (from the rows' write times).
    pub landed_rows_per_sec: f64,
    /// `WRITETIME - produced_at` of the rows produced after warm-up (latency mode).
    pub latency: Option<LatencySummary>,
    /// The measured window: from the end of the warm-up (latency mode) or the job's start
    /// (throughput mode: draining the backlog) until the users query has committed the
    /// topic's last offset.
    pub window_secs: f64,
    /// Rows landed inside the window.
    pub window_rows: u64,
    /// Rows landed per second over the window.
    pub window_rows_per_sec: f64,
    /// CPU time of each service over the window (its process group: children included),
    /// per 1,000 rows landed in it; `producer` is this process while it produced, per 1,000
    /// rows produced.
    pub cost: Vec<ServiceCost>,
    /// Sum of `cost`, CPU-ms per 1,000 rows landed.
    pub total_cpu_ms_per_1k_rows: f64,
    /// Resident memory of the whole stack at the end, bytes.
    pub stack_rss_bytes: u64,
    /// Trigger and connector settings in effect.
    pub settings: Vec<(String, String)>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bench e2e {:?}", self.mode)?;
        writeln!(
            f,
            "  produced {} rows at {:.0} rows/s into {} ({} partitions)",
            self.produced, self.produced_rows_per_sec, self.topic, self.partitions
        )?;
        writeln!(
            f,
            "  landed {} rows; sustained {:.0} rows/s after warm-up",
            self.landed, self.landed_rows_per_sec
        )?;
        if let Some(l) = &self.latency {
            writeln!(
                f,
                "  latency produced_at -> WRITETIME over {} rows: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                l.samples, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            )?;
        }
        writeln!(
            f,
            "  window {:.1} s, {} rows, {:.0} rows/s; CPU-ms per 1,000 rows landed: {:.0} in all; stack RSS {}",
            self.window_secs,
            self.window_rows,
            self.window_rows_per_sec,
            self.total_cpu_ms_per_1k_rows,
            userstream_stack::format_bytes(self.stack_rss_bytes)
        )?;
        writeln!(
            f,
            "    {:<22} {:>9} {:>10} {:>9}",
            "SERVICE", "CPU-ms", "CPU-ms/1k", "RSS"
        )?;
        for c in &self.cost {
            writeln!(
                f,
                "    {:<22} {:>9.0} {:>10.1} {:>9}{}",
                c.service,
                c.cpu_ms,
                c.cpu_ms_per_1k_rows,
                userstream_stack::format_bytes(c.rss_bytes),
                c.note
                    .as_deref()
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default()
            )?;
        }
        for (k, v) in &self.settings {
            writeln!(f, "  {k} = {v}")?;
        }
        Ok(())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Latency percentiles of `latencies_ms` (any order).
pub fn summarize(mut latencies_ms: Vec<f64>) -> Option<LatencySummary> {
    if latencies_ms.is_empty() {
        return None;
    }
    latencies_ms.sort_by(f64::total_cmp);
    Some(LatencySummary {
        samples: latencies_ms.len(),
        p50_ms: percentile(&latencies_ms, 50.0),
        p90_ms: percentile(&latencies_ms, 90.0),
        p99_ms: percentile(&latencies_ms, 99.0),
        max_ms: latencies_ms.last().copied().unwrap_or(f64::NAN),
    })
}

/// Rows per second among `write_micros` after the first `warmup` (sorted or not).
fn sustained_rate(mut write_micros: Vec<i64>, warmup: Duration) -> f64 {
    write_micros.sort_unstable();
    let (Some(first), Some(last)) = (write_micros.first(), write_micros.last()) else {
        return 0.0;
    };
    let from = first + i64::try_from(warmup.as_micros()).unwrap_or(i64::MAX);
    let counted = write_micros.iter().filter(|w| **w >= from).count();
    let span = (last - from) as f64 / 1e6;
    if span <= 0.0 {
        // Everything landed within the warm-up: rate over the whole span.
        let whole = (last - first) as f64 / 1e6;
        return if whole > 0.0 {
            write_micros.len() as f64 / whole
        } else {
            0.0
        };
    }
    counted as f64 / span
}

/// The producer settings of the bench: `userstream-ingest`'s pipeline with the generator
/// source (the producer users run, minus HTTP), on `config`'s topic and subject.
fn ingest_config(config: &StreamConfig, options: &BenchOptions) -> IngestConfig {
    let mut ingest = IngestConfig::default();
    ingest.kafka.bootstrap = config.bootstrap_servers.clone();
    ingest.kafka.topic = config.topic.clone();
    ingest.kafka.dlq_topic = format!("{}.dlq", config.topic);
    ingest.kafka.partitions = options.partitions;
    ingest.registry_url = config.registry_url.clone();
    // The bench registers its own subject: the login `bench e2e` gives it (the admin).
    ingest.registry_login = config.registry_login.clone();
    ingest.stack_run_dir = config.stack_run_dir.clone();
    ingest.registry_timeout = config.request_timeout;
    ingest.subject = Some(config.subject());
    // A seed of its own per run: ids never collide with another run's rows.
    ingest.source.seed = config.topic.clone();
    match &options.mode {
        BenchMode::Latency { rate, duration } => {
            ingest.count = Some((rate * duration.as_secs_f64()).round() as u64);
            ingest.rate = Some(*rate);
            // `produced_at` is stamped when a page is parsed: pages of 50 ms of load, one
            // prepared ahead (so generating does not slow the offered rate), keep it within
            // about 100 ms of the send.
            // (The API serves at most 5000 users per page.)
            ingest.source.results_per_page = ((rate / 20.0).round() as u32).clamp(1, 5_000);
            ingest.source.fetch_concurrency = 2;
        }
        BenchMode::Throughput { rows } => ingest.count = Some(*rows),
    }
    ingest
}

/// Prefix of the bench's topics and queries: the stack lets the reader, which the job reads
/// as, read topics named so (`userstream_stack::engines::kafka::READER_TOPIC_PREFIXES`).
const TOPIC_PREFIX: &str = "userstream-bench-";

/// Runs the bench on a fresh topic, keyspace and query derived from `base` (same endpoints
/// and tuning), then removes them unless `options.keep`. `base`'s logins are the bench's
/// own (it creates and drops the topic and keyspace); the job reads and writes with the
/// Spark Connect server's, so `options.application_role` is granted on the keyspace.
pub async fn bench_e2e(base: &StreamConfig, options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let suffix = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let mut config = base.clone();
    config.topic = format!("{TOPIC_PREFIX}{suffix}");
    config.subject = None;
    config.keyspace = format!("bench_{suffix}");
    config.query_name = format!("{TOPIC_PREFIX}{suffix}");
    config.starting_offsets = "earliest".into();
    config.validate()?;
    let ingest = ingest_config(&config, options);

    // Topics and schema before the job starts: it reads the writer schemas from the subject.
    userstream_ingest::setup_kafka_and_registry(&ingest)
        .await
        .context("creating the bench's topics and registering its schema")?;
    let session = userstream_store::connect(
        &config.cassandra_contact_point,
        config.cassandra_login.as_ref(),
        config.request_timeout,
        &config.stack_run_dir,
    )
    .await?;
    userstream_store::migrate(&session, &config.keyspace, &Replication::default()).await?;
    if let Some(role) = &options.application_role {
        userstream_store::grant_application_role(&session, &config.keyspace, role).await?;
    }
    let registry = config.registry_client()?;

    let result = measure(&config, options, &ingest, &session).await;

    if let Err(e) = userstream_stream::stop(&config).await {
        tracing::warn!(error = %userstream_endpoints::error_chain(&e), "stopping the bench queries");
    }
    if !options.keep {
        let topics = [ingest.kafka.topic.as_str(), ingest.kafka.dlq_topic.as_str()];
        if let Err(e) = userstream_kafka::delete_topics(
            &config.bootstrap_servers,
            &topics,
            config.request_timeout,
        )
        .await
        {
            tracing::warn!(error = %userstream_endpoints::error_chain(&e), "deleting the bench topics");
        }
        let drop = format!("DROP KEYSPACE IF EXISTS {}", config.keyspace);
        if let Err(e) = session.query_unpaged(drop.as_str(), &[]).await {
            tracing::warn!(error = %userstream_endpoints::error_chain(&e), "dropping the bench keyspace");
        }
        for name in [config.query_name.clone(), config.rejected_query_name()] {
            let _ = std::fs::remove_dir_all(config.checkpoint_dir(&name));
        }
        let _ = std::fs::remove_file(
            config
                .checkpoint_root
                .join(format!("{}.job.json", config.query_name)),
        );
        let _ = registry.delete_subject(&config.subject(), false).await;
        let _ = registry.delete_subject(&config.subject(), true).await;
    }
    result
}

/// Produces `ingest`'s users through the pipeline; fails unless every one was delivered.
/// Returns the summary and the CPU time this process spent on it, clock ticks.
async fn produce(ingest: &IngestConfig) -> anyhow::Result<(RunSummary, u64)> {
    let cpu_before = usage::own_cpu_ticks();
    let summary = userstream_ingest::produce_generated(
        ingest,
        userstream_users_api::write_page,
        Arc::new(IngestStats::new()),
        CancellationToken::new(),
    )
    .await
    .context("producing the bench's users")?;
    if !summary.is_success() {
        bail!(
            "producing: not everything was delivered:\n{}",
            summary.render()
        );
    }
    Ok((summary, usage::own_cpu_ticks().saturating_sub(cpu_before)))
}

async fn measure(
    config: &StreamConfig,
    options: &BenchOptions,
    ingest: &IngestConfig,
    session: &scylla::client::session::Session,
) -> anyhow::Result<BenchReport> {
    let usage_before;
    let window_start;
    // Rows landed from this instant on are the ones the cost is divided by.
    let mut cost_from: Option<chrono::DateTime<chrono::Utc>> = None;
    let (summary, producer_ticks, measure_from) = match &options.mode {
        BenchMode::Latency { duration, .. } => {
            if options.warmup >= *duration {
                bail!(
                    "the warm-up ({:?}) must be shorter than the offered load's duration ({duration:?})",
                    options.warmup
                );
            }
            userstream_stream::start(config).await?;
            // Let the queries reach their first trigger before offering load.
            wait_first_batch(config, Duration::from_secs(120)).await?;
            let started_at = chrono::Utc::now();
            // The cost window opens after the warm-up, like the latency figures: the first
            // batches plan the queries and compile their code, a cost of starting, not of rows.
            let run_dir = config.stack_run_dir.clone();
            let warmup = options.warmup;
            let sampler = tokio::spawn(async move {
                tokio::time::sleep(warmup).await;
                (
                    usage::sample_usage(&run_dir),
                    Instant::now(),
                    chrono::Utc::now(),
                )
            });
            let (summary, ticks) = produce(ingest).await?;
            let (sample, at, at_utc) = sampler.await.context("sampling the stack's usage")?;
            usage_before = sample;
            window_start = at;
            cost_from = Some(at_utc);
            let from = started_at
                + chrono::Duration::from_std(options.warmup)
                    .unwrap_or_else(|_| chrono::Duration::zero());
            (summary, ticks, Some(from))
        }
        BenchMode::Throughput { .. } => {
            let (summary, ticks) = produce(ingest).await?;
            usage_before = usage::sample_usage(&config.stack_run_dir);
            window_start = Instant::now();
            userstream_stream::start(config).await?;
            (summary, ticks, None)
        }
    };
    let produced = summary.users_produced;

    // Done when the users query has committed the topic's end: polling the job's progress
    // costs the stack next to nothing, where counting the table would weigh on Cassandra.
    let end = take_cut(config).await?;
    wait_drained(config, &end, options.drain_timeout).await?;
    let window = window_start.elapsed();
    let usage_after = usage::sample_usage(&config.stack_run_dir);

    let landed = userstream_store::count_users(session, &config.keyspace).await?;
    let samples = userstream_store::latency_samples(session, &config.keyspace).await?;
    let window_rows = match cost_from {
        Some(from) => {
            let from_micros = from.timestamp_micros();
            samples
                .iter()
                .filter(|s| s.write_time_micros.is_some_and(|w| w >= from_micros))
                .count() as u64
        }
        None => landed as u64,
    };
    let mut cost = usage::cost(&usage_before, &usage_after, window_rows);
    let producer_ms = usage::ticks_to_ms(producer_ticks);
    cost.push(ServiceCost {
        service: "producer".to_owned(),
        cpu_ms: producer_ms,
        cpu_ms_per_1k_rows: usage::per_thousand(producer_ms, produced),
        rss_bytes: 0,
        note: Some("this process while it produced, per 1,000 rows produced".to_owned()),
    });
    let writes: Vec<i64> = samples.iter().filter_map(|s| s.write_time_micros).collect();
    let latency = measure_from.and_then(|from| {
        let from_ms = from.timestamp_millis();
        summarize(
            samples
                .iter()
                .filter_map(|s| Some((s.produced_at?.0, s.write_time_micros?)))
                .filter(|(produced, _)| *produced >= from_ms)
                .map(|(produced, written)| written as f64 / 1000.0 - produced as f64)
                .collect(),
        )
    });
    let mut settings = vec![
        ("trigger".to_owned(), format!("{:?}", config.trigger)),
        (
            "maxOffsetsPerTrigger".to_owned(),
            config.max_offsets_per_trigger.to_string(),
        ),
    ];
    settings.extend(
        userstream_stream::plan::cassandra_sink_options(config, &config.table)
            .into_iter()
            .filter(|(k, _)| k.starts_with("spark.")),
    );
    let produce_secs = summary.elapsed_secs;
    Ok(BenchReport {
        mode: options.mode.clone(),
        topic: config.topic.clone(),
        keyspace: config.keyspace.clone(),
        partitions: options.partitions,
        produced,
        produced_rows_per_sec: if produce_secs > 0.0 {
            produced as f64 / produce_secs
        } else {
            0.0
        },
        landed,
        landed_rows_per_sec: sustained_rate(writes, options.warmup),
        latency,
        window_secs: window.as_secs_f64(),
        window_rows,
        window_rows_per_sec: window_rows as f64 / window.as_secs_f64().max(1e-3),
        total_cpu_ms_per_1k_rows: cost.iter().map(|c| c.cpu_ms_per_1k_rows).sum(),
        stack_rss_bytes: usage_after.services.iter().map(|s| s.rss_bytes).sum(),
        cost,
        settings,
    })
}

/// The bench topic's offsets now.
async fn take_cut(config: &StreamConfig) -> anyhow::Result<TopicCut> {
    let (bootstrap, topic, timeout) = (
        config.bootstrap_servers.clone(),
        config.topic.clone(),
        config.request_timeout,
    );
    tokio::task::spawn_blocking(move || userstream_kafka::take_cut(&bootstrap, &topic, timeout))
        .await
        .context("reading the bench topic's offsets")?
        .context("reading the bench topic's offsets")
}

/// True when `end_offset` (a progress report's `{"topic": {"0": 123}}`) has reached `cut`'s
/// end in every partition.
fn reached(cut: &TopicCut, end_offset: &serde_json::Value) -> bool {
    cut.partitions.iter().all(|p| {
        p.high == 0
            || end_offset[&cut.topic][p.partition.to_string()]
                .as_i64()
                .is_some_and(|offset| offset >= p.high)
    })
}

/// Waits until the users query's last batch ended at `cut` (every row before it is written).
async fn wait_drained(
    config: &StreamConfig,
    cut: &TopicCut,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = userstream_stream::status(config).await?;
        let users = status.queries.first();
        if users
            .and_then(|q| q.last_progress.as_ref())
            .is_some_and(|p| p.sources.iter().any(|s| reached(cut, &s.end_offset)))
        {
            return Ok(());
        }
        if let Some(q) = status.queries.iter().find(|q| q.exception.is_some()) {
            bail!(
                "the bench query {} failed: {}",
                q.name,
                q.exception.clone().unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the job had not reached the end of {} ({} records) within {timeout:?}; \
                 `userstream stream status` shows where it is",
                cut.topic,
                cut.records()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the users query has finished a batch (an empty one counts).
async fn wait_first_batch(config: &StreamConfig, timeout: Duration) -> Result<(), StreamError> {
    let deadline = Instant::now() + timeout;
    loop {
        let status = userstream_stream::status(config).await?;
        if status
            .queries
            .first()
            .is_some_and(|q| q.last_progress.is_some())
        {
            return Ok(());
        }
        if let Some(q) = status.queries.iter().find(|q| q.exception.is_some()) {
            return Err(StreamError::QueryFailed {
                name: q.name.clone(),
                exception: q.exception.clone().unwrap_or_default(),
            });
        }
        if Instant::now() > deadline {
            return Err(StreamError::QueryFailed {
                name: config.query_name.clone(),
                exception: format!("no batch finished within {timeout:?}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let s = summarize((1..=100).map(f64::from).collect());
        let Some(s) = s else { panic!("empty") };
        assert_eq!(
            (s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert!(summarize(vec![]).is_none());
    }

    #[test]
    fn the_job_may_read_the_bench_topics() {
        assert!(userstream_stack::engines::kafka::READER_TOPIC_PREFIXES.contains(&TOPIC_PREFIX));
    }

    #[test]
    fn drained_when_every_partition_reached_the_cut() {
        let cut = TopicCut {
            topic: "t".into(),
            partitions: vec![
                userstream_kafka::PartitionOffsets {
                    partition: 0,
                    low: 0,
                    high: 10,
                },
                userstream_kafka::PartitionOffsets {
                    partition: 1,
                    low: 0,
                    high: 0,
                },
            ],
        };
        assert!(reached(&cut, &serde_json::json!({"t": {"0": 10}})));
        assert!(!reached(&cut, &serde_json::json!({"t": {"0": 9, "1": 0}})));
        assert!(!reached(&cut, &serde_json::json!({"other": {"0": 10}})));
    }

    #[test]
    fn sustained_rate_skips_warmup() {
        // 1 row per ms for 20 s: 1000 rows/s whatever the warm-up.
        let writes: Vec<i64> = (0..20_000).map(|i| i * 1_000).collect();
        let rate = sustained_rate(writes, Duration::from_secs(5));
        assert!((rate - 1000.0).abs() < 1.0, "{rate}");
    }
}
