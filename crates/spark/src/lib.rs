//! The streaming job as other processes see it, without building it: which Spark Connect
//! session holds its queries ([`SparkJob`]), a raw client of that session ([`Rpc`]), the
//! queries' status ([`status`]), and the files the job keeps beside its checkpoints: the
//! supervisor's journal ([`Journal`], [`JournalEntry`]) and the last start
//! ([`StartedQueries`]).
//!
//! `userstream-stream` builds, starts and supervises the job with these; the console only
//! watches it, so it needs this crate and not the job's.

#![warn(missing_docs)]

mod error;
mod job;
mod journal;
pub mod private_file;
mod rpc;
mod status;

pub use error::SparkError;
pub use job::{checkpoint_root, QueryInfo, SparkJob, StartedQueries, DEFAULT_CONNECT_USER};
pub use journal::{Journal, JournalEntry};
pub use rpc::{ActiveQuery, Rpc};
pub use status::{query_status, status, JobQueries, Progress, QueryStatus, SourceProgress};
