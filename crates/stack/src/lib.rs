//! The real stack as local processes: Apache Kafka (KRaft), Apicurio Registry (Confluent API),
//! Apache Cassandra, a Spark standalone cluster with a Spark Connect server, Apache Airflow.
//!
//! `install` fetches runtimes from Maven Central and PyPI; `up` starts everything health-gated;
//! `status` and `down` do what they say. Everything lives under one state directory.
//!
//! Each engine is one folder under `engines/` (its specs, rendering, install and health); the
//! modules here are what they share: the specs' types (`spec`), the secrets (`secrets`), the
//! lifecycle (`lifecycle`, `status`, `foreground`, `render`, `lock`), the install driver
//! (`installer`) and the helpers the engines install with (`install`), the shared probes
//! (`probe`) and the health dispatch (`health`).

mod config;
pub mod credentials;
pub mod engines;
mod error;
mod foreground;
mod health;
pub mod install;
pub mod installer;
mod layout;
mod lifecycle;
mod lock;
pub mod private;
mod probe;
pub mod process;
mod render;
pub mod secrets;
pub mod spec;
mod status;
mod text;
pub mod usage;

pub use config::{MemSize, StackConfig};
pub use engines::airflow::api::{AirflowApi, AirflowApiError, DagState, SCHEDULED_DAGS};
pub use error::StackError;
pub use foreground::{after_start, prepare_foreground, Foreground};
pub use layout::Layout;
pub use lifecycle::{down, specs, stop_service, up, Started};
pub use render::{render_service, Rendered};
pub use status::{format_bytes, render_status, status, ServiceStatus};
