//! The one Kafka client context of the codebase, plus small admin helpers.
//!
//! librdkafka logs are routed into `tracing` here so every component logs the same way.

mod context;
mod cut;
mod inspect;
mod metadata;

pub use context::{base_config, TracingContext};
pub use cut::{read_at, read_cut, take_cut, CutError, CutPosition, CutRecord, TopicCut};
pub use inspect::{newest_messages, topic_offsets, PartitionOffsets, PeekedMessage, TopicOffsets};
pub use metadata::{fetch_metadata, ClusterSummary, KafkaError};
