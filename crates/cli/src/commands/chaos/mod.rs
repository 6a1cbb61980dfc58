//! `userstream chaos`: a matrix of faults against the live stack while users are produced
//! (by `userstream produce`, as a user runs it) and streamed (by `stream run`'s supervisor,
//! in this process). Per scenario: users produced, Kafka records, rows landed, lost,
//! duplicated, rejected, and the time from the fault until every user had its row.

mod fault;
mod scenario;

use std::collections::HashSet;
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;
use userstream_ingest::IngestConfig;
use userstream_kafka::TopicCut;
use userstream_stack::StackConfig;
use userstream_stream::StreamConfig;
use uuid::Uuid;

use super::stream::{connect_restarter, JobArgs};
use scenario::{Counts, Fault, Outcome, Scenario};

/// Arguments of `userstream chaos`.
///
/// Needs the stack up (`userstream stack up`) and set up (`userstream setup`), and no other
/// supervisor of the job (stop `stream run`, pause the `users_stream` DAG): chaos supervises
/// the job itself, with the same policy, and stops its queries at the end (checkpoints kept).
/// It writes test users (seeds `chaos-<scenario>-<time>`) to the pipeline's topic and table
/// and registers a new schema version under its subject: run it on a test stack.
/// Exit 0 when every scenario passed, 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    #[command(flatten)]
    job: JobArgs,
    /// Scenarios to run, comma-separated, in matrix order whatever the order given; `all`
    /// runs every one. `--list` shows them.
    #[arg(long, env = "USERSTREAM_CHAOS_SCENARIOS", default_value = "all")]
    scenarios: String,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Users produced per scenario.
    #[arg(long, env = "USERSTREAM_CHAOS_USERS", default_value_t = 10_000)]
    users: u32,
    /// Producer rate (users/s): slow enough that each fault hits while records flow.
    #[arg(long, env = "USERSTREAM_CHAOS_RATE", default_value_t = 1_000.0)]
    rate: f64,
    /// Users per source page (the producer-kill scenario resumes by page).
    #[arg(long, default_value_t = 1_000)]
    per_page: u32,
    /// How long a killed engine stays down before `stack up` starts it again.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    down_for: Duration,
    /// How long a paused engine stays stopped (longer than the clients' timeouts).
    #[arg(long, default_value = "45s", value_parser = humantime::parse_duration)]
    pause_for: Duration,
    /// A scenario passes only if every produced user has its row within this long after
    /// the fault.
    #[arg(long, env = "USERSTREAM_CHAOS_RECOVERY_BOUND", default_value = "5m", value_parser = humantime::parse_duration)]
    recovery_bound: Duration,
    /// Print the report as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
}

/// What every scenario shares.
struct Chaos {
    args: ChaosArgs,
    config: StreamConfig,
    /// Kafka and registry as the producer: chaos's own writes (a new schema version's users).
    producer: (
        userstream_endpoints::KafkaAccess,
        Option<userstream_endpoints::Login>,
    ),
    stack: StackConfig,
    session: scylla::client::session::Session,
    /// Supervisor events, in order (each scenario reports those of its own time).
    events: Arc<Mutex<Vec<String>>>,
    /// Makes this run's seeds and schema field unique.
    stamp: String,
    started: Instant,
}

