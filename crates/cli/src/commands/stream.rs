//! `userstream stream start|status|stop|run`, `userstream verify`, and the flags they share.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use userstream_endpoints::{names, EndpointArgs};
use userstream_stream::{StreamConfig, StreamError};
use userstream_verify::{IncrementalOptions, VerifyConfig, VerifyOptions};

use super::common::shutdown_on_signals;

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{s}` is not key=value"))
}

/// Where the streaming job reads and writes, and how it runs. Shared by `stream`, `verify`
/// and `bench e2e`.
#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub endpoints: EndpointArgs,
    /// Kafka topic to read.
    #[arg(long, env = "USERSTREAM_TOPIC", default_value = names::TOPIC)]
    pub topic: String,
    /// Cassandra keyspace to write.
    #[arg(long, env = "USERSTREAM_KEYSPACE", default_value = names::KEYSPACE)]
    pub keyspace: String,
    /// Name of the streaming query (the rejected-records query is `<name>-rejected`).
    #[arg(long, env = "USERSTREAM_QUERY_NAME", default_value = names::QUERY_NAME)]
    pub query_name: String,
    /// Offsets to start from when no checkpoint exists: earliest, latest or per-partition JSON.
    #[arg(long, env = "USERSTREAM_STARTING_OFFSETS", default_value = "earliest")]
    pub starting_offsets: String,
    /// Records read per micro-batch at most (maxOffsetsPerTrigger).
    #[arg(
        long,
        env = "USERSTREAM_MAX_OFFSETS_PER_TRIGGER",
        default_value_t = 50_000
    )]
    pub max_offsets_per_trigger: u64,
    /// Fail the query when offsets it needs were deleted from Kafka (failOnDataLoss).
    #[arg(long, env = "USERSTREAM_FAIL_ON_DATA_LOSS", default_value_t = true, action = clap::ArgAction::Set)]
    pub fail_on_data_loss: bool,
    /// Processing-time trigger of the users query.
    #[arg(long, env = "USERSTREAM_TRIGGER", default_value = "1s", value_parser = humantime::parse_duration)]
    pub trigger: Duration,
    /// Checkpoint directory root. Default: <state-dir>/data/checkpoints.
    #[arg(long, env = "USERSTREAM_CHECKPOINT_ROOT")]
    pub checkpoint_root: Option<PathBuf>,
    /// How often `stream run` touches the Connect session and checks the queries.
    #[arg(long, env = "USERSTREAM_KEEPALIVE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub keepalive: Duration,
    /// Consecutive failed restarts after which `stream run` gives up.
    #[arg(long, env = "USERSTREAM_MAX_RESTARTS", default_value_t = 10)]
    pub max_restarts: u32,
    /// A query that finishes no batch for this long while records wait in Kafka is stalled:
    /// `stream run` restarts it, then the Spark Connect server if that did not help.
    #[arg(long, env = "USERSTREAM_STALL_AFTER", default_value = "3m", value_parser = humantime::parse_duration)]
    pub stall_after: Duration,
    /// Concurrent writes per Spark task to Cassandra (spark.cassandra.output.concurrent.writes).
    #[arg(long, env = "USERSTREAM_CASSANDRA_CONCURRENT_WRITES")]
    pub concurrent_writes: Option<u32>,
    /// Bytes of values per unlogged batch the connector sends, by its own estimate
    /// (spark.cassandra.output.batch.size.bytes); Cassandra counts about twice as much.
    #[arg(long, env = "USERSTREAM_CASSANDRA_BATCH_BYTES")]
    pub batch_bytes: Option<u32>,
    /// Write consistency level (spark.cassandra.output.consistency.level).
    #[arg(long, env = "USERSTREAM_CASSANDRA_CONSISTENCY")]
    pub consistency_level: Option<String>,
    /// Skip null columns when writing (faster; a later record cannot clear a field).
    #[arg(long, env = "USERSTREAM_CASSANDRA_IGNORE_NULLS")]
    pub ignore_nulls: bool,
    /// How long a command that acts on the job (start, stop, ensure, a supervisor's remedy)
    /// waits while another one does (one controller at a time; `stream status` names it).
    #[arg(long, env = "USERSTREAM_LOCK_WAIT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub lock_wait: Duration,
    /// Extra Kafka source option, key=value (repeatable); may not repeat a typed flag.
    #[arg(long = "kafka-option", env = "USERSTREAM_KAFKA_OPTIONS", value_delimiter = ',', value_parser = parse_key_value)]
    pub kafka_options: Vec<(String, String)>,
    /// Extra Cassandra sink option, key=value (repeatable); may not repeat a typed flag.
    #[arg(long = "cassandra-option", env = "USERSTREAM_CASSANDRA_OPTIONS", value_delimiter = ',', value_parser = parse_key_value)]
    pub cassandra_options: Vec<(String, String)>,
}

impl JobArgs {
    /// The job configuration these flags describe.
    pub fn config(&self) -> StreamConfig {
        let mut config = StreamConfig::with_state_dir(self.endpoints.state_dir());
        config.set_endpoints(&self.endpoints.endpoints());
        config.topic = self.topic.clone();
        config.keyspace = self.keyspace.clone();
        config.query_name = self.query_name.clone();
        config.starting_offsets = self.starting_offsets.clone();
        config.max_offsets_per_trigger = self.max_offsets_per_trigger;
        config.fail_on_data_loss = self.fail_on_data_loss;
        config.trigger = self.trigger;
        if let Some(root) = &self.checkpoint_root {
            config.checkpoint_root = std::path::absolute(root).unwrap_or_else(|_| root.clone());
        }
        config.keepalive_interval = self.keepalive;
        config.max_restarts = self.max_restarts;
        config.stall_after = self.stall_after;
        config.control_wait = self.lock_wait;
        if let Some(bytes) = self.batch_bytes {
            config.cassandra_output.batch_size_bytes = Some(bytes);
        }
        if let Some(writes) = self.concurrent_writes {
            config.cassandra_output.concurrent_writes = writes;
        }
        if let Some(level) = &self.consistency_level {
            config.cassandra_output.consistency_level = level.clone();
        }
        config.cassandra_output.ignore_nulls = self.ignore_nulls;
        config.kafka_options = self
            .kafka_options
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>();
        config.cassandra_options = self
            .cassandra_options
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>();
        config
    }
}

/// Arguments of `userstream stream`.
#[derive(Debug, clap::Args)]
pub struct StreamArgs {
    #[command(flatten)]
    job: JobArgs,
    #[command(subcommand)]
    action: StreamAction,
}

#[derive(Debug, clap::Subcommand)]
enum StreamAction {
    /// Start the streaming queries on the Spark cluster if they are not running (idempotent).
    /// They resume from their checkpoints.
    Start {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One pass of `run`'s policy, for schedulers: start queries that are not running,
    /// restart them for new schema versions, restart a stalled one (no batch for
    /// --stall-after while records wait; the stall is judged between passes). Exit 0 when
    /// every query is active afterwards (or nothing was produced yet: no schema to decode),
    /// 1 otherwise.
    Ensure {
        /// Print JSON (`actions`, then `status` as `stream status --json` prints it).
        #[arg(long)]
        json: bool,
    },
    /// Show whether the queries are active, their ids and last progress (rows/s, batch
    /// duration, offsets). Exit 0 when all are active, 1 when one failed, 3 when not running.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop the queries cleanly (their checkpoints are kept). Refused while a `stream run`
    /// supervisor lives: it would start them again; stop it instead (it stops them as it exits).
    Stop,
    /// Start and supervise: keep the Spark Connect session alive, restart the queries from
    /// their checkpoints when they die, exit non-zero with the query's exception when they
    /// cannot be kept up. Ctrl-C stops the queries and exits.
    Run,
}

/// Runs `userstream stream ...`.
pub async fn run(args: StreamArgs) -> anyhow::Result<ExitCode> {
    let config = args.job.config();
    match args.action {
        StreamAction::Start { json } => {
            let info = userstream_stream::start(&config).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!("{info}");
            }
            Ok(ExitCode::SUCCESS)
        }
        StreamAction::Status { json } => {
            let status = userstream_stream::status(&config).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{status}");
            }
            let failed = status.queries.iter().any(|q| q.exception.is_some());
            let code = if status.all_active() {
                0
            } else if failed {
                1
            } else {
                3
            };
            Ok(ExitCode::from(code))
        }
        StreamAction::Stop => {
            let stopped = match userstream_stream::stop(&config).await {
                Err(StreamError::Supervised { supervisor }) => {
                    eprintln!(
                        "stream stop: {supervisor} supervises this job and would start the \
                         queries again; stop that process instead (Ctrl-C, or kill -INT <pid>): \
                         it stops the queries as it exits"
                    );
                    return Ok(ExitCode::FAILURE);
                }
                other => other?,
            };
            if stopped.is_empty() {
                println!("no query was running");
            } else {
                println!("stopped: {}", stopped.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        StreamAction::Ensure { json } => {
            let restart_connect = connect_restarter(&args.job);
            let report = userstream_stream::ensure(&config, restart_connect.as_ref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                if report.actions.is_empty() {
                    println!("nothing to do: every query is active and delivering");
                }
                for action in &report.actions {
                    println!("{action}");
                }
                print!("{}", report.status);
            }
            Ok(if report.status.all_active() || report.waiting_for_schema {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        StreamAction::Run => {
            let shutdown = shutdown_on_signals("stream run");
            let restart_connect = connect_restarter(&args.job);
            if restart_connect.is_none() {
                eprintln!(
                    "stream: Spark Connect at {} is not this stack's: a stall that restarting \
                     the queries does not end is reported, not fixed",
                    config.connect_url
                );
            }
            let supervised =
                userstream_stream::run_with(&config, shutdown, restart_connect, |event| {
                    eprintln!("stream: {event}")
                })
                .await;
            match supervised {
                Err(StreamError::Supervised { supervisor }) => {
                    eprintln!("stream: {supervisor} is supervising this job; nothing to do");
                    Ok(ExitCode::SUCCESS)
                }
                other => {
                    other.context("the streaming job could not be kept up")?;
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

/// Restarts this stack's Spark Connect server (as `stack restart spark-connect` does), or
/// `None` when the job's server is elsewhere (`--connect-url`).
pub(crate) fn connect_restarter(job: &JobArgs) -> Option<userstream_stream::RestartConnect> {
    if job.endpoints.spark_connect_url.is_some() {
        return None;
    }
    let mut stack = userstream_stack::StackConfig::with_state_dir(job.endpoints.state_dir());
    stack.ports = job.endpoints.ports.clone();
    Some(Box::new(move || {
        let stack = stack.clone();
        Box::pin(async move {
            let to_stop = stack.clone();
            tokio::task::spawn_blocking(move || {
                userstream_stack::stop_service(&to_stop, "spark-connect")
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| userstream_endpoints::error_chain(&e))?;
            userstream_stack::up(&stack)
                .await
                .map(|_| ())
                .map_err(|e| userstream_endpoints::error_chain(&e))
        })
    }))
}

/// The stack's own job as `userstream stream` would see it with no flags: every setting
/// from the environment (`USERSTREAM_QUERY_NAME`, `USERSTREAM_CHECKPOINT_ROOT`, ...) or its
/// default, in `state_dir`.
fn default_job_config(state_dir: &std::path::Path) -> anyhow::Result<StreamConfig> {
    #[derive(clap::Parser)]
    struct FromEnvironment {
        #[command(flatten)]
        job: JobArgs,
    }
    let mut parsed = <FromEnvironment as clap::Parser>::try_parse_from(["userstream"])
        .context("reading the job's settings from the environment")?;
    parsed.job.endpoints.state_dir = Some(state_dir.to_path_buf());
    Ok(parsed.job.config())
}

/// The control lock of the stack's own job, for an act on the Connect server that hosts it
/// (or on what the job reads and writes: `setup`).
pub(crate) async fn default_job_control(
    state_dir: &std::path::Path,
) -> anyhow::Result<userstream_stream::control::ControlGuard> {
    let config = default_job_config(state_dir)?;
    let guard = userstream_stream::control::take_control(&config, |holder| {
        eprintln!("{holder} is acting on the streaming job; waiting for it to finish");
    })
    .await?;
    Ok(guard)
}

/// Restarts this stack's Spark Connect server under the job's control lock, then starts the
/// job's queries again if they were running (from their checkpoints): what a changed server
/// configuration (a rotated password) needs.
pub(crate) async fn restart_connect_and_resume(
    stack: &userstream_stack::StackConfig,
) -> anyhow::Result<()> {
    let config = default_job_config(&stack.state_dir)?;
    let _control = userstream_stream::control::take_control(&config, |holder| {
        eprintln!("{holder} is acting on the streaming job; waiting for it to finish");
    })
    .await?;
    let was_running = userstream_stream::status(&config)
        .await
        .is_ok_and(|status| status.queries.iter().any(|q| q.active));
    let to_stop = stack.clone();
    tokio::task::spawn_blocking(move || userstream_stack::stop_service(&to_stop, "spark-connect"))
        .await
        .context("stop task")??;
    userstream_stack::up(stack).await?;
    if was_running {
        let schemas = userstream_stream::fetch_writer_schemas(&config).await?;
        let info = userstream_stream::start_locked(&config, &schemas).await?;
        eprintln!("the job's queries run again: {}", info.summary());
    }
    Ok(())
}

/// Arguments of `userstream verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    job: JobArgs,
    /// Users compared field by field (a random sample of those in both).
    #[arg(long, env = "USERSTREAM_VERIFY_SAMPLE", default_value_t = 200)]
    sample: usize,
    /// Keep re-reading Cassandra for up to this long while it has not caught up with the cut.
    #[arg(long, env = "USERSTREAM_VERIFY_SETTLE", default_value = "0s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Longest time reading the topic up to the cut may take.
    #[arg(long, env = "USERSTREAM_VERIFY_KAFKA_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    kafka_timeout: Duration,
    /// Where sorted runs of (id, offset) references are spilled when they do not fit in
    /// memory (about 30 bytes per record; removed at the end). Default: the temp directory.
    #[arg(long, env = "USERSTREAM_VERIFY_SPILL_DIR")]
    spill_dir: Option<std::path::PathBuf>,
    /// Dead-letter topic whose size the report includes.
    #[arg(long, env = "USERSTREAM_DLQ_TOPIC", default_value = names::DLQ_TOPIC)]
    dlq_topic: String,
    /// Compare only the records produced since the last verified cut (kept in
    /// <state-dir>/data/verify/<keyspace>.<topic>.cut.json), their users' rows read by key,
    /// plus --recheck older records: a run costs what came since, not the table's size. Extra
    /// rows are only found without it. With no usable cut stored, it compares everything and
    /// stores the cut; the cut advances only when the run finds no difference.
    // No environment variable: plain `verify` stays the full comparison wherever it runs.
    #[arg(long)]
    incremental: bool,
    /// With --incremental: older records (before the last verified cut, still in Kafka)
    /// drawn at random and checked again: their user's row must come from them or a newer
    /// record.
    #[arg(long, env = "USERSTREAM_VERIFY_RECHECK", default_value_t = 200)]
    recheck: usize,
    /// Print the report as JSON on stdout.
    #[arg(long, env = "USERSTREAM_JSON")]
    json: bool,
}

