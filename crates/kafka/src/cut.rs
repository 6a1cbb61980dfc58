//! A consistent cut of a topic, and a bounded reader of everything below it.
//!
//! A cut is each partition's log-start and end offsets, taken once. Everything a comparison
//! says is about the records inside it: records written after it are not "missing" anywhere
//! yet, and records below the log start were deleted by retention and are out of reach.
//! Reading streams each record to a callback, so memory does not grow with the topic.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use userstream_endpoints::KafkaAccess;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedHeaders, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::{base_config, KafkaError, PartitionOffsets, TracingContext};

/// Each partition's offsets at one moment. Deserializable: `verify --incremental` stores the
/// last cut it found clean and starts the next run from it.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct TopicCut {
    /// The topic.
    pub topic: String,
    /// Partitions in partition order: `low` = log start (older offsets were deleted),
    /// `high` = end offset (the cut: later offsets are not part of it).
    pub partitions: Vec<PartitionOffsets>,
}

/// Where an offset lies relative to a cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutPosition {
    /// Below the partition's log start: Kafka deleted it (retention).
    OutOfReach,
    /// Inside the cut.
    Within,
    /// At or past the partition's end offset, or in a partition the cut does not know:
    /// written after the cut was taken.
    PastCut,
}

impl TopicCut {
    /// Where `(partition, offset)` lies.
    pub fn position(&self, partition: i32, offset: i64) -> CutPosition {
        match self.partitions.iter().find(|p| p.partition == partition) {
            None => CutPosition::PastCut,
            Some(p) if offset >= p.high => CutPosition::PastCut,
            Some(p) if offset < p.low => CutPosition::OutOfReach,
            Some(_) => CutPosition::Within,
        }
    }

    /// Records inside the cut (as far as the offsets say; compaction gaps count too).
    pub fn records(&self) -> i64 {
        self.partitions.iter().map(|p| p.high - p.low).sum()
    }

    /// Offsets below the log starts: records Kafka has already deleted.
    pub fn deleted(&self) -> i64 {
        self.partitions.iter().map(|p| p.low).sum()
    }
}

/// One record inside a cut, borrowed for the callback.
#[derive(Clone, Copy)]
pub struct CutRecord<'a> {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Broker timestamp, milliseconds since the epoch, when there is one.
    pub timestamp_ms: Option<i64>,
    /// Key bytes, if any.
    pub key: Option<&'a [u8]>,
    /// Value bytes, if any (None for a tombstone).
    pub payload: Option<&'a [u8]>,
    headers: Option<&'a BorrowedHeaders>,
}

impl std::fmt::Debug for CutRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CutRecord")
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("key", &self.key)
            .field("payload_bytes", &self.payload.map(<[u8]>::len))
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> CutRecord<'a> {
    /// The record's headers in order: name, value (None for a null value).
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        self.headers
            .into_iter()
            .flat_map(|h| h.iter().map(|header| (header.key, header.value)))
    }

    /// An owned copy, to keep past the callback.
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord {
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
            key: self.key.map(<[u8]>::to_vec),
            payload: self.payload.map(<[u8]>::to_vec),
            headers: self
                .headers()
                .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                .collect(),
        }
    }
}

/// A record read by [`read_all`] (or kept with [`CutRecord::to_owned_record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Broker timestamp, milliseconds since the epoch, when there is one.
    pub timestamp_ms: Option<i64>,
    /// Key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// Value bytes, if any (None for a tombstone).
    pub payload: Option<Vec<u8>>,
    /// Headers in order: name, value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl OwnedRecord {
    /// The value of the first header called `name`, as UTF-8 (lossy); `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v.as_deref().unwrap_or_default()).into_owned())
    }
}

/// Errors reading a cut: Kafka's, or the callback's own.
#[derive(Debug, thiserror::Error)]
pub enum CutError<E> {
    /// Kafka failed or the read took too long.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The callback stopped the read.
    #[error("{0}")]
    Callback(E),
}

