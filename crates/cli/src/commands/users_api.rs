//! `userstream users-api`: the local randomuser-compatible API.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use userstream_users_api::{FaultConfig, UsersApiConfig, DEFAULT_MAX_RESULTS};

use super::common::shutdown_on_signals;

/// Arguments of `userstream users-api`.
///
/// Serves `/api/` like https://randomuser.me/api/ (results, seed, page, nat, gender, inc,
/// exc, format), deterministic per seed and page. Faults configured here apply to every
/// request; requests may also ask for faults with `fault*` query parameters or the
/// `x-userstream-fault` header (unless --no-fault-params). Ctrl-C stops it.
#[derive(Debug, clap::Args)]
pub struct UsersApiArgs {
    /// Address to listen on (port 0 picks a free one). Default: 127.0.0.1:<users api port>,
    /// where `produce` looks by default.
    #[arg(long, env = "USERSTREAM_USERS_API_BIND")]
    bind: Option<SocketAddr>,
    #[command(flatten)]
    ports: userstream_endpoints::Ports,
    /// Largest `results` served; larger requests get one user, as on the real API.
    #[arg(long, env = "USERSTREAM_USERS_API_MAX_RESULTS", default_value_t = DEFAULT_MAX_RESULTS)]
    max_results: u32,
    /// Share of requests (0..=1) answered with an HTTP error (see --error-statuses) and
    /// `Retry-After`.
    #[arg(long, env = "USERSTREAM_USERS_API_ERROR_RATE", default_value_t = 0.0)]
    error_rate: f64,
    /// Statuses injected errors are drawn from, comma-separated.
    #[arg(
        long,
        env = "USERSTREAM_USERS_API_ERROR_STATUSES",
        value_delimiter = ',',
        default_value = "429,500,503"
    )]
    error_statuses: Vec<u16>,
    /// `Retry-After` of injected errors.
    #[arg(long, env = "USERSTREAM_USERS_API_RETRY_AFTER", default_value = "1s", value_parser = humantime::parse_duration)]
    retry_after: Duration,
    /// Share of requests answered 200 with the real API's `{"error": ...}` body.
    #[arg(
        long,
        env = "USERSTREAM_USERS_API_ERROR_BODY_RATE",
        default_value_t = 0.0
    )]
    error_body_rate: f64,
    /// Share of requests answered with an empty `results`.
    #[arg(long, env = "USERSTREAM_USERS_API_EMPTY_RATE", default_value_t = 0.0)]
    empty_rate: f64,
    /// Share of requests whose JSON body is cut off.
    #[arg(
        long,
        env = "USERSTREAM_USERS_API_MALFORMED_RATE",
        default_value_t = 0.0
    )]
    malformed_rate: f64,
    /// Delay added to every response (e.g. 50ms).
    #[arg(long, env = "USERSTREAM_USERS_API_LATENCY", default_value = "0s", value_parser = humantime::parse_duration)]
    latency: Duration,
    /// Extra random delay, uniform up to this, on top of --latency.
    #[arg(long, env = "USERSTREAM_USERS_API_LATENCY_JITTER", default_value = "0s", value_parser = humantime::parse_duration)]
    latency_jitter: Duration,
    /// Seed of the fault draws (reproducible faults); random when absent.
    #[arg(long, env = "USERSTREAM_USERS_API_FAULT_SEED")]
    fault_seed: Option<u64>,
    /// Ignore `fault*` query parameters and the fault header: only the faults above apply.
    #[arg(long, env = "USERSTREAM_USERS_API_NO_FAULT_PARAMS")]
    no_fault_params: bool,
}

/// Runs `userstream users-api` until Ctrl-C or SIGTERM.
pub async fn run(args: UsersApiArgs) -> anyhow::Result<ExitCode> {
    let config = UsersApiConfig {
        bind: args.bind.unwrap_or_else(|| {
            SocketAddr::from((userstream_endpoints::HOST, args.ports.users_api))
        }),
        max_results: args.max_results,
        allow_fault_params: !args.no_fault_params,
        faults: FaultConfig {
            error_rate: args.error_rate,
            error_statuses: args.error_statuses,
            retry_after: args.retry_after,
            error_body_rate: args.error_body_rate,
            empty_rate: args.empty_rate,
            malformed_rate: args.malformed_rate,
            latency: args.latency,
            latency_jitter: args.latency_jitter,
            seed: args.fault_seed,
        },
    };
    let server = userstream_users_api::bind(config).await?;
    eprintln!(
        "users-api listening on http://{}/api/ (Ctrl-C stops)",
        server.local_addr()
    );
    let shutdown = shutdown_on_signals("users-api");
    server
        .serve(async move { shutdown.cancelled().await })
        .await?;
    Ok(ExitCode::SUCCESS)
}
