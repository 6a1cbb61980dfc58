//! `run`: start the job and keep it running.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use userstream_kafka::PartitionOffsets;

use crate::control::{self, Controller};
use crate::job::{self, SchemaIdFate, StreamStatus};
use crate::watchdog::{Observation, Remedy, Verdict, WatchState, Watchdog};
use crate::{StreamConfig, StreamError};

/// Restarts the Spark Connect server (the CLI passes one when the server is this stack's).
pub type RestartConnect =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What the supervisor did, for the caller to log or show. `Display` is one concise line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// Queries (re)started; `restart` is 0 for the first start.
    Started {
        /// Restart count since the last healthy check.
        restart: u32,
        /// What started, one line ([`crate::JobInfo::summary`]).
        info: String,
    },
    /// A query is not running; `exception` says why when Spark knows.
    Down {
        /// The query.
        name: String,
        /// Its exception.
        exception: Option<String>,
    },
    /// A call to Spark Connect failed; the supervisor retries after `retry_in`.
    Unreachable {
        /// The error.
        error: String,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// The registry has a new schema version: the queries restart to decode it.
    SchemaChanged {
        /// Schema ids now known.
        schema_ids: Vec<u32>,
    },
    /// A record carries a schema id the queries did not know, so its micro-batch failed
    /// before writing anything (see [`crate::plan::schema_id_guard_sql`]); the registry says
    /// what the id is, and the queries restart knowing it.
    SchemaIdLearned {
        /// The schema id.
        id: u32,
        /// A version of the subject (decoded from now on) or foreign (rejected).
        fate: SchemaIdFate,
    },
    /// Nothing has been produced yet: the subject has no schema, so there is nothing to
    /// decode. The supervisor checks again every keep-alive interval (not a failure).
    WaitingForSchema {
        /// The registry subject it waits for.
        subject: String,
    },
    /// A query is active but has finished no batch for `since` while `lag` records wait.
    Stalled {
        /// The query.
        name: String,
        /// Records waiting in Kafka.
        lag: u64,
        /// Time without a finished batch.
        since: Duration,
        /// What the supervisor does about it.
        remedy: Remedy,
    },
    /// The Spark Connect server was restarted (the queries start next).
    ConnectRestarted,
    /// A remedy could not be applied; the next check tries again or escalates.
    RemedyFailed {
        /// The remedy.
        remedy: Remedy,
        /// Why.
        error: String,
    },
    /// The supervisor found the queries already running (started by another controller) and
    /// keeps them up from now on.
    Adopted {
        /// What runs, one line ([`crate::JobInfo::summary`]).
        info: String,
    },
    /// Another controller acted on the job while this one waited for the control lock: what
    /// was observed before is stale, so it looks again instead of acting.
    OtherActed {
        /// Who acted.
        controller: String,
    },
    /// Shutdown requested; queries stopped.
    Stopped,
}

/// The first line of a (possibly multi-line, plan-sized) Spark message, at most 300 chars.
pub fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim();
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

