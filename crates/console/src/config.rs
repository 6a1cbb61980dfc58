//! Where the console listens and what it watches.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;
use userstream_endpoints::names;
use userstream_stack::StackConfig;
use userstream_stream::StreamConfig;

/// Everything the console needs to know.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Where the page is served.
    pub listen: SocketAddr,
    /// The stack (state directory, ports): for `stack status` and the engines' addresses.
    pub stack: StackConfig,
    /// The streaming job (topic, keyspace, query name, endpoints).
    pub stream: StreamConfig,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// The users API the producer reads (probed with a one-user request).
    pub source_url: Url,
    /// How often the quick areas (Kafka, Spark) are gathered.
    pub fast_interval: Duration,
    /// How often the heavier ones (stack health, registry, Cassandra counts, Airflow) are.
    pub slow_interval: Duration,
    /// How long one gather may take before it counts as failed.
    pub gather_timeout: Duration,
    /// Dead letters and newest users listed.
    pub newest: usize,
    /// Time limit of an explicit exact count of `users` (`POST /api/cassandra/count`, which
    /// may ask for another with `?seconds=`): a full scan, so bounded, and never in a loop.
    pub count_limit: Duration,
    /// The token a caller must show before the console serves anything but `/healthz`
    /// (the stack's `console_token`); `None` serves everyone (no secrets file: not this
    /// stack's console).
    pub token: Option<String>,
}

impl ConsoleConfig {
    /// The console over the stack `stack`, with the pipeline's default names.
    pub fn new(stack: StackConfig) -> Self {
        let endpoints = stack.client_endpoints();
        let mut stream = StreamConfig::with_state_dir(&stack.state_dir);
        stream.set_endpoints(&endpoints);
        Self {
            listen: endpoints.console_listen,
            stack,
            stream,
            dlq_topic: names::DLQ_TOPIC.to_owned(),
            source_url: endpoints.users_api_url,
            fast_interval: Duration::from_secs(2),
            slow_interval: Duration::from_secs(5),
            gather_timeout: Duration::from_secs(10),
            newest: 8,
            count_limit: Duration::from_secs(60),
            token: endpoints
                .credentials
                .as_ref()
                .map(|c| c.console_token.clone()),
        }
    }

    /// The pipeline's value subject.
    pub fn subject(&self) -> String {
        self.stream
            .subject
            .clone()
            .unwrap_or_else(|| userstream_registry::topic_value_subject(&self.stream.topic))
    }
}
