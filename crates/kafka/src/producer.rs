//! The one producer configuration: idempotent, `acks=all`, compressed and batched, with the
//! knobs `produce` exposes.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;
use userstream_endpoints::{Cause, KafkaAccess};

use crate::{base_config, KafkaError, TracingContext};

/// Compression codec of produced batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression.
    None,
    /// LZ4: cheapest on CPU (the default).
    Lz4,
    /// Zstandard: smaller, costs more CPU.
    Zstd,
}

impl Compression {
    /// librdkafka's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "lz4" => Ok(Self::Lz4),
            "zstd" => Ok(Self::Zstd),
            other => Err(format!(
                "unknown compression {other:?}; use none, lz4 or zstd"
            )),
        }
    }
}

/// How a producer batches, compresses and waits.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerSettings {
    /// Records in flight at most (librdkafka's queue holds twice as many, at least 100,000).
    pub max_in_flight: usize,
    /// Codec of the batches.
    pub compression: Compression,
    /// How long a batch waits to fill.
    pub linger: Duration,
    /// How long librdkafka retries a record before reporting it undelivered.
    pub message_timeout: Duration,
    /// Raw librdkafka settings, applied last.
    pub options: BTreeMap<String, String>,
}

/// The producer's librdkafka configuration: idempotent (so librdkafka's retries never
/// duplicate or reorder), `acks=all`, compressed, batched; then the raw options.
pub fn producer_config(access: &KafkaAccess, settings: &ProducerSettings) -> ClientConfig {
    let mut config = base_config(access);
    let queue_messages = (settings.max_in_flight.saturating_mul(2)).max(100_000);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", settings.compression.as_str())
        .set("linger.ms", settings.linger.as_millis().to_string())
        // Batches as large as a request may carry (message.max.bytes caps them anyway).
        .set("batch.size", "1000000")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", queue_messages.to_string())
        .set("queue.buffering.max.kbytes", "1048576")
        .set(
            "message.timeout.ms",
            settings.message_timeout.as_millis().to_string(),
        )
        // The Java client's partitioner: the same key lands on the same partition whichever
        // client wrote it, so replays upsert.
        .set("partitioner", "murmur2_random");
    for (key, value) in &settings.options {
        config.set(key, value);
    }
    config
}

/// Creates a producer with [`producer_config`].
pub fn create_producer(
    access: &KafkaAccess,
    settings: &ProducerSettings,
) -> Result<FutureProducer<TracingContext>, KafkaError> {
    producer_config(access, settings)
        .create_with_context(TracingContext)
        .map_err(|source| KafkaError::Client {
            action: "creating the producer".to_owned(),
            bootstrap: access.to_string(),
            source: Cause(Box::new(source)),
        })
}