impl fmt::Display for RunEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Started { restart: 0, info } => write!(f, "started: {info}"),
            Self::Started { restart, info } => write!(f, "restarted (attempt {restart}): {info}"),
            Self::Down { name, exception: Some(e) } => write!(
                f,
                "query {name} is down: {} (full text: `userstream stream status --json`)",
                first_line(e)
            ),
            Self::Down { name, exception: None } => {
                write!(f, "query {name} is not running (Spark gave no exception)")
            }
            Self::Unreachable { error, retry_in } => write!(
                f,
                "cannot start the job: {}; retrying in {}",
                first_line(error),
                humantime::format_duration(*retry_in)
            ),
            Self::SchemaChanged { schema_ids } => write!(
                f,
                "the registry has new schema versions (ids {schema_ids:?}): restarting the queries to decode them"
            ),
            Self::SchemaIdLearned { id, fate: SchemaIdFate::Version(version) } => write!(
                f,
                "a record carries schema id {id}, version {version} of the subject, registered after the queries started: restarting them to decode it (nothing was written as rejected)"
            ),
            Self::SchemaIdLearned { id, fate: SchemaIdFate::Foreign(why) } => write!(
                f,
                "a record carries schema id {id}, which is not a version of the subject ({why}): restarting the queries; its records go to rejected_rows as unknown_schema_id"
            ),
            Self::WaitingForSchema { subject } => write!(
                f,
                "no schema under `{subject}` yet (nothing produced): waiting for the first producer"
            ),
            Self::Stalled { name, lag, since, remedy } => write!(
                f,
                "query {name} stalled: {lag} records wait in Kafka and no batch finished for {}; {remedy}",
                humantime::format_duration(Duration::from_secs(since.as_secs()))
            ),
            Self::ConnectRestarted => f.write_str("Spark Connect server restarted; starting the queries"),
            // All of it: a failed restart's reason is often on its second line (`stack up`
            // lists the services that failed under its first).
            Self::RemedyFailed { remedy, error } => write!(
                f,
                "could not {remedy}: {}",
                error
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Self::Adopted { info } => write!(f, "supervising queries already running: {info}"),
            Self::OtherActed { controller } => write!(
                f,
                "{controller} acted on the job while this one waited; looking again before acting"
            ),
            Self::Stopped => f.write_str("queries stopped (checkpoints kept)"),
        }
    }
}

/// Starts the job (resuming from the checkpoints) and supervises it until `shutdown`:
///
/// - every [`StreamConfig::keepalive_interval`] it lists the session's queries, which also
///   keeps the Spark Connect session from expiring (Spark 3.5 drops a session idle for 1 h
///   and stops its queries);
/// - a query that is no longer active (failed, stopped by someone, or lost with a restarted
///   Connect server) is started again from its checkpoint, with exponential backoff;
/// - a query that is active but stalled (records wait, no batch for
///   [`StreamConfig::stall_after`]; see [`crate::watchdog`]) is restarted, then the Connect
///   server is (through `restart_connect`, when given), alternately until a batch finishes;
/// - a new schema version under the subject restarts the queries so they decode it;
/// - with no schema under the subject yet (nothing produced), it waits for one;
/// - after [`StreamConfig::max_restarts`] consecutive failures it returns
///   [`StreamError::QueryFailed`] with the query's exception.
///
/// On `shutdown` it stops the queries cleanly (the checkpoints stay) and returns `Ok`.
/// `on_event` sees every transition.
pub async fn run(
    config: &StreamConfig,
    shutdown: CancellationToken,
    on_event: impl FnMut(RunEvent),
) -> Result<(), StreamError> {
    run_with(config, shutdown, None, on_event).await
}

/// [`run`], with a way to restart the Spark Connect server when restarting the queries does
/// not end a stall.
pub async fn run_with(
    config: &StreamConfig,
    shutdown: CancellationToken,
    restart_connect: Option<RestartConnect>,
    mut on_event: impl FnMut(RunEvent),
) -> Result<(), StreamError> {
    config.validate()?;
    // One supervisor per job: a second `stream run` (or chaos beside one) does not start.
    let _supervisor = control::become_supervisor(config).await?;
    // Every event also goes to the journal that `stream status` and the console read.
    let journal = userstream_spark::Journal::of(&config.spark_job());
    let mut on_event = move |event: RunEvent| {
        journal.record(&event.to_string());
        on_event(event);
    };
    let mut run = Supervision::new(config, restart_connect.as_ref());
    loop {
        if run.need_start {
            run.start(&mut on_event).await?;
        }
        if run.failures > run.config.max_restarts {
            return Err(StreamError::QueryFailed {
                name: run.config.query_name.clone(),
                exception: format!(
                    "gave up after {} attempts; last: {}",
                    run.failures, run.last_failure
                ),
            });
        }
        let wait = run.next_wait(&mut on_event);
        tokio::select! {
            () = shutdown.cancelled() => {
                let _control = control::take_control(&run.config, job::announce_wait).await;
                match job::stop_queries(&run.config).await {
                    Ok(_) => on_event(RunEvent::Stopped),
                    Err(e) => tracing::warn!(error = %userstream_endpoints::error_chain(&e), "stopping the queries on shutdown"),
                }
                return Ok(());
            }
            () = tokio::time::sleep(wait) => {}
        }
        if !run.need_start {
            run.check(&mut on_event).await;
        }
    }
}

