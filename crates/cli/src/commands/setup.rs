//! `userstream setup`: everything the pipeline needs before data flows: Kafka topics, the
//! registry subject, the Cassandra keyspace and tables; then orchestration on: the
//! scheduled Airflow DAGs are unpaused (`--dags paused|unchanged` for otherwise). Idempotent.
//!
//! Each part is one step below; a part owned by another crate (Cassandra's keyspace and
//! table) is added as one more step.

use std::process::ExitCode;

use userstream_ingest::IngestConfig;

use userstream_endpoints::{names, EndpointArgs};

use super::common::{KafkaArgs, RegistryArgs};

/// Arguments of `userstream setup`.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    endpoints: EndpointArgs,
    /// Cassandra keyspace for the pipeline's tables.
    #[arg(long, env = "USERSTREAM_KEYSPACE", default_value = names::KEYSPACE)]
    keyspace: String,
    /// Keyspace replication: `simple:<rf>` or `<dc>:<rf>,<dc>:<rf>` (used only when the
    /// keyspace is created).
    #[arg(
        long,
        env = "USERSTREAM_CASSANDRA_REPLICATION",
        default_value = "simple:1"
    )]
    replication: userstream_store::Replication,
    /// What to do with the pipeline's scheduled Airflow DAGs (users_ingest, users_stream,
    /// users_quality): `running` unpauses them so Airflow runs them on their schedules,
    /// `paused` pauses them, `unchanged` leaves them as they are (new DAGs start paused).
    #[arg(long, env = "USERSTREAM_DAGS", value_enum, default_value_t = DagsWanted::Running)]
    dags: DagsWanted,
    /// How long to wait for Airflow to list the DAGs (its DAG processor parses the DAG folder
    /// after start-up).
    #[arg(long, env = "USERSTREAM_DAGS_WAIT", default_value = "180s", value_parser = humantime::parse_duration)]
    dags_wait: std::time::Duration,
    /// Print a JSON report on stdout instead of text.
    #[arg(long, env = "USERSTREAM_JSON")]
    json: bool,
}

/// The state `setup` leaves the scheduled DAGs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DagsWanted {
    /// Unpaused: Airflow runs them on their schedules.
    Running,
    /// Paused: no scheduled runs.
    Paused,
    /// As they are.
    Unchanged,
}

/// Runs `userstream setup`.
pub async fn run(args: SetupArgs) -> anyhow::Result<ExitCode> {
    // One setup at a time, in turn with whoever acts on the job: the users_setup DAG runs
    // setup too, and concurrent schema changes are what Cassandra handles worst.
    let state_dir = args.endpoints.state_dir();
    let _control = super::stream::default_job_control(&state_dir).await?;
    let endpoints = args.endpoints.endpoints();
    let mut config = IngestConfig::default();
    args.kafka.apply(
        &mut config,
        &endpoints,
        userstream_endpoints::KafkaRole::Admin,
    );
    args.registry.apply(
        &mut config,
        &endpoints,
        userstream_endpoints::RegistryRole::Admin,
    );
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
    let session = userstream_store::connect(
        &endpoints.cassandra,
        endpoints
            .cassandra_login(userstream_endpoints::CassandraRole::Admin)
            .as_ref(),
        std::time::Duration::from_secs(10),
        &endpoints.stack_run_dir(),
    )
    .await?;
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
    // The job, `verify` and the console read and write as the application role, which may
    // do nothing else (no DROP, no ALTER, no GRANT).
    if let Some(app) = endpoints.cassandra_login(userstream_endpoints::CassandraRole::App) {
        userstream_store::grant_application_role(&session, &args.keyspace, &app.username).await?;
        if !args.json {
            println!(
                "cassandra: role {} may read and write {} (SELECT, MODIFY), nothing else",
                app.username, args.keyspace
            );
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

    // Step: orchestration. Airflow creates DAGs paused; the pipeline is built to run on its
    // schedules, so by default setup unpauses the scheduled ones (users_setup is manual).
    if args.dags == DagsWanted::Unchanged {
        if !args.json {
            println!("airflow: DAGs left as they are (--dags unchanged)");
        }
    } else {
        let paused = args.dags == DagsWanted::Paused;
        let mut stack = userstream_stack::StackConfig::with_state_dir(state_dir.clone());
        stack.ports = endpoints.ports.clone();
        let mut airflow = userstream_stack::AirflowApi::new(
            endpoints.airflow_url.clone(),
            &stack.layout(),
            std::time::Duration::from_secs(20),
        );
        if !args.json {
            eprintln!(
                "airflow: waiting for the DAGs to be listed, then {} the scheduled ones",
                if paused { "pausing" } else { "unpausing" }
            );
        }
        let dags = airflow
            .set_scheduled_paused(
                "userstream",
                &userstream_stack::SCHEDULED_DAGS,
                paused,
                args.dags_wait,
            )
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "{e}\nTopics, subject and tables are set up; to skip this step run `userstream setup --dags unchanged`"
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
