//! The console: one live page over the whole pipeline, and the JSON API behind it.
//!
//! A sampler gathers each area (stack, users API, Kafka, registry, Spark, Cassandra, Airflow)
//! on its own loop with its own time limit, so a service that is down or slow marks only its
//! own area as failed; the page (static HTML + a little JS) polls `/api/snapshot`.
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

pub use config::{ConsoleConfig, DEFAULT_LISTEN, DEFAULT_SOURCE};
pub use model::Snapshot;
pub use server::router;
pub use state::State;

/// What the sampler and the server share.
pub struct Console {
    config: ConsoleConfig,
    state: RwLock<State>,
}

/// Errors that stop the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source} (another console running? pick one with --listen)")]
    Bind {
        /// Address.
        addr: std::net::SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("console server: {0}")]
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

    fn update(&self, apply: impl FnOnce(&mut State)) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        apply(&mut state);
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
                        .and_then(|q| q.committed.get(&c.stream.topic).cloned())
                });
                let (outcome, took) = gather::timed(
                    "Kafka",
                    timeout,
                    gather::kafka(
                        &c.stream.bootstrap_servers,
                        &c.stream.topic,
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
                let (outcome, took) =
                    gather::timed("Spark Connect", timeout, gather::spark(&c.stream)).await;
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
        let registry_url = config.stream.registry_url.clone();
        let registry =
            RegistryClient::new(registry_url.clone(), Duration::from_secs(5)).map_err(|e| {
                ConsoleError::Client(format!("registry client for {registry_url}: {e}"))
            })?;
        let registry = Arc::new(registry);
        every(self, cancel, config.slow_interval, move |console| {
            let registry = Arc::clone(&registry);
            async move {
                let subject = console.config.subject();
                let (outcome, took) =
                    gather::timed("registry", timeout, gather::registry(&registry, &subject)).await;
                console.update(|s| s.registry.record(outcome, now_ms(), took));
            }
        });

        // Cassandra: counts and rows. Its client keeps a session between rounds.
        let cassandra = Arc::new(tokio::sync::Mutex::new(gather::CassandraClient::new(
            config.stream.cassandra_contact_point.clone(),
            config.stream.keyspace.clone(),
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
            config.stack.airflow_url(),
            config.stack.layout().airflow_secrets(),
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
pub async fn serve(config: ConsoleConfig, cancel: CancellationToken) -> Result<(), ConsoleError> {
    let addr = config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ConsoleError::Bind { addr, source })?;
    let console = Console::new(config);
    console.spawn_sampler(&cancel)?;
    let shutdown = cancel.clone();
    axum::serve(listener, router(console))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(ConsoleError::Serve)
}