/// What the supervisor knows between two checks of the job.
struct Supervision<'a> {
    /// Owned: the stall remedy bumps the connector session generation.
    config: StreamConfig,
    restart_connect: Option<&'a RestartConnect>,
    watchdog: Watchdog,
    watched: BTreeMap<String, WatchState>,
    /// Failed starts or checks in a row.
    failures: u32,
    backoff: Duration,
    last_failure: String,
    /// The writer schema ids the running plan decodes.
    schema_ids: Vec<u32>,
    need_start: bool,
    waiting_for_schema: bool,
    /// Schema ids learned from failed batches; one failing again counts as a failure.
    learned_ids: Vec<u32>,
}

impl<'a> Supervision<'a> {
    fn new(config: &StreamConfig, restart_connect: Option<&'a RestartConnect>) -> Self {
        Self {
            config: config.clone(),
            restart_connect,
            watchdog: Watchdog {
                stall_after: config.stall_after,
            },
            watched: BTreeMap::new(),
            failures: 0,
            backoff: config.restart_backoff_initial,
            last_failure: String::new(),
            schema_ids: Vec::new(),
            need_start: true,
            waiting_for_schema: false,
            learned_ids: Vec::new(),
        }
    }

    /// Starts (or adopts) the queries. `Err` only for a failure no retry can help; the others
    /// are counted, and the Connect server restarted when it is down or holds a query.
    async fn start(&mut self, on_event: &mut impl FnMut(RunEvent)) -> Result<(), StreamError> {
        // Held through the start and any remedy it needs; released before the wait.
        let control = control::take_control(&self.config, job::announce_wait).await;
        let attempt = async {
            control.as_ref().map_err(busy_again)?;
            let schemas = job::fetch_writer_schemas(&self.config).await?;
            let info = job::start_with(&self.config, &schemas).await?;
            Ok::<_, StreamError>((schemas.iter().map(|s| s.id).collect::<Vec<_>>(), info))
        };
        match attempt.await {
            Ok((ids, info)) => {
                self.waiting_for_schema = false;
                self.schema_ids = ids;
                self.need_start = false;
                restart_stall_clocks(&mut self.watched);
                on_event(started_or_adopted(self.failures, &info));
            }
            // `stream run` may well be started before the first producer (the DAGs
            // and a fresh `demo` do): wait for the schema instead of exiting.
            Err(StreamError::NoSchema { subject }) => {
                if !self.waiting_for_schema {
                    self.waiting_for_schema = true;
                    on_event(RunEvent::WaitingForSchema { subject });
                }
            }
            // Only a new Connect server releases a query held after its end.
            Err(e @ StreamError::HeldAfterEnd { .. }) => {
                self.last_failure = userstream_endpoints::error_chain(&e);
                on_event(RunEvent::RemedyFailed {
                    remedy: Remedy::RestartQueries,
                    error: self.last_failure.clone(),
                });
                apply_remedy(
                    &self.config,
                    Remedy::RestartConnect,
                    self.restart_connect,
                    on_event,
                )
                .await;
                self.failures += 1;
            }
            Err(e) => {
                self.last_failure = userstream_endpoints::error_chain(&e);
                if !e.is_retryable() && !matches!(e, StreamError::Query(_)) {
                    return Err(e);
                }
                self.failures += 1;
                // The server has not answered three starts in a row: it is down (a
                // Connect restart that failed, a crash nobody restarted). Waiting alone
                // would never bring it back; this process may start it again.
                if matches!(e, StreamError::Connect { .. })
                    && self.failures >= CONNECT_DOWN_AFTER
                    && self.restart_connect.is_some()
                {
                    apply_remedy(
                        &self.config,
                        Remedy::RestartConnect,
                        self.restart_connect,
                        on_event,
                    )
                    .await;
                }
            }
        }
        Ok(())
    }

