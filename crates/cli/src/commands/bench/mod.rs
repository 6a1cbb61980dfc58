//! `userstream bench`: throughput and latency reports.

use std::process::ExitCode;

use anyhow::Context;

mod e2e;

use userstream_ingest::{BenchConfig, BenchMode, IngestConfig};

use super::common::{KafkaArgs, RegistryArgs};

/// Arguments of `userstream bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Debug, clap::Subcommand)]
enum BenchWhat {
    /// Producer throughput (users/s, MB/s) and delivery latency (p50/p99), from the
    /// in-process generator straight to Kafka and through HTTP from an in-process
    /// users-api. Writes to a fresh topic, deleted afterwards, as the stack's Kafka admin.
    /// Build with --release.
    Produce(ProduceBenchArgs),
    /// End to end, producer to Cassandra: rows/s landed (sustained, after warm-up) and
    /// latency p50/p99 from `produced_at` to Cassandra's WRITETIME at a fixed offered rate
    /// (`--rate`), or the rate a backlog drains at (`--backlog`); and what it cost: CPU-ms
    /// per 1,000 rows landed of every service (its process group, read from /proc over the
    /// measured window) and of the producer, and the stack's RSS. Uses a fresh topic,
    /// keyspace and query, removed afterwards unless --keep; creates and drops them as the
    /// stack's admin users, while the job reads and writes as always (the Spark Connect
    /// server's reader and application role, granted on the bench keyspace).
    E2e(E2eBenchArgs),
}

/// Arguments of `userstream bench e2e`.
#[derive(Debug, clap::Args)]
struct E2eBenchArgs {
    /// Offered load, rows/s (latency mode).
    #[arg(
        long,
        env = "USERSTREAM_BENCH_RATE",
        default_value_t = 7000.0,
        conflicts_with = "backlog"
    )]
    rate: f64,
    /// How long to offer the load.
    #[arg(long, env = "USERSTREAM_BENCH_DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    duration: std::time::Duration,
    /// Throughput mode: produce this many rows first, then measure the drain.
    #[arg(long, env = "USERSTREAM_BENCH_BACKLOG")]
    backlog: Option<u64>,
    /// Left out of the figures.
    #[arg(long, env = "USERSTREAM_BENCH_WARMUP", default_value = "10s", value_parser = humantime::parse_duration)]
    warmup: std::time::Duration,
    /// Partitions of the bench topic.
    #[arg(long, env = "USERSTREAM_BENCH_PARTITIONS", default_value_t = 2)]
    partitions: i32,
    /// Keep the bench topic, keyspace and checkpoints.
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    job: super::stream::JobArgs,
    /// Print the report as JSON on stdout.
    #[arg(long, env = "USERSTREAM_JSON")]
    json: bool,
}

