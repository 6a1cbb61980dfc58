//! The real stack as local processes: Apache Kafka (KRaft), Apicurio Registry (Confluent API),
//! Apache Cassandra, a Spark standalone cluster with a Spark Connect server, Apache Airflow.
//!
//! `install` fetches runtimes from Maven Central and PyPI; `up` starts everything health-gated;
//! `status` and `down` do what they say. Everything lives under one state directory.

pub mod airflow_api;
mod config;
pub mod credentials;
mod health;
pub mod install;
mod layout;
mod lifecycle;
pub mod private;
pub mod probe;
pub mod process;
pub mod render;
pub mod services;

pub use airflow_api::{AirflowApi, AirflowApiError, DagState, SCHEDULED_DAGS};
pub use config::{MemSize, StackConfig};
pub use layout::Layout;
pub use lifecycle::{
    after_start, airflow_secrets, down, format_bytes, generate_credentials, read_secrets,
    render_service, render_status, run_foreground, secrets, specs, status, stop_service, up,
    Rendered, ServiceStatus, StackError, Started,
};
