//! The stack answers over each engine's real protocol, and a restarted service comes back.

use std::time::Duration;

use anyhow::{ensure, Context};
use userstream_tests::{stack_config, stack_started};

/// Skips (returns false) when the stack is not up and the test command did not start it.
async fn stack_is_up() -> anyhow::Result<bool> {
    let config = stack_config();
    let rows = match userstream_stack::status(&config).await {
        Ok(rows) => rows,
        Err(error) if !stack_started() => {
            eprintln!("skipped: stack not installed/up ({error})");
            return Ok(false);
        }
        Err(error) => return Err(error.into()),
    };
    let down: Vec<String> = rows
        .iter()
        .filter(|r| !r.healthy())
        .map(|r| format!("{}: {:?}", r.service, r.health))
        .collect();
    if !down.is_empty() && !stack_started() {
        eprintln!("skipped: stack not fully up: {down:?}");
        return Ok(false);
    }
    ensure!(down.is_empty(), "services not healthy: {down:?}");
    Ok(true)
}

#[tokio::test]
async fn every_engine_answers_its_real_client_and_a_restart_recovers() -> anyhow::Result<()> {
    if !stack_is_up().await? {
        return Ok(());
    }
    let config = stack_config();
    let at = config.client_endpoints();
    let credentials = at
        .credentials
        .clone()
        .context("the stack's secrets file (written by `stack up`)")?;

    // Kafka: a metadata request through rdkafka, as the admin.
    let cluster = userstream_kafka::fetch_metadata(
        &at.kafka(userstream_endpoints::KafkaRole::Admin),
        Duration::from_secs(10),
    )
    .await
    .context("Kafka metadata")?;
    ensure!(cluster.brokers == 1, "expected one broker, got {cluster:?}");

    // Schema Registry: the Confluent REST API, with a schema registered through our client.
    let registry = userstream_registry::RegistryClient::new(
        at.registry_url.clone(),
        Some(&credentials.registry.admin),
        Duration::from_secs(10),
        &at.stack_run_dir(),
    )?;
    let subject = userstream_tests::unique("stack-test-value");
    let schema = r#"{"type":"record","name":"Probe","fields":[{"name":"n","type":"long"}]}"#;
    let id = registry
        .register(&subject, schema)
        .await
        .context("register")?;

    // Cassandra: the scylla driver.
    let version = userstream_stack::engines::cassandra::cassandra_release_version(
        &at.cassandra,
        &credentials.cassandra,
        Duration::from_secs(10),
        &config.layout().run(),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    ensure!(version.starts_with("5.0"), "Cassandra {version}");

    // Spark: SELECT 1 through Spark Connect from Rust.
    userstream_stack::engines::spark::spark_connect_select_one(
        &at.spark_connect_url,
        Some(&credentials.spark_connect_token),
    )
    .await
    .map_err(anyhow::Error::msg)?;

    // Airflow: health, then a token with the generated admin password.
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{}/api/v2/monitor/health", at.airflow_url))
        .send()
        .await?
        .json()
        .await?;
    ensure!(health["scheduler"]["status"] == "healthy", "{health}");
    let secrets = userstream_stack::secrets::load_airflow(&config.layout())?;
    let token = http
        .post(format!("{}/auth/token", at.airflow_url))
        .json(&serde_json::json!({"username": "admin", "password": secrets.admin_password}))
        .send()
        .await?;
    ensure!(
        token.status().is_success(),
        "Airflow login: HTTP {}",
        token.status()
    );
    let wrong = http
        .post(format!("{}/auth/token", at.airflow_url))
        .json(&serde_json::json!({"username": "admin", "password": "admin"}))
        .send()
        .await?;
    ensure!(
        !wrong.status().is_success(),
        "the default password must not work"
    );

    // Restart the registry: it comes back healthy and still knows the schema, because its
    // storage is the Kafka journal, not memory.
    let stopped = userstream_stack::stop_service(&config, "registry")?;
    ensure!(stopped, "registry was not running");
    let rows = userstream_stack::status(&config).await?;
    let registry_row = rows
        .iter()
        .find(|r| r.service == "registry")
        .context("registry row")?;
    ensure!(!registry_row.healthy(), "registry still healthy after stop");
    userstream_stack::up(&config)
        .await
        .context("up after stopping the registry")?;
    let again = registry
        .schema_by_id(id)
        .await
        .context("schema after restart")?;
    ensure!(
        again.contains("Probe"),
        "schema lost across restart: {again}"
    );
    let latest = registry.latest(&subject).await?;
    ensure!(
        latest.id == id,
        "subject points at {} instead of {id}",
        latest.id
    );
    Ok(())
}

/// A secrets file that exists but cannot be parsed stops `stack status` with a message that
/// says what to do, and is never replaced (new secrets would orphan Airflow's encrypted data).
#[test]
fn a_corrupt_secrets_file_stops_status_and_is_left_untouched() -> anyhow::Result<()> {
    let Some(bin) = std::env::var_os("USERSTREAM_BIN") else {
        eprintln!("skipped: USERSTREAM_BIN not set (scripts/test.sh sets it)");
        return Ok(());
    };
    let state = tempfile::tempdir()?;
    let secrets = state.path().join("secrets.json");
    let corrupt = "{\"jwt_secret\": \"abc\", \"fernet_k";
    std::fs::write(&secrets, corrupt)?;
    let out = std::process::Command::new(bin)
        .args(["stack", "status"])
        .env("USERSTREAM_STATE_DIR", state.path())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "status succeeded on corrupt secrets");
    ensure!(
        stderr.contains("secrets.json") && stderr.contains("cannot be parsed"),
        "unclear message: {stderr}"
    );
    ensure!(
        std::fs::read_to_string(&secrets)? == corrupt,
        "the secrets file was changed"
    );
    Ok(())
}