/// Runs `userstream verify`: exit 0 when Kafka and Cassandra agree, 1 on any difference.
/// It compares one consistent cut: each partition's offsets are taken first, and rows
/// written from later records are neither extra nor missing. With `--incremental`, only
/// what came since the last verified cut.
pub async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let job = args.job.config();
    // The job's flags are shared: an invalid one is refused here as by `stream`.
    job.validate()?;
    let config = verify_config(&job);
    let defaults = VerifyOptions::default();
    let options = VerifyOptions {
        sample: args.sample,
        settle: args.settle,
        kafka_timeout: args.kafka_timeout,
        dlq_topic: Some(args.dlq_topic),
        spill_dir: args.spill_dir.unwrap_or(defaults.spill_dir.clone()),
        ..defaults
    };
    let report = if args.incremental {
        let incremental = IncrementalOptions {
            cut_file: userstream_verify::cut_file(
                &args.job.endpoints.state_dir(),
                &config.keyspace,
                &config.topic,
            ),
            recheck: args.recheck,
        };
        userstream_verify::verify_incremental(&config, &options, &incremental).await?
    } else {
        userstream_verify::verify(&config, &options).await?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `verify` over the job's topic and keyspace, at its endpoints and with its logins.
fn verify_config(job: &StreamConfig) -> VerifyConfig {
    VerifyConfig {
        bootstrap_servers: job.bootstrap_servers.clone(),
        registry_url: job.registry_url.clone(),
        registry_login: job.registry_login.clone(),
        topic: job.topic.clone(),
        cassandra_contact_point: job.cassandra_contact_point.clone(),
        cassandra_login: job.cassandra_login.clone(),
        keyspace: job.keyspace.clone(),
        request_timeout: job.request_timeout,
        stack_run_dir: job.stack_run_dir.clone(),
    }
}
