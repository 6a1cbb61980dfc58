//! `userstream setup`: everything the pipeline needs before data flows: Kafka topics, the
//! registry subject, the Cassandra keyspace and tables; then orchestration on: the
//! scheduled Airflow DAGs are unpaused (`--keep-dags-paused` leaves them). Idempotent.
//!
//! Each part is one step below; a part owned by another crate (Cassandra's keyspace and
//! table) is added as one more step.

use std::process::ExitCode;

use userstream_ingest::IngestConfig;

use super::common::{KafkaArgs, RegistryArgs};

/// Arguments of `userstream setup`.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Cassandra contact point, host:port.
    #[arg(long, env = "USERSTREAM_CASSANDRA", default_value = userstream_stream::DEFAULT_CASSANDRA)]
    cassandra: String,
    /// Cassandra keyspace for the pipeline's tables.
    #[arg(long, env = "USERSTREAM_KEYSPACE", default_value = "userstream")]
    keyspace: String,
    /// Keyspace replication: `simple:<rf>` or `<dc>:<rf>,<dc>:<rf>` (used only when the
    /// keyspace is created).
    #[arg(
        long,
        env = "USERSTREAM_CASSANDRA_REPLICATION",
        default_value = "simple:1"
    )]
    replication: userstream_store::Replication,
    /// Leave the pipeline's scheduled Airflow DAGs as they are (new DAGs start paused) instead
    /// of unpausing them. Pause them later in the Airflow UI or with
    /// `airflow dags pause <dag_id>`.
    #[arg(long, env = "USERSTREAM_KEEP_DAGS_PAUSED")]
    keep_dags_paused: bool,
    /// Airflow's API port on 127.0.0.1 (the stack's `--airflow-port`).
    #[arg(long, env = "USERSTREAM_AIRFLOW_PORT", default_value_t = 8080)]
    airflow_port: u16,
    /// The stack's state directory (Airflow's admin password is in its secrets file there).
    #[arg(long, env = "USERSTREAM_STATE_DIR", default_value = ".userstream")]
    state_dir: std::path::PathBuf,
    /// How long to wait for Airflow to list the DAGs (its DAG processor parses the DAG folder
    /// after start-up).
    #[arg(long, env = "USERSTREAM_DAGS_WAIT", default_value = "180s", value_parser = humantime::parse_duration)]
    dags_wait: std::time::Duration,
    /// Print a JSON report on stdout instead of text.
    #[arg(long, env = "USERSTREAM_JSON")]
    json: bool,
}

/// Runs `userstream setup`.
pub async fn run(args: SetupArgs) -> anyhow::Result<ExitCode> {
    let mut config = IngestConfig::default();
    args.kafka.apply(&mut config);
    args.registry.apply(&mut config);
    let mut report = serde_json::Map::new();

    // Step: Kafka topics and the value subject.
    let kafka = userstream_ingest::setup_kafka_and_registry(&config).await?;
    if !args.json {
        print!("{}", kafka.render());
    }
    report.insert(
        "kafka_and_registry".to_owned(),
        serde_json::to_value(&kafka)?,
    );

    // Step: Cassandra keyspace and tables, through versioned migrations.
    let session =
        userstream_store::connect(&args.cassandra, std::time::Duration::from_secs(10)).await?;
    let applied = userstream_store::migrate(&session, &args.keyspace, &args.replication).await?;
    if !args.json {
        if applied.is_empty() {
            println!("cassandra: keyspace {} is up to date", args.keyspace);
        } else {
            for migration in &applied {
                println!(
                    "cassandra: applied migration {} ({}) to {}",
                    migration.version, migration.name, args.keyspace
                );
            }
        }
    }
    report.insert(
        "cassandra_migrations_applied".to_owned(),
        serde_json::to_value(
            applied
                .iter()
                .map(|m| format!("{} {}", m.version, m.name))
                .collect::<Vec<_>>(),
        )?,
    );

    // Step: orchestration on. Airflow creates DAGs paused; the pipeline is built to run on
    // its schedule, so setup unpauses the scheduled ones (the manual users_setup stays).
    if args.keep_dags_paused {
        if !args.json {
            println!("airflow: DAGs left as they are (--keep-dags-paused)");
        }
    } else {
        let mut stack = userstream_stack::StackConfig::with_state_dir(args.state_dir.clone());
        stack.airflow_port = args.airflow_port;
        let mut airflow = userstream_stack::AirflowApi::new(
            stack.airflow_url(),
            stack.layout().airflow_secrets(),
            std::time::Duration::from_secs(20),
        );
        if !args.json {
            eprintln!(
                "airflow: waiting for the DAGs to be listed, then unpausing the scheduled ones"
            );
        }
        let dags = airflow
            .unpause("userstream", &userstream_stack::SCHEDULED_DAGS, args.dags_wait)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "{e}\nTopics, subject and tables are set up; to skip this step run `userstream setup --keep-dags-paused`"
                )
            })?;
        if !args.json {
            for dag in &dags {
                println!(
                    "airflow: {} {} (schedule {}, next run after {})",
                    dag.dag_id,
                    if dag.is_paused { "PAUSED" } else { "unpaused" },
                    dag.timetable_summary.as_deref().unwrap_or("none"),
                    dag.next_dagrun_run_after.as_deref().unwrap_or("-")
                );
            }
        }
        report.insert("airflow_dags".to_owned(), serde_json::to_value(&dags)?);
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}
