//! Read-only views of the cluster for the console: every topic's partitions and offsets, and
//! the newest messages of a topic. Nothing here joins a consumer group or commits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::{base_config, KafkaError, TracingContext};

/// Offsets of one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionOffsets {
    /// Partition number.
    pub partition: i32,
    /// Oldest offset still held (log start).
    pub low: i64,
    /// Next offset to be written (end offset).
    pub high: i64,
}

/// One topic and its partitions' offsets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicOffsets {
    /// Topic name.
    pub name: String,
    /// Partitions, in partition order.
    pub partitions: Vec<PartitionOffsets>,
}

impl TopicOffsets {
    /// Sum of the end offsets: how many messages were ever written.
    pub fn end_total(&self) -> i64 {
        self.partitions.iter().map(|p| p.high).sum()
    }

    /// Messages still held (end minus log start, over partitions).
    pub fn held(&self) -> i64 {
        self.partitions.iter().map(|p| p.high - p.low).sum()
    }
}

/// One message as read back by [`newest_messages`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeekedMessage {
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Broker timestamp, milliseconds since the epoch, when there is one.
    pub timestamp_ms: Option<i64>,
    /// Key as UTF-8 (lossy).
    pub key: Option<String>,
    /// Headers as UTF-8 (lossy), in order.
    pub headers: Vec<(String, String)>,
    /// Payload size in bytes.
    pub payload_bytes: usize,
}

fn consumer(bootstrap: &str) -> Result<BaseConsumer<TracingContext>, KafkaError> {
    base_config(bootstrap)
        // Manual assignment, no commits: reading never moves anybody's offsets.
        .set("group.id", "userstream-console")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create_with_context(TracingContext)
        .map_err(|source| KafkaError::Metadata {
            bootstrap: bootstrap.to_owned(),
            source,
        })
}

/// Every topic except Kafka's internal `__*` ones, with log-start and end offsets per
/// partition, sorted by name.
pub async fn topic_offsets(
    bootstrap_servers: &str,
    timeout: Duration,
) -> Result<Vec<TopicOffsets>, KafkaError> {
    let bootstrap = bootstrap_servers.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer = consumer(&bootstrap)?;
        let failed = |source| KafkaError::Metadata {
            bootstrap: bootstrap.clone(),
            source,
        };
        let metadata = consumer.fetch_metadata(None, timeout).map_err(failed)?;
        let mut topics = Vec::new();
        for topic in metadata.topics() {
            if topic.name().starts_with("__") {
                continue;
            }
            let mut partitions = Vec::new();
            for p in topic.partitions() {
                let (low, high) = consumer
                    .fetch_watermarks(topic.name(), p.id(), timeout)
                    .map_err(failed)?;
                partitions.push(PartitionOffsets {
                    partition: p.id(),
                    low,
                    high,
                });
            }
            partitions.sort_by_key(|p| p.partition);
            topics.push(TopicOffsets {
                name: topic.name().to_owned(),
                partitions,
            });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    })
    .await
    .map_err(|e| KafkaError::Task(e.to_string()))?
}

/// The newest `per_partition` messages of each partition of `topic` below its `high` offsets
/// (as returned by [`topic_offsets`], or lowered to read up to a consumer's position), newest
/// first across partitions by timestamp. Reads what arrives within `timeout` and returns that.
pub async fn newest_messages(
    bootstrap_servers: &str,
    topic: &TopicOffsets,
    per_partition: i64,
    timeout: Duration,
) -> Result<Vec<PeekedMessage>, KafkaError> {
    let bootstrap = bootstrap_servers.to_owned();
    let topic = topic.clone();
    tokio::task::spawn_blocking(move || {
        // Where to start in each partition, and the offset after the last one we want.
        let mut wanted: BTreeMap<i32, i64> = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for p in &topic.partitions {
            let start = (p.high - per_partition).max(p.low);
            if start < p.high {
                assignment
                    .add_partition_offset(&topic.name, p.partition, Offset::Offset(start))
                    .map_err(|source| KafkaError::Metadata {
                        bootstrap: bootstrap.clone(),
                        source,
                    })?;
                wanted.insert(p.partition, p.high);
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let ends = wanted.clone();
        let consumer = consumer(&bootstrap)?;
        consumer
            .assign(&assignment)
            .map_err(|source| KafkaError::Metadata {
                bootstrap: bootstrap.clone(),
                source,
            })?;
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while !wanted.is_empty() && Instant::now() < deadline {
            let Some(result) = consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let Ok(message) = result else { continue };
            let partition = message.partition();
            let offset = message.offset();
            // The consumer reads on past `end` when the topic has grown since (or when `end` is a
            // bound below the topic's end): those messages are not asked for.
            let Some(&end) = ends.get(&partition) else {
                continue;
            };
            if offset + 1 >= end {
                wanted.remove(&partition);
            }
            if offset >= end {
                continue;
            }
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|header| {
                            (
                                header.key.to_owned(),
                                header
                                    .value
                                    .map(|v| String::from_utf8_lossy(v).into_owned())
                                    .unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(PeekedMessage {
                partition,
                offset,
                timestamp_ms: message.timestamp().to_millis(),
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                headers,
                payload_bytes: message.payload().map_or(0, <[u8]>::len),
            });
        }
        out.sort_by(|a, b| {
            b.timestamp_ms
                .cmp(&a.timestamp_ms)
                .then(b.offset.cmp(&a.offset))
        });
        Ok(out)
    })
    .await
    .map_err(|e| KafkaError::Task(e.to_string()))?
}
