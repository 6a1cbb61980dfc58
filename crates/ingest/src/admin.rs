//! Topic administration with rdkafka's AdminClient: create if missing, delete (for tests and
//! benches).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use serde::Serialize;
use userstream_kafka::{base_config, TracingContext};

use crate::error::IngestError;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i32,
}

/// What [`ensure_topics`] did for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicOutcome {
    /// Name.
    pub name: String,
    /// Whether this call created it (false: it existed; its settings were left alone).
    pub created: bool,
}

fn admin(bootstrap: &str) -> Result<AdminClient<TracingContext>, IngestError> {
    base_config(bootstrap)
        .create_with_context(TracingContext)
        .map_err(|source| IngestError::Kafka {
            action: "creating the admin client".to_owned(),
            bootstrap: bootstrap.to_owned(),
            source: Box::new(source),
        })
}

/// Creates each topic that does not exist yet. Idempotent.
pub async fn ensure_topics(
    bootstrap: &str,
    topics: &[TopicSpec],
    timeout: Duration,
) -> Result<Vec<TopicOutcome>, IngestError> {
    let admin = admin(bootstrap)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                &t.name,
                t.partitions,
                TopicReplication::Fixed(t.replication_factor),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let results = admin
        .create_topics(new.iter(), &options)
        .await
        .map_err(|source| IngestError::Kafka {
            action: "creating topics".to_owned(),
            bootstrap: bootstrap.to_owned(),
            source: Box::new(source),
        })?;
    let mut outcomes = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(name) => {
                tracing::info!(topic = %name, "topic created");
                outcomes.push(TopicOutcome {
                    name,
                    created: true,
                });
            }
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                outcomes.push(TopicOutcome {
                    name,
                    created: false,
                });
            }
            Err((topic, code)) => {
                return Err(IngestError::Topic {
                    topic,
                    reason: code.to_string(),
                })
            }
        }
    }
    Ok(outcomes)
}

/// Deletes topics; a topic that does not exist is not an error.
pub async fn delete_topics(
    bootstrap: &str,
    names: &[&str],
    timeout: Duration,
) -> Result<(), IngestError> {
    let admin = admin(bootstrap)?;
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let results = admin
        .delete_topics(names, &options)
        .await
        .map_err(|source| IngestError::Kafka {
            action: "deleting topics".to_owned(),
            bootstrap: bootstrap.to_owned(),
            source: Box::new(source),
        })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, code)) => {
                return Err(IngestError::Topic {
                    topic,
                    reason: format!("deleting: {code}"),
                })
            }
        }
    }
    Ok(())
}
