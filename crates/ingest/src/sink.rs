//! The Kafka side: `userstream-kafka`'s producer and [`Sink`] (bounded
//! in-flight sends) counting into the run's [`IngestStats`].

use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::FutureProducer;
use userstream_kafka::{Sink, SinkObserver, TracingContext};

use crate::config::KafkaConfig;
use crate::dlq::DeadLetter;
use crate::error::IngestError;
use crate::stats::{add, add_time, IngestStats};

/// Creates the producer (through `userstream-kafka`, which holds the one producer
/// configuration).
pub fn create_producer(kafka: &KafkaConfig) -> Result<FutureProducer<TracingContext>, IngestError> {
    userstream_kafka::create_producer(&kafka.bootstrap, &kafka.producer_settings())
        .map_err(IngestError::Kafka)
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
