//! The Kafka side: the producer's settings, and `userstream-kafka`'s [`Sink`] (bounded
//! in-flight sends) counting into the run's [`IngestStats`].

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;
use userstream_kafka::{base_config, KafkaError, Sink, SinkObserver, TracingContext};

use crate::config::KafkaConfig;
use crate::dlq::DeadLetter;
use crate::error::IngestError;
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
        .map_err(|source| {
            IngestError::Kafka(KafkaError::Client {
                action: "creating the producer".to_owned(),
                bootstrap: kafka.bootstrap.to_string(),
                source: Box::new(source),
            })
        })
}

/// What a message was, and the source page it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    User { page: u32 },
    Dead { page: u32 },
}

impl Kind {
    fn page(self) -> u32 {
        match self {
            Self::User { page } | Self::Dead { page } => page,
        }
    }
}

/// The run's live counters follow the sink's deliveries.
impl SinkObserver<Kind> for IngestStats {
    fn send_call(&self, took: Duration) {
        add_time(&self.send_nanos, took);
    }

    fn backpressure(&self, waited: Duration) {
        add_time(&self.backpressure_nanos, waited);
    }

    fn delivered(&self, kind: Kind, bytes: u64) {
        let counter = match kind {
            Kind::User { .. } => &self.users_delivered,
            Kind::Dead { .. } => &self.dlq_delivered,
        };
        add(counter, 1);
        add(&self.value_bytes, bytes);
        self.pages(|p| p.settled(kind.page(), true));
    }

    fn failed(&self, kind: Kind) {
        add(&self.delivery_errors, 1);
        self.pages(|p| p.settled(kind.page(), false));
    }
}

/// The pipeline's sink: users and dead letters, counted into the run's [`IngestStats`].
pub(crate) type PipelineSink = Sink<Kind>;

/// A sink over a new producer, with at most `kafka.max_in_flight` sends unacknowledged.
pub(crate) fn create_sink(
    kafka: &KafkaConfig,
    stats: Arc<IngestStats>,
) -> Result<PipelineSink, IngestError> {
    Ok(Sink::new(
        create_producer(kafka)?,
        kafka.max_in_flight,
        stats,
    ))
}

/// Sends a user of source page `page`: key = id, value = framed Avro.
pub(crate) async fn send_user(
    sink: &mut PipelineSink,
    stats: &IngestStats,
    page: u32,
    topic: &str,
    key: &str,
    payload: &[u8],
) {
    stats.pages(|p| p.sent(page));
    sink.send(topic, key.as_bytes(), payload, &[], Kind::User { page })
        .await;
}

/// Sends a dead letter, its reason and source position in headers.
pub(crate) async fn send_dead(
    sink: &mut PipelineSink,
    stats: &IngestStats,
    page: u32,
    topic: &str,
    dead: &DeadLetter,
) {
    stats.pages(|p| p.sent(page));
    let headers: Vec<(&str, &str)> = dead.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sink.send(
        topic,
        dead.key.as_bytes(),
        &dead.value,
        &headers,
        Kind::Dead { page },
    )
    .await;
}
