//! The console's data gathering against the real stack: every area from its real service,
//! then the whole console served over HTTP. Uses its own topics, keyspace and query, so it
//! runs beside the other tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use tokio_util::sync::CancellationToken;
use url::Url;
use userstream_console::gather;
use userstream_console::gather::KafkaSample;
use userstream_console::model::{lag, NodeState, ESTIMATE_SOURCES};
use userstream_console::model::{QueryView, SparkView};
use userstream_console::{Console, ConsoleConfig};
use userstream_ingest::{IngestConfig, IngestStats, RunSummary};
use userstream_kafka::TopicSpec;
use userstream_registry::RegistryClient;
use userstream_stream::StreamConfig;
use userstream_tests::{stack_config, stack_started};

const USERS: u32 = 300;
const TIMEOUT: Duration = Duration::from_secs(10);

/// The console over a private topic/keyspace/query; `None` (skipped) without a stack. The
/// stream config keeps the pipeline's logins (Kafka reader, Cassandra application role), as
/// the console and the job have them; the test's own set-up works as the admins.
async fn console_config() -> anyhow::Result<Option<(ConsoleConfig, tempfile::TempDir)>> {
    let stack = stack_config();
    if let Err(error) = userstream_kafka::fetch_metadata(
        &stack
            .client_endpoints()
            .kafka(userstream_endpoints::KafkaRole::Admin),
        TIMEOUT,
    )
    .await
    {
        if stack_started() {
            bail!("Kafka: {error}");
        }
        eprintln!("skipped: stack not up ({error})");
        return Ok(None);
    }
    let checkpoints = tempfile::tempdir()?;
    let mut config = ConsoleConfig::new(stack)?;
    let id = &uuid::Uuid::new_v4().simple().to_string()[..12];
    // `test-`: a prefix the reader, which the job and the console read as, may read.
    config.topic = format!("test-console-{id}");
    config.dlq_topic = format!("test-console-{id}.dlq");
    ensure!(
        userstream_stack::engines::kafka::READER_TOPIC_PREFIXES
            .iter()
            .any(|prefix| config.topic.starts_with(prefix)),
        "the job could not read {}",
        config.topic
    );
    config.keyspace = format!("console_test_{id}");
    config.query_name = format!("console-test-{id}");
    config.checkpoint_root = checkpoints.path().to_path_buf();
    config.fast_interval = Duration::from_millis(500);
    config.slow_interval = Duration::from_secs(1);
    Ok(Some((config, checkpoints)))
}

/// The job the console watches, as `userstream stream` runs it: the console's topic,
/// keyspace, query and checkpoints, at its endpoints with the same logins.
fn job_config(config: &ConsoleConfig) -> StreamConfig {
    let mut job = StreamConfig::with_state_dir(&config.stack.state_dir);
    job.set_endpoints(&config.endpoints);
    job.topic = config.topic.clone();
    job.keyspace = config.keyspace.clone();
    job.query_name = config.query_name.clone();
    job.checkpoint_root = config.checkpoint_root.clone();
    job.trigger = Duration::from_millis(500);
    job
}

async fn send_dead_letter(
    bootstrap: &userstream_endpoints::KafkaAccess,
    topic: &str,
) -> anyhow::Result<()> {
    let headers = [
        ("reason", "email: `x` is not an address"),
        ("error_code", "invalid_email"),
        ("scope", "record"),
    ];
    userstream_kafka::send_one(bootstrap, topic, b"k", b"{}", &headers, TIMEOUT).await?;
    Ok(())
}

/// Kafka as its admin: the test creates, writes and deletes its own topics, outside the
/// pipeline producer's ACLs.
fn kafka_admin(config: &ConsoleConfig) -> userstream_endpoints::KafkaAccess {
    config
        .stack
        .client_endpoints()
        .kafka(userstream_endpoints::KafkaRole::Admin)
}

/// The producer's configuration (`userstream-ingest`, generator source) for the console's
/// topics and subject: `USERS` users of seed "console".
fn ingest_config(config: &ConsoleConfig) -> IngestConfig {
    let stream = &job_config(config);
    let mut ingest = IngestConfig::default();
    ingest.kafka.bootstrap = kafka_admin(config);
    ingest.kafka.topic = stream.topic.clone();
    ingest.kafka.dlq_topic = config.dlq_topic.clone();
    ingest.registry_url = stream.registry_url.clone();
    ingest.registry_login = config
        .stack
        .client_endpoints()
        .registry_login(userstream_endpoints::RegistryRole::Producer);
    ingest.subject = Some(config.subject());
    ingest.source.seed = "console".to_owned();
    ingest.source.results_per_page = 100;
    ingest.count = Some(u64::from(USERS));
    ingest
}