/// Runs `userstream chaos`.
pub async fn run(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        for s in scenario::SCENARIOS {
            println!("{:<24} {}", s.name, s.fault);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let scenarios = scenario::select(&args.scenarios).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        args.users >= args.per_page && args.per_page > 0 && args.rate > 0.0,
        "--users must be at least --per-page, and --per-page and --rate above 0"
    );
    let config = args.job.config();
    let mut stack = StackConfig::with_state_dir(args.job.endpoints.state_dir());
    stack.ports = args.job.endpoints.ports.clone();
    let unhealthy: Vec<String> = userstream_stack::status(&stack)
        .await?
        .into_iter()
        .filter(|s| !s.healthy())
        .map(|s| s.service.to_owned())
        .collect();
    if !unhealthy.is_empty() {
        bail!(
            "not healthy: {}; chaos needs the whole stack: run `userstream stack up` (and `userstream setup` once)",
            unhealthy.join(", ")
        );
    }
    let session = userstream_store::connect(
        &config.cassandra_contact_point,
        config.cassandra_login.as_ref(),
        config.request_timeout,
        &config.stack_run_dir,
    )
    .await
    .context("chaos counts rows in Cassandra")?;
    // Chaos writes a new schema version's users as the producer does: the producer's users.
    let endpoints = args.job.endpoints.endpoints();
    let producer = (
        endpoints.kafka(userstream_endpoints::KafkaRole::Producer),
        endpoints.registry_login(userstream_endpoints::RegistryRole::Producer),
    );
    let chaos = Chaos {
        config,
        producer,
        stack,
        session,
        events: Arc::new(Mutex::new(Vec::new())),
        stamp: chrono::Utc::now().format("%Y%m%d%H%M%S").to_string(),
        started: Instant::now(),
        args,
    };

    // Chaos supervises the job itself: with another supervisor alive it could not.
    if let Some(other) = userstream_stream::control::current_supervisor(&chaos.config) {
        anyhow::bail!(
            "{other} supervises the job; chaos supervises it itself: stop that process first \
             (and pause the users_stream DAG)"
        );
    }
    let shutdown = CancellationToken::new();
    let supervisor = chaos.supervise(shutdown.clone());
    let result = async {
        chaos.wait_until_active().await?;
        let mut outcomes = Vec::with_capacity(scenarios.len());
        for (i, scenario) in scenarios.iter().enumerate() {
            chaos.say(&format!(
                "[{}/{}] {}: {}",
                i + 1,
                scenarios.len(),
                scenario.name,
                scenario.fault
            ));
            let outcome = chaos.run_scenario(*scenario).await?;
            chaos.say(&format!(
                "{}: {}{}",
                scenario.name,
                if outcome.passed { "pass" } else { "FAIL" },
                match outcome.recovered_secs {
                    Some(s) => format!(", every user landed {s:.1}s after the fault"),
                    None => String::new(),
                }
            ));
            outcomes.push(outcome);
        }
        Ok::<_, anyhow::Error>(outcomes)
    }
    .await;
    shutdown.cancel();
    match supervisor.await {
        Ok(Ok(())) => chaos.say("the job's queries are stopped (checkpoints kept); `userstream stream run` resumes them"),
        Ok(Err(e)) => chaos.say(&format!(
            "the supervisor ended with an error: {}",
            userstream_endpoints::error_chain(&e)
        )),
        Err(e) => chaos.say(&format!("the supervisor task failed: {e}")),
    }
    let outcomes = result?;
    let table = scenario::render_table(&outcomes);
    if chaos.args.json {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        print!("{table}");
    }
    Ok(if outcomes.iter().all(|o| o.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A `userstream produce` child process, with the resume page of its last progress line.
struct Producer {
    child: tokio::process::Child,
    resume_page: Arc<Mutex<Option<u32>>>,
    what: String,
}

impl Producer {
    /// Waits for it to end; an error says how it ended.
    async fn finish(mut self, timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("{} ended with {status}", self.what)),
            Ok(Err(e)) => Err(format!("{}: {e}", self.what)),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(format!(
                    "{} still running after {timeout:?}; killed",
                    self.what
                ))
            }
        }
    }
}

