//! Topic administration: create if missing, delete. Used by `userstream setup`, the benches
//! and the tests; every other crate goes through these instead of its own AdminClient.

use std::time::Duration;
use userstream_endpoints::KafkaAccess;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use serde::Serialize;

use crate::{base_config, KafkaError, TracingContext};

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

impl TopicSpec {
    /// A topic of `partitions` partitions, replication 1 (the local single-broker stack).
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        Self {
            name: name.into(),
            partitions,
            replication_factor: 1,
        }
    }
}

/// What [`ensure_topics`] did for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicOutcome {
    /// Name.
    pub name: String,
    /// Whether this call created it (false: it existed; its settings were left alone).
    pub created: bool,
}

fn admin(bootstrap: &KafkaAccess) -> Result<AdminClient<TracingContext>, KafkaError> {
    base_config(bootstrap)
        .create_with_context(TracingContext)
        .map_err(|source| KafkaError::Client {
            action: "creating the admin client".to_owned(),
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(Box::new(source)),
        })
}

fn options(timeout: Duration) -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout))
}

/// Creates each topic that does not exist yet. Idempotent.
pub async fn ensure_topics(
    bootstrap: &KafkaAccess,
    topics: &[TopicSpec],
    timeout: Duration,
) -> Result<Vec<TopicOutcome>, KafkaError> {
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
    let results = admin
        .create_topics(new.iter(), &options(timeout))
        .await
        .map_err(|source| KafkaError::Client {
            action: "creating topics".to_owned(),
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(Box::new(source)),
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
            // A user without Create (the producer) is refused even for a topic that exists:
            // what it needs is that the topic is there.
            Err((topic, code @ RDKafkaErrorCode::TopicAuthorizationFailed))
            | Err((topic, code @ RDKafkaErrorCode::ClusterAuthorizationFailed)) => {
                if crate::metadata::topic_exists(bootstrap, &topic, timeout).await? {
                    outcomes.push(TopicOutcome {
                        name: topic,
                        created: false,
                    });
                } else {
                    return Err(KafkaError::TopicRefused {
                        topic,
                        action: "creating (it does not exist, and this user may not create it: run `userstream setup`, which creates topics as the admin)",
                        code,
                    });
                }
            }
            Err((topic, code)) => {
                return Err(KafkaError::TopicRefused {
                    topic,
                    action: "creating",
                    code,
                })
            }
        }
    }
    Ok(outcomes)
}

/// Deletes topics; a topic that does not exist is not an error.
pub async fn delete_topics(
    bootstrap: &KafkaAccess,
    names: &[&str],
    timeout: Duration,
) -> Result<(), KafkaError> {
    let admin = admin(bootstrap)?;
    let results = admin
        .delete_topics(names, &options(timeout))
        .await
        .map_err(|source| KafkaError::Client {
            action: "deleting topics".to_owned(),
            bootstrap: bootstrap.to_string(),
            source: userstream_endpoints::Cause(Box::new(source)),
        })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::TopicRefused {
                    topic,
                    action: "deleting",
                    code,
                })
            }
        }
    }
    Ok(())
}