async fn produce_users(ingest: &IngestConfig) -> anyhow::Result<RunSummary> {
    let summary = userstream_ingest::produce_generated(
        ingest,
        userstream_users_api::write_page,
        std::sync::Arc::new(IngestStats::new()),
        CancellationToken::new(),
    )
    .await?;
    ensure!(summary.is_success(), "{}", summary.render());
    Ok(summary)
}

/// Cassandra's admin role (the test creates and drops its keyspace).
fn cassandra_admin(config: &ConsoleConfig) -> Option<userstream_endpoints::Login> {
    config
        .stack
        .client_endpoints()
        .cassandra_login(userstream_endpoints::CassandraRole::Admin)
}

async fn cleanup(config: &ConsoleConfig, registry: &RegistryClient) {
    let stream = &job_config(config);
    let _ = userstream_stream::stop(stream).await;
    if let Ok(session) = userstream_store::connect(
        &stream.cassandra_contact_point,
        cassandra_admin(config).as_ref(),
        TIMEOUT,
        &stream.stack_run_dir,
    )
    .await
    {
        let drop = format!("DROP KEYSPACE IF EXISTS {}", stream.keyspace);
        let _ = session.query_unpaged(drop.as_str(), &[]).await;
    }
    let topics = [stream.topic.as_str(), config.dlq_topic.as_str()];
    let _ = userstream_kafka::delete_topics(&kafka_admin(config), &topics, TIMEOUT).await;
    let _ = registry.delete_subject(&config.subject(), false).await;
    let _ = registry.delete_subject(&config.subject(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_area_is_gathered_from_its_real_service() -> anyhow::Result<()> {
    let Some((config, _checkpoints)) = console_config().await? else {
        return Ok(());
    };
    let registry = RegistryClient::new(
        config.endpoints.registry_url.clone(),
        config
            .stack
            .client_endpoints()
            .registry_login(userstream_endpoints::RegistryRole::Admin)
            .as_ref(),
        TIMEOUT,
        &config.endpoints.stack_run_dir(),
    )?;
    let result = gather_each_area(&config, &registry).await;
    cleanup(&config, &registry).await;
    result
}

async fn gather_each_area(config: &ConsoleConfig, registry: &RegistryClient) -> anyhow::Result<()> {
    let stream = &job_config(config);
    let (sent, produced) = produce_and_start(config, stream).await?;

    // Wait until the query has processed everything (Spark), then compare every area.
    let spark = wait_until_processed(config, stream).await?;
    let users_query = &spark.queries[0];
    ensure!(
        users_query.active,
        "users query not active: {users_query:?}"
    );
    ensure!(spark.queries.len() == 2, "both queries listed: {spark:?}");

    let kafka = check_kafka(config, stream, users_query, &sent).await?;
    check_cassandra(stream, &kafka).await?;
    check_registry_airflow_stack(config, registry, &produced).await?;
    // Source: a users API that answers, and one that does not.
    check_source().await?;

    // The whole console over HTTP: every area answers and the flow is drawn.
    console_over_http(config).await
}

/// The console's topics, keyspace and subject made, `USERS` users and a dead letter produced,
/// and the job started on them: the ids sent and the producer's summary.
async fn produce_and_start(
    config: &ConsoleConfig,
    stream: &StreamConfig,
) -> anyhow::Result<(BTreeSet<String>, RunSummary)> {
    let admin = kafka_admin(config);
    let topics = [
        TopicSpec::new(&stream.topic, 2),
        TopicSpec::new(&config.dlq_topic, 1),
    ];
    userstream_kafka::ensure_topics(&admin, &topics, TIMEOUT).await?;
    let session = userstream_store::connect(
        &stream.cassandra_contact_point,
        cassandra_admin(config).as_ref(),
        TIMEOUT,
        &stream.stack_run_dir,
    )
    .await?;
    userstream_store::migrate(&session, &stream.keyspace, &Default::default()).await?;
    if let Some(app) = &stream.cassandra_login {
        userstream_store::grant_application_role(&session, &stream.keyspace, &app.username).await?;
    }
    let ingest = ingest_config(config);
    let sent: BTreeSet<String> =
        userstream_ingest::generated_users(&ingest, userstream_users_api::write_page)
            .iter()
            .map(|u| u.id.to_string())
            .collect();
    ensure!(sent.len() == USERS as usize, "{} distinct ids", sent.len());
    let produced = produce_users(&ingest).await?;
    send_dead_letter(&admin, &config.dlq_topic).await?;
    userstream_stream::start(stream)
        .await
        .context("stream start")?;
    Ok((sent, produced))
}

/// The job's queries once the users query has processed every record produced.
async fn wait_until_processed(
    config: &ConsoleConfig,
    stream: &StreamConfig,
) -> anyhow::Result<SparkView> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = gather::spark(&config.spark_job())
            .await
            .map_err(anyhow::Error::msg)?;
        let done = view.queries[0]
            .committed
            .get(&stream.topic)
            .is_some_and(|p| p.values().sum::<i64>() == i64::from(USERS));
        if done {
            return Ok(view);
        }
        if let Some(e) = &view.queries[0].exception {
            bail!("the query failed: {e}");
        }
        ensure!(
            Instant::now() < deadline,
            "the query did not process {USERS} records: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Kafka as the console gathers it against what was produced.
async fn check_kafka(
    config: &ConsoleConfig,
    stream: &StreamConfig,
    users_query: &QueryView,
    sent: &BTreeSet<String>,
) -> anyhow::Result<KafkaSample> {
    // What the console reads with: the reader.
    let bootstrap = &stream.bootstrap_servers;
    // Offsets, the dead letter with its reason, the newest processed user ids.
    let processed = users_query.committed.get(&stream.topic);
    let kafka = gather::kafka(
        bootstrap,
        &stream.topic,
        &config.dlq_topic,
        processed,
        5,
        TIMEOUT,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let topic = kafka
        .topics
        .iter()
        .find(|t| t.name == stream.topic)
        .context("users topic listed")?;
    ensure!(
        topic.end_total() == i64::from(USERS) && topic.partitions.len() == 2,
        "{topic:?}"
    );
    ensure!(kafka.dead_letters.len() == 1, "{:?}", kafka.dead_letters);
    ensure!(kafka.dead_letters[0].error_code == "invalid_email");
    ensure!(kafka.dead_letters[0].reason.contains("not an address"));
    ensure!(!kafka.newest_user_ids.is_empty() && kafka.newest_user_ids.len() <= 5);
    ensure!(
        kafka.newest_user_ids.iter().all(|id| sent.contains(id)),
        "ids we sent"
    );
    ensure!(
        lag(topic, users_query) == Some(0),
        "no lag once all is processed"
    );
    // Reading up to a bound below the end (a query behind the producer) returns only messages
    // below it, though the consumer fetches past it.
    let mut bounded = topic.clone();
    for p in &mut bounded.partitions {
        p.high -= 50;
    }
    let below = userstream_kafka::newest_messages(bootstrap, &bounded, 5, TIMEOUT).await?;
    ensure!(below.len() == 10, "5 per partition: {below:?}");
    for m in &below {
        let bound = bounded.partitions[m.partition as usize].high;
        ensure!(
            m.offset < bound && m.offset >= bound - 5,
            "{m:?} outside [{}, {bound})",
            bound - 5
        );
    }
    ensure!(
        !kafka.topics.iter().any(|t| t.name.starts_with("__")),
        "internal topics are left out"
    );

    Ok(kafka)
}

/// Cassandra as the console gathers it, for the newest ids Kafka listed.
async fn check_cassandra(stream: &StreamConfig, kafka: &KafkaSample) -> anyhow::Result<()> {
    // Cassandra: its own row estimate (never a scan), its write counter, the newest users'
    // rows, the rejected rows read with a bound.
    let access = gather::CassandraAccess {
        contact_point: stream.cassandra_contact_point.clone(),
        login: stream.cassandra_login.clone(),
        stack_run_dir: stream.stack_run_dir.clone(),
    };
    let mut cassandra_client =
        gather::CassandraClient::new(access.clone(), stream.keyspace.clone(), TIMEOUT);
    let cassandra = gather::cassandra(&mut cassandra_client, &kafka.newest_user_ids, 5)
        .await
        .map_err(anyhow::Error::msg)?;
    let estimate = &cassandra.users_estimate;
    // Cassandra records its on-disk figure every 5 minutes from flushed SSTables, so a table
    // this young has none worth the name: the write counter carries the estimate.
    ensure!(
        estimate.estimate && estimate.source == ESTIMATE_SOURCES,
        "{estimate:?}"
    );
    ensure!(
        estimate.rows >= Some(i64::from(USERS))
            && estimate.writes_since_start == cassandra.users_writes,
        "the estimate counts the rows not flushed yet: {estimate:?}"
    );
    ensure!(
        cassandra.rejected.rows == 0 && !cassandra.rejected.at_least,
        "{:?}",
        cassandra.rejected
    );
    ensure!(
        cassandra
            .users_writes
            .is_some_and(|w| w >= i64::from(USERS)),
        "write counter from system_views: {:?}",
        cassandra.users_writes
    );
    ensure!(
        cassandra.newest_users.len() == kafka.newest_user_ids.len(),
        "every processed newest id is in Cassandra: {:?}",
        cassandra.newest_users
    );
    ensure!(
        cassandra.newest_users[0].id == kafka.newest_user_ids[0],
        "Kafka's order kept"
    );
    ensure!(cassandra.newest_users.iter().all(|u| u.full_name.is_some()));
    // The exact count is the explicit, time-limited action.
    let exact = gather::count_rows(
        &access,
        &stream.keyspace,
        "users",
        "id",
        Duration::from_secs(60),
        |_| {},
    )
    .await;
    ensure!(
        exact == gather::CountOutcome::Finished(u64::from(USERS)),
        "{exact:?}"
    );

    Ok(())
}

/// The registry, Airflow and the stack as the console gathers them.
async fn check_registry_airflow_stack(
    config: &ConsoleConfig,
    registry: &RegistryClient,
    produced: &RunSummary,
) -> anyhow::Result<()> {
    // Registry: the pipeline subject in full.
    let view = gather::registry(registry, &config.subject())
        .await
        .map_err(anyhow::Error::msg)?;
    let subject = view.pipeline_subject.context("pipeline subject")?;
    ensure!(subject.versions == vec![1], "{subject:?}");
    ensure!(subject.latest_id == Some(produced.schema_id));
    ensure!(subject
        .latest_schema
        .is_some_and(|s| s.contains("\"dev.userstream\"") || s.contains("User")));
    ensure!(view.subjects.contains(&config.subject()));

    // Airflow: the four pipeline DAGs through the REST API with the stack's admin login.
    let mut airflow = gather::AirflowClient::new(
        reqwest::Client::new(),
        config.stack.endpoints().airflow_url,
        &config.stack.layout(),
    );
    let dags = gather::airflow(&mut airflow, 3, TIMEOUT)
        .await
        .map_err(anyhow::Error::msg)?;
    let ids: Vec<&str> = dags.dags.iter().map(|d| d.dag_id.as_str()).collect();
    ensure!(
        ids == [
            "users_ingest",
            "users_quality",
            "users_setup",
            "users_stream"
        ],
        "{ids:?}"
    );

    // Stack: every service healthy.
    let rows = gather::stack(&config.stack)
        .await
        .map_err(anyhow::Error::msg)?;
    ensure!(rows.len() >= 10, "{rows:?}");
    // Every service runs; health is reported per row, not asserted: Airflow's heartbeat-based
    // health can lag for a moment on a loaded machine ("dag_processor is unhealthy").
    ensure!(
        rows.iter().all(|r| r.pid.is_some() && r.rss_bytes > 0),
        "{rows:?}"
    );
    ensure!(
        rows.iter().all(|r| r.healthy || !r.detail.is_empty()),
        "an unhealthy row says why: {rows:?}"
    );
    ensure!(
        rows.iter()
            .filter(|r| ["kafka", "cassandra", "spark-connect"].contains(&r.service.as_str()))
            .all(|r| r.healthy),
        "the engines this test just used are healthy: {rows:?}"
    );

    Ok(())
}

/// The users API as the console probes it: one that answers, then the same one stopped.
async fn check_source() -> anyhow::Result<()> {
    let api = userstream_users_api::bind(userstream_users_api::UsersApiConfig {
        bind: "127.0.0.1:0".parse()?,
        ..Default::default()
    })
    .await?;
    let api_url = Url::parse(&format!("http://{}/api/", api.local_addr()))?;
    let stop_api = tokio_util::sync::CancellationToken::new();
    let stopped = stop_api.clone();
    let server = tokio::spawn(api.serve(async move { stopped.cancelled().await }));
    let http = reqwest::Client::new();
    let up = gather::source(&http, &api_url, TIMEOUT).await;
    stop_api.cancel();
    let _ = server.await;
    ensure!(up.reachable, "{up:?}");
    let down = gather::source(&http, &api_url, Duration::from_secs(2)).await;
    ensure!(
        !down.reachable && down.detail.contains("not answering"),
        "{down:?}"
    );

    Ok(())
}

async fn console_over_http(config: &ConsoleConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let listen = listener.local_addr()?;
    let base = format!("http://{listen}");
    // As `serve` does: the bound port names the cookie and the page's origin.
    let mut config = config.clone();
    config.listen = listen;
    let config = &config;
    let console = Console::new(config.clone());
    let cancel = tokio_util::sync::CancellationToken::new();
    console.spawn_sampler(&cancel)?;
    let router = userstream_console::router(console);
    let stop = cancel.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    let result = async {
        let http = log_in(&base, listen, &config.token).await?;
        let snapshot = every_area_answers(&http, &base).await?;
        check_served(&http, &base, &snapshot).await
    }
    .await;
    cancel.cancel();
    let _ = server.await;
    result
}

/// Logs in at the console served at `base` (port of `listen`) as a page does: refused without
/// the token; the link sets this port's cookie. Returns a client sending the token.
async fn log_in(
    base: &str,
    listen: std::net::SocketAddr,
    token: &str,
) -> anyhow::Result<reqwest::Client> {
    let refused = reqwest::get(format!("{base}/api/snapshot")).await?;
    ensure!(refused.status() == 401, "no token: {}", refused.status());
    let link = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .get(format!("{base}/?token={token}"))
        .send()
        .await?;
    let cookie = link
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .context("the link sets no cookie")?
        .to_str()?;
    let cookie_name = userstream_console::cookie_name(listen.port());
    ensure!(
        cookie.starts_with(&format!("{cookie_name}=")),
        "the cookie is not named {cookie_name}"
    );
    let mut headers = reqwest::header::HeaderMap::new();
    let mut bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
    bearer.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    Ok(http)
}

/// The snapshot once every area answers (within a minute).
async fn every_area_answers(
    http: &reqwest::Client,
    base: &str,
) -> anyhow::Result<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let snapshot: serde_json::Value = http
            .get(format!("{base}/api/snapshot"))
            .send()
            .await?
            .json()
            .await?;
        let failing: Vec<String> = [
            "stack",
            "kafka",
            "registry",
            "spark",
            "cassandra",
            "airflow",
        ]
        .iter()
        .filter(|area| snapshot[**area]["ok"] != true)
        .map(|area| format!("{area}: {}", snapshot[*area]["error"]))
        .collect();
        if failing.is_empty() {
            return Ok(snapshot);
        }
        if Instant::now() > deadline {
            bail!("areas still failing: {failing:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The page, the flow, the Kafka area, the Cassandra estimate and the explicit count as the
/// console serves them at `base`.
async fn check_served(
    http: &reqwest::Client,
    base: &str,
    snapshot: &serde_json::Value,
) -> anyhow::Result<()> {
    let states: Vec<&str> = snapshot["flow"]["nodes"]
        .as_array()
        .context("flow nodes")?
        .iter()
        .filter_map(|n| n["state"].as_str())
        .collect();
    ensure!(states.len() == 4, "{states:?}");
    let spark_state = serde_json::to_value(NodeState::Down)?;
    ensure!(
        snapshot["flow"]["nodes"][2]["state"] != spark_state,
        "the query runs, Spark is not down: {}",
        snapshot["flow"]
    );
    let page = http.get(base).send().await?.text().await?;
    ensure!(page.contains("userstream") && page.contains("/assets/console.js"));
    let kafka: serde_json::Value = http
        .get(format!("{base}/api/kafka"))
        .send()
        .await?
        .json()
        .await?;
    ensure!(kafka["data"]["dlq_size"] == 1, "{kafka}");
    let estimate = &snapshot["cassandra"]["data"]["users_estimate"];
    ensure!(
        estimate["estimate"] == true && estimate["rows"].as_i64() >= Some(i64::from(USERS)),
        "labelled an estimate, with every row landed: {estimate}"
    );
    // The explicit count: none until asked, then the exact number of rows.
    // Asked for by another page on this host (the browser sends the token's cookie
    // along): refused, nothing started.
    let forged = http
        .post(format!("{base}/api/cassandra/count"))
        .header(reqwest::header::ORIGIN, "http://127.0.0.1:1")
        .header("sec-fetch-site", "same-site")
        .send()
        .await?;
    ensure!(
        forged.status() == 403,
        "another page's count: {}",
        forged.status()
    );
    let none = http
        .get(format!("{base}/api/cassandra/count"))
        .send()
        .await?;
    ensure!(none.status() == 404, "no count before one is asked for");
    let count: serde_json::Value = http
        .post(format!("{base}/api/cassandra/count?seconds=60&wait=true"))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        count["state"] == "finished" && count["rows"] == USERS,
        "{count}"
    );
    ensure!(
        count["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("{USERS} rows")) && s.contains("exact")),
        "{count}"
    );
    let area: serde_json::Value = http
        .get(format!("{base}/api/cassandra"))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        area["count"] == count,
        "the area shows the last count: {area}"
    );
    let missing = http.get(format!("{base}/api/nope")).send().await?;
    ensure!(missing.status() == 404);
    Ok(())
}

/// `userstream console` over the state directory `state`: its exit status and what it said.
/// A console that starts after all is stopped (and reported) after 30 s.
async fn console_exit(
    bin: &Path,
    state: &Path,
) -> anyhow::Result<(std::process::ExitStatus, String)> {
    let child = tokio::process::Command::new(bin)
        .arg("console")
        .arg("--state-dir")
        .arg(state)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .context("the console started without its stack's secrets (still running after 30 s)")??;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status, said))
}

/// The console fails closed: without its stack's secrets file (missing, unreadable or
/// corrupt) the binary does not start, names the file and says what to do, and creates
/// nothing. Needs no stack, only `USERSTREAM_BIN`.
#[tokio::test]
async fn the_console_refuses_to_start_without_its_stacks_secrets() -> anyhow::Result<()> {
    let Some(bin) = std::env::var_os("USERSTREAM_BIN").map(PathBuf::from) else {
        ensure!(!stack_started(), "USERSTREAM_BIN is not set");
        eprintln!("skipped: USERSTREAM_BIN is not set");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;

    // Never started: no state directory at all, and the console makes none.
    let never = dir.path().join("never-started");
    let (status, said) = console_exit(&bin, &never).await?;
    let secrets = never.join("secrets.json");
    ensure!(
        !status.success(),
        "started without secrets: {status}; {said}"
    );
    ensure!(
        said.contains(&secrets.display().to_string()) && said.contains("userstream stack up"),
        "names the file and what to do: {said}"
    );
    ensure!(!never.exists(), "the console created {}", never.display());

    // Corrupt: refused, and left as it was.
    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir(&corrupt)?;
    let secrets = corrupt.join("secrets.json");
    std::fs::write(&secrets, "{\"kafka\": ")?;
    let (status, said) = console_exit(&bin, &corrupt).await?;
    ensure!(
        !status.success(),
        "started on a corrupt file: {status}; {said}"
    );
    ensure!(
        said.contains(&secrets.display().to_string()) && said.contains("cannot be parsed"),
        "names the file and its problem: {said}"
    );
    ensure!(
        std::fs::read_to_string(&secrets)? == "{\"kafka\": ",
        "the file was changed"
    );

    // Unreadable (a directory in its place: the tests may run as root, whom no mode stops).
    let unreadable = dir.path().join("unreadable");
    let secrets = unreadable.join("secrets.json");
    std::fs::create_dir_all(&secrets)?;
    let (status, said) = console_exit(&bin, &unreadable).await?;
    ensure!(
        !status.success(),
        "started on an unreadable file: {status}; {said}"
    );
    ensure!(
        said.contains(&secrets.display().to_string()) && said.contains("permissions"),
        "names the file and what to do: {said}"
    );
    Ok(())
}