impl Chaos {
    /// A progress line on stderr, with the time since the start.
    fn say(&self, line: &str) {
        eprintln!(
            "chaos [{:>6.1}s] {line}",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// `stream run`'s supervisor, in this process, with the stack's Connect restarter.
    fn supervise(
        &self,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<Result<(), userstream_stream::StreamError>> {
        let config = self.config.clone();
        let restart_connect = connect_restarter(&self.args.job);
        let events = Arc::clone(&self.events);
        let started = self.started;
        tokio::spawn(async move {
            userstream_stream::run_with(&config, shutdown, restart_connect, |event| {
                let line = event.to_string();
                eprintln!(
                    "chaos [{:>6.1}s]   stream: {}",
                    started.elapsed().as_secs_f64(),
                    userstream_stream::first_line(&line)
                );
                events
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            })
            .await
        })
    }

    async fn wait_until_active(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(status) = userstream_stream::status(&self.config).await {
                if status.all_active() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("the streaming job did not start within 5 minutes; see `userstream stream status`");
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    fn ingest_config(&self, seed: &str, start_page: u32, count: u64) -> IngestConfig {
        let mut config = IngestConfig::default();
        config.kafka.bootstrap = self.producer.0.clone();
        config.kafka.topic = self.config.topic.clone();
        config.registry_url = self.config.registry_url.clone();
        config.registry_login = self.producer.1.clone();
        config.stack_run_dir = self.config.stack_run_dir.clone();
        config.subject = Some(self.config.subject());
        config.source.seed = seed.to_owned();
        config.source.results_per_page = self.args.per_page;
        config.source.start_page = start_page;
        config.count = Some(count);
        config
    }

    /// The ids `userstream produce` writes for `seed` (the generator is deterministic).
    fn ids_of(&self, seed: &str, count: u64) -> Vec<Uuid> {
        userstream_ingest::generated_users(
            &self.ingest_config(seed, 1, count),
            userstream_users_api::write_page,
        )
        .into_iter()
        .map(|u| u.id)
        .collect()
    }

    /// Starts `userstream produce` for `count` users of `seed` from `start_page`.
    fn spawn_producer(&self, seed: &str, start_page: u32, count: u64) -> anyhow::Result<Producer> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut child = tokio::process::Command::new(exe)
            .args(["produce", "--seed", seed, "--topic", &self.config.topic])
            .args(["--count", &count.to_string()])
            .args(["--start-page", &start_page.to_string()])
            .args(["--results-per-page", &self.args.per_page.to_string()])
            .args(["--rate", &self.args.rate.to_string()])
            .args([
                "--progress-interval",
                "1s",
                "--subject",
                &self.config.subject(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting `userstream produce`")?;
        let resume_page = Arc::new(Mutex::new(None));
        if let Some(stderr) = child.stderr.take() {
            let resume = Arc::clone(&resume_page);
            let started = self.started;
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(page) = userstream_ingest::StatsSnapshot::resume_page_of(&line) {
                        *resume.lock().unwrap_or_else(PoisonError::into_inner) = Some(page);
                    }
                    // The summary and errors, not every progress line.
                    if !line.starts_with('[') {
                        let line = line.strip_prefix("produce: ").unwrap_or(&line);
                        eprintln!(
                            "chaos [{:>6.1}s]   produce: {line}",
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
        Ok(Producer {
            child,
            resume_page,
            what: format!(
                "`userstream produce --seed {seed} --start-page {start_page} --count {count}`"
            ),
        })
    }

    async fn cut(&self) -> anyhow::Result<TopicCut> {
        let (bootstrap, topic, timeout) = (
            self.config.bootstrap_servers.clone(),
            self.config.topic.clone(),
            Duration::from_secs(60),
        );
        Ok(tokio::task::spawn_blocking(move || {
            userstream_kafka::take_cut(&bootstrap, &topic, timeout)
        })
        .await??)
    }

    /// The keys of the records between two cuts (Kafka may be slow right after a fault:
    /// retried for a while).
    async fn keys_between(&self, from: &TopicCut, to: &TopicCut) -> anyhow::Result<Vec<String>> {
        let range = TopicCut {
            topic: to.topic.clone(),
            partitions: to
                .partitions
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    p.low = from
                        .partitions
                        .iter()
                        .find(|f| f.partition == p.partition)
                        .map_or(p.low, |f| f.high.max(p.low));
                    p
                })
                .collect(),
        };
        let bootstrap = self.config.bootstrap_servers.clone();
        let keys = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            userstream_kafka::read_cut(&bootstrap, &range, Duration::from_secs(120), |r| {
                keys.push(String::from_utf8_lossy(r.key.unwrap_or_default()).into_owned());
                Ok::<(), std::convert::Infallible>(())
            })
            .map(|()| keys)
            .map_err(|e| anyhow::anyhow!("reading the scenario's records: {e}"))
        })
        .await??;
        Ok(keys)
    }

    /// How many of `ids` have a row (`None` while Cassandra does not answer).
    async fn landed(&self, ids: &[Uuid]) -> Option<u64> {
        userstream_store::users_by_id(&self.session, &self.config.keyspace, ids)
            .await
            .ok()
            .map(|rows| rows.len() as u64)
    }

    /// A second producer, in this process: registers a new version of the subject's schema
    /// (one optional field more) and writes `count` users of `seed` under it.
    async fn write_new_schema_version(&self, seed: &str, count: u64) -> anyhow::Result<u32> {
        let registry = userstream_registry::RegistryClient::new(
            self.config.registry_url.clone(),
            self.producer.1.as_ref(),
            self.config.request_timeout,
            &self.config.stack_run_dir,
        )?;
        let field = format!("chaos_{}", self.stamp);
        let id = registry
            .register(
                &self.config.subject(),
                &userstream_model::evolved_schema_json(&field),
            )
            .await
            .context("registering a new schema version")?
            .0;
        let mut records = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        for user in userstream_ingest::generated_users(
            &self.ingest_config(seed, 1, count),
            userstream_users_api::write_page,
        ) {
            let framed = userstream_model::evolved_framed(id, &user)?;
            records.push((user.id.to_string().into_bytes(), framed));
        }
        userstream_kafka::send_many(
            &self.producer.0,
            &self.config.topic,
            &records,
            Duration::from_secs(120),
        )
        .await
        .context("the second producer")?;
        Ok(id)
    }

    /// Waits until every one of `ids` has its row, or `bound` after the fault: how many
    /// landed, and when all had (from the fault).
    async fn wait_landed(
        &self,
        ids: &[Uuid],
        fault_at: Instant,
        bound: Duration,
    ) -> (u64, Option<Duration>) {
        let expected = ids.len() as u64;
        let mut landed = 0;
        loop {
            if let Some(n) = self.landed(ids).await {
                landed = n;
                if n >= expected {
                    return (landed, Some(fault_at.elapsed()));
                }
            }
            if fault_at.elapsed() > bound {
                return (landed, None);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// The scenario's records between consecutive cuts, and how many of them repeat a key
    /// within the same producer run.
    async fn records_and_duplicates(
        &self,
        cuts: &[TopicCut],
        ids: &[Uuid],
    ) -> anyhow::Result<(u64, u64)> {
        let wanted: HashSet<String> = ids.iter().map(Uuid::to_string).collect();
        let (mut records, mut duplicated) = (0u64, 0u64);
        for pair in cuts.windows(2) {
            let keys = self.keys_between(&pair[0], &pair[1]).await?;
            let ours: Vec<&str> = keys
                .iter()
                .map(String::as_str)
                .filter(|k| wanted.contains(*k))
                .collect();
            records += ours.len() as u64;
            duplicated += scenario::duplicates(ours);
        }
        Ok((records, duplicated))
    }

    /// Rejected rows of the topic whose offsets lie between the cuts `first` and `last`.
    async fn rejected_between(&self, first: &TopicCut, last: &TopicCut) -> anyhow::Result<u64> {
        let within = |cut: &TopicCut, partition: i32| {
            cut.partitions
                .iter()
                .find(|p| p.partition == partition)
                .map(|p| p.high)
        };
        let rows = userstream_store::rejected_rows(
            &self.session,
            &self.config.keyspace,
            Some(&self.config.topic),
        )
        .await?;
        Ok(rows
            .iter()
            .filter(|r| {
                match (
                    within(first, r.kafka_partition),
                    within(last, r.kafka_partition),
                ) {
                    (Some(from), Some(to)) => r.kafka_offset >= from && r.kafka_offset < to,
                    _ => false,
                }
            })
            .count() as u64)
    }

    async fn run_scenario(&self, scenario: Scenario) -> anyhow::Result<Outcome> {
        let seed = format!("chaos-{}-{}", scenario.name, self.stamp);
        let users = u64::from(self.args.users);
        let events_from = self
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let mut problems = Vec::new();
        let mut ids: Vec<Uuid> = self.ids_of(&seed, users);
        let before = self.cut().await?;
        // Cuts between producer runs: duplicates are counted within each run's records.
        let mut cuts = vec![before];
        let producer = self.spawn_producer(&seed, 1, users)?;
        let producing = Duration::from_secs_f64(f64::from(self.args.users) / self.args.rate);
        tokio::time::sleep((producing * 3 / 10).max(Duration::from_secs(2))).await;

        let fault_at = Instant::now();
        let mut producers = vec![];
        let fault = match scenario.fault {
            Fault::Kill(service) => {
                let group = fault::service_group(&self.stack.layout(), service)?;
                fault::signal_group(group, "KILL")?;
                self.say(&format!(
                    "  SIGKILL {service} (process group {group}); down for {}",
                    humantime::format_duration(self.args.down_for)
                ));
                producers.push(producer);
                tokio::time::sleep(self.args.down_for).await;
                let up = Instant::now();
                if let Err(e) = userstream_stack::up(&self.stack).await {
                    problems.push(format!(
                        "`stack up` after the kill failed: {}",
                        userstream_endpoints::error_chain(&e)
                    ));
                }
                format!(
                    "SIGKILL {service}; `stack up` after {}s took {:.1}s",
                    self.args.down_for.as_secs(),
                    up.elapsed().as_secs_f64()
                )
            }
            Fault::KillExecutors => {
                let worker = fault::service_group(&self.stack.layout(), "spark-worker")?;
                let pids = fault::executor_pids(worker);
                if pids.is_empty() {
                    problems.push("no Spark executor process found to kill".to_owned());
                }
                for pid in &pids {
                    fault::signal_process(*pid, "KILL")?;
                }
                self.say(&format!("  SIGKILL executor pids {pids:?}"));
                producers.push(producer);
                format!(
                    "SIGKILL {} executor(s); the worker starts new ones",
                    pids.len()
                )
            }
            Fault::Pause(service) => {
                let group = fault::service_group(&self.stack.layout(), service)?;
                fault::signal_group(group, "STOP")?;
                self.say(&format!(
                    "  SIGSTOP {service} (process group {group}) for {}",
                    humantime::format_duration(self.args.pause_for)
                ));
                tokio::time::sleep(self.args.pause_for).await;
                fault::signal_group(group, "CONT")?;
                producers.push(producer);
                format!(
                    "SIGSTOP {service} for {}s, then SIGCONT",
                    self.args.pause_for.as_secs()
                )
            }
            Fault::NewSchemaVersion => {
                let second_seed = format!("{seed}-v2");
                let count = users / 2;
                let id = self.write_new_schema_version(&second_seed, count).await?;
                ids.extend(self.ids_of(&second_seed, count));
                producers.push(producer);
                format!("{count} users written under new schema id {id} mid-stream")
            }
            Fault::Replay => {
                if let Err(e) = producer.finish(Duration::from_secs(600)).await {
                    problems.push(e);
                }
                cuts.push(self.cut().await?);
                producers.push(self.spawn_producer(&seed, 1, users)?);
                format!("seed {seed} produced again ({users} users)")
            }
            Fault::KillProducer => {
                let mut producer = producer;
                producer
                    .child
                    .start_kill()
                    .context("killing the producer")?;
                let _ = producer.child.wait().await;
                // The reader task may still hold the last line: give it a moment.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let resume = producer
                    .resume_page
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .unwrap_or(1);
                let remaining =
                    scenario::remaining_after_resume(users, 1, resume, self.args.per_page);
                cuts.push(self.cut().await?);
                self.say(&format!(
                    "  SIGKILL the producer; resuming at --start-page {resume} ({remaining} users)"
                ));
                if remaining > 0 {
                    producers.push(self.spawn_producer(&seed, resume, remaining)?);
                }
                format!("producer SIGKILLed; resumed at page {resume}")
            }
        };
        for producer in producers {
            if let Err(e) = producer.finish(Duration::from_secs(600)).await {
                problems.push(e);
            }
        }

        // Every produced user must get its row within the bound, counted from the fault.
        let bound = self.args.recovery_bound;
        let expected = ids.len() as u64;
        let (landed, recovered) = self.wait_landed(&ids, fault_at, bound).await;

        cuts.push(self.cut().await?);
        let (records, duplicated) = self.records_and_duplicates(&cuts, &ids).await?;
        let rejected = self
            .rejected_between(&cuts[0], &cuts[cuts.len() - 1])
            .await?;
        let events =
            self.events.lock().unwrap_or_else(PoisonError::into_inner)[events_from..].to_vec();
        let counts = Counts {
            produced: expected,
            records,
            duplicated,
            landed,
            rejected,
        };
        Ok(Outcome::judge(
            scenario.name,
            fault,
            counts,
            recovered,
            bound,
            events,
            problems,
        ))
    }
}
