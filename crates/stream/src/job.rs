//! `start`, `status`, `stop`: the two streaming queries of the job.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use spark_connect_rs::streaming::Trigger;
use spark_connect_rs::{DataFrame, SparkSession, SparkSessionBuilder};

use crate::control::{self, Controller};
use crate::plan::{self, WriterSchema};
use crate::{StreamConfig, StreamError};
use userstream_spark::{ActiveQuery, QueryInfo, QueryStatus, Rpc};

/// The Cassandra connector's data source.
const CASSANDRA_FORMAT: &str = "org.apache.spark.sql.cassandra";

/// What [`start`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Spark Connect session holding the queries.
    pub session_id: String,
    /// The users query.
    pub users: QueryInfo,
    /// The rejected-records query.
    pub rejected: QueryInfo,
    /// Registry schema ids the job decodes (one per subject version).
    pub schema_ids: Vec<u32>,
    /// Schema ids seen in the topic that are not versions of the subject: rejected.
    #[serde(default)]
    pub foreign_schema_ids: Vec<u32>,
    /// The `stream run` supervisor keeping the job up, when one lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<Controller>,
}

impl JobInfo {
    /// One line: each query and whether it started now, then the schema ids decoded (the
    /// ids and checkpoints are in the multi-line `Display`).
    pub fn summary(&self) -> String {
        let state = |q: &QueryInfo| {
            format!(
                "{} {}",
                q.name,
                if q.started_now {
                    "started"
                } else {
                    "already running"
                }
            )
        };
        let mut line = format!(
            "{}, {}; decoding schema ids {:?}",
            state(&self.users),
            state(&self.rejected),
            self.schema_ids
        );
        if !self.foreign_schema_ids.is_empty() {
            line.push_str(&format!(", rejecting {:?}", self.foreign_schema_ids));
        }
        line
    }
}

impl fmt::Display for JobInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for q in [&self.users, &self.rejected] {
            writeln!(
                f,
                "{:<28} {}  id {}  run {}  checkpoint {}",
                q.name,
                if q.started_now {
                    "started        "
                } else {
                    "already running"
                },
                q.id,
                q.run_id,
                q.checkpoint.display()
            )?;
        }
        write!(
            f,
            "session {}; decoding schema ids {:?}",
            self.session_id, self.schema_ids
        )?;
        if !self.foreign_schema_ids.is_empty() {
            write!(f, "; rejecting foreign ids {:?}", self.foreign_schema_ids)?;
        }
        if let Some(supervisor) = &self.supervisor {
            write!(f, "\nsupervised by {supervisor}")?;
        }
        Ok(())
    }
}

/// The state of the job.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StreamStatus {
    /// Spark Connect session of the job.
    pub session_id: String,
    /// The users query, then the rejected-records query.
    pub queries: Vec<QueryStatus>,
    /// The supervisor's last events (`stream run`, `stream ensure`), oldest first.
    pub recent_events: Vec<crate::JournalEntry>,
    /// The live `stream run` supervisor, if any.
    pub supervisor: Option<Controller>,
    /// The process acting on the job at this moment (holding its control lock), if any.
    pub controller: Option<Controller>,
}

impl StreamStatus {
    /// Whether every query of the job runs.
    pub fn all_active(&self) -> bool {
        self.queries.iter().all(|q| q.active)
    }
}

