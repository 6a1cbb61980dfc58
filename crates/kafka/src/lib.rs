//! The one Kafka layer of the codebase: the client context (librdkafka logs into `tracing`),
//! topic admin, the producer sink, and one bounded reader of a topic up to a cut of offsets.
//!
//! Other crates do not build Kafka clients of their own: `userstream-ingest` produces
//! through [`create_producer`] and [`Sink`], `verify`, the console and the tests read through [`read_cut`].

mod admin;
mod context;
mod cut;
mod histogram;
mod inspect;
mod metadata;
mod producer;
mod sink;

pub use admin::{delete_topics, ensure_topics, TopicOutcome, TopicSpec};
pub use context::{base_config, TracingContext};
pub use cut::{
    read_all, read_at, read_cut, take_cut, CutError, CutPosition, CutRecord, OwnedRecord, TopicCut,
};
pub use histogram::LatencyHistogram;
pub use inspect::{newest_messages, topic_offsets, PartitionOffsets, PeekedMessage, TopicOffsets};
pub use metadata::{fetch_metadata, topic_exists, ClusterSummary, KafkaError};
pub use producer::{create_producer, producer_config, Compression, ProducerSettings};
pub use sink::{send_many, send_one, Delivered, Sink, SinkObserver};
