//! The producer side of userstream: randomuser-compatible pages → validated users →
//! Confluent-framed Avro under the schema registry → Kafka, with a dead-letter topic.
//!
//! # Pipeline
//! [`produce`] runs it: [`PagePlan`] says which pages (page `p` of seed `S`, deterministic, so
//! a rerun produces the same users and replays upsert by key); a few pages are fetched and
//! parsed concurrently but handed to Kafka in page order; each page is parsed by the model
//! crate and encoded on the blocking pool; the producer is idempotent (`acks=all`, lz4,
//! batching) with a bounded number of unacknowledged sends; [`TokenBucket`] applies `rate`.
//! Bad records and unreadable pages go to the DLQ topic ([`dlq`]) with the reason and source
//! position in headers: nothing is dropped silently.
//!
//! # Retries
//! Transport errors and HTTP 403/408/425/429/5xx are retried with exponential backoff and
//! jitter, honouring `Retry-After` ([`RetryPolicy`]); after `max_attempts`, an unreachable
//! source ends the run, an HTTP error page goes to the DLQ. A body that is not JSON, an
//! `{"error": ...}` body, or fewer results than asked for are fetched again up to
//! `body_attempts` times, then dead-lettered.
//!
//! # Set-up, bench
//! [`setup_kafka_and_registry`] creates the topics and registers the schema (BACKWARD);
//! [`bench_produce`] measures throughput and delivery latency.

#![warn(missing_docs)]

mod backoff;
mod bench;
mod config;
pub mod dlq;
mod encode;
mod error;
mod pipeline;
mod plan;
mod rate;
mod setup;
mod sink;
mod source;
mod stats;

pub use backoff::{parse_retry_after, RetryPolicy};
pub use bench::{bench_produce, BenchConfig, BenchMode, BenchReport, BenchResult};
pub use config::{Compression, IngestConfig, KafkaConfig, SourceConfig};
pub use encode::FrameEncoder;
pub use error::IngestError;
pub use pipeline::{produce, produce_generated, RunSummary, StopReason};
pub use plan::{PagePlan, PageTask};
pub use rate::TokenBucket;
pub use setup::{setup_kafka_and_registry, SetupReport};
pub use source::{generated_users, page_request, page_url, PageWriter};
pub use stats::{IngestStats, StageSecs, StatsSnapshot};