impl fmt::Display for StreamStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Spark Connect session {}", self.session_id)?;
        for q in &self.queries {
            writeln!(
                f,
                "{}: {}",
                q.name,
                if q.active {
                    "ACTIVE"
                } else if q.held_after_end {
                    "ENDED, but Spark still holds it (stuck): restart the Spark Connect server"
                } else {
                    "not running"
                }
            )?;
            if let (Some(id), Some(run)) = (&q.id, &q.run_id) {
                writeln!(f, "  id {id}  run {run}")?;
            }
            // Spark's message of a query that is not running describes its last moments
            // ("Processing new data"), which would contradict "not running".
            if let Some(m) = q.message.as_ref().filter(|_| q.active) {
                writeln!(
                    f,
                    "  status: {m}{}",
                    if q.trigger_active {
                        " (trigger running)"
                    } else {
                        ""
                    }
                )?;
            }
            match &q.last_progress {
                None if q.active => writeln!(f, "  no batch finished yet")?,
                None => {}
                Some(p) => {
                    let rate = |r: Option<f64>| r.map_or("n/a".to_owned(), |r| format!("{r:.1}"));
                    writeln!(
                        f,
                        "  last batch {} at {}: {} rows, input {} rows/s, processed {} rows/s, {} ms",
                        p.batch_id,
                        p.timestamp,
                        p.num_input_rows,
                        rate(p.input_rows_per_second),
                        rate(p.processed_rows_per_second),
                        p.batch_duration_ms.map_or("n/a".to_owned(), |d| d.to_string()),
                    )?;
                    for s in &p.sources {
                        writeln!(
                            f,
                            "  offsets {} -> {} (latest {})",
                            s.start_offset, s.end_offset, s.latest_offset
                        )?;
                    }
                }
            }
            if let Some(e) = &q.exception {
                writeln!(
                    f,
                    "  FAILED: {} (full text: `userstream stream status --json`)",
                    crate::first_line(e)
                )?;
            }
        }
        match &self.supervisor {
            Some(s) => writeln!(f, "supervisor: {s}")?,
            None => writeln!(
                f,
                "supervisor: none (`userstream stream run`, or the users_stream DAG's `stream ensure`)"
            )?,
        }
        if let Some(c) = &self.controller {
            writeln!(f, "acting on the job now: {c}")?;
        }
        if !self.recent_events.is_empty() {
            writeln!(f, "supervisor, last events:")?;
            for e in &self.recent_events {
                writeln!(f, "  {} {}", e.at, e.event)?;
            }
        }
        Ok(())
    }
}

/// A Spark Connect session of the crate bound to the job's session id.
pub(crate) async fn job_session(config: &StreamConfig) -> Result<SparkSession, StreamError> {
    config.check_connect_listener()?;
    let url = config.connect_url_with(&format!(
        "user_id={};session_id={}",
        config.connect_user,
        config.session_id()
    ));
    let builder = SparkSessionBuilder::remote(&url).app_name("userstream");
    match tokio::time::timeout(config.request_timeout, builder.build()).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(e)) => Err(StreamError::spark(&config.connect_url, e)),
        Err(_) => Err(StreamError::Connect {
            url: config.connect_url.clone(),
            reason: format!("no session within {:?}", config.request_timeout),
        }),
    }
}

/// Every version of the config's subject, oldest first.
pub async fn fetch_writer_schemas(config: &StreamConfig) -> Result<Vec<WriterSchema>, StreamError> {
    let subject = config.subject();
    let client = config.registry_client()?;
    let versions = match client.versions(&subject).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Err(StreamError::NoSchema { subject }),
        Err(e) => return Err(e.into()),
    };
    if versions.is_empty() {
        return Err(StreamError::NoSchema { subject });
    }
    let mut schemas = Vec::with_capacity(versions.len());
    for version in versions {
        let fetched = client.version(&subject, version).await?;
        schemas.push(WriterSchema {
            id: fetched.id.0,
            version: fetched.version,
            schema: fetched.schema,
        });
    }
    schemas.sort_by_key(|s| s.version);
    schemas.dedup_by_key(|s| s.id);
    Ok(schemas)
}

/// What a schema id found in the topic turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaIdFate {
    /// A version of the job's subject: the restarted queries decode it.
    Version(u32),
    /// Not a version of the subject (the reason): its records are rejected from now on, as
    /// `unknown_schema_id`, and the decision is kept with the checkpoints.
    Foreign(String),
}

