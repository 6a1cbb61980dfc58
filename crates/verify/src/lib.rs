//! `verify`: what Kafka holds against what Cassandra holds, at one consistent cut of offsets,
//! in memory bounded whatever the topic's size.
//!
//! It reads the topic and the keyspace the job writes, not the job: it needs no Spark.
//!
//! - `verify`: the full comparison: the cut, both sides read and sorted, the verdict;
//! - `incremental`: only what came since the last verified cut, with rows read by key;
//! - `reconcile`: the pure half: the external sort, the side-by-side walk and the rules that
//!   judge a row against a record, shared by both;
//! - `range`: the pure half of the incremental run: what lies between two cuts;
//! - `cut_file`: where the incremental run keeps the last verified cut;
//! - `report`: what a run found, as text or JSON.

#![warn(missing_docs)]

mod config;
mod cut_file;
mod error;
mod incremental;
mod range;
mod reconcile;
mod report;
mod verify;

pub use config::VerifyConfig;
pub use cut_file::cut_file;
pub use error::VerifyError;
pub use incremental::{verify_incremental, IncrementalOptions};
pub use report::{FieldMismatch, VerifyMode, VerifyReport};
pub use verify::{verify, VerifyOptions};
