//! The producer run: fetch pages concurrently (in page order), produce them with a rate
//! limit and bounded in-flight sends, stop on count, duration or cancellation, drain, flush.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use schemars::JsonSchema;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::IngestConfig;
use crate::encode::FrameEncoder;
use crate::error::IngestError;
use crate::plan::PagePlan;
use crate::rate::TokenBucket;
use crate::setup::{setup, SetupReport};
use crate::sink::{create_sink, send_dead, send_user};
use crate::source::{obtain_page, OutRecord, PageContext, PageWriter, SourceKind};
use crate::stats::{add, add_time, IngestStats, StageSecs};

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `count` users were produced.
    Count,
    /// `duration` elapsed.
    Duration,
    /// Cancelled (Ctrl-C, SIGTERM).
    Cancelled,
    /// The last page the API serves was reached.
    SourceExhausted,
    /// An error ended the run (see `failure`).
    Error,
}

/// The outcome of a run: what `userstream produce --json` prints.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunSummary {
    /// Users topic.
    pub topic: String,
    /// Dead-letter topic.
    pub dlq_topic: String,
    /// Schema id in every frame.
    pub schema_id: u32,
    /// Seed.
    pub seed: String,
    /// First page.
    pub start_page: u32,
    /// The first page not fully handed to Kafka: `--start-page` for a run that continues
    /// this one (a rerun from an earlier page only overwrites, same keys).
    pub resume_page: u32,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Users acknowledged by Kafka.
    pub users_produced: u64,
    /// Records rejected by validation (in the DLQ).
    pub rejected: u64,
    /// Pages sent to the DLQ whole (or, for short pages, their missing part).
    pub pages_failed: u64,
    /// DLQ messages acknowledged.
    pub dlq_produced: u64,
    /// Messages Kafka refused after librdkafka's retries.
    pub delivery_errors: u64,
    /// Messages still unacknowledged when the flush timeout ran out.
    pub undelivered: u64,
    /// Source requests retried.
    pub fetch_retries: u64,
    /// Pages fully handed to Kafka.
    pub pages_done: u64,
    /// Seconds from start to the end of the flush.
    pub elapsed_secs: f64,
    /// Users produced per second.
    pub users_per_sec: f64,
    /// Acknowledged value bytes, in MB (10^6).
    pub value_mb: f64,
    /// MB per second.
    pub mb_per_sec: f64,
    /// Median delivery latency (send call to acknowledgement), ms.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile delivery latency, ms.
    pub latency_p99_ms: Option<f64>,
    /// Time per stage.
    pub stage_secs: StageSecs,
    /// What ended the run early, if anything; also the first delivery error.
    pub failure: Option<String>,
}

impl RunSummary {
    /// Whether everything asked for reached Kafka.
    pub fn is_success(&self) -> bool {
        self.failure.is_none() && self.delivery_errors == 0 && self.undelivered == 0
    }

    /// A short human summary.
    pub fn render(&self) -> String {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"));
        let mut out = format!(
            "{} users to {} in {:.1}s ({:.0} users/s, {:.1} MB/s); rejected {}, failed pages {}, dlq {} to {}; retries {}; delivery p50 {} p99 {}\n\
             stopped: {:?}; seed {:?} pages {}..{} (resume with --start-page {})\n",
            self.users_produced,
            self.topic,
            self.elapsed_secs,
            self.users_per_sec,
            self.mb_per_sec,
            self.rejected,
            self.pages_failed,
            self.dlq_produced,
            self.dlq_topic,
            self.fetch_retries,
            ms(self.latency_p50_ms),
            ms(self.latency_p99_ms),
            self.stop_reason,
            self.seed,
            self.start_page,
            self.resume_page.saturating_sub(1).max(self.start_page),
            self.resume_page,
        );
        if self.delivery_errors > 0 || self.undelivered > 0 {
            out.push_str(&format!(
                "NOT DELIVERED: {} refused, {} unacknowledged at shutdown\n",
                self.delivery_errors, self.undelivered
            ));
        }
        if let Some(failure) = &self.failure {
            out.push_str(&format!("failure: {failure}\n"));
        }
        out
    }
}

