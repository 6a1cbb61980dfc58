//! `userstream`: one binary for the whole pipeline. Thin: parses arguments, calls the crates.

mod commands;

/// The producer allocates each user's strings (two dozen small allocations per user, freed a
/// page later); mimalloc makes that markedly cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// A real-time user-data pipeline: randomuser-compatible API → Kafka (Avro, Schema Registry)
/// → Spark Structured Streaming (over Spark Connect) → Cassandra, orchestrated by Airflow.
///
/// Every setting is a flag and a USERSTREAM_* environment variable; defaults bind to 127.0.0.1
/// and keep all state (data, logs, pids, runtimes) under ./.userstream.
#[derive(Debug, Parser)]
#[command(name = "userstream", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install, start, inspect and stop the real stack (Kafka, Schema Registry, Cassandra,
    /// Spark, Airflow) as local processes.
    Stack(commands::stack::StackArgs),
    /// Create what the pipeline needs: Kafka topics, the value subject (BACKWARD), the
    /// Cassandra keyspace and tables (versioned migrations), then turn orchestration on: the
    /// scheduled Airflow DAGs are unpaused (`--dags paused|unchanged` for otherwise). Idempotent.
    Setup(commands::setup::SetupArgs),
    /// Serve the local randomuser-compatible API (deterministic users, fault injection).
    UsersApi(commands::users_api::UsersApiArgs),
    /// Fetch users from a randomuser-compatible API, validate them and produce them to
    /// Kafka as Avro (invalid ones to the dead-letter topic).
    Produce(Box<commands::produce::ProduceArgs>),
    /// Control the Structured Streaming job on the Spark cluster (Kafka → Cassandra).
    Stream(Box<commands::stream::StreamArgs>),
    /// Compare what Kafka holds with what Cassandra holds at one consistent cut of offsets:
    /// counts, missing and extra ids, fields of a sample; rows from later records and from
    /// records deleted by retention are reported, not counted as differences. Memory stays
    /// bounded whatever the topic's size. `--incremental`: only the records since the last
    /// verified cut, their rows read by key. Exits non-zero on any difference.
    Verify(Box<commands::stream::VerifyArgs>),
    /// Throughput and latency reports.
    Bench(Box<commands::bench::BenchArgs>),
    /// The whole pipeline from nothing on the embedded defaults: install, start the stack,
    /// set up, start the stream, produce users, wait for them in Cassandra, verify, summarize.
    Demo(commands::demo::DemoArgs),
    /// Faults against the live stack while users are produced and streamed: each engine
    /// killed and restarted, Cassandra and Kafka paused, a new schema version, a replay, the
    /// producer killed and resumed. Reports per scenario users produced, landed, lost,
    /// duplicated and the recovery time (table, or --json); exit 1 when one fails.
    Chaos(Box<commands::chaos::ChaosArgs>),
    /// Serve the console on 127.0.0.1:8088: one live page (and JSON API) over the whole
    /// pipeline, from the users API to Cassandra, with the stack's health.
    Console(Box<commands::console::ConsoleArgs>),
    /// Print the JSON Schema of a `--json` output other programs read (the DAGs do), or
    /// write every one into a directory (the repository's copies are in dags/contracts).
    JsonSchema(commands::json_schema::JsonSchemaArgs),
}

fn main() -> std::process::ExitCode {
    // Before anything is created: every file of this process and of the engines it starts is
    // private (the state directory holds people's records and the stack's passwords).
    userstream_stack::private::restrict_new_files();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: stderr is often a log file (`stack` logs, CI).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("USERSTREAM_LOG")
                // Cassandra attaches a warning to every page of a scan that meets tombstones
                // (null columns the Spark sink writes); one line per page drowns everything else.
                // While Cassandra is down the driver logs every reconnect attempt; the command
                // that needs Cassandra says so itself, once.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(
                        "warn,scylla::network::connection=error,scylla::cluster::metadata=off",
                    )
                }),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Stack(args) => commands::stack::run(args).await,
            Command::Setup(args) => commands::setup::run(args).await,
            Command::UsersApi(args) => commands::users_api::run(args).await,
            Command::Produce(args) => commands::produce::run(*args).await,
            Command::Bench(args) => commands::bench::run(*args).await,
            Command::Stream(args) => commands::stream::run(*args).await,
            Command::Verify(args) => commands::stream::verify(*args).await,
            Command::Chaos(args) => commands::chaos::run(*args).await,
            Command::Console(args) => commands::console::run(*args).await,
            Command::JsonSchema(args) => commands::json_schema::run(&args),
            Command::Demo(args) => tokio::task::spawn_blocking(move || commands::demo::run(&args))
                .await
                .map_err(anyhow::Error::from)
                .and_then(|result| result),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap checks its own declarations (a flag declared twice, a global that clashes) only in
    /// debug builds, at parse time: this runs those checks for every sub-command.
    #[test]
    fn every_command_line_declaration_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
