//! `userstream setup`, Kafka and registry part: topics, subject, compatibility. Idempotent.

use std::time::Duration;

use serde::Serialize;
use userstream_kafka::{ensure_topics, TopicOutcome, TopicSpec};
use userstream_registry::{CompatibilityLevel, RegistryClient, Serializer};

use crate::config::IngestConfig;
use crate::encode::FrameEncoder;
use crate::error::IngestError;

/// What set-up found or did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupReport {
    /// The users and dead-letter topics.
    pub topics: Vec<TopicOutcome>,
    /// The value subject.
    pub subject: String,
    /// The schema id of the embedded `User` schema under it.
    pub schema_id: u32,
    /// The subject's compatibility level now.
    pub compatibility: String,
}

impl SetupReport {
    /// A few lines for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for t in &self.topics {
            out.push_str(&format!(
                "topic {:<24} {}\n",
                t.name,
                if t.created { "created" } else { "exists" }
            ));
        }
        out.push_str(&format!(
            "subject {} schema id {} compatibility {}\n",
            self.subject, self.schema_id, self.compatibility
        ));
        out
    }
}

/// Creates the users and dead-letter topics if missing, registers the `User` schema under
/// the value subject and sets its compatibility to BACKWARD. Safe to run again.
pub async fn setup_kafka_and_registry(config: &IngestConfig) -> Result<SetupReport, IngestError> {
    setup(config).await.map(|(report, _)| report)
}

/// Set-up, plus the encoder for the registered schema.
pub(crate) async fn setup(
    config: &IngestConfig,
) -> Result<(SetupReport, FrameEncoder), IngestError> {
    config.validate()?;
    let k = &config.kafka;
    let specs: Vec<TopicSpec> = [&k.topic, &k.dlq_topic]
        .into_iter()
        .map(|name| TopicSpec {
            name: name.clone(),
            partitions: k.partitions,
            replication_factor: k.replication_factor,
        })
        .collect();
    let topics = ensure_topics(&k.bootstrap, &specs, Duration::from_secs(30)).await?;
    let client = RegistryClient::new(
        config.registry_url.clone(),
        config.registry_login.as_ref(),
        config.registry_timeout,
        &config.stack_run_dir,
    )
    .map_err(|source| IngestError::Registry {
        action: "creating the client".to_owned(),
        source,
    })?;
    let subject = config.subject();
    let serializer = with_retries(|| Serializer::register(&client, &subject))
        .await
        .map_err(|source| IngestError::Registry {
            action: format!("registering the User schema under {subject}"),
            source,
        })?;
    let level = with_retries(|| client.set_compatibility(&subject, CompatibilityLevel::Backward))
        .await
        .map_err(|source| IngestError::Registry {
            action: format!("setting {subject} to BACKWARD"),
            source,
        })?;
    let encoder = FrameEncoder::from_serializer(&serializer);
    Ok((
        SetupReport {
            topics,
            subject,
            schema_id: encoder.schema_id().0,
            compatibility: level.as_str().to_owned(),
        },
        encoder,
    ))
}

/// Three tries with a short pause when the registry is unreachable or overloaded.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, userstream_registry::RegistryError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, userstream_registry::RegistryError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_retryable() && attempt < 3 => {
                tracing::warn!(error = %userstream_endpoints::error_chain(&e), attempt, "schema registry call failed; retrying");
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