fn consumer(bootstrap: &KafkaAccess) -> Result<BaseConsumer<TracingContext>, KafkaError> {
    base_config(bootstrap)
        // Manual assignment, no commits: reading never moves anybody's offsets.
        .set("group.id", "userstream-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // Retention may delete the oldest records while we read: continue from what is left.
        .set("auto.offset.reset", "earliest")
        // librdkafka prefetches up to 64 MiB per partition by default; a reader that streams
        // needs far less, and this keeps its memory small whatever the topic's size.
        .set("queued.max.messages.kbytes", "4096")
        .create_with_context(TracingContext)
        .map_err(|source| KafkaError::Metadata {
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(source),
        })
}

fn kafka_failed(
    bootstrap: &KafkaAccess,
    what: String,
) -> impl Fn(rdkafka::error::KafkaError) -> KafkaError {
    let bootstrap = bootstrap.to_owned();
    move |source| KafkaError::Read(format!("Kafka at {bootstrap}: {what}: {source}"))
}

/// Takes the cut of `topic` now (blocking). Fails when the topic does not exist.
pub fn take_cut(
    bootstrap: &KafkaAccess,
    topic: &str,
    timeout: Duration,
) -> Result<TopicCut, KafkaError> {
    let consumer = consumer(bootstrap)?;
    let failed = kafka_failed(bootstrap, format!("offsets of {topic}"));
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(&failed)?;
    let mut partitions = Vec::new();
    for t in metadata.topics().iter().filter(|t| t.name() == topic) {
        for p in t.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), timeout)
                .map_err(&failed)?;
            partitions.push(PartitionOffsets {
                partition: p.id(),
                low,
                high,
            });
        }
    }
    if partitions.is_empty() {
        return Err(KafkaError::NoSuchTopic(topic.to_owned()));
    }
    partitions.sort_by_key(|p| p.partition);
    Ok(TopicCut {
        topic: topic.to_owned(),
        partitions,
    })
}

