//! The console: one live page over the whole pipeline, and the JSON API behind it.
//!
//! A sampler gathers each area (stack, users API, Kafka, registry, Spark, Cassandra, Airflow)
//! on its own loop with its own time limit, so a service that is down or slow marks only its
//! own area as failed; the page (static HTML + a little JS) polls `/api/snapshot`.
//!
//! Nothing gathered in a loop scans a table: Cassandra's row figures are its own estimates
//! and metrics. An exact count of `users` is an explicit action ([`Console::start_count`],
//! `POST /api/cassandra/count`), one at a time, with a time limit.
//!
//! - `model`: the views and the pure logic (rates, lag, behind, the flow diagram);
//! - `gather`: one function per area against the real service;
//! - `state`: what has been gathered, and the snapshot assembled from it;
//! - `server`: the HTTP routes.

#![warn(missing_docs)]

mod config;
pub mod gather;
pub mod model;
mod server;
mod state;

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use userstream_registry::RegistryClient;

pub use config::{ConsoleConfig, SecretsError};
pub use model::{CountView, Snapshot};
pub use server::{cookie_name, router};
pub use state::State;

/// What the sampler and the server share.
pub struct Console {
    config: ConsoleConfig,
    state: RwLock<State>,
}

/// The console's registry client, logged in as the registry's reader.
fn registry_client(config: &ConsoleConfig) -> Result<RegistryClient, ConsoleError> {
    let url = &config.endpoints.registry_url;
    RegistryClient::new(
        url.clone(),
        config.registry_login().as_ref(),
        Duration::from_secs(5),
        &config.endpoints.stack_run_dir(),
    )
    .map_err(|e| {
        ConsoleError::Client(format!(
            "registry client for {url}: {}",
            userstream_endpoints::error_chain(&e)
        ))
    })
}