    /// How long to wait before the next check or start: the keepalive while the job runs,
    /// the growing backoff (announced) while it cannot start.
    fn next_wait(&mut self, on_event: &mut impl FnMut(RunEvent)) -> Duration {
        if self.failures == 0 || !self.need_start {
            return self.config.keepalive_interval;
        }
        on_event(RunEvent::Unreachable {
            error: self.last_failure.clone(),
            retry_in: self.backoff,
        });
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(self.config.restart_backoff_max);
        wait
    }

    /// Checks the running queries once: a stall gets its remedy, a new writer schema a
    /// restart, a down query (or an unreachable server) a counted failure and a restart.
    async fn check(&mut self, on_event: &mut impl FnMut(RunEvent)) {
        let checked = job::status(&self.config).await.map(|status| {
            let down: Vec<(String, Option<String>)> = status
                .queries
                .iter()
                .filter(|q| !q.active)
                .map(|q| (q.name.clone(), q.exception.clone()))
                .collect();
            (status, down)
        });
        match checked {
            Ok((status, down)) if down.is_empty() => {
                self.failures = 0;
                self.backoff = self.config.restart_backoff_initial;
                self.check_running(&status, on_event).await;
            }
            Ok((_, down)) => self.check_down(down, on_event).await,
            Err(e) => {
                self.last_failure = userstream_endpoints::error_chain(&e);
                self.failures += 1;
                self.need_start = true;
            }
        }
    }

    /// Every query runs: is one stalled, or is there a writer schema the plan lacks?
    async fn check_running(&mut self, status: &StreamStatus, on_event: &mut impl FnMut(RunEvent)) {
        if let Some((name, lag, since, remedy)) =
            find_stall(&self.config, &self.watchdog, &mut self.watched, status).await
        {
            let control = match control::take_control(&self.config, job::announce_wait).await {
                Ok(control) => control,
                Err(e) => {
                    self.last_failure = userstream_endpoints::error_chain(&e);
                    return;
                }
            };
            if let Some(other) = control.waited_for() {
                // It may have fixed this very stall (a DAG run, a person).
                on_event(RunEvent::OtherActed {
                    controller: other.to_string(),
                });
                restart_stall_clocks(&mut self.watched);
                return;
            }
            on_event(RunEvent::Stalled {
                name,
                lag,
                since,
                remedy,
            });
            apply_remedy(&self.config, remedy, self.restart_connect, on_event).await;
            self.config.connector_session += 1;
            self.need_start = true;
            return;
        }
        // New writer schema: restart so the plan decodes it (checkpoints keep offsets).
        if let Ok(schemas) = job::fetch_writer_schemas(&self.config).await {
            let ids: Vec<u32> = schemas.iter().map(|s| s.id).collect();
            if has_new_id(&ids, &self.schema_ids) {
                on_event(RunEvent::SchemaChanged {
                    schema_ids: ids.clone(),
                });
                let _control = control::take_control(&self.config, job::announce_wait).await;
                if let Err(e) = job::stop_queries(&self.config).await {
                    tracing::warn!(error = %userstream_endpoints::error_chain(&e), "stopping for a schema change");
                }
                self.need_start = true;
            }
        }
    }

    /// Some queries are down: learn the schema ids that failed their batch, or report the
    /// down queries; either way the next round starts them again.
    async fn check_down(
        &mut self,
        down: Vec<(String, Option<String>)>,
        on_event: &mut impl FnMut(RunEvent),
    ) {
        self.need_start = true;
        match learn_schema_ids(&self.config, &down).await {
            Ok(learned) if !learned.is_empty() => {
                for (id, fate) in learned {
                    if self.learned_ids.contains(&id) {
                        self.last_failure = format!(
                            "schema id {id} failed a batch again after the restart that learned it"
                        );
                        self.failures += 1;
                    }
                    self.learned_ids.push(id);
                    on_event(RunEvent::SchemaIdLearned { id, fate });
                }
                return;
            }
            Ok(_) => {}
            Err(e) => {
                self.last_failure = format!(
                    "looking up a schema id that failed a batch: {}",
                    userstream_endpoints::error_chain(&e)
                );
                self.failures += 1;
                return;
            }
        }
        for (name, exception) in down {
            self.last_failure = match &exception {
                Some(e) => e.clone(),
                None => format!("{name} is not running"),
            };
            on_event(RunEvent::Down { name, exception });
        }
        self.failures += 1;
    }
}

