use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use userstream_endpoints::KafkaAccess;

/// Client context that forwards librdkafka's own logs and errors into `tracing`.
#[derive(Clone, Default)]
pub struct TracingContext;

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{log_message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{log_message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{log_message}"),
        }
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        // Transport errors while a broker restarts are expected and retried by librdkafka.
        tracing::warn!(target: "librdkafka", %error, "{reason}");
    }
}

impl ConsumerContext for TracingContext {}

impl ProducerContext for TracingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _result: &DeliveryResult<'_>, _opaque: Self::DeliveryOpaque) {}
}

/// A client configuration with the settings every userstream client shares, logged in as
/// `kafka`'s user (SASL SCRAM-SHA-512) when it has one.
pub fn base_config(kafka: &KafkaAccess) -> ClientConfig {
    let mut config = ClientConfig::new();
    if let Some(login) = &kafka.login {
        config
            .set("security.protocol", "sasl_plaintext")
            .set("sasl.mechanism", "SCRAM-SHA-512")
            .set("sasl.username", &login.username)
            .set("sasl.password", &login.password);
    }
    config
        .set("bootstrap.servers", &kafka.bootstrap)
        // Loopback stack: fail fast on a dead broker instead of librdkafka's long defaults.
        .set("socket.connection.setup.timeout.ms", "5000")
        .set_log_level(RDKafkaLogLevel::Warning);
    config
}
