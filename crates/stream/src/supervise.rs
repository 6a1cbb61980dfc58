//! `run`: start the job and keep it running.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::job::{self, load_state};
use crate::rpc::Rpc;
use crate::{StreamConfig, StreamError};

/// What the supervisor did, for the caller to log or show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// Queries (re)started; `restart` is 0 for the first start.
    Started {
        /// Restart count since the last healthy check.
        restart: u32,
        /// What started.
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
    /// Nothing has been produced yet: the subject has no schema, so there is nothing to
    /// decode. The supervisor checks again every keep-alive interval (not a failure).
    WaitingForSchema {
        /// The registry subject it waits for.
        subject: String,
    },
    /// Shutdown requested; queries stopped.
    Stopped,
}

/// Starts the job (resuming from the checkpoints) and supervises it until `shutdown`:
///
/// - every [`StreamConfig::keepalive_interval`] it lists the session's queries, which also
///   keeps the Spark Connect session from expiring (Spark 3.5 drops a session idle for 1 h
///   and stops its queries);
/// - a query that is no longer active (failed, stopped by someone, or lost with a restarted
///   Connect server) is started again from its checkpoint, with exponential backoff;
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
    mut on_event: impl FnMut(RunEvent),
) -> Result<(), StreamError> {
    config.validate()?;
    let mut failures: u32 = 0;
    let mut backoff = config.restart_backoff_initial;
    let mut last_failure = String::new();
    let mut schema_ids: Vec<u32> = Vec::new();
    let mut need_start = true;
    let mut waiting_for_schema = false;

    loop {
        if need_start {
            let attempt = async {
                let schemas = job::fetch_writer_schemas(config).await?;
                let info = job::start_with(config, &schemas).await?;
                Ok::<_, StreamError>((schemas.iter().map(|s| s.id).collect::<Vec<_>>(), info))
            };
            match attempt.await {
                Ok((ids, info)) => {
                    waiting_for_schema = false;
                    schema_ids = ids;
                    need_start = false;
                    on_event(RunEvent::Started {
                        restart: failures,
                        info: info.to_string(),
                    });
                }
                // `stream run` may well be started before the first producer (the DAGs
                // and a fresh `demo` do): wait for the schema instead of exiting.
                Err(StreamError::NoSchema { subject }) => {
                    if !waiting_for_schema {
                        waiting_for_schema = true;
                        on_event(RunEvent::WaitingForSchema { subject });
                    }
                }
                Err(e) => {
                    last_failure = e.to_string();
                    if !e.is_retryable() && !matches!(e, StreamError::Query(_)) {
                        return Err(e);
                    }
                    failures += 1;
                }
            }
        }

        if failures > config.max_restarts {
            return Err(StreamError::QueryFailed {
                name: config.query_name.clone(),
                exception: format!("gave up after {} attempts; last: {last_failure}", failures),
            });
        }
        let wait = if failures == 0 || !need_start {
            config.keepalive_interval
        } else {
            on_event(RunEvent::Unreachable {
                error: last_failure.clone(),
                retry_in: backoff,
            });
            let wait = backoff;
            backoff = (backoff * 2).min(config.restart_backoff_max);
            wait
        };
        tokio::select! {
            () = shutdown.cancelled() => {
                match job::stop(config).await {
                    Ok(_) => on_event(RunEvent::Stopped),
                    Err(e) => tracing::warn!(error = %e, "stopping the queries on shutdown"),
                }
                return Ok(());
            }
            () = tokio::time::sleep(wait) => {}
        }
        if need_start {
            continue;
        }

        match check(config).await {
            Ok(down) if down.is_empty() => {
                failures = 0;
                backoff = config.restart_backoff_initial;
                // New writer schema: restart so the plan decodes it (checkpoints keep offsets).
                if let Ok(schemas) = job::fetch_writer_schemas(config).await {
                    let ids: Vec<u32> = schemas.iter().map(|s| s.id).collect();
                    if ids != schema_ids {
                        on_event(RunEvent::SchemaChanged {
                            schema_ids: ids.clone(),
                        });
                        if let Err(e) = job::stop(config).await {
                            tracing::warn!(error = %e, "stopping for a schema change");
                        }
                        need_start = true;
                    }
                }
            }
            Ok(down) => {
                for (name, exception) in down {
                    if let Some(e) = &exception {
                        last_failure = e.clone();
                    } else {
                        last_failure = format!("{name} is not running");
                    }
                    on_event(RunEvent::Down { name, exception });
                }
                failures += 1;
                need_start = true;
            }
            Err(e) => {
                last_failure = e.to_string();
                failures += 1;
                need_start = true;
            }
        }
    }
}

/// Lists the session's queries (touching the session) and returns the job's queries that
/// are not active, each with its exception if Spark still has it.
async fn check(config: &StreamConfig) -> Result<Vec<(String, Option<String>)>, StreamError> {
    let mut rpc = Rpc::connect(config).await?;
    let active = rpc.active().await?;
    let known = load_state(config);
    let mut down = Vec::new();
    for (name, last) in [
        (config.query_name.clone(), known.as_ref().map(|k| &k.users)),
        (
            config.rejected_query_name(),
            known.as_ref().map(|k| &k.rejected),
        ),
    ] {
        if active
            .iter()
            .any(|q| q.name.as_deref() == Some(name.as_str()))
        {
            continue;
        }
        let mut exception = None;
        if let Some(last) = last {
            let id = spark_connect_rs::spark::StreamingQueryInstanceId {
                id: last.id.clone(),
                run_id: last.run_id.clone(),
            };
            exception = rpc.exception(&id).await.unwrap_or(None);
        }
        down.push((name, exception));
    }
    Ok(down)
}

#[allow(dead_code)]
fn _assert_send(config: &StreamConfig) -> impl Send + '_ {
    run(config, CancellationToken::new(), |_| {})
}