/// Streams every record inside `cut` to `on_record`, partition by partition interleaved as
/// Kafka delivers them (each partition in offset order). Blocking; gives up after `timeout`.
/// Records deleted by retention while reading are skipped (they are out of reach).
pub fn read_cut<E>(
    bootstrap: &KafkaAccess,
    cut: &TopicCut,
    timeout: Duration,
    mut on_record: impl FnMut(CutRecord<'_>) -> Result<(), E>,
) -> Result<(), CutError<E>> {
    let topic = &cut.topic;
    let failed = kafka_failed(bootstrap, format!("reading {topic}"));
    let ends: BTreeMap<i32, i64> = cut
        .partitions
        .iter()
        .filter(|p| p.high > p.low)
        .map(|p| (p.partition, p.high))
        .collect();
    if ends.is_empty() {
        return Ok(());
    }
    let consumer = consumer(bootstrap)?;
    let mut assignment = TopicPartitionList::new();
    for p in cut.partitions.iter().filter(|p| p.high > p.low) {
        assignment
            .add_partition_offset(topic, p.partition, Offset::Offset(p.low))
            .map_err(&failed)?;
    }
    consumer.assign(&assignment).map_err(&failed)?;
    let deadline = Instant::now() + timeout;
    let mut done: HashSet<i32> = HashSet::new();
    while done.len() < ends.len() {
        if Instant::now() > deadline {
            return Err(
                KafkaError::Timeout(format!("reading {topic} up to its cut"), timeout).into(),
            );
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let partition = m.partition();
                let Some(&end) = ends.get(&partition) else {
                    continue;
                };
                if m.offset() < end && !done.contains(&partition) {
                    on_record(CutRecord {
                        partition,
                        offset: m.offset(),
                        timestamp_ms: m.timestamp().to_millis(),
                        key: m.key(),
                        payload: m.payload(),
                        headers: m.headers(),
                    })
                    .map_err(CutError::Callback)?;
                }
                if m.offset() + 1 >= end && done.insert(partition) {
                    // Stop fetching what lies past the cut.
                    let mut stop = TopicPartitionList::new();
                    stop.add_partition(topic, partition);
                    let _ = consumer.pause(&stop);
                }
            }
            Some(Err(e)) => return Err(failed(e).into()),
            None => {
                // Compaction or transaction markers leave gaps: the position tells when a
                // partition is past its end.
                if let Ok(position) = consumer.position() {
                    for e in position.elements() {
                        if let Offset::Offset(o) = e.offset() {
                            if ends.get(&e.partition()).is_some_and(|end| o >= *end) {
                                done.insert(e.partition());
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Takes the cut of `topic` now and reads every record inside it into memory: for tests and
/// small topics (memory grows with the topic; [`read_cut`] streams instead). The whole read,
/// cut included, gives up after `timeout`.
pub async fn read_all(
    bootstrap: &KafkaAccess,
    topic: &str,
    timeout: Duration,
) -> Result<(TopicCut, Vec<OwnedRecord>), KafkaError> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let cut = take_cut(&bootstrap, &topic, timeout)?;
        let mut records = Vec::with_capacity(usize::try_from(cut.records()).unwrap_or(0));
        read_cut(&bootstrap, &cut, timeout, |r| {
            records.push(r.to_owned_record());
            Ok::<(), std::convert::Infallible>(())
        })
        .map_err(|e| match e {
            CutError::Kafka(e) => e,
            CutError::Callback(never) => match never {},
        })?;
        Ok((cut, records))
    })
    .await
    .map_err(|e| KafkaError::Task(e.to_string()))?
}

/// The values at the given `(partition, offset)` positions of `topic` (blocking), in the order
/// asked; `None` for a position that no longer exists (deleted) or holds a tombstone.
#[allow(clippy::type_complexity)]
pub fn read_at(
    bootstrap: &KafkaAccess,
    topic: &str,
    positions: &[(i32, i64)],
    timeout: Duration,
) -> Result<Vec<Option<Vec<u8>>>, KafkaError> {
    let failed = kafka_failed(bootstrap, format!("reading {topic}"));
    let consumer = consumer(bootstrap)?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(positions.len());
    for &(partition, offset) in positions {
        let mut one = TopicPartitionList::new();
        one.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(&failed)?;
        consumer.assign(&one).map_err(&failed)?;
        let value = loop {
            if Instant::now() > deadline {
                return Err(KafkaError::Timeout(
                    format!("reading {topic} at partition {partition} offset {offset}"),
                    timeout,
                ));
            }
            match consumer.poll(Duration::from_millis(500)) {
                Some(Ok(m)) if m.partition() == partition && m.offset() == offset => {
                    break m.payload().map(<[u8]>::to_vec)
                }
                // Deleted meanwhile: the reader was reset past it.
                Some(Ok(m)) if m.partition() == partition && m.offset() > offset => break None,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(failed(e)),
                None => {}
            }
        };
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut() -> TopicCut {
        TopicCut {
            topic: "t".into(),
            partitions: vec![
                PartitionOffsets {
                    partition: 0,
                    low: 10,
                    high: 20,
                },
                PartitionOffsets {
                    partition: 1,
                    low: 0,
                    high: 5,
                },
            ],
        }
    }

    #[test]
    fn positions_relative_to_the_cut() {
        let cut = cut();
        assert_eq!(cut.position(0, 9), CutPosition::OutOfReach);
        assert_eq!(cut.position(0, 10), CutPosition::Within);
        assert_eq!(cut.position(0, 19), CutPosition::Within);
        assert_eq!(cut.position(0, 20), CutPosition::PastCut);
        assert_eq!(cut.position(1, 0), CutPosition::Within);
        // A partition added after the cut: everything in it came later.
        assert_eq!(cut.position(7, 0), CutPosition::PastCut);
    }

    #[test]
    fn counts_records_held_and_deleted() {
        assert_eq!(cut().records(), 15);
        assert_eq!(cut().deleted(), 10);
    }
}