async fn e2e(args: E2eBenchArgs) -> anyhow::Result<ExitCode> {
    use e2e::{BenchMode as E2eMode, BenchOptions};
    if cfg!(debug_assertions) {
        eprintln!("bench: this is a debug build; figures mean little (cargo build --release)");
    }
    let mut config = args.job.config();
    // The bench creates and drops its own topic, subject and keyspace: it works as the
    // stack's admin users, which the pipeline's own commands never do. The job itself logs
    // in with the Spark Connect server's logins (reader, application role) whatever these say.
    let endpoints = args.job.endpoints.endpoints();
    let application_role = endpoints
        .cassandra_login(userstream_endpoints::CassandraRole::App)
        .map(|login| login.username);
    config.bootstrap_servers = endpoints.kafka(userstream_endpoints::KafkaRole::Admin);
    config.cassandra_login = endpoints.cassandra_login(userstream_endpoints::CassandraRole::Admin);
    config.registry_login = endpoints.registry_login(userstream_endpoints::RegistryRole::Admin);
    let options = BenchOptions {
        mode: match args.backlog {
            Some(rows) => E2eMode::Throughput { rows },
            None => E2eMode::Latency {
                rate: args.rate,
                duration: args.duration,
            },
        },
        warmup: args.warmup,
        partitions: args.partitions,
        keep: args.keep,
        application_role,
        ..BenchOptions::default()
    };
    let report = e2e::bench_e2e(&config, &options).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    // Every bench row has its own id: fewer rows than produced is a loss, not a slow run.
    if (report.landed as u64) < report.produced {
        eprintln!(
            "bench: only {} of the {} rows produced landed in {}; the job's log \
             (`userstream stream status`) says why",
            report.landed, report.produced, report.keyspace
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `userstream bench produce`.
#[derive(Debug, clap::Args)]
struct ProduceBenchArgs {
    /// Users per mode.
    #[arg(long, env = "USERSTREAM_BENCH_COUNT", default_value_t = 500_000)]
    count: u64,
    /// Modes to run, comma-separated: generator, http.
    #[arg(
        long,
        env = "USERSTREAM_BENCH_MODES",
        value_delimiter = ',',
        default_value = "generator,http"
    )]
    modes: Vec<Mode>,
    /// Users per page.
    #[arg(long, env = "USERSTREAM_RESULTS_PER_PAGE", default_value_t = 5000)]
    results_per_page: u32,
    /// Pages generated/fetched and parsed concurrently.
    #[arg(long, env = "USERSTREAM_FETCH_CONCURRENCY", default_value_t = 3)]
    fetch_concurrency: usize,
    /// Keep the bench topics instead of deleting them.
    #[arg(long, env = "USERSTREAM_BENCH_KEEP_TOPICS")]
    keep_topics: bool,
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    endpoints: userstream_endpoints::EndpointArgs,
    /// Print the report as JSON on stdout.
    #[arg(long, env = "USERSTREAM_JSON")]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Generator,
    Http,
}

/// Runs `userstream bench ...`.
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        BenchWhat::Produce(args) => produce(args).await,
        BenchWhat::E2e(args) => e2e(args).await,
    }
}

async fn produce(args: ProduceBenchArgs) -> anyhow::Result<ExitCode> {
    let endpoints = args.endpoints.endpoints();
    let mut ingest = IngestConfig::default();
    // A fresh topic pair, created and deleted by the bench: the admin users (not the
    // pipeline producer's, which may only write the pipeline's topics).
    args.kafka.apply(
        &mut ingest,
        &endpoints,
        userstream_endpoints::KafkaRole::Admin,
    );
    args.registry.apply(
        &mut ingest,
        &endpoints,
        userstream_endpoints::RegistryRole::Admin,
    );
    ingest.source.results_per_page = args.results_per_page;
    ingest.source.fetch_concurrency = args.fetch_concurrency;
    if cfg!(debug_assertions) {
        eprintln!("bench: this is a debug build; figures mean little (cargo build --release)");
    }
    let modes: Vec<BenchMode> = args
        .modes
        .iter()
        .map(|m| match m {
            Mode::Generator => BenchMode::Generator,
            Mode::Http => BenchMode::Http,
        })
        .collect();
    // The HTTP mode reads a users-api served in this process, on a port of its own.
    let server = if modes.contains(&BenchMode::Http) {
        Some(
            userstream_users_api::LocalUsersApi::start(userstream_users_api::UsersApiConfig {
                bind: std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)),
                ..userstream_users_api::UsersApiConfig::default()
            })
            .await
            .context("starting the bench's users-api")?,
        )
    } else {
        None
    };
    let config = BenchConfig {
        ingest,
        count: args.count,
        modes,
        keep_topics: args.keep_topics,
        write_page: userstream_users_api::write_page,
        http_source: server
            .as_ref()
            .map(userstream_users_api::LocalUsersApi::url),
    };
    let report = userstream_ingest::bench_produce(&config).await;
    if let Some(server) = server {
        server
            .stop()
            .await
            .context("stopping the bench's users-api")?;
    }
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    let failed = report
        .results
        .iter()
        .any(|r| r.delivery_errors > 0 || r.users < args.count);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