/// Errors that stop the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr} (another console running? pick one with --listen)")]
    Bind {
        /// Address.
        addr: std::net::SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("the console server stopped")]
    Serve(#[source] std::io::Error),
    /// A client could not be built.
    #[error("{0}")]
    Client(String),
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Console {
    /// A console with nothing gathered yet.
    pub fn new(config: ConsoleConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            state: RwLock::new(State::default()),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &ConsoleConfig {
        &self.config
    }

    /// Everything gathered so far, as the page shows it.
    pub fn snapshot(&self) -> Snapshot {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.snapshot(&self.config, now_ms())
    }

    fn read<T>(&self, look: impl FnOnce(&State) -> T) -> T {
        look(
            &self
                .state
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    fn update<T>(&self, apply: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        apply(&mut state)
    }

    /// The last explicit count of `users`, running or done.
    pub fn count(&self) -> Option<CountView> {
        self.read(|state| state.cassandra_count.clone())
    }

    /// Starts an exact count of `<keyspace>.users` off the gather loops, giving up after
    /// `limit` (the configured `count_limit` when `None`). Returns the running count and the
    /// task that ends with its result; a count already running is returned as the error.
    pub fn start_count(
        self: &Arc<Self>,
        limit: Option<Duration>,
    ) -> Result<(CountView, tokio::task::JoinHandle<CountView>), Box<CountView>> {
        let limit = limit.unwrap_or(self.config.count_limit);
        let table = format!("{}.{}", self.config.keyspace, userstream_store::USERS_TABLE);
        let view = self.update(|state| match &state.cassandra_count {
            Some(running) if running.state == model::CountState::Running => {
                Err(Box::new(running.clone()))
            }
            _ => {
                let view = CountView::start(table, limit.as_secs().max(1), now_ms());
                state.cassandra_count = Some(view.clone());
                Ok(view)
            }
        })?;
        let console = Arc::clone(self);
        let started = view.clone();
        let task = tokio::spawn(async move {
            let c = &console.config;
            let outcome = gather::count_rows(
                &c.cassandra_access(),
                &c.keyspace,
                userstream_store::USERS_TABLE,
                "id",
                limit,
                |rows| {
                    console.update(|s| {
                        if let Some(count) = &mut s.cassandra_count {
                            count.progress(rows, now_ms());
                        }
                    });
                },
            )
            .await;
            let (state, rows, error) = match outcome {
                gather::CountOutcome::Finished(rows) => (model::CountState::Finished, rows, None),
                gather::CountOutcome::TimedOut(rows) => (model::CountState::TimedOut, rows, None),
                gather::CountOutcome::Failed(rows, e) => (model::CountState::Failed, rows, Some(e)),
            };
            console.update(|s| {
                let count = s.cassandra_count.get_or_insert(started);
                count.finish(state, rows, error, now_ms());
                count.clone()
            })
        });
        Ok((view, task))
    }

    /// Starts one loop per area; they stop with `cancel`.
    pub fn spawn_sampler(self: &Arc<Self>, cancel: &CancellationToken) -> Result<(), ConsoleError> {
        let config = &self.config;
        let timeout = config.gather_timeout;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ConsoleError::Client(format!("HTTP client: {e}")))?;

        // Kafka: offsets, dead letters, newest user ids.
        every(
            self,
            cancel,
            config.fast_interval,
            move |console| async move {
                let c = &console.config;
                let processed = console.read(|state| {
                    state
                        .spark
                        .fresh()
                        .and_then(|s| s.queries.first())
                        .and_then(|q| q.committed.get(&c.topic).cloned())
                });
                let kafka = c.kafka();
                let (outcome, took) = gather::timed(
                    "Kafka",
                    timeout,
                    gather::kafka(
                        &kafka,
                        &c.topic,
                        &c.dlq_topic,
                        processed.as_ref(),
                        c.newest,
                        Duration::from_secs(3).min(timeout),
                    ),
                )
                .await;
                console.update(|s| s.record_kafka(c, outcome, now_ms(), took));
            },
        );

        // Spark: the queries' state and progress.
        every(
            self,
            cancel,
            config.fast_interval,
            move |console| async move {
                let c = &console.config;
                let job = c.spark_job();
                let (outcome, took) =
                    gather::timed("Spark Connect", timeout, gather::spark(&job)).await;
                console.update(|s| s.record_spark(c, outcome, now_ms(), took));
            },
        );

        // Stack: pids, health, memory.
        every(
            self,
            cancel,
            config.slow_interval,
            move |console| async move {
                let (outcome, took) = gather::timed(
                    "stack status",
                    timeout,
                    gather::stack(&console.config.stack),
                )
                .await;
                console.update(|s| s.stack.record(outcome, now_ms(), took));
            },
        );

        // The users API.
        let source_http = http.clone();
        every(self, cancel, config.slow_interval, move |console| {
            let http = source_http.clone();
            async move {
                let started = Instant::now();
                let view =
                    gather::source(&http, &console.config.source_url, Duration::from_secs(3)).await;
                let took = started.elapsed().as_millis() as u64;
                console.update(|s| s.source.record(Ok(view), now_ms(), took));
            }
        });

        // Registry.
        let registry = Arc::new(registry_client(config)?);
        every(self, cancel, config.slow_interval, move |console| {
            let registry = Arc::clone(&registry);
            async move {
                let subject = console.config.subject();
                let (outcome, took) =
                    gather::timed("registry", timeout, gather::registry(&registry, &subject)).await;
                console.update(|s| s.registry.record(outcome, now_ms(), took));
            }
        });

        // Cassandra: estimates, metrics and the newest rows (no scans). Its client keeps a
        // session between rounds.
        let cassandra = Arc::new(tokio::sync::Mutex::new(gather::CassandraClient::new(
            config.cassandra_access(),
            config.keyspace.clone(),
            Duration::from_secs(5),
        )));
        every(self, cancel, config.slow_interval, move |console| {
            let cassandra = Arc::clone(&cassandra);
            async move {
                let ids = console.read(|state| {
                    state
                        .kafka_sample
                        .as_ref()
                        .map(|k| k.newest_user_ids.clone())
                        .unwrap_or_default()
                });
                let mut client = cassandra.lock().await;
                let (outcome, took) = gather::timed(
                    "Cassandra",
                    timeout,
                    gather::cassandra(&mut client, &ids, console.config.newest),
                )
                .await;
                console.update(|s| s.record_cassandra(outcome, now_ms(), took));
            }
        });

        // Airflow: the pipeline's DAGs and runs.
        let airflow = Arc::new(tokio::sync::Mutex::new(gather::AirflowClient::new(
            http,
            config.stack.endpoints().airflow_url,
            &config.stack.layout(),
        )));
        every(self, cancel, config.slow_interval, move |console| {
            let airflow = Arc::clone(&airflow);
            async move {
                let mut client = airflow.lock().await;
                let (outcome, took) = gather::timed(
                    "Airflow",
                    timeout,
                    gather::airflow(&mut client, 5, Duration::from_secs(5)),
                )
                .await;
                console.update(|s| s.airflow.record(outcome, now_ms(), took));
            }
        });
        Ok(())
    }
}

/// Runs `round` now and then every `interval` until `cancel`; a slow round delays the next
/// one instead of piling up.
fn every<F, Fut>(console: &Arc<Console>, cancel: &CancellationToken, interval: Duration, round: F)
where
    F: Fn(Arc<Console>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let console = Arc::clone(console);
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {}
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = round(Arc::clone(&console)) => {}
            }
        }
    });
}

