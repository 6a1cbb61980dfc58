//! Shared set-up of the tests against the real stack.
//!
//! Endpoints from the stack's ports in the environment (`USERSTREAM_KAFKA_PORT`, ...; loopback
//! defaults), or their address overrides, as every command reads them.
//! When a service is unreachable: fail if `USERSTREAM_STACK_STARTED=1`, else print
//! "skipped: ..." and pass.

#![allow(dead_code)]

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use userstream_registry::RegistryClient;
use userstream_store::Replication;
use userstream_stream::produce::{create_topic, delete_topic, FramedProducer};
use userstream_stream::{StreamConfig, StreamStatus};

/// A topic, keyspace, query and checkpoint directory of one test.
pub struct Fixture {
    pub config: StreamConfig,
    pub producer: FramedProducer,
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
    config.set_endpoints(&userstream_endpoints::Endpoints::from_env());
    let unique = uuid::Uuid::new_v4().simple().to_string();
    config.topic = format!("test-{test}-{}", &unique[..12]);
    config.keyspace = format!("t_{}_{}", test.replace('-', "_"), &unique[..12]);
    config.query_name = format!("test-{test}-{}", &unique[..12]);
    config.trigger = Duration::from_millis(500);
    config.rejected_trigger = Duration::from_secs(1);

    // Reachability first: skip or fail as the environment says.
    if let Err(e) = userstream_stack::probe::spark_connect_select_one(&config.connect_url).await {
        return skip_or_fail(&format!("Spark Connect at {}: {e}", config.connect_url));
    }
    let session =
        match userstream_store::connect(&config.cassandra_contact_point, Duration::from_secs(10))
            .await
        {
            Ok(s) => s,
            Err(e) => return skip_or_fail(&e.to_string()),
        };
    let registry = RegistryClient::new(config.registry_url.clone(), Duration::from_secs(10))?;
    if let Err(e) = registry.subjects().await {
        return skip_or_fail(&format!("registry: {e}"));
    }
    if let Err(e) =
        userstream_kafka::fetch_metadata(&config.bootstrap_servers, Duration::from_secs(10)).await
    {
        return skip_or_fail(&e.to_string());
    }

    create_topic(&config.bootstrap_servers, &config.topic, 2).await?;
    userstream_store::migrate(&session, &config.keyspace, &Replication::default()).await?;
    let producer = FramedProducer::new(
        &config.bootstrap_servers,
        &registry,
        &config.subject(),
        &config.topic,
    )
    .await?;
    Ok(Some(Fixture {
        config,
        producer,
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
    /// Stops the queries, drops the keyspace, deletes the topic and subject.
    pub async fn cleanup(self) {
        let _ = userstream_stream::stop(&self.config).await;
        let drop = format!("DROP KEYSPACE IF EXISTS {}", self.config.keyspace);
        let _ = self.session.query_unpaged(drop.as_str(), &[]).await;
        delete_topic(&self.config.bootstrap_servers, &self.config.topic).await;
        let _ = self
            .registry
            .delete_subject(&self.config.subject(), false)
            .await;
        let _ = self
            .registry
            .delete_subject(&self.config.subject(), true)
            .await;
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
            let have = userstream_store::count_users(&self.session, &self.config.keyspace).await?;
            let have_rejected =
                userstream_store::count_rejected(&self.session, &self.config.keyspace, None)
                    .await?;
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
                bail!(
                    "after {timeout:?}: {have}/{n} users, {have_rejected}/{rejected} rejected\n{}",
                    status.unwrap_or_else(|e| e.to_string())
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Deletes every record of `topic` below its current end offsets, as retention would: the
/// log start moves up and the records are gone for every reader. Returns the new log starts.
pub async fn delete_records_up_to_now(bootstrap: &str, topic: &str) -> anyhow::Result<Vec<i64>> {
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
