//! `userstream setup`: everything the pipeline needs before data flows. Idempotent.
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

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}
