//! The registry's JVM options and its authentication environment. Pure functions, unit-tested
//! below.

use userstream_endpoints::credentials::Credentials;

use crate::engines::kafka::render::scram_jaas;
use crate::StackConfig;

/// System properties for the Apicurio Registry: Confluent API on loopback, schemas stored in
/// Kafka (so they survive restarts), management (health) port bound to loopback too.
pub fn registry_jvm_options(config: &StackConfig) -> Vec<String> {
    let heap = config.registry_heap;
    vec![
        format!("-Xmx{heap}"),
        format!("-Xms{heap}"),
        "-Djava.util.logging.manager=org.jboss.logmanager.LogManager".into(),
        "-Dquarkus.http.host=127.0.0.1".into(),
        format!("-Dquarkus.http.port={}", config.ports.registry),
        "-Dquarkus.management.host=127.0.0.1".into(),
        format!(
            "-Dquarkus.management.port={}",
            config.ports.registry_management
        ),
        "-Dapicurio.storage.kind=kafkasql".into(),
        format!(
            "-Dapicurio.kafkasql.bootstrap.servers={}",
            config.endpoints().kafka_bootstrap
        ),
        // Never phone home from a loopback stack.
        "-Dquarkus.analytics.disabled=true".into(),
    ]
}

/// The registry's environment for authentication: HTTP basic auth with three embedded users
/// and role-based authorization on every API (the Confluent one included), and its KafkaSQL
/// storage's Kafka login. Environment, not `-D` options: process arguments are visible to
/// every local user. The management port (health) stays open: it shows no data.
pub fn registry_auth_env(credentials: &Credentials) -> Vec<(String, String)> {
    let users = &credentials.registry;
    let mut env: Vec<(String, String)> = vec![
        ("QUARKUS_HTTP_AUTH_BASIC".into(), "true".into()),
        ("QUARKUS_OIDC_TENANT_ENABLED".into(), "false".into()),
        (
            "QUARKUS_SECURITY_USERS_EMBEDDED_ENABLED".into(),
            "true".into(),
        ),
        (
            "QUARKUS_SECURITY_USERS_EMBEDDED_PLAIN_TEXT".into(),
            "true".into(),
        ),
        (
            "APICURIO_AUTH_ROLE_BASED_AUTHORIZATION".into(),
            "true".into(),
        ),
        (
            "APICURIO_AUTH_ANONYMOUS_READ_ACCESS_ENABLED".into(),
            "false".into(),
        ),
        (
            "APICURIO_AUTH_AUTHENTICATED_READ_ACCESS_ENABLED".into(),
            "false".into(),
        ),
    ];
    for (login, role) in [
        (&users.admin, "sr-admin"),
        (&users.producer, "sr-developer"),
        (&users.reader, "sr-readonly"),
    ] {
        // Quarkus maps the variable's name to the user: lower case, `_` to `.`; the stack's
        // user names are lower-case letters only.
        let name = login.username.to_uppercase();
        env.push((
            format!("QUARKUS_SECURITY_USERS_EMBEDDED_USERS_{name}"),
            login.password.clone(),
        ));
        env.push((
            format!("QUARKUS_SECURITY_USERS_EMBEDDED_ROLES_{name}"),
            role.into(),
        ));
    }
    // `apicurio.kafka.common.*` reaches every KafkaSQL client (producer, consumer, admin).
    // (`apicurio.kafkasql.security.sasl.enabled` would force OAuth instead.)
    env.extend([
        (
            "APICURIO_KAFKA_COMMON_SECURITY_PROTOCOL".into(),
            "SASL_PLAINTEXT".into(),
        ),
        (
            "APICURIO_KAFKA_COMMON_SASL_MECHANISM".into(),
            "SCRAM-SHA-512".into(),
        ),
        (
            "APICURIO_KAFKA_COMMON_SASL_JAAS_CONFIG".into(),
            scram_jaas(&credentials.kafka.registry),
        ),
    ]);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_authenticates_every_api_and_its_kafka_clients() {
        let env = registry_auth_env(&Credentials::withheld());
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("QUARKUS_HTTP_AUTH_BASIC"), Some("true"));
        assert_eq!(get("APICURIO_AUTH_ROLE_BASED_AUTHORIZATION"), Some("true"));
        assert_eq!(
            get("QUARKUS_SECURITY_USERS_EMBEDDED_ROLES_READER"),
            Some("sr-readonly")
        );
        assert_eq!(
            get("QUARKUS_SECURITY_USERS_EMBEDDED_ROLES_PRODUCER"),
            Some("sr-developer")
        );
        assert!(get("APICURIO_KAFKA_COMMON_SASL_JAAS_CONFIG")
            .unwrap()
            .contains("username=\"registry\""));
    }

    #[test]
    fn registry_binds_both_ports_to_loopback_and_stores_in_kafka() {
        let mut config = StackConfig::with_state_dir("/srv/us");
        config.ports = userstream_endpoints::Ports::default();
        let opts = registry_jvm_options(&config);
        assert!(opts.contains(&"-Dquarkus.http.host=127.0.0.1".to_owned()));
        assert!(opts.contains(&"-Dquarkus.management.host=127.0.0.1".to_owned()));
        assert!(opts.contains(&"-Dapicurio.storage.kind=kafkasql".to_owned()));
        assert!(opts.contains(&"-Dapicurio.kafkasql.bootstrap.servers=127.0.0.1:9092".to_owned()));
    }
}
