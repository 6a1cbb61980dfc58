//! Shared set-up of the tests against the real stack.
//!
//! Endpoints from the stack's ports in the environment (`USERSTREAM_KAFKA_PORT`, ...; loopback
//! defaults), or their address overrides, as every command reads them.
//! When a service is unreachable: fail if `USERSTREAM_STACK_STARTED=1`, else print
//! "skipped: ..." and pass.

#![allow(dead_code)]

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use tokio_util::sync::CancellationToken;
use userstream_endpoints::KafkaAccess;
use userstream_ingest::{IngestConfig, IngestStats, RunSummary};
use userstream_kafka::{Delivered, TopicSpec};
use userstream_model::User;
use userstream_registry::RegistryClient;
use userstream_store::Replication;
use userstream_stream::{StreamConfig, StreamStatus};

/// Users per page of the tests' producer runs. A user is drawn from `(seed, page, index)`,
/// so ranges of users start on a page boundary and a range produced again replays the
/// same ids.
pub const PAGE: u32 = 100;

/// Partitions of a test topic.
const PARTITIONS: i32 = 2;

/// A topic, keyspace, query and checkpoint directory of one test.
pub struct Fixture {
    /// The job's config: the stack's reader and application role, as the pipeline's own
    /// commands have them (the job itself logs in with the Spark Connect server's logins).
    pub config: StreamConfig,
    /// Kafka as its admin: the test creates, writes and deletes its own topics, which are
    /// outside the pipeline's producer ACLs (the reader may read them, prefix `test-`).
    pub kafka_admin: KafkaAccess,
    pub registry: RegistryClient,
    pub session: scylla::client::session::Session,
    _checkpoints: tempfile::TempDir,
}

fn stack_started() -> bool {
    std::env::var("USERSTREAM_STACK_STARTED").is_ok_and(|v| v == "1")
}

