//! `userstream produce`: randomuser-compatible API → validated users → Avro → Kafka.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use url::Url;
use userstream_endpoints::{names, EndpointArgs, Endpoints};
use userstream_ingest::{IngestConfig, IngestStats};

use super::common::{shutdown_on_signals, KafkaArgs, RegistryArgs};

/// Arguments of `userstream produce`.
///
/// Runs until --count users, --duration, the source's last page (10000), or Ctrl-C/SIGTERM;
/// then lets in-flight sends finish and flushes. With the default --source (the stack's users
/// API port) and nothing listening there, a users-api is started in process for the run.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// The randomuser-compatible API (https://randomuser.me/api/ works too). Query
    /// parameters on it are kept (e.g. fault injection for the local users-api). Default:
    /// http://127.0.0.1:<users api port>/api/.
    #[arg(long, env = "USERSTREAM_SOURCE_URL")]
    source: Option<Url>,
    /// Stop after this many users (valid + rejected); the last page is trimmed to fit.
    /// With --duration too, whichever comes first.
    #[arg(long, env = "USERSTREAM_PRODUCE_COUNT")]
    count: Option<u64>,
    /// Stop after this long (e.g. 30s, 5m).
    #[arg(long, env = "USERSTREAM_PRODUCE_DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Client-side limit in users per second (token bucket).
    #[arg(long, env = "USERSTREAM_PRODUCE_RATE")]
    rate: Option<f64>,
    /// Seed: the same seed and pages give the same users, so a rerun replays (upserts).
    #[arg(long, env = "USERSTREAM_SEED", default_value = names::SEED)]
    seed: String,
    /// First page (1..=10000); use a summary's resume page to continue a run.
    #[arg(long, env = "USERSTREAM_START_PAGE", default_value_t = 1)]
    start_page: u32,
    /// Users per request (1..=5000).
    #[arg(long, env = "USERSTREAM_RESULTS_PER_PAGE", default_value_t = 5000)]
    results_per_page: u32,
    /// Nationalities, comma-separated (e.g. us,gb,ir); all when absent.
    #[arg(long, env = "USERSTREAM_NAT", value_delimiter = ',')]
    nat: Vec<String>,
    /// Only these fields (the API's `inc`), comma-separated.
    #[arg(long, env = "USERSTREAM_INC")]
    inc: Option<String>,
    /// Leave out these fields (the API's `exc`), comma-separated.
    #[arg(long, env = "USERSTREAM_EXC")]
    exc: Option<String>,
    /// Pages fetched and parsed concurrently (they are still produced in page order).
    #[arg(long, env = "USERSTREAM_FETCH_CONCURRENCY", default_value_t = 3)]
    fetch_concurrency: usize,
    /// Timeout of one source request.
    #[arg(long, env = "USERSTREAM_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// Attempts per page on connection errors and HTTP 403/408/429/5xx.
    #[arg(long, env = "USERSTREAM_FETCH_ATTEMPTS", default_value_t = 8)]
    fetch_attempts: u32,
    /// Attempts per page on a bad body (not JSON, an error body, too few results) before it
    /// goes to the dead-letter topic.
    #[arg(long, env = "USERSTREAM_BODY_ATTEMPTS", default_value_t = 3)]
    body_attempts: u32,
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    endpoints: EndpointArgs,
    /// How long to wait at the end for outstanding deliveries.
    #[arg(long, env = "USERSTREAM_FLUSH_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    flush_timeout: Duration,
    /// Progress line interval on stderr (0s: none).
    #[arg(long, env = "USERSTREAM_PROGRESS_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    progress_interval: Duration,
    /// Print the final summary as JSON on stdout.
    #[arg(long, env = "USERSTREAM_JSON")]
    json: bool,
}

impl ProduceArgs {
    fn config(&self, endpoints: &Endpoints) -> IngestConfig {
        let mut config = IngestConfig::default();
        let s = &mut config.source;
        s.url = self
            .source
            .clone()
            .unwrap_or_else(|| endpoints.users_api_url.clone());
        s.seed = self.seed.clone();
        s.start_page = self.start_page;
        s.results_per_page = self.results_per_page;
        s.nat = self.nat.clone();
        s.inc = self.inc.clone();
        s.exc = self.exc.clone();
        s.fetch_concurrency = self.fetch_concurrency;
        s.request_timeout = self.request_timeout;
        s.retry.max_attempts = self.fetch_attempts;
        s.retry.body_attempts = self.body_attempts;
        self.kafka.apply(
            &mut config,
            endpoints,
            userstream_endpoints::KafkaRole::Producer,
        );
        self.registry.apply(
            &mut config,
            endpoints,
            userstream_endpoints::RegistryRole::Producer,
        );
        config.count = self.count;
        config.duration = self.duration;
        config.rate = self.rate;
        config.flush_timeout = self.flush_timeout;
        config
    }
}

/// Runs `userstream produce`.
pub async fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let endpoints = args.endpoints.endpoints();
    let config = args.config(&endpoints);
    config.validate()?;
    let local = if endpoints.is_local_users_api(&config.source.url) {
        let local = userstream_users_api::start_local_source_if_absent(&config.source.url).await?;
        if let Some(server) = &local {
            eprintln!(
                "produce: nothing listens at {}; serving a users-api in process at {} for this run",
                config.source.url,
                server.addr()
            );
        }
        local
    } else {
        None
    };
    let stats = Arc::new(IngestStats::new());
    let shutdown = shutdown_on_signals("produce");
    let progress = (!args.progress_interval.is_zero()).then(|| {
        let stats = Arc::clone(&stats);
        let every = args.progress_interval;
        tokio::spawn(async move {
            let mut previous = None;
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = stats.snapshot();
                eprintln!("{}", now.progress_line(previous.as_ref()));
                previous = Some(now);
            }
        })
    });
    let result = userstream_ingest::produce(&config, stats, shutdown).await;
    if let Some(progress) = progress {
        progress.abort();
    }
    if let Some(server) = local {
        server.stop().await?;
    }
    let summary = result?;
    eprint!("{}", summary.render());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(if summary.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
