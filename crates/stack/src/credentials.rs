//! `stack credentials`: what a client of this stack needs (users, passwords, tokens, the
//! addresses they are for), as text or JSON. Rotation is with the secrets (`secrets::rotate`).

use std::fmt::Write as _;

use userstream_endpoints::credentials::Credentials;
use userstream_endpoints::Endpoints;

/// The credentials as text: one block per engine, each user with what it may do.
pub fn render(credentials: &Credentials, endpoints: &Endpoints, secrets_file: &str) -> String {
    let mut out = String::new();
    let c = credentials;
    let _ = writeln!(
        out,
        "secrets file: {secrets_file} (mode 0600; everything below is secret)\n"
    );
    let _ = writeln!(
        out,
        "kafka {} (SASL_PLAINTEXT, SCRAM-SHA-512)",
        endpoints.kafka_bootstrap
    );
    for (login, may) in [
        (&c.kafka.admin, "super user: topics, ACLs (setup)"),
        (&c.kafka.producer, "writes users, users.dlq (produce)"),
        (
            &c.kafka.reader,
            "reads users, users.dlq (the Spark job, verify, console)",
        ),
        (&c.kafka.registry, "the registry's own topics"),
    ] {
        let _ = writeln!(out, "  {:<18} {:<34} {may}", login.username, login.password);
    }
    let _ = writeln!(out, "\ncassandra {}", endpoints.cassandra);
    for (login, may) in [
        (&c.cassandra.admin, "superuser (setup)"),
        (
            &c.cassandra.app,
            "SELECT, MODIFY on the pipeline's keyspaces (job, verify, console)",
        ),
    ] {
        let _ = writeln!(out, "  {:<18} {:<34} {may}", login.username, login.password);
    }
    let _ = writeln!(
        out,
        "\nschema registry {} (HTTP basic auth)",
        endpoints.registry_url
    );
    for (login, may) in [
        (&c.registry.admin, "sr-admin: global settings"),
        (&c.registry.producer, "sr-developer: registers schemas"),
        (&c.registry.reader, "sr-readonly: reads schemas"),
    ] {
        let _ = writeln!(out, "  {:<18} {:<34} {may}", login.username, login.password);
    }
    let _ = writeln!(
        out,
        "\nspark connect {}/;token={}  (loopback callers only)",
        endpoints.spark_connect_url, c.spark_connect_token
    );
    let _ = writeln!(
        out,
        "console http://{}/?token={}",
        endpoints.console_listen, c.console_token
    );
    out
}

/// The credentials and the addresses they are for, as JSON.
pub fn to_json(credentials: &Credentials, endpoints: &Endpoints) -> serde_json::Value {
    serde_json::json!({
        "kafka": {
            "bootstrap": endpoints.kafka_bootstrap,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "users": credentials.kafka,
        },
        "cassandra": {
            "contact_point": endpoints.cassandra,
            "roles": credentials.cassandra,
        },
        "registry": {
            "url": endpoints.registry_url,
            "users": credentials.registry,
        },
        "spark_connect": {
            "url": endpoints.spark_connect_url,
            "token": credentials.spark_connect_token,
        },
        "console": {
            "url": format!("http://{}/", endpoints.console_listen),
            "token": credentials.console_token,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use userstream_endpoints::Ports;

    #[test]
    fn the_text_names_every_user_and_what_it_may_do() {
        let credentials = Credentials::withheld();
        let endpoints = Endpoints::local(&Ports::default());
        let text = render(&credentials, &endpoints, "/s/secrets.json");
        for expected in [
            "kafka 127.0.0.1:9092 (SASL_PLAINTEXT, SCRAM-SHA-512)",
            "producer",
            "writes users, users.dlq",
            "userstream_app",
            "sr-readonly",
            "sc://127.0.0.1:15002/;token=<withheld: spark connect token>",
            "console http://127.0.0.1:8088/?token=<withheld: console token>",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        let json = to_json(&credentials, &endpoints);
        assert_eq!(json["kafka"]["users"]["reader"]["username"], "reader");
        assert_eq!(
            json["cassandra"]["roles"]["app"]["username"],
            "userstream_app"
        );
    }
}