/// `None` (after printing why) when the stack is not there and the test command did not
/// start it.
pub async fn fixture(test: &str) -> anyhow::Result<Option<Fixture>> {
    let checkpoints = tempfile::Builder::new()
        .prefix("userstream-test-")
        .tempdir()
        .context("temp dir")?;
    let mut config = StreamConfig::with_state_dir(checkpoints.path());
    config.checkpoint_root = checkpoints.path().to_path_buf();
    let endpoints = userstream_endpoints::Endpoints::from_env();
    config.set_endpoints(&endpoints);
    let kafka_admin = endpoints.kafka(userstream_endpoints::KafkaRole::Admin);
    let unique = uuid::Uuid::new_v4().simple().to_string();
    // `test-`: a prefix the reader, which the job reads as, may read (the stack's ACLs).
    config.topic = format!("test-{test}-{}", &unique[..12]);
    ensure!(
        userstream_stack::engines::kafka::READER_TOPIC_PREFIXES
            .iter()
            .any(|prefix| config.topic.starts_with(prefix)),
        "the job could not read {}",
        config.topic
    );
    config.keyspace = format!("t_{}_{}", test.replace('-', "_"), &unique[..12]);
    config.query_name = format!("test-{test}-{}", &unique[..12]);
    config.trigger = Duration::from_millis(500);
    config.rejected_trigger = Duration::from_secs(1);

    // Reachability first: skip or fail as the environment says.
    if let Err(e) = userstream_stack::engines::spark::spark_connect_select_one(
        &config.connect_url,
        config.connect_token.as_deref(),
    )
    .await
    {
        return skip_or_fail(&format!("Spark Connect at {}: {e}", config.connect_url));
    }
    let session = match userstream_store::connect(
        &config.cassandra_contact_point,
        endpoints
            .cassandra_login(userstream_endpoints::CassandraRole::Admin)
            .as_ref(),
        Duration::from_secs(10),
        &endpoints.stack_run_dir(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return skip_or_fail(&e.to_string()),
    };
    let registry = RegistryClient::new(
        config.registry_url.clone(),
        endpoints
            .registry_login(userstream_endpoints::RegistryRole::Admin)
            .as_ref(),
        Duration::from_secs(10),
        &endpoints.stack_run_dir(),
    )?;
    if let Err(e) = registry.subjects().await {
        return skip_or_fail(&format!("registry: {e}"));
    }
    if let Err(e) = userstream_kafka::fetch_metadata(&kafka_admin, Duration::from_secs(10)).await {
        return skip_or_fail(&e.to_string());
    }

    userstream_kafka::ensure_topics(
        &kafka_admin,
        &[TopicSpec::new(&config.topic, PARTITIONS)],
        Duration::from_secs(30),
    )
    .await?;
    userstream_store::migrate(&session, &config.keyspace, &Replication::default()).await?;
    if let Some(app) = &config.cassandra_login {
        userstream_store::grant_application_role(&session, &config.keyspace, &app.username).await?;
    }
    Ok(Some(Fixture {
        config,
        kafka_admin,
        registry,
        session,
        _checkpoints: checkpoints,
    }))
}

fn skip_or_fail<T>(why: &str) -> anyhow::Result<Option<T>> {
    if stack_started() {
        bail!("{why} (USERSTREAM_STACK_STARTED=1: the stack must be up)");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
    Ok(None)
}

impl Fixture {
    /// `verify` over this fixture's topic and keyspace, with the job's endpoints and logins.
    pub fn verify_config(&self) -> userstream_verify::VerifyConfig {
        let c = &self.config;
        userstream_verify::VerifyConfig {
            bootstrap_servers: c.bootstrap_servers.clone(),
            registry_url: c.registry_url.clone(),
            registry_login: c.registry_login.clone(),
            topic: c.topic.clone(),
            cassandra_contact_point: c.cassandra_contact_point.clone(),
            cassandra_login: c.cassandra_login.clone(),
            keyspace: c.keyspace.clone(),
            request_timeout: c.request_timeout,
            stack_run_dir: c.stack_run_dir.clone(),
        }
    }

    /// Stops the queries, drops the keyspace, deletes the topic and subject.
    pub async fn cleanup(self) {
        let _ = userstream_stream::stop(&self.config).await;
        let drop = format!("DROP KEYSPACE IF EXISTS {}", self.config.keyspace);
        let _ = self.session.query_unpaged(drop.as_str(), &[]).await;
        let dlq = self.dlq_topic();
        let _ = userstream_kafka::delete_topics(
            &self.kafka_admin,
            &[&self.config.topic, &dlq],
            Duration::from_secs(20),
        )
        .await;
        let _ = self
            .registry
            .delete_subject(&self.config.subject(), false)
            .await;
        let _ = self
            .registry
            .delete_subject(&self.config.subject(), true)
            .await;
    }

    /// The dead-letter topic of the test's producer runs.
    pub fn dlq_topic(&self) -> String {
        format!("{}.dlq", self.config.topic)
    }

    /// The producer's configuration (`userstream-ingest`, the producer users run) for users
    /// `users` of `seed`, on the test's topic and subject.
    pub fn ingest_config(&self, seed: &str, users: &Range<u32>) -> anyhow::Result<IngestConfig> {
        ensure!(
            users.start.is_multiple_of(PAGE),
            "a range of users starts on a page boundary ({PAGE}), not at {}",
            users.start
        );
        let mut config = IngestConfig::default();
        config.kafka.bootstrap = self.kafka_admin.clone();
        config.kafka.topic = self.config.topic.clone();
        config.kafka.dlq_topic = self.dlq_topic();
        config.kafka.partitions = PARTITIONS;
        config.registry_url = self.config.registry_url.clone();
        // The producer's registry user registers the test subject's schema, as `produce` does.
        config.registry_login = userstream_endpoints::Endpoints::from_env()
            .registry_login(userstream_endpoints::RegistryRole::Producer);
        config.subject = Some(self.config.subject());
        config.source.seed = seed.to_owned();
        config.source.results_per_page = PAGE;
        config.source.start_page = users.start / PAGE + 1;
        config.count = Some(u64::from(users.end.saturating_sub(users.start)));
        Ok(config)
    }

    /// Produces users `users` of `seed` through `userstream-ingest`'s pipeline (generator
    /// source), at most `rate` per second; fails unless every one was delivered.
    pub async fn produce(
        &self,
        seed: &str,
        users: Range<u32>,
        rate: Option<f64>,
    ) -> anyhow::Result<RunSummary> {
        let mut config = self.ingest_config(seed, &users)?;
        config.rate = rate;
        let summary = userstream_ingest::produce_generated(
            &config,
            userstream_users_api::write_page,
            Arc::new(IngestStats::new()),
            CancellationToken::new(),
        )
        .await?;
        ensure!(
            summary.is_success() && summary.users_produced == config.count.unwrap_or(0),
            "{}",
            summary.render()
        );
        Ok(summary)
    }

    /// The users [`Fixture::produce`] writes for `users` of `seed`.
    pub fn users(&self, seed: &str, users: Range<u32>) -> anyhow::Result<Vec<User>> {
        Ok(userstream_ingest::generated_users(
            &self.ingest_config(seed, &users)?,
            userstream_users_api::write_page,
        ))
    }

    /// Sends one record as is (poison for the job), outside the producer pipeline.
    pub async fn send_raw(&self, key: &[u8], value: &[u8]) -> anyhow::Result<Delivered> {
        Ok(userstream_kafka::send_one(
            &self.kafka_admin,
            &self.config.topic,
            key,
            value,
            &[],
            Duration::from_secs(30),
        )
        .await?)
    }

    /// Sends records as they are (`(key, value)`), outside the producer pipeline, with one
    /// producer.
    pub async fn send_many(&self, records: &[(Vec<u8>, Vec<u8>)]) -> anyhow::Result<()> {
        userstream_kafka::send_many(
            &self.kafka_admin,
            &self.config.topic,
            records,
            Duration::from_secs(60),
        )
        .await?;
        Ok(())
    }

    /// Waits until `users` holds `n` rows (and `rejected_rows` `rejected`), failing early
    /// with the query's exception if one stops.
    pub async fn wait_for(
        &self,
        n: usize,
        rejected: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        self.wait(n, rejected, timeout, true).await
    }

    /// Like `wait_for`, without failing when a query is down or Spark unreachable (a
    /// supervisor is expected to bring it back).
    pub async fn wait_supervised(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait(n, 0, timeout, false).await
    }

    async fn wait(
        &self,
        n: usize,
        rejected: usize,
        timeout: Duration,
        fail_when_stopped: bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last_check = Instant::now();
        loop {
            // Cassandra may be down on purpose (fault tests): count again later.
            let counted = async {
                let users =
                    userstream_store::count_users(&self.session, &self.config.keyspace).await?;
                let rejected =
                    userstream_store::count_rejected(&self.session, &self.config.keyspace, None)
                        .await?;
                anyhow::Ok((users, rejected))
            };
            let (have, have_rejected) = match counted.await {
                Ok(counts) => counts,
                Err(e) if Instant::now() < deadline => {
                    println!("counting rows: {e}; trying again");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if have >= n && have_rejected >= rejected {
                return Ok(());
            }
            if fail_when_stopped && last_check.elapsed() > Duration::from_secs(10) {
                last_check = Instant::now();
                let status: StreamStatus = userstream_stream::status(&self.config).await?;
                if let Some(q) = status.queries.iter().find(|q| !q.active) {
                    bail!("query {} stopped: {:?}\n{status}", q.name, q.exception);
                }
            }
            if Instant::now() > deadline {
                let status = userstream_stream::status(&self.config)
                    .await
                    .map(|s| s.to_string());
                // Which rejections did land, and where: a missing one is then named.
                let landed =
                    userstream_store::rejected_rows(&self.session, &self.config.keyspace, None)
                        .await
                        .map(|rows| {
                            rows.iter()
                                .map(|r| {
                                    format!(
                                        "{}/{}: {}",
                                        r.kafka_partition,
                                        r.kafka_offset,
                                        r.reason.as_deref().unwrap_or("?")
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        });
                // The job's journal (see `journal.rs`): starts, failures, remedies.
                let journal = std::fs::read_to_string(
                    self.config
                        .checkpoint_root
                        .join(format!("{}.events.jsonl", self.config.query_name)),
                )
                .unwrap_or_default();
                bail!(
                    "after {timeout:?}: {have}/{n} users, {have_rejected}/{rejected} rejected \
                     [{}]\n{}\njournal:\n{journal}",
                    landed.unwrap_or_else(|e| e.to_string()),
                    status.unwrap_or_else(|e| e.to_string())
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Deletes every record of `topic` below its current end offsets, as retention would: the
/// log start moves up and the records are gone for every reader. Returns the new log starts.
/// Deletes as the stack's Kafka admin at `bootstrap`'s address, whichever login `bootstrap`
/// has: the reader may not delete records.
pub async fn delete_records_up_to_now(
    bootstrap: &KafkaAccess,
    topic: &str,
) -> anyhow::Result<Vec<i64>> {
    let admin_login = userstream_endpoints::Endpoints::from_env()
        .kafka(userstream_endpoints::KafkaRole::Admin)
        .login;
    let bootstrap = &KafkaAccess {
        bootstrap: bootstrap.bootstrap.clone(),
        login: admin_login.or_else(|| bootstrap.login.clone()),
    };
    use rdkafka::admin::{AdminClient, AdminOptions};
    use rdkafka::{Offset, TopicPartitionList};
    let cut = {
        let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
        tokio::task::spawn_blocking(move || {
            userstream_kafka::take_cut(&bootstrap, &topic, Duration::from_secs(10))
        })
        .await??
    };
    let mut offsets = TopicPartitionList::new();
    for p in &cut.partitions {
        offsets.add_partition_offset(topic, p.partition, Offset::Offset(p.high))?;
    }
    let admin: AdminClient<userstream_kafka::TracingContext> =
        userstream_kafka::base_config(bootstrap)
            .create_with_context(userstream_kafka::TracingContext)?;
    let result = admin.delete_records(&offsets, &AdminOptions::new()).await?;
    let mut starts = Vec::new();
    for e in result.elements() {
        e.error().map_err(|err| {
            anyhow::anyhow!("delete records of partition {}: {err}", e.partition())
        })?;
        if let Offset::Offset(o) = e.offset() {
            starts.push(o);
        }
    }
    Ok(starts)
}
