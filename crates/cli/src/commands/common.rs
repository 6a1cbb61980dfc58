//! Arguments shared by several sub-commands, and the Ctrl-C / SIGTERM handling.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use userstream_endpoints::{names, Endpoints, KafkaRole};
use userstream_ingest::{Compression, IngestConfig};

/// Kafka topics and producer settings.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Topic of valid users (key = user id, value = Confluent-framed Avro).
    #[arg(long, env = "USERSTREAM_TOPIC", default_value = names::TOPIC)]
    pub topic: String,
    /// Dead-letter topic: rejected records and unreadable pages, with reason and source
    /// position in headers.
    #[arg(long, env = "USERSTREAM_DLQ_TOPIC", default_value = names::DLQ_TOPIC)]
    pub dlq_topic: String,
    /// Partitions of the topics, when this command creates them (existing topics are kept).
    #[arg(long, env = "USERSTREAM_TOPIC_PARTITIONS", default_value_t = 3)]
    pub partitions: i32,
    /// Replication factor of the topics, when this command creates them.
    #[arg(long, env = "USERSTREAM_TOPIC_REPLICATION_FACTOR", default_value_t = 1)]
    pub replication_factor: i32,
    /// Most messages sent but not yet acknowledged by Kafka; beyond that the producer waits
    /// for deliveries (backpressure, not buffering).
    #[arg(long, env = "USERSTREAM_MAX_IN_FLIGHT", default_value_t = 50_000)]
    pub max_in_flight: usize,
    /// Batch compression: none, lz4 or zstd.
    #[arg(long, env = "USERSTREAM_COMPRESSION", default_value = "lz4")]
    pub compression: Compression,
    /// How long the producer waits to fill a batch (e.g. 10ms).
    #[arg(long, env = "USERSTREAM_LINGER", default_value = "10ms", value_parser = humantime::parse_duration)]
    pub linger: Duration,
    /// How long librdkafka keeps retrying a message while the broker is away (e.g. 5m).
    #[arg(long, env = "USERSTREAM_MESSAGE_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub message_timeout: Duration,
    /// Raw librdkafka producer property, KEY=VALUE; repeatable. Properties set by the flags
    /// above are refused here.
    #[arg(long = "producer-option", env = "USERSTREAM_PRODUCER_OPTIONS", value_delimiter = ',', value_parser = parse_key_value)]
    pub producer_options: Vec<(String, String)>,
}

/// Schema registry settings.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Value subject; default `<topic>-value`.
    #[arg(long, env = "USERSTREAM_SUBJECT")]
    pub subject: Option<String>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

impl KafkaArgs {
    /// Applies these arguments, and the Kafka address and `role`'s login of `endpoints`, to
    /// `config`.
    pub fn apply(&self, config: &mut IngestConfig, endpoints: &Endpoints, role: KafkaRole) {
        let k = &mut config.kafka;
        k.bootstrap = endpoints.kafka(role);
        k.topic = self.topic.clone();
        k.dlq_topic = self.dlq_topic.clone();
        k.partitions = self.partitions;
        k.replication_factor = self.replication_factor;
        k.max_in_flight = self.max_in_flight;
        k.compression = self.compression;
        k.linger = self.linger;
        k.message_timeout = self.message_timeout;
        k.producer_options = self.producer_options.iter().cloned().collect();
    }
}

impl RegistryArgs {
    /// Applies these arguments, and the registry address and the login of `role`, to
    /// `config`.
    pub fn apply(
        &self,
        config: &mut IngestConfig,
        endpoints: &Endpoints,
        role: userstream_endpoints::RegistryRole,
    ) {
        config.registry_url = endpoints.registry_url.clone();
        config.registry_login = endpoints.registry_login(role);
        config.stack_run_dir = endpoints.stack_run_dir();
        config.subject = self.subject.clone();
    }
}

/// A token cancelled by the first Ctrl-C or SIGTERM; a second one exits at once (130).
pub fn shutdown_on_signals(what: &'static str) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("{what}: stopping (in-flight work drains; press Ctrl-C again to exit now)");
        cancel.cancel();
        wait_for_signal().await;
        eprintln!("{what}: exiting without draining");
        std::process::exit(130);
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
