//! `verify`: what Kafka holds against what Cassandra holds, at one consistent cut of offsets,
//! in memory bounded whatever the topic's size.
//!
//! It reads the topic and the keyspace the job writes, not the job: it needs no Spark.
//!
//! - `verify`: the cut, both sides read and sorted, the verdict and its report;
//! - `reconcile`: the pure half: the external sort and the side-by-side walk.

#![warn(missing_docs)]

mod config;
mod error;
mod reconcile;
mod verify;

pub use config::VerifyConfig;
pub use error::VerifyError;
pub use verify::{verify, FieldMismatch, VerifyOptions, VerifyReport};