/// Serves the console on `config.listen` until `cancel`.
pub async fn serve(
    mut config: ConsoleConfig,
    cancel: CancellationToken,
) -> Result<(), ConsoleError> {
    let addr = config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ConsoleError::Bind { addr, source })?;
    // The bound address (port 0 becomes a real one): it names the cookie and the page's
    // own origin.
    config.listen = listener
        .local_addr()
        .map_err(|source| ConsoleError::Bind { addr, source })?;
    let console = Console::new(config);
    console.spawn_sampler(&cancel)?;
    let shutdown = cancel.clone();
    axum::serve(listener, router(console))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(ConsoleError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CountState;

    /// A port that accepts connections and never answers: a Cassandra that hangs.
    async fn silent_cassandra() -> (tokio::net::TcpListener, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        (listener, addr)
    }

    #[tokio::test]
    async fn an_explicit_count_is_one_at_a_time_and_stops_at_its_limit() {
        let (_listener, addr) = silent_cassandra().await;
        let mut config = ConsoleConfig::with_credentials(
            userstream_stack::StackConfig::with_state_dir(
                std::env::temp_dir().join("userstream-console-count-test"),
            ),
            userstream_endpoints::Credentials::withheld(),
        );
        config.endpoints.cassandra = addr;
        let console = Console::new(config);
        assert!(console.count().is_none());
        let (running, task) = console
            .start_count(Some(Duration::from_millis(800)))
            .unwrap();
        assert_eq!(running.state, CountState::Running);
        assert_eq!(running.table, "userstream.users");
        // A second one while the first runs is refused with the running one.
        let refused = console.start_count(None).unwrap_err();
        assert_eq!(refused.started_at_ms, running.started_at_ms);
        assert_eq!(
            console.snapshot().cassandra_count.map(|c| c.state),
            Some(CountState::Running)
        );
        let done = task.await.unwrap();
        assert!(
            matches!(done.state, CountState::TimedOut | CountState::Failed),
            "{done:?}"
        );
        assert!(done.took_ms < 5_000, "bounded by its limit: {done:?}");
        assert_eq!(console.count(), Some(done));
        // Once it ended, a new one may start.
        assert!(console
            .start_count(Some(Duration::from_millis(100)))
            .is_ok());
    }
}