/// The pure half of [`classify_schema_id`]: the registry's answer for an id (`None`: not
/// found) against the job's subject.
pub fn schema_id_fate(subject: &str, versions: Option<&[(String, u32)]>) -> SchemaIdFate {
    match versions {
        None => SchemaIdFate::Foreign("the registry does not know it".to_owned()),
        Some(versions) => match versions.iter().find(|(s, _)| s == subject) {
            Some((_, version)) => SchemaIdFate::Version(*version),
            None if versions.is_empty() => {
                SchemaIdFate::Foreign("the registry knows it under no subject".to_owned())
            }
            None => SchemaIdFate::Foreign(format!(
                "registered under {} only",
                versions
                    .iter()
                    .map(|(s, v)| format!("{s} v{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
    }
}

/// Asks the registry what schema `id` is (`GET /schemas/ids/{id}/versions`); a foreign id is
/// remembered (see [`foreign_schema_ids`]) so the next start rejects its records.
pub async fn classify_schema_id(
    config: &StreamConfig,
    id: u32,
) -> Result<SchemaIdFate, StreamError> {
    let versions = config
        .registry_client()?
        .subject_versions_of(userstream_registry::SchemaId(id))
        .await?;
    let fate = schema_id_fate(&config.subject(), versions.as_deref());
    if let SchemaIdFate::Foreign(why) = &fate {
        let mut known = load_foreign(config);
        known.insert(id, why.clone());
        let path = foreign_file(config);
        let text = serde_json::to_string_pretty(&known)
            .map_err(|e| StreamError::Protocol(e.to_string()))?;
        std::fs::create_dir_all(&config.checkpoint_root)
            .and_then(|()| userstream_spark::private_file::write(&path, text))
            .map_err(|source| StreamError::Io {
                path: path.display().to_string(),
                source,
            })?;
    }
    Ok(fate)
}

fn foreign_file(config: &StreamConfig) -> PathBuf {
    config
        .checkpoint_root
        .join(format!("{}.foreign-schema-ids.json", config.query_name))
}

fn load_foreign(config: &StreamConfig) -> std::collections::BTreeMap<u32, String> {
    std::fs::read_to_string(foreign_file(config))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Schema ids found in the topic that are not versions of the subject (with the checkpoints:
/// a fresh checkpoint directory forgets them, and they are looked up again).
pub fn foreign_schema_ids(config: &StreamConfig) -> Vec<u32> {
    load_foreign(config).into_keys().collect()
}

fn state_file(config: &StreamConfig) -> PathBuf {
    config.spark_job().state_file()
}

fn save_state(config: &StreamConfig, job: &JobInfo) -> Result<(), StreamError> {
    let path = state_file(config);
    let io = |source| StreamError::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&config.checkpoint_root).map_err(io)?;
    let text =
        serde_json::to_string_pretty(job).map_err(|e| StreamError::Protocol(e.to_string()))?;
    userstream_spark::private_file::write(&path, text).map_err(io)
}

/// The job as last started by any process, from its state file.
pub(crate) fn load_state(config: &StreamConfig) -> Option<JobInfo> {
    let text = std::fs::read_to_string(state_file(config)).ok()?;
    serde_json::from_str(&text).ok()
}

async fn start_query(
    df: DataFrame,
    config: &StreamConfig,
    name: &str,
    table: &str,
    trigger: std::time::Duration,
    extra: &[(&str, &str)],
) -> Result<QueryInfo, StreamError> {
    let checkpoint = config.checkpoint_dir(name);
    let mut writer = df
        .write_stream()
        .format(CASSANDRA_FORMAT)
        .query_name(name)
        .trigger(Trigger::ProcessingTimeInterval(format!(
            "{} milliseconds",
            trigger.as_millis()
        )))
        .option("checkpointLocation", &checkpoint.display().to_string());
    // One `option` per key: `options()` replaces everything set before it in this crate.
    for (key, value) in plan::cassandra_sink_options(config, table)
        .into_iter()
        .chain(config.cassandra_options.clone())
    {
        writer = writer.option(&key, &value);
    }
    for (key, value) in extra {
        writer = writer.option(key, value);
    }
    // The connector's driver learns of new keyspaces and tables through debounced schema
    // events: right after `migrate` it may not see them yet. Retry that case briefly.
    let mut attempt = 0;
    let query = loop {
        match writer.clone().start(None).await {
            Ok(query) => break query,
            Err(e) => {
                let e = StreamError::spark(&config.connect_url, e);
                let unknown_schema = matches!(&e, StreamError::CassandraTableNotVisible(_));
                attempt += 1;
                if !unknown_schema || attempt >= 10 {
                    return Err(e);
                }
                tracing::info!(name, error = %userstream_endpoints::error_chain(&e), "Cassandra schema not visible to Spark yet; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    };
    tracing::info!(
        name,
        id = query.id(),
        run_id = query.run_id(),
        "streaming query started"
    );
    Ok(QueryInfo {
        name: name.to_owned(),
        id: query.id(),
        run_id: query.run_id(),
        checkpoint,
        started_now: true,
    })
}

fn running(config: &StreamConfig, q: &ActiveQuery, name: &str) -> QueryInfo {
    QueryInfo {
        name: name.to_owned(),
        id: q.id.id.clone(),
        run_id: q.id.run_id.clone(),
        checkpoint: config.checkpoint_dir(name),
        started_now: false,
    }
}

/// Starts the job's queries that are not running (both, normally), resuming from their
/// checkpoints. Idempotent: a running query is left alone. Takes the job's control lock
/// (see [`crate::control`]): while another process acts on the job this waits for it, then
/// finds what it did; a job it started is a success here.
pub async fn start(config: &StreamConfig) -> Result<JobInfo, StreamError> {
    config.validate()?;
    let _control = control::take_control(config, announce_wait).await?;
    let schemas = fetch_writer_schemas(config).await?;
    let mut info = start_locked(config, &schemas).await?;
    info.supervisor = control::current_supervisor(config);
    Ok(info)
}

/// [`start`] decoding `schemas`, for a caller that already holds the job's control lock
/// ([`control::take_control`]); a start is written to the job's journal.
pub async fn start_locked(
    config: &StreamConfig,
    schemas: &[WriterSchema],
) -> Result<JobInfo, StreamError> {
    let info = start_with(config, schemas).await?;
    if info.users.started_now || info.rejected.started_now {
        userstream_spark::Journal::of(&config.spark_job())
            .record(&format!("started: {}", info.summary()));
    }
    Ok(info)
}

/// Says, once, that this command waits for another controller of the job.
pub(crate) fn announce_wait(holder: &Controller) {
    tracing::warn!("{holder} is acting on the streaming job; waiting for it to finish");
}

/// How the rejected query writes. Lightweight transactions (`IF NOT EXISTS`): a replayed batch
/// keeps each row's first `first_seen`. One row per statement: the connector groups the rows
/// of a Kafka partition (one Cassandra partition) into a batch, and a conditional batch applies
/// all or nothing. A micro-batch that failed part-way (a schema id the job did not know yet)
/// may already have written some of its rows; replayed, the batch holding one of those would
/// skip every other row in it, and a rejected record would be lost.
const REJECTED_WRITE_OPTIONS: &[(&str, &str)] = &[
    ("spark.cassandra.output.ifNotExists", "true"),
    ("spark.cassandra.output.batch.size.rows", "1"),
];

pub(crate) async fn start_with(
    config: &StreamConfig,
    schemas: &[WriterSchema],
) -> Result<JobInfo, StreamError> {
    let mut rpc = Rpc::connect(&config.spark_job()).await?;
    let users_name = config.query_name.clone();
    let rejected_name = config.rejected_query_name();
    let active = rpc.active().await?;
    let find = |name: &str| active.iter().find(|q| q.name.as_deref() == Some(name));
    let (users_active, rejected_active) = (find(&users_name), find(&rejected_name));

    let spark = job_session(config).await?;
    // age_at_ingest and every timestamp function: UTC, whatever the server's zone.
    rpc.set_conf("spark.sql.session.timeZone", "UTC").await?;
    // `stop` interrupts a query's thread and, by default, waits for it forever; a thread
    // parked in the Cassandra driver ignores interrupts. Bounded, `stop` fails instead, and
    // the supervisor moves on to restarting the Connect server.
    rpc.set_conf("spark.sql.streaming.stopTimeout", "60s")
        .await?;
    let foreign = foreign_schema_ids(config);
    let job = plan::build(&spark, config, schemas, &foreign);

    for (name, q) in [
        (&users_name, users_active),
        (&rejected_name, rejected_active),
    ] {
        if let Some(q) = q {
            if !rpc.status(&q.id).await?.is_active {
                return Err(StreamError::HeldAfterEnd { name: name.clone() });
            }
        }
    }
    let users = match users_active {
        Some(q) => running(config, q, &users_name),
        None => {
            let started = start_query(
                job.users,
                config,
                &users_name,
                &config.table,
                config.trigger,
                &[],
            )
            .await;
            or_started_elsewhere(started, &mut rpc, config, &users_name).await?
        }
    };
    let rejected = match rejected_active {
        Some(q) => running(config, q, &rejected_name),
        None => {
            let started = start_query(
                job.rejected,
                config,
                &rejected_name,
                &config.rejected_table,
                config.rejected_trigger,
                REJECTED_WRITE_OPTIONS,
            )
            .await;
            or_started_elsewhere(started, &mut rpc, config, &rejected_name).await?
        }
    };
    let info = JobInfo {
        session_id: config.session_id().to_string(),
        users,
        rejected,
        schema_ids: schemas.iter().map(|s| s.id).collect(),
        foreign_schema_ids: foreign,
        supervisor: None,
    };
    if info.users.started_now || info.rejected.started_now {
        save_state(config, &info)?;
    }
    Ok(info)
}

/// How long a start that Spark refused because another client was starting the same query
/// waits for that query to show up as active.
const STARTED_ELSEWHERE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `started`, or, when Spark refused it because another client started the same query at the
/// same moment (a starter outside this job's control lock: another state directory, an older
/// binary), the query that other client started, once it is active.
async fn or_started_elsewhere(
    started: Result<QueryInfo, StreamError>,
    rpc: &mut Rpc,
    config: &StreamConfig,
    name: &str,
) -> Result<QueryInfo, StreamError> {
    let why = match started {
        Err(StreamError::StartedElsewhere(why)) => why,
        other => return other,
    };
    tracing::warn!(
        name,
        "another client is starting this query at the same moment; waiting for it"
    );
    let deadline = tokio::time::Instant::now() + STARTED_ELSEWHERE_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Some(q) = rpc.find(name).await? {
            return Ok(running(config, &q, name));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StreamError::StartedElsewhere(why))
}

/// The job's queries: active or not, ids, last progress (or that no batch finished yet) and,
/// for a stopped query, the exception that stopped it; the supervisor's last events, and who
/// supervises or acts on the job. Touches the Connect session.
pub async fn status(config: &StreamConfig) -> Result<StreamStatus, StreamError> {
    config.validate()?;
    let userstream_spark::JobQueries {
        session_id,
        queries,
        recent_events,
    } = userstream_spark::status(&config.spark_job()).await?;
    Ok(StreamStatus {
        session_id,
        queries,
        recent_events,
        supervisor: control::current_supervisor(config),
        controller: control::current_controller(config),
    })
}

/// Stops the job's running queries (each after its batch in flight) and returns the names
/// stopped. The checkpoints stay: the next `start` resumes. Refuses while a `stream run`
/// supervisor lives (it would start them again at once); takes the job's control lock.
pub async fn stop(config: &StreamConfig) -> Result<Vec<String>, StreamError> {
    config.validate()?;
    if let Some(supervisor) = control::current_supervisor(config) {
        return Err(StreamError::Supervised {
            supervisor: supervisor.to_string(),
        });
    }
    let _control = control::take_control(config, announce_wait).await?;
    stop_queries(config).await
}

/// [`stop`] for a caller that holds the control lock (the supervisor, `ensure`).
pub(crate) async fn stop_queries(config: &StreamConfig) -> Result<Vec<String>, StreamError> {
    let mut rpc = Rpc::connect(&config.spark_job()).await?;
    let mut stopped = Vec::new();
    for name in [config.query_name.clone(), config.rejected_query_name()] {
        if let Some(q) = rpc.find(&name).await? {
            rpc.stop(&q.id).await?;
            tracing::info!(name, "streaming query stopped");
            stopped.push(name);
        }
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_id_is_a_version_of_the_subject_or_foreign() {
        let ours = vec![("users-value".to_owned(), 3), ("other-value".to_owned(), 1)];
        assert_eq!(
            schema_id_fate("users-value", Some(&ours)),
            SchemaIdFate::Version(3)
        );
        let theirs = vec![("other-value".to_owned(), 1)];
        assert_eq!(
            schema_id_fate("users-value", Some(&theirs)),
            SchemaIdFate::Foreign("registered under other-value v1 only".to_owned())
        );
        assert!(matches!(
            schema_id_fate("users-value", None),
            SchemaIdFate::Foreign(_)
        ));
        assert!(matches!(
            schema_id_fate("users-value", Some(&[])),
            SchemaIdFate::Foreign(_)
        ));
    }

    #[test]
    fn the_state_file_gives_watchers_the_last_started_queries() -> Result<(), StreamError> {
        let dir = tempfile::tempdir().map_err(|source| StreamError::Io {
            path: "a temporary directory".into(),
            source,
        })?;
        let mut config = StreamConfig::with_state_dir(dir.path());
        config.checkpoint_root = dir.path().to_path_buf();
        let query = |name: &str| QueryInfo {
            name: name.into(),
            id: format!("{name}-id"),
            run_id: format!("{name}-run"),
            checkpoint: config.checkpoint_dir(name),
            started_now: true,
        };
        let info = JobInfo {
            session_id: config.session_id().to_string(),
            users: query(&config.query_name),
            rejected: query(&config.rejected_query_name()),
            schema_ids: vec![1, 2],
            foreign_schema_ids: vec![],
            supervisor: None,
        };
        save_state(&config, &info)?;
        let read = config.spark_job().last_started();
        assert_eq!(
            read.map(|q| (q.users, q.rejected)),
            Some((info.users, info.rejected))
        );
        Ok(())
    }

    #[test]
    fn status_says_when_no_batch_finished() {
        let status = StreamStatus {
            session_id: "s".into(),
            queries: vec![QueryStatus {
                name: "userstream-users".into(),
                active: true,
                id: Some("i".into()),
                run_id: Some("r".into()),
                message: Some("Initializing sources".into()),
                trigger_active: true,
                last_progress: None,
                exception: None,
                held_after_end: false,
            }],
            recent_events: vec![],
            supervisor: None,
            controller: None,
        };
        assert!(status.to_string().contains("no batch finished yet"));
    }
}