/// Runs `userstream produce`: set-up (topics, schema), then the pipeline from the HTTP
/// source, until `config.count`, `config.duration`, the last page, or `shutdown`.
///
/// Errors before anything is produced (configuration, Kafka or registry unreachable) are
/// `Err`; a run that started returns its summary, with `failure` set if it ended early.
pub async fn produce(
    config: &IngestConfig,
    stats: Arc<IngestStats>,
    shutdown: CancellationToken,
) -> Result<RunSummary, IngestError> {
    let (report, encoder) = setup(config).await?;
    log_setup(&report);
    let kind = SourceKind::http(&config.source)?;
    run_pipeline(config, kind, encoder, stats, shutdown).await
}

/// Like [`produce`], with pages drawn from the users-api generator in process instead of
/// fetched over HTTP (`config.source.url` is only recorded in the records). The users are
/// those the HTTP source would serve for the same seed and pages, ids included: producing the
/// same configuration again replays the same keys. For tests and benches.
pub async fn produce_generated(
    config: &IngestConfig,
    write_page: PageWriter,
    stats: Arc<IngestStats>,
    shutdown: CancellationToken,
) -> Result<RunSummary, IngestError> {
    let (report, encoder) = setup(config).await?;
    log_setup(&report);
    run_pipeline(
        config,
        SourceKind::Generator(write_page),
        encoder,
        stats,
        shutdown,
    )
    .await
}

fn log_setup(report: &SetupReport) {
    for t in &report.topics {
        tracing::info!(topic = %t.name, created = t.created, "topic ready");
    }
    tracing::info!(subject = %report.subject, schema_id = report.schema_id, "schema registered");
}

/// Cancels `stop` after `duration` (and marks `hit`), unless it is cancelled first.
fn stop_after(
    duration: Duration,
    stop: CancellationToken,
    hit: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(duration) => {
                hit.store(true, Ordering::SeqCst);
                stop.cancel();
            }
            () = stop.cancelled() => {}
        }
    })
}

/// Holds the run to `--rate` records per second: tokens are reserved a chunk at a time, so
/// the bucket is asked once per chunk, not per record.
struct Pacer {
    bucket: TokenBucket,
    tokens: u32,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        Self {
            bucket: TokenBucket::new(rate, (rate * 0.1).max(1.0), Instant::now()),
            tokens: 0,
        }
    }

    /// Takes one record's token, waiting for the bucket when the chunk is used up; `false`
    /// when `stop` is cancelled while waiting.
    async fn take_one(&mut self, stop: &CancellationToken, stats: &IngestStats) -> bool {
        if self.tokens == 0 {
            let chunk = self.bucket.chunk();
            let wait = self.bucket.reserve(f64::from(chunk), Instant::now());
            if !wait.is_zero() {
                let waiting = Instant::now();
                tokio::select! {
                    () = stop.cancelled() => return false,
                    () = tokio::time::sleep(wait) => {}
                }
                add_time(&stats.rate_wait_nanos, waiting.elapsed());
            }
            self.tokens = chunk;
        }
        self.tokens -= 1;
        true
    }
}

