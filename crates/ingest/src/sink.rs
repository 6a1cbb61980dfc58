//! The Kafka side: an idempotent `FutureProducer` with a bounded number of in-flight sends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use userstream_kafka::{base_config, TracingContext};

use crate::config::KafkaConfig;
use crate::dlq::DeadLetter;
use crate::error::IngestError;
use crate::histogram::LatencyHistogram;
use crate::stats::{add, add_time, IngestStats};

/// The producer's librdkafka configuration: idempotent (so librdkafka's retries never
/// duplicate or reorder), `acks=all`, compressed, batched; then the raw options.
pub fn producer_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = base_config(&kafka.bootstrap);
    let queue_messages = (kafka.max_in_flight.saturating_mul(2)).max(100_000);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", kafka.compression.as_str())
        .set("linger.ms", kafka.linger.as_millis().to_string())
        // Batches as large as a request may carry (message.max.bytes caps them anyway).
        .set("batch.size", "1000000")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", queue_messages.to_string())
        .set("queue.buffering.max.kbytes", "1048576")
        .set(
            "message.timeout.ms",
            kafka.message_timeout.as_millis().to_string(),
        )
        // The Java client's partitioner: the same key lands on the same partition whichever
        // client wrote it, so replays upsert.
        .set("partitioner", "murmur2_random");
    for (key, value) in &kafka.producer_options {
        config.set(key, value);
    }
    config
}

/// Creates the producer.
pub fn create_producer(kafka: &KafkaConfig) -> Result<FutureProducer<TracingContext>, IngestError> {
    producer_config(kafka)
        .create_with_context(TracingContext)
        .map_err(|source| IngestError::Kafka {
            action: "creating the producer".to_owned(),
            bootstrap: kafka.bootstrap.clone(),
            source: Box::new(source),
        })
}

/// What a message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    User,
    Dead,
}

/// A delivery future with what is needed to account for it.
struct Tracked {
    future: DeliveryFuture,
    kind: Kind,
    bytes: u64,
    sent: Instant,
}

struct Delivered {
    kind: Kind,
    bytes: u64,
    latency: Duration,
    result: Result<(), String>,
}

impl Future for Tracked {
    type Output = Delivered;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Delivered> {
        let this = &mut *self;
        this.future.poll_unpin(cx).map(|outcome| Delivered {
            kind: this.kind,
            bytes: this.bytes,
            latency: this.sent.elapsed(),
            result: match outcome {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(error.to_string()),
                Err(_) => Err("producer dropped before delivery".to_owned()),
            },
        })
    }
}

/// Sends records, keeping at most `max_in_flight` unacknowledged; accounts every delivery.
pub(crate) struct Sink {
    producer: FutureProducer<TracingContext>,
    in_flight: FuturesUnordered<Tracked>,
    max_in_flight: usize,
    stats: Arc<IngestStats>,
    latency: LatencyHistogram,
    first_error: Option<String>,
    sends: u64,
}

impl Sink {
    pub(crate) fn new(
        producer: FutureProducer<TracingContext>,
        max_in_flight: usize,
        stats: Arc<IngestStats>,
    ) -> Self {
        Self {
            producer,
            in_flight: FuturesUnordered::new(),
            max_in_flight: max_in_flight.max(1),
            stats,
            latency: LatencyHistogram::default(),
            first_error: None,
            sends: 0,
        }
    }

    /// Sends a user.
    pub(crate) async fn send_user(&mut self, topic: &str, key: &str, payload: &[u8]) {
        let record = FutureRecord::to(topic).key(key.as_bytes()).payload(payload);
        self.send(record, Kind::User, payload.len()).await;
    }

    /// Sends a dead letter.
    pub(crate) async fn send_dead(&mut self, topic: &str, dead: &DeadLetter) {
        let headers = dead.headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            })
        });
        let record = FutureRecord::to(topic)
            .key(dead.key.as_bytes())
            .payload(&dead.value[..])
            .headers(headers);
        self.send(record, Kind::Dead, dead.value.len()).await;
    }

    async fn send(&mut self, mut record: FutureRecord<'_, [u8], [u8]>, kind: Kind, bytes: usize) {
        if self.in_flight.len() >= self.max_in_flight {
            let waited = Instant::now();
            self.reap_one().await;
            add_time(&self.stats.backpressure_nanos, waited.elapsed());
        }
        loop {
            let started = Instant::now();
            let result = self.producer.send_result(record);
            add_time(&self.stats.send_nanos, started.elapsed());
            match result {
                Ok(future) => {
                    self.in_flight.push(Tracked {
                        future,
                        kind,
                        bytes: bytes as u64,
                        sent: started,
                    });
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // librdkafka's queue is full: let deliveries catch up instead of blocking
                    // a thread or buffering more.
                    record = back;
                    let waited = Instant::now();
                    if self.in_flight.is_empty() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        self.reap_one().await;
                    }
                    add_time(&self.stats.backpressure_nanos, waited.elapsed());
                }
                Err((error, _)) => {
                    self.fail(format!("producing to {}: {error}", record_topic(kind)));
                    break;
                }
            }
        }
        self.sends += 1;
        if self.sends.is_multiple_of(64) {
            self.reap_ready();
        }
    }

    fn reap_ready(&mut self) {
        while let Some(Some(delivered)) = self.in_flight.next().now_or_never() {
            self.account(delivered);
        }
    }

    async fn reap_one(&mut self) {
        if let Some(delivered) = self.in_flight.next().await {
            self.account(delivered);
        }
    }

    fn account(&mut self, delivered: Delivered) {
        self.latency.record(delivered.latency);
        match delivered.result {
            Ok(()) => {
                let counter = match delivered.kind {
                    Kind::User => &self.stats.users_delivered,
                    Kind::Dead => &self.stats.dlq_delivered,
                };
                add(counter, 1);
                add(&self.stats.value_bytes, delivered.bytes);
            }
            Err(error) => self.fail(error),
        }
    }

    fn fail(&mut self, error: String) {
        add(&self.stats.delivery_errors, 1);
        if self.first_error.is_none() {
            tracing::error!(%error, "Kafka did not take a message");
            self.first_error = Some(error);
        }
    }

    /// Waits for every outstanding delivery, at most `timeout`; then flushes. Returns how many
    /// were still unacknowledged.
    pub(crate) async fn drain(&mut self, timeout: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, self.in_flight.next()).await {
                Ok(Some(delivered)) => self.account(delivered),
                Ok(None) => break,
                Err(_) => break,
            }
        }
        let producer = self.producer.clone();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let _ = tokio::task::spawn_blocking(move || {
            producer.flush(left.max(Duration::from_millis(100)))
        })
        .await;
        self.in_flight.len() as u64
    }

    pub(crate) fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    pub(crate) fn first_error(&self) -> Option<&str> {
        self.first_error.as_deref()
    }
}

fn record_topic(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "the users topic",
        Kind::Dead => "the dead-letter topic",
    }
}
