//! Read-only views of the cluster for the console: every topic's partitions and offsets, and
//! the newest messages of a topic. Nothing here joins a consumer group or commits.

use std::time::Duration;
use userstream_endpoints::KafkaAccess;

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::{base_config, read_cut, CutError, KafkaError, TopicCut, TracingContext};

/// Offsets of one partition.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
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

fn consumer(bootstrap: &KafkaAccess) -> Result<BaseConsumer<TracingContext>, KafkaError> {
    base_config(bootstrap)
        // Manual assignment, no commits: reading never moves anybody's offsets.
        .set("group.id", "userstream-console")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create_with_context(TracingContext)
        .map_err(|source| KafkaError::Metadata {
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(source),
        })
}

/// Every topic except Kafka's internal `__*` ones, with log-start and end offsets per
/// partition, sorted by name.
pub async fn topic_offsets(
    bootstrap_servers: &KafkaAccess,
    timeout: Duration,
) -> Result<Vec<TopicOffsets>, KafkaError> {
    let bootstrap = bootstrap_servers.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer = consumer(&bootstrap)?;
        let failed = |source| KafkaError::Metadata {
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(source),
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
    bootstrap_servers: &KafkaAccess,
    topic: &TopicOffsets,
    per_partition: i64,
    timeout: Duration,
) -> Result<Vec<PeekedMessage>, KafkaError> {
    let bootstrap = bootstrap_servers.to_owned();
    let cut = newest_cut(topic, per_partition);
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let read = read_cut(&bootstrap, &cut, timeout, |r| {
            out.push(PeekedMessage {
                partition: r.partition,
                offset: r.offset,
                timestamp_ms: r.timestamp_ms,
                key: r.key.map(|k| String::from_utf8_lossy(k).into_owned()),
                headers: r
                    .headers()
                    .map(|(k, v)| {
                        (
                            k.to_owned(),
                            v.map(|v| String::from_utf8_lossy(v).into_owned())
                                .unwrap_or_default(),
                        )
                    })
                    .collect(),
                payload_bytes: r.payload.map_or(0, <[u8]>::len),
            });
            Ok::<(), std::convert::Infallible>(())
        });
        match read {
            // A page of the console shows what arrived in time rather than nothing.
            Ok(()) | Err(CutError::Kafka(KafkaError::Timeout(..))) => {}
            Err(CutError::Kafka(e)) => return Err(e),
            Err(CutError::Callback(never)) => match never {},
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

/// The cut holding the newest `per_partition` records of each partition below `high`.
fn newest_cut(topic: &TopicOffsets, per_partition: i64) -> TopicCut {
    TopicCut {
        topic: topic.name.clone(),
        partitions: topic
            .partitions
            .iter()
            .map(|p| PartitionOffsets {
                partition: p.partition,
                low: (p.high - per_partition).max(p.low).min(p.high),
                high: p.high,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_cut_stays_within_what_is_held() {
        let topic = TopicOffsets {
            name: "t".into(),
            partitions: vec![
                PartitionOffsets {
                    partition: 0,
                    low: 0,
                    high: 100,
                },
                PartitionOffsets {
                    partition: 1,
                    low: 95,
                    high: 98,
                },
                // A bound below the log start (a consumer behind retention): nothing to read.
                PartitionOffsets {
                    partition: 2,
                    low: 50,
                    high: 40,
                },
            ],
        };
        let cut = newest_cut(&topic, 10);
        let spans: Vec<_> = cut.partitions.iter().map(|p| (p.low, p.high)).collect();
        assert_eq!(spans, vec![(90, 100), (95, 98), (40, 40)]);
        assert_eq!(cut.records(), 13);
    }
}
