//! Live counters of a run (shared with the progress printer) and their snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Counters updated by the pipeline while it runs; read them with [`IngestStats::snapshot`].
#[derive(Debug)]
pub struct IngestStats {
    started: Instant,
    /// Users handed to the producer.
    pub users_sent: AtomicU64,
    /// Users acknowledged by Kafka.
    pub users_delivered: AtomicU64,
    /// Records rejected by validation (each one also goes to the DLQ).
    pub rejected: AtomicU64,
    /// Pages that went to the DLQ whole.
    pub pages_failed: AtomicU64,
    /// DLQ messages acknowledged by Kafka.
    pub dlq_delivered: AtomicU64,
    /// Messages Kafka did not take after librdkafka's own retries.
    pub delivery_errors: AtomicU64,
    /// Source requests retried.
    pub fetch_retries: AtomicU64,
    /// Pages fully handed to the producer.
    pub pages_done: AtomicU64,
    /// Bytes of message values acknowledged (users and DLQ).
    pub value_bytes: AtomicU64,
    /// Nanoseconds spent getting bodies (HTTP, or generating them in-process).
    pub fetch_nanos: AtomicU64,
    /// Nanoseconds spent parsing bodies into users.
    pub parse_nanos: AtomicU64,
    /// Nanoseconds spent encoding users as framed Avro.
    pub encode_nanos: AtomicU64,
    /// Nanoseconds spent in the producer's send calls.
    pub send_nanos: AtomicU64,
    /// Nanoseconds the producer loop waited for deliveries (in-flight bound, full queue).
    pub backpressure_nanos: AtomicU64,
    /// Nanoseconds the producer loop waited for the rate limit.
    pub rate_wait_nanos: AtomicU64,
    /// Nanoseconds the producer loop waited for the next page.
    pub page_wait_nanos: AtomicU64,
    /// Which pages Kafka has acknowledged in full (for the resume page).
    pages: Mutex<PageLedger>,
}

/// The source pages whose messages Kafka has not all acknowledged yet, and the next page to
/// hand over: from them, the first page a rerun must start from so that nothing is lost if
/// this process dies now (SIGKILL, power cut). Messages librdkafka still holds die with the
/// process; pages before the resume page were acknowledged whole.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PageLedger {
    /// Page → messages sent and not settled yet (neither acknowledged nor refused).
    unsettled: BTreeMap<u32, u64>,
    /// Pages with a message Kafka refused: they stay unsafe (a rerun must send them again).
    failed: BTreeMap<u32, u64>,
    /// The page after the last one handed over whole (0: not started).
    next_page: u32,
}

impl PageLedger {
    /// The run starts at `page`.
    pub fn start_at(&mut self, page: u32) {
        self.next_page = page;
    }

    /// A message of `page` was handed to the producer.
    pub fn sent(&mut self, page: u32) {
        *self.unsettled.entry(page).or_default() += 1;
    }

    /// Kafka acknowledged (`delivered`) or refused a message of `page`.
    pub fn settled(&mut self, page: u32, delivered: bool) {
        if let Some(n) = self.unsettled.get_mut(&page) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.unsettled.remove(&page);
            }
        }
        if !delivered {
            *self.failed.entry(page).or_default() += 1;
        }
    }

    /// Every message of `page` has been handed to the producer.
    pub fn handed_over(&mut self, page: u32) {
        self.next_page = self.next_page.max(page.saturating_add(1));
    }

    /// The first page not acknowledged whole (`None` before the run starts).
    pub fn resume_page(&self) -> Option<u32> {
        let pending = self
            .unsettled
            .keys()
            .chain(self.failed.keys())
            .min()
            .copied();
        match (pending, self.next_page) {
            (Some(page), _) => Some(page),
            (None, 0) => None,
            (None, next) => Some(next),
        }
    }
}

impl Default for IngestStats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            users_sent: AtomicU64::new(0),
            users_delivered: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            pages_failed: AtomicU64::new(0),
            dlq_delivered: AtomicU64::new(0),
            delivery_errors: AtomicU64::new(0),
            fetch_retries: AtomicU64::new(0),
            pages_done: AtomicU64::new(0),
            value_bytes: AtomicU64::new(0),
            fetch_nanos: AtomicU64::new(0),
            parse_nanos: AtomicU64::new(0),
            encode_nanos: AtomicU64::new(0),
            send_nanos: AtomicU64::new(0),
            backpressure_nanos: AtomicU64::new(0),
            rate_wait_nanos: AtomicU64::new(0),
            page_wait_nanos: AtomicU64::new(0),
            pages: Mutex::new(PageLedger::default()),
        }
    }
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub(crate) fn add_time(counter: &AtomicU64, d: Duration) {
    counter.fetch_add(
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn secs(counter: &AtomicU64) -> f64 {
    get(counter) as f64 / 1e9
}

/// Counters at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsSnapshot {
    /// Seconds since the run started.
    pub elapsed_secs: f64,
    /// Users handed to the producer.
    pub users_sent: u64,
    /// Users acknowledged by Kafka.
    pub users_produced: u64,
    /// Records rejected by validation.
    pub rejected: u64,
    /// Pages sent to the DLQ whole.
    pub pages_failed: u64,
    /// DLQ messages acknowledged.
    pub dlq_produced: u64,
    /// Messages Kafka did not take.
    pub delivery_errors: u64,
    /// Source requests retried.
    pub fetch_retries: u64,
    /// Pages fully handed to the producer.
    pub pages_done: u64,
    /// Bytes of acknowledged values.
    pub value_bytes: u64,
    /// The page a rerun starts from (`--start-page`) to lose nothing if this run died now.
    pub resume_page: Option<u32>,
    /// Time per stage, in seconds summed over tasks (stages overlap, so these can add up to
    /// more than the elapsed time).
    pub stage_secs: StageSecs,
}

/// Seconds spent per stage (see [`IngestStats`]).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StageSecs {
    /// Getting bodies.
    pub fetch: f64,
    /// Parsing.
    pub parse: f64,
    /// Encoding.
    pub encode: f64,
    /// Producer send calls.
    pub send: f64,
    /// Waiting for deliveries.
    pub backpressure: f64,
    /// Waiting for the rate limit.
    pub rate_wait: f64,
    /// Producer loop waiting for pages.
    pub page_wait: f64,
}

