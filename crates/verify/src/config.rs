//! [`VerifyConfig`]: what `verify` compares, where it is, and as whom.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;
use userstream_endpoints::{
    names, CassandraRole, Endpoints, KafkaAccess, KafkaRole, Login, RegistryRole,
};

use crate::VerifyError;

/// The topic and the keyspace compared, where they are and the logins read with: the
/// least-privileged ones (Kafka and registry readers, Cassandra's application role).
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// Kafka bootstrap servers and the reader's login.
    pub bootstrap_servers: KafkaAccess,
    /// Schema registry base URL (Confluent API): the records' writer schemas.
    pub registry_url: Url,
    /// Registry user (read-only).
    pub registry_login: Option<Login>,
    /// Kafka topic the job reads.
    pub topic: String,
    /// Cassandra contact point, `host:port`.
    pub cassandra_contact_point: String,
    /// Cassandra role of the reads (the application role).
    pub cassandra_login: Option<Login>,
    /// Cassandra keyspace the job writes (`users` and `rejected_rows` in it).
    pub keyspace: String,
    /// Timeout of each registry, Kafka offsets and Cassandra request.
    pub request_timeout: Duration,
    /// The local stack's pid files, which a login's listener is checked against
    /// ([`Endpoints::stack_run_dir`]).
    pub stack_run_dir: PathBuf,
}

impl VerifyConfig {
    /// The pipeline's default topic and keyspace at `endpoints`, read as the reader roles.
    pub fn new(endpoints: &Endpoints) -> Self {
        Self {
            bootstrap_servers: endpoints.kafka(KafkaRole::Reader),
            registry_url: endpoints.registry_url.clone(),
            registry_login: endpoints.registry_login(RegistryRole::Reader),
            topic: names::TOPIC.into(),
            cassandra_contact_point: endpoints.cassandra.clone(),
            cassandra_login: endpoints.cassandra_login(CassandraRole::App),
            keyspace: names::KEYSPACE.into(),
            request_timeout: Duration::from_secs(30),
            stack_run_dir: endpoints.stack_run_dir(),
        }
    }

    /// Every problem with this configuration, all at once.
    pub fn validate(&self) -> Result<(), VerifyError> {
        let mut errors = Vec::new();
        if !userstream_store::is_valid_identifier(&self.keyspace) {
            errors.push(format!(
                "keyspace `{}` is not a valid Cassandra name",
                self.keyspace
            ));
        }
        if self.topic.is_empty() {
            errors.push("topic is empty".into());
        } else if !is_kafka_topic_name(&self.topic) {
            // Kafka refuses such a topic anyway; checked here because the incremental run's
            // cut file is named after it and must stay in its directory.
            errors.push(format!(
                "topic `{}` is not a valid Kafka topic name (letters, digits, `.`, `_`, `-`)",
                self.topic
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(VerifyError::Config(errors))
        }
    }

    /// A registry client at this config's registry, logged in as its user.
    pub(crate) fn registry_client(
        &self,
    ) -> Result<userstream_registry::RegistryClient, VerifyError> {
        userstream_registry::RegistryClient::new(
            self.registry_url.clone(),
            self.registry_login.as_ref(),
            self.request_timeout,
            &self.stack_run_dir,
        )
        .map_err(VerifyError::Registry)
    }
}

/// Whether Kafka accepts `name` as a topic: at most 249 of `[A-Za-z0-9._-]`, not `.` or `..`.
fn is_kafka_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_every_error_comes_at_once() {
        let local = Endpoints::local(&userstream_endpoints::Ports::default());
        let config = VerifyConfig::new(&local);
        assert_eq!(config.validate().ok(), Some(()));
        assert_eq!(config.topic, "users");
        let bad = VerifyConfig {
            keyspace: "bad-name".into(),
            topic: String::new(),
            ..config
        };
        let Err(VerifyError::Config(errors)) = bad.validate() else {
            panic!("invalid config accepted");
        };
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn a_topic_that_would_name_a_file_elsewhere_is_refused() {
        let local = Endpoints::local(&userstream_endpoints::Ports::default());
        for topic in ["../../etc", "a/b", "..", "users topic"] {
            let config = VerifyConfig {
                topic: topic.into(),
                ..VerifyConfig::new(&local)
            };
            assert!(config.validate().is_err(), "{topic}");
        }
        for topic in ["users", "test-cut-0a1b2c3d4e5f", "users.v2_x"] {
            let config = VerifyConfig {
                topic: topic.into(),
                ..VerifyConfig::new(&local)
            };
            assert!(config.validate().is_ok(), "{topic}");
        }
    }
}
