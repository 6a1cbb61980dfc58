//! `userstream bench produce`: throughput and delivery latency of the producer, from the
//! in-process generator and through HTTP from a users-api (both given by the caller).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use url::Url;
use userstream_kafka::delete_topics;

use crate::config::IngestConfig;
use crate::error::IngestError;
use crate::pipeline::{run_pipeline, RunSummary};
use crate::setup::setup;
use crate::source::{PageWriter, SourceKind};
use crate::stats::{IngestStats, StageSecs};

/// Which source a bench run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchMode {
    /// [`BenchConfig::write_page`] in process: generate → parse → encode → produce.
    Generator,
    /// HTTP GET from the users-api at [`BenchConfig::http_source`].
    Http,
}

/// Bench settings. `ingest` supplies Kafka, registry, page size and in-flight settings; its
/// topics are replaced by a fresh pair and deleted afterwards unless `keep_topics`.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Base settings.
    pub ingest: IngestConfig,
    /// Users per mode.
    pub count: u64,
    /// Modes, run one after the other.
    pub modes: Vec<BenchMode>,
    /// Keep the bench topics.
    pub keep_topics: bool,
    /// The generator of [`BenchMode::Generator`].
    pub write_page: PageWriter,
    /// The users-api [`BenchMode::Http`] reads (the caller serves it); required for that mode.
    pub http_source: Option<Url>,
}

/// One mode's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// The mode.
    pub mode: BenchMode,
    /// Users produced (acknowledged).
    pub users: u64,
    /// Seconds, flush included.
    pub seconds: f64,
    /// Users per second.
    pub users_per_sec: f64,
    /// Value MB (10^6) per second.
    pub mb_per_sec: f64,
    /// Average framed Avro value size, bytes.
    pub avg_value_bytes: f64,
    /// Delivery latency p50 (send call to acknowledgement), ms.
    pub latency_p50_ms: Option<f64>,
    /// Delivery latency p99, ms.
    pub latency_p99_ms: Option<f64>,
    /// Time per stage, summed over tasks (overlapping).
    pub stage_secs: StageSecs,
    /// Delivery errors (should be 0).
    pub delivery_errors: u64,
    /// Records rejected (should be 0: the generator serves valid users).
    pub rejected: u64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The topic written.
    pub topic: String,
    /// Its partitions.
    pub partitions: i32,
    /// Users per page.
    pub results_per_page: u32,
    /// In-flight bound.
    pub max_in_flight: usize,
    /// Compression.
    pub compression: &'static str,
    /// Pages fetched concurrently.
    pub fetch_concurrency: usize,
    /// CPUs available to this process.
    pub cpus: usize,
    /// Per mode.
    pub results: Vec<BenchResult>,
}

impl BenchReport {
    /// A table for people.
    pub fn render(&self) -> String {
        let mut out = format!(
            "bench produce: topic {} ({} partitions), {} users/page, {} in flight, {}, {} fetches, {} CPUs\n",
            self.topic,
            self.partitions,
            self.results_per_page,
            self.max_in_flight,
            self.compression,
            self.fetch_concurrency,
            self.cpus
        );
        out.push_str(&format!(
            "{:<10} {:>9} {:>8} {:>11} {:>8} {:>8} {:>9} {:>9}\n",
            "mode", "users", "secs", "users/s", "MB/s", "B/user", "p50 ms", "p99 ms"
        ));
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        for r in &self.results {
            out.push_str(&format!(
                "{:<10} {:>9} {:>8.2} {:>11.0} {:>8.1} {:>8.0} {:>9} {:>9}\n",
                format!("{:?}", r.mode).to_lowercase(),
                r.users,
                r.seconds,
                r.users_per_sec,
                r.mb_per_sec,
                r.avg_value_bytes,
                ms(r.latency_p50_ms),
                ms(r.latency_p99_ms),
            ));
        }
        out.push_str("stage seconds (summed over tasks; stages overlap):\n");
        for r in &self.results {
            let s = &r.stage_secs;
            out.push_str(&format!(
                "  {:<10} fetch/generate {:.2}  parse {:.2}  encode {:.2}  send {:.2}  backpressure {:.2}  producer waiting for pages {:.2}\n",
                format!("{:?}", r.mode).to_lowercase(),
                s.fetch, s.parse, s.encode, s.send, s.backpressure, s.page_wait
            ));
        }
        out
    }
}

/// Runs the bench: a fresh topic pair (and the `users-value` subject's schema), each mode in
/// turn, then deletes the topics.
pub async fn bench_produce(config: &BenchConfig) -> Result<BenchReport, IngestError> {
    let mut ingest = config.ingest.clone();
    let topic = format!("userstream_bench_{}", uuid::Uuid::new_v4().simple());
    ingest.kafka.dlq_topic = format!("{topic}.dlq");
    ingest.kafka.topic = topic.clone();
    if ingest.subject.is_none() {
        ingest.subject = Some(userstream_registry::topic_value_subject(
            userstream_endpoints::names::TOPIC,
        ));
    }
    ingest.count = Some(config.count);
    ingest.duration = None;
    ingest.rate = None;
    let (_, encoder) = setup(&ingest).await?;
    let mut results = Vec::new();
    let outcome = async {
        for mode in &config.modes {
            let summary = match mode {
                BenchMode::Generator => {
                    run_pipeline(
                        &ingest,
                        SourceKind::Generator(config.write_page),
                        encoder,
                        Arc::new(IngestStats::new()),
                        CancellationToken::new(),
                    )
                    .await?
                }
                BenchMode::Http => {
                    let url = config.http_source.clone().ok_or_else(|| {
                        IngestError::Config(vec![
                            "the HTTP mode needs a users-api to read (http_source)".to_owned(),
                        ])
                    })?;
                    let mut http = ingest.clone();
                    http.source.url = url;
                    let kind = SourceKind::http(&http.source)?;
                    run_pipeline(
                        &http,
                        kind,
                        encoder,
                        Arc::new(IngestStats::new()),
                        CancellationToken::new(),
                    )
                    .await?
                }
            };
            results.push(result(*mode, &summary));
        }
        Ok::<(), IngestError>(())
    }
    .await;
    if !config.keep_topics {
        let names = [ingest.kafka.topic.as_str(), ingest.kafka.dlq_topic.as_str()];
        if let Err(e) =
            delete_topics(&ingest.kafka.bootstrap, &names, Duration::from_secs(30)).await
        {
            tracing::warn!(error = %userstream_endpoints::error_chain(&e), "could not delete the bench topics");
        }
    }
    outcome?;
    Ok(BenchReport {
        topic,
        partitions: ingest.kafka.partitions,
        results_per_page: ingest.source.results_per_page,
        max_in_flight: ingest.kafka.max_in_flight,
        compression: ingest.kafka.compression.as_str(),
        fetch_concurrency: ingest.source.fetch_concurrency,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        results,
    })
}

fn result(mode: BenchMode, s: &RunSummary) -> BenchResult {
    let messages = (s.users_produced + s.dlq_produced).max(1);
    BenchResult {
        mode,
        users: s.users_produced,
        seconds: s.elapsed_secs,
        users_per_sec: s.users_per_sec,
        mb_per_sec: s.mb_per_sec,
        avg_value_bytes: s.value_mb * 1e6 / messages as f64,
        latency_p50_ms: s.latency_p50_ms,
        latency_p99_ms: s.latency_p99_ms,
        stage_secs: s.stage_secs.clone(),
        delivery_errors: s.delivery_errors + s.undelivered,
        rejected: s.rejected,
    }
}