impl IngestStats {
    /// Fresh counters; the clock starts now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Updates the page ledger (see [`PageLedger`]).
    pub fn pages(&self, update: impl FnOnce(&mut PageLedger)) {
        update(&mut self.pages.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            users_sent: get(&self.users_sent),
            users_produced: get(&self.users_delivered),
            rejected: get(&self.rejected),
            pages_failed: get(&self.pages_failed),
            dlq_produced: get(&self.dlq_delivered),
            delivery_errors: get(&self.delivery_errors),
            fetch_retries: get(&self.fetch_retries),
            pages_done: get(&self.pages_done),
            value_bytes: get(&self.value_bytes),
            resume_page: self
                .pages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .resume_page(),
            stage_secs: StageSecs {
                fetch: secs(&self.fetch_nanos),
                parse: secs(&self.parse_nanos),
                encode: secs(&self.encode_nanos),
                send: secs(&self.send_nanos),
                backpressure: secs(&self.backpressure_nanos),
                rate_wait: secs(&self.rate_wait_nanos),
                page_wait: secs(&self.page_wait_nanos),
            },
        }
    }
}

impl StatsSnapshot {
    /// One progress line: rate since `previous` (or since the start), totals.
    pub fn progress_line(&self, previous: Option<&StatsSnapshot>) -> String {
        let (dt, dn) = match previous {
            Some(p) => (
                self.elapsed_secs - p.elapsed_secs,
                self.users_produced.saturating_sub(p.users_produced),
            ),
            None => (self.elapsed_secs, self.users_produced),
        };
        let rate = if dt > 0.0 { dn as f64 / dt } else { 0.0 };
        let resume = match self.resume_page {
            Some(page) => format!("  safe to resume at --start-page {page}"),
            None => String::new(),
        };
        format!(
            "[{:>7.1}s] {:>9.0} users/s  produced {}  rejected {}  failed pages {}  dlq {}  retries {}  delivery errors {}{resume}",
            self.elapsed_secs,
            rate,
            self.users_produced,
            self.rejected,
            self.pages_failed,
            self.dlq_produced,
            self.fetch_retries,
            self.delivery_errors,
        )
    }

    /// The `--start-page` of a progress line ([`StatsSnapshot::progress_line`]), for a caller
    /// that resumes a killed run from its last printed line.
    pub fn resume_page_of(line: &str) -> Option<u32> {
        let (_, rest) = line.rsplit_once("--start-page ")?;
        rest.split_whitespace().next()?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_page_is_the_first_page_not_acknowledged_whole() {
        let mut ledger = PageLedger::default();
        assert_eq!(ledger.resume_page(), None);
        ledger.start_at(5);
        assert_eq!(ledger.resume_page(), Some(5));
        ledger.sent(5);
        ledger.sent(5);
        ledger.handed_over(5);
        ledger.sent(6);
        ledger.handed_over(6);
        assert_eq!(ledger.resume_page(), Some(5), "page 5 is still in flight");
        ledger.settled(5, true);
        ledger.settled(5, true);
        assert_eq!(ledger.resume_page(), Some(6));
        ledger.settled(6, true);
        assert_eq!(ledger.resume_page(), Some(7), "everything acknowledged");
        ledger.sent(7);
        ledger.settled(7, false);
        ledger.handed_over(7);
        assert_eq!(
            ledger.resume_page(),
            Some(7),
            "a refused message keeps its page unsafe"
        );
    }

    #[test]
    fn a_progress_line_carries_its_resume_page() {
        let stats = IngestStats::new();
        stats.pages(|p| p.start_at(3));
        let line = stats.snapshot().progress_line(None);
        assert!(line.ends_with("safe to resume at --start-page 3"), "{line}");
        assert_eq!(StatsSnapshot::resume_page_of(&line), Some(3));
        assert_eq!(StatsSnapshot::resume_page_of("[ 1.0s] produced 3"), None);
    }
}