fn started_or_adopted(restart: u32, info: &crate::JobInfo) -> RunEvent {
    if info.users.started_now || info.rejected.started_now {
        RunEvent::Started {
            restart,
            info: info.summary(),
        }
    } else {
        RunEvent::Adopted {
            info: info.summary(),
        }
    }
}

/// The control lock stayed taken past the wait: a failure of this attempt, retried later.
fn busy_again(e: &StreamError) -> StreamError {
    match e {
        StreamError::Busy { holder, waited } => StreamError::Busy {
            holder: holder.clone(),
            waited: *waited,
        },
        other => StreamError::Protocol(other.to_string()),
    }
}

/// Consecutive failed starts for want of an answer from Spark Connect after which `run`
/// (when it owns the server) starts it again.
const CONNECT_DOWN_AFTER: u32 = 3;

/// Whether the registry lists a schema id the running queries do not decode. Only additions
/// count: a registry that has just restarted may list fewer versions while it replays its
/// storage, and decoding a version nobody writes any more costs nothing.
fn has_new_id(listed: &[u32], decoding: &[u32]) -> bool {
    listed.iter().any(|id| !decoding.contains(id))
}

/// For the down queries that failed on the schema-id guard: what the registry says each
/// such id is (each id once; a foreign one is remembered for the next start).
async fn learn_schema_ids(
    config: &StreamConfig,
    down: &[(String, Option<String>)],
) -> Result<Vec<(u32, SchemaIdFate)>, StreamError> {
    let mut ids: Vec<u32> = down
        .iter()
        .filter_map(|(_, exception)| {
            exception
                .as_deref()
                .and_then(crate::plan::unknown_schema_id)
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut learned = Vec::with_capacity(ids.len());
    for id in ids {
        learned.push((id, job::classify_schema_id(config, id).await?));
    }
    Ok(learned)
}

/// The topic's partitions now, or `None` when Kafka does not answer (then no stall is
/// judged: the Kafka outage is somebody else's message).
async fn topic_now(config: &StreamConfig) -> Option<Vec<PartitionOffsets>> {
    let (bootstrap, topic, timeout) = (
        config.bootstrap_servers.clone(),
        config.topic.clone(),
        config.request_timeout,
    );
    let cut = tokio::task::spawn_blocking(move || {
        userstream_kafka::take_cut(&bootstrap, &topic, timeout)
    })
    .await;
    match cut {
        Ok(Ok(cut)) => Some(cut.partitions),
        Ok(Err(e)) => {
            tracing::debug!(error = %userstream_endpoints::error_chain(&e), "no topic offsets for the stall check");
            None
        }
        Err(_) => None,
    }
}

/// After the queries (re)start: a first batch may take a while (a fresh Connect server, a
/// full batch), so every query's stall bound counts from now.
fn restart_stall_clocks(watched: &mut BTreeMap<String, WatchState>) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    for state in watched.values_mut() {
        state.fine_at_ms = Some(now_ms);
    }
}

/// Applies the stall rule to every query of `status`; the first stalled one, if any.
pub(crate) async fn find_stall(
    config: &StreamConfig,
    watchdog: &Watchdog,
    watched: &mut BTreeMap<String, WatchState>,
    status: &StreamStatus,
) -> Option<(String, u64, Duration, Remedy)> {
    let topic = topic_now(config).await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut stall = None;
    for q in &status.queries {
        let obs = Observation::of(q, &config.topic, topic.clone());
        let state = watched.entry(q.name.clone()).or_default();
        match watchdog.observe(state, &obs, now_ms) {
            Verdict::Stalled { lag, since, remedy } if stall.is_none() => {
                stall = Some((q.name.clone(), lag, since, remedy));
            }
            Verdict::Behind { lag, since } => {
                tracing::debug!(query = q.name, lag, ?since, "behind, no batch yet");
            }
            _ => {}
        }
    }
    stall
}

/// Applies `remedy`. Restarting the queries escalates to restarting the Connect server when
/// they do not stop (a stream thread parked in a driver call does not answer `stop`).
pub(crate) async fn apply_remedy(
    config: &StreamConfig,
    remedy: Remedy,
    restart_connect: Option<&RestartConnect>,
    on_event: &mut impl FnMut(RunEvent),
) {
    if remedy == Remedy::RestartQueries {
        let stopped = match job::stop_queries(config).await {
            Ok(_) => match job::status(config).await {
                Ok(status) if status.queries.iter().any(|q| q.active) => {
                    Err("a query is still active after `stop`".to_owned())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(userstream_endpoints::error_chain(&e)),
            },
            Err(e) => Err(userstream_endpoints::error_chain(&e)),
        };
        match stopped {
            Ok(()) => return,
            Err(error) => on_event(RunEvent::RemedyFailed { remedy, error }),
        }
    }
    match restart_connect {
        Some(restart) => match restart().await {
            Ok(()) => on_event(RunEvent::ConnectRestarted),
            Err(error) => on_event(RunEvent::RemedyFailed {
                remedy: Remedy::RestartConnect,
                error,
            }),
        },
        None => on_event(RunEvent::RemedyFailed {
            remedy: Remedy::RestartConnect,
            error: "this process does not run the Spark Connect server; restart it \
                    (`userstream stack restart spark-connect` for this stack's)"
                .to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_remedy_says_all_of_why_on_one_line() {
        let event = RunEvent::RemedyFailed {
            remedy: Remedy::RestartConnect,
            error: "the stack did not come up:\n  spark-connect: port 25002 is taken\n".into(),
        };
        let line = event.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.ends_with("the stack did not come up: spark-connect: port 25002 is taken"),
            "{line}"
        );
    }

    #[test]
    fn only_an_added_schema_id_restarts_the_queries() {
        assert!(has_new_id(&[1, 46], &[1]));
        assert!(
            !has_new_id(&[1], &[1, 46]),
            "a registry replaying its storage lists fewer"
        );
        assert!(!has_new_id(&[1, 46], &[46, 1]));
    }
}

#[allow(dead_code)]
fn _assert_send(config: &StreamConfig) -> impl Send + '_ {
    run(config, CancellationToken::new(), |_| {})
}

/// What [`ensure`] found and did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct EnsureReport {
    /// Each step, in order, as the one-line event text (empty: nothing to do).
    pub actions: Vec<String>,
    /// The job after the steps.
    pub status: StreamStatus,
    /// Nothing has been produced yet (no schema under the subject): there is nothing to run,
    /// which is not a failure.
    pub waiting_for_schema: bool,
    /// The live `stream run` supervisor: while one lives, `ensure` only reports.
    pub supervised_by: Option<Controller>,
}

/// What `ensure` remembers between its runs (the stall rule needs two looks in time).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct EnsureMemory {
    queries: BTreeMap<String, WatchState>,
    connector_session: u32,
}

fn memory_file(config: &StreamConfig) -> std::path::PathBuf {
    config
        .checkpoint_root
        .join(format!("{}.watch.json", config.query_name))
}

/// One pass of [`run`]'s policy, for schedulers (the Airflow `users_stream` DAG): start the
/// queries that are not running, restart them for new schema versions, and apply the stall
/// rule, remembering what it saw in `<checkpoint root>/<query>.watch.json` for the next
/// pass. A stall is seen once [`StreamConfig::stall_after`] has passed between passes.
pub async fn ensure(
    config: &StreamConfig,
    restart_connect: Option<&RestartConnect>,
) -> Result<EnsureReport, StreamError> {
    config.validate()?;
    // A live supervisor applies the policy itself; acting too would double every remedy.
    if let Some(supervisor) = control::current_supervisor(config) {
        let status = job::status(config).await?;
        return Ok(EnsureReport {
            actions: vec![format!(
                "{supervisor} supervises the job: this pass only reports"
            )],
            status,
            waiting_for_schema: false,
            supervised_by: Some(supervisor),
        });
    }
    let control = control::take_control(config, job::announce_wait).await?;
    // Read under the lock: the previous holder may have just written it.
    let mut memory: EnsureMemory = std::fs::read_to_string(memory_file(config))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    if control.waited_for().is_some() {
        // Whoever held the lock may have just restarted the queries: their first batch is
        // not late yet.
        restart_stall_clocks(&mut memory.queries);
    }
    let mut config = config.clone();
    config.connector_session = memory.connector_session;
    let watchdog = Watchdog {
        stall_after: config.stall_after,
    };
    let mut actions = Vec::new();
    let journal = userstream_spark::Journal::of(&config.spark_job());
    let mut note = |event: RunEvent| {
        tracing::info!("{event}");
        journal.record(&event.to_string());
        actions.push(event.to_string());
    };

    let status = job::status(&config).await?;
    let schemas = match job::fetch_writer_schemas(&config).await {
        Ok(schemas) => schemas,
        // Before the first producer (or `setup`) there is nothing to decode yet.
        Err(StreamError::NoSchema { subject }) => {
            note(RunEvent::WaitingForSchema { subject });
            return Ok(EnsureReport {
                actions,
                status,
                waiting_for_schema: true,
                supervised_by: None,
            });
        }
        Err(e) => return Err(e),
    };
    let ids: Vec<u32> = schemas.iter().map(|s| s.id).collect();
    let known = job::load_state(&config).map(|job| job.schema_ids);
    let mut need_start = false;
    let down: Vec<(String, Option<String>)> = status
        .queries
        .iter()
        .filter(|q| !q.active)
        .map(|q| (q.name.clone(), q.exception.clone()))
        .collect();
    let learned = learn_schema_ids(&config, &down).await?;
    for (id, fate) in learned {
        note(RunEvent::SchemaIdLearned { id, fate });
    }
    for (name, exception) in down {
        if exception
            .as_deref()
            .and_then(crate::plan::unknown_schema_id)
            .is_none()
        {
            note(RunEvent::Down { name, exception });
        }
        need_start = true;
    }
    if !need_start && known.is_some_and(|known| has_new_id(&ids, &known)) {
        note(RunEvent::SchemaChanged {
            schema_ids: ids.clone(),
        });
        job::stop_queries(&config).await?;
        need_start = true;
    }
    if !need_start {
        if let Some((name, lag, since, remedy)) =
            find_stall(&config, &watchdog, &mut memory.queries, &status).await
        {
            note(RunEvent::Stalled {
                name,
                lag,
                since,
                remedy,
            });
            apply_remedy(&config, remedy, restart_connect, &mut note).await;
            config.connector_session += 1;
            memory.connector_session = config.connector_session;
            need_start = true;
        }
    }
    if need_start {
        let info = match job::start_with(&config, &schemas).await {
            Err(e @ StreamError::HeldAfterEnd { .. }) => {
                note(RunEvent::RemedyFailed {
                    remedy: Remedy::RestartQueries,
                    error: userstream_endpoints::error_chain(&e),
                });
                apply_remedy(&config, Remedy::RestartConnect, restart_connect, &mut note).await;
                job::start_with(&config, &schemas).await?
            }
            other => other?,
        };
        note(started_or_adopted(0, &info));
        restart_stall_clocks(&mut memory.queries);
    }
    let text =
        serde_json::to_string_pretty(&memory).map_err(|e| StreamError::Protocol(e.to_string()))?;
    let path = memory_file(&config);
    userstream_spark::private_file::write(&path, text).map_err(|source| StreamError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let status = if need_start {
        job::status(&config).await?
    } else {
        status
    };
    Ok(EnsureReport {
        actions,
        status,
        waiting_for_schema: false,
        supervised_by: None,
    })
}