/// The pipeline itself, once topics and schema are set up.
pub(crate) async fn run_pipeline(
    config: &IngestConfig,
    kind: SourceKind,
    encoder: FrameEncoder,
    stats: Arc<IngestStats>,
    shutdown: CancellationToken,
) -> Result<RunSummary, IngestError> {
    config.validate()?;
    let started = Instant::now();
    let mut sink = create_sink(&config.kafka, Arc::clone(&stats))?;
    let stop = shutdown.child_token();
    let duration_hit = Arc::new(AtomicBool::new(false));
    let timer = config
        .duration
        .map(|d| stop_after(d, stop.clone(), Arc::clone(&duration_hit)));

    let ctx = Arc::new(PageContext {
        source: config.source.clone(),
        kind,
        encoder,
        stats: Arc::clone(&stats),
    });
    let plan = PagePlan::new(
        config.source.start_page,
        config.source.results_per_page,
        config.count,
    );
    let mut pages = futures::stream::iter(plan)
        .map(move |task| obtain_page(Arc::clone(&ctx), task))
        .buffered(config.source.fetch_concurrency);

    let mut pacer = config.rate.map(Pacer::new);
    let topic = config.kafka.topic.as_str();
    let dlq_topic = config.kafka.dlq_topic.as_str();
    let mut resume_page = config.source.start_page;
    stats.pages(|p| p.start_at(resume_page));
    let mut failure: Option<String> = None;
    let mut reason = None;

    'pages: loop {
        let waiting = Instant::now();
        let next = tokio::select! {
            biased;
            () = stop.cancelled() => break 'pages,
            next = pages.next() => next,
        };
        add_time(&stats.page_wait_nanos, waiting.elapsed());
        let page = match next {
            None => {
                reason = Some(if config.count.is_some() {
                    StopReason::Count
                } else {
                    StopReason::SourceExhausted
                });
                break;
            }
            Some(Err(error)) => {
                tracing::error!(error = %userstream_endpoints::error_chain(&error), "stopping the run");
                failure = Some(userstream_endpoints::error_chain(&error));
                reason = Some(StopReason::Error);
                break;
            }
            Some(Ok(page)) => page,
        };
        resume_page = page.task.page;
        for record in &page.records {
            if stop.is_cancelled() {
                break 'pages;
            }
            if let Some(pacer) = pacer.as_mut() {
                if !pacer.take_one(&stop, &stats).await {
                    break 'pages;
                }
            }
            match record {
                OutRecord::User { key, payload } => {
                    add(&stats.users_sent, 1);
                    send_user(&mut sink, &stats, page.task.page, topic, key, payload).await;
                }
                OutRecord::Dead(dead) => {
                    send_dead(&mut sink, &stats, page.task.page, dlq_topic, dead).await;
                }
            }
        }
        add(&stats.pages_done, 1);
        stats.pages(|p| p.handed_over(page.task.page));
        tracing::debug!(
            page = page.task.page,
            users = page.users,
            rejected = page.rejected,
            page_failed = page.page_failed,
            "page handed to the producer"
        );
        resume_page = page.task.page.saturating_add(1);
    }
    // Stop fetching: pages not yet handed over are dropped (a rerun from `resume_page`
    // fetches them again).
    drop(pages);
    let reason = reason.unwrap_or(if duration_hit.load(Ordering::SeqCst) {
        StopReason::Duration
    } else {
        StopReason::Cancelled
    });
    stop.cancel();
    if let Some(timer) = timer {
        let _ = timer.await;
    }
    let undelivered = sink.drain(config.flush_timeout).await;
    if failure.is_none() {
        failure = sink
            .first_error()
            .map(|e| userstream_endpoints::error_chain(e));
    }
    let snapshot = stats.snapshot();
    let elapsed = started.elapsed().as_secs_f64();
    let latency = sink.latency();
    let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
    Ok(RunSummary {
        topic: topic.to_owned(),
        dlq_topic: dlq_topic.to_owned(),
        schema_id: encoder.schema_id().0,
        seed: config.source.seed.clone(),
        start_page: config.source.start_page,
        resume_page,
        stop_reason: reason,
        users_produced: snapshot.users_produced,
        rejected: snapshot.rejected,
        pages_failed: snapshot.pages_failed,
        dlq_produced: snapshot.dlq_produced,
        delivery_errors: snapshot.delivery_errors,
        undelivered,
        fetch_retries: snapshot.fetch_retries,
        pages_done: snapshot.pages_done,
        elapsed_secs: elapsed,
        users_per_sec: snapshot.users_produced as f64 / elapsed.max(1e-9),
        value_mb: snapshot.value_bytes as f64 / 1e6,
        mb_per_sec: snapshot.value_bytes as f64 / 1e6 / elapsed.max(1e-9),
        latency_p50_ms: ms(latency.quantile(0.5)),
        latency_p99_ms: ms(latency.quantile(0.99)),
        stage_secs: snapshot.stage_secs,
        failure,
    })
}