/// `stack render` writes what `stack up` wrote and ran: the same files, the running command
/// line, and no secret anywhere.
#[tokio::test]
async fn render_writes_what_the_running_stack_uses_and_no_secret() -> anyhow::Result<()> {
    if !stack_is_up().await? {
        return Ok(());
    }
    let config = stack_config();
    let layout = config.layout();
    let out = tempfile::tempdir()?;
    // Rendered files carry a stand-in where the running ones carry a secret (Kafka's
    // passwords): the same file once each secret is replaced by its stand-in.
    let real = userstream_stack::secrets::load(&layout)?;
    let withheld = userstream_stack::secrets::Secrets::withheld();
    let stand_ins: Vec<(String, String)> = real
        .values()
        .into_iter()
        .zip(withheld.values())
        .map(|(secret, stand_in)| (secret.to_owned(), stand_in.to_owned()))
        .collect();
    for service in ["kafka", "cassandra"] {
        let dir = out.path().join(service);
        userstream_stack::render_service(&config, service, &dir)?;
        for file in std::fs::read_dir(layout.conf(service))? {
            let file = file?.path();
            let Some(name) = file.file_name() else {
                continue;
            };
            let mut running = std::fs::read_to_string(&file)?;
            for (secret, stand_in) in &stand_ins {
                running = running.replace(secret.as_str(), stand_in);
            }
            let rendered = std::fs::read_to_string(dir.join(name))
                .with_context(|| format!("{service}: {name:?} not rendered"))?;
            ensure!(running == rendered, "{service}: {name:?} differs");
        }
    }
    let argv = std::fs::read_to_string(out.path().join("kafka/argv"))?;
    ensure!(argv.lines().any(|l| l == "kafka.Kafka"), "{argv}");

    let airflow = out.path().join("airflow-scheduler");
    let rendered = userstream_stack::render_service(&config, "airflow-scheduler", &airflow)?;
    ensure!(
        rendered.withheld.len() == 3,
        "withheld {:?}",
        rendered.withheld
    );
    for service in ["airflow-scheduler", "kafka", "registry", "spark-connect"] {
        let dir = out.path().join(format!("secrets-{service}"));
        userstream_stack::render_service(&config, service, &dir)?;
        for file in std::fs::read_dir(&dir)? {
            let text = std::fs::read_to_string(file?.path())?;
            for (secret, _) in &stand_ins {
                ensure!(
                    !text.contains(secret.as_str()),
                    "{service}: a secret was rendered"
                );
            }
        }
    }
    Ok(())
}
