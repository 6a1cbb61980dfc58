//! `userstream setup`: everything the pipeline needs before data flows: Kafka topics, the
//! registry subject, the Cassandra keyspace and tables. Idempotent.
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

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}
