//! Every engine refuses callers without the stack's credentials, and each principal may do
//! only its own work: checked with each engine's own client (rdkafka, the scylla driver,
//! HTTP, spark-connect-rs), and for Spark Connect also from another host (a network namespace
//! of this test's own). Secrets never appear in a process's arguments or in a log, checked
//! during the run and once more after it (`no_secret_in_any_log_after_the_whole_run`).

use std::time::Duration;

use anyhow::{bail, ensure, Context};
use userstream_endpoints::credentials::{Credentials, Login};
use userstream_endpoints::{Endpoints, KafkaAccess, KafkaRole};
use userstream_tests::{stack_config, stack_started};

const TIMEOUT: Duration = Duration::from_secs(15);

/// The stack's endpoints with its credentials; `None` (skipped) without a stack.
async fn stack() -> anyhow::Result<Option<(Endpoints, Credentials)>> {
    let config = stack_config();
    let endpoints = config.client_endpoints();
    let Some(credentials) = endpoints.credentials.clone() else {
        if stack_started() {
            bail!(
                "no secrets file at {}: `stack up` writes it",
                config.layout().secrets().display()
            );
        }
        eprintln!("skipped: no stack secrets file (run `userstream stack up`)");
        return Ok(None);
    };
    let admin = endpoints.kafka(KafkaRole::Admin);
    if let Err(error) = userstream_kafka::fetch_metadata(&admin, TIMEOUT).await {
        if stack_started() {
            bail!("Kafka as admin: {error}");
        }
        eprintln!("skipped: stack not up ({error})");
        return Ok(None);
    }
    Ok(Some((endpoints, credentials)))
}

fn with_password(login: &Login, password: &str) -> Login {
    Login::new(login.username.clone(), password)
}

#[tokio::test]
async fn kafka_refuses_strangers_and_keeps_each_principal_to_its_work() -> anyhow::Result<()> {
    let Some((endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let topic = userstream_endpoints::names::TOPIC;
    let at = |login: Option<Login>| KafkaAccess {
        bootstrap: endpoints.kafka_bootstrap.clone(),
        login,
    };
    let short = Duration::from_secs(8);

    let plaintext = userstream_kafka::fetch_metadata(&at(None), short).await;
    ensure!(plaintext.is_err(), "a client without SASL got metadata");
    let wrong = at(Some(with_password(
        &credentials.kafka.reader,
        "not-the-password",
    )));
    let refused = userstream_kafka::fetch_metadata(&wrong, short)
        .await
        .err()
        .context("a wrong password got metadata")?;
    eprintln!("wrong password: {refused}");

    // The producer may not read the users topic (Fetch needs Read).
    let producer = at(Some(credentials.kafka.producer.clone()));
    let read = first_record(&producer, topic).await;
    let read_error = read.err().context("the producer read the users topic")?;
    ensure!(
        read_error.contains("authoriz") || read_error.contains("Authoriz"),
        "the producer's read failed, but not for authorization: {read_error}"
    );
    // The reader may read it, and may not write it.
    let reader = at(Some(credentials.kafka.reader.clone()));
    first_record(&reader, topic)
        .await
        .map_err(anyhow::Error::msg)
        .context("the reader reads the users topic")?;
    let write = userstream_kafka::send_one(&reader, topic, b"k", b"x", &[], short).await;
    ensure!(write.is_err(), "the reader wrote to the users topic");
    // Nobody but admin reaches a topic without ACLs.
    let other =
        userstream_kafka::send_one(&producer, "not-the-pipelines", b"k", b"x", &[], short).await;
    ensure!(
        other.is_err(),
        "the producer wrote to a topic it has no ACL for"
    );
    Ok(())
}

/// The first record of `topic`'s partition 0, as `access` sees it; the error text otherwise.
async fn first_record(access: &KafkaAccess, topic: &str) -> Result<(), String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let (access, topic) = (access.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer<userstream_kafka::TracingContext> =
            userstream_kafka::base_config(&access)
                .set("group.id", "userstream-security-test")
                .set("enable.auto.commit", "false")
                .create_with_context(userstream_kafka::TracingContext)
                .map_err(|e| e.to_string())?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, 0, Offset::Beginning)
            .map_err(|e| e.to_string())?;
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        let deadline = std::time::Instant::now() + TIMEOUT;
        while std::time::Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(500)) {
                Some(Ok(_)) => return Ok(()),
                Some(Err(e)) => return Err(e.to_string()),
                None => {}
            }
        }
        Err(format!("no record of {topic} within {TIMEOUT:?}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

#[tokio::test]
async fn cassandra_refuses_strangers_and_the_app_role_cannot_drop_or_create() -> anyhow::Result<()>
{
    let Some((endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let contact = &endpoints.cassandra;
    let connect = |login: Option<Login>| async move {
        userstream_store::connect(
            contact,
            login.as_ref(),
            TIMEOUT,
            &userstream_endpoints::stack_run_dir(&userstream_endpoints::state_dir_from_env()),
        )
        .await
    };
    ensure!(connect(None).await.is_err(), "an anonymous CQL session");
    ensure!(
        connect(Some(Login::new("cassandra", "cassandra")))
            .await
            .is_err(),
        "the default superuser still logs in"
    );
    // Not only refused now: the well-known superuser never existed, so nobody could log in
    // with it while the node was new (the stack's role manager creates its admin role instead).
    let admin = connect(Some(credentials.cassandra.admin.clone()))
        .await
        .context("the admin role logs in")?;
    let roles: Vec<String> = admin
        .query_unpaged("SELECT role FROM system_auth.roles", &[])
        .await?
        .into_rows_result()?
        .rows::<(String,)>()?
        .map(|row| row.map(|(role,)| role))
        .collect::<Result<_, _>>()?;
    ensure!(
        roles.contains(&credentials.cassandra.admin.username),
        "the admin role is missing from {roles:?}"
    );
    ensure!(
        !roles.iter().any(|role| role == "cassandra"),
        "the default superuser `cassandra` was created: {roles:?}"
    );
    drop(admin);
    let wrong = with_password(&credentials.cassandra.app, "not-the-password");
    ensure!(
        connect(Some(wrong)).await.is_err(),
        "a wrong password logged in"
    );

    let app = connect(Some(credentials.cassandra.app.clone()))
        .await
        .context("the application role logs in")?;
    let keyspace = userstream_endpoints::names::KEYSPACE;
    app.query_unpaged(format!("SELECT id FROM {keyspace}.users LIMIT 1"), &[])
        .await
        .context("the application role reads the users table")?;
    // (Cassandra's MODIFY, which the job needs, includes TRUNCATE: it cannot be narrowed.)
    for forbidden in [
        format!("DROP KEYSPACE {keyspace}"),
        format!("DROP TABLE {keyspace}.users"),
        "CREATE KEYSPACE userstream_security_probe WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}".to_owned(),
        format!("GRANT ALL ON KEYSPACE {keyspace} TO {}", credentials.cassandra.app.username),
    ] {
        let outcome = app.query_unpaged(forbidden.as_str(), &[]).await;
        let error = outcome
            .err()
            .with_context(|| format!("the application role ran `{forbidden}`"))?;
        ensure!(
            error.to_string().contains("Unauthorized") || error.to_string().contains("permission"),
            "`{forbidden}` failed, but not for lack of permission: {error}"
        );
    }

    Ok(())
}

/// Rotation of the application role's password, as a user runs it: the engine first, then
/// the file, then the Spark Connect server (which holds the job's login) and the job's queries
/// restart. Ignored in `cargo test`: restarting the Connect server would pull it from under
/// the tests running beside it; the test command runs it alone.
#[tokio::test]
#[ignore = "restarts the Spark Connect server: run alone (scripts/test.sh does)"]
async fn rotating_the_app_password_restarts_the_connect_server_and_the_job() -> anyhow::Result<()> {
    let Some((endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let bin =
        std::env::var("USERSTREAM_BIN").context("USERSTREAM_BIN (the test command sets it)")?;
    let contact = &endpoints.cassandra;
    let connect = |login: Option<Login>| async move {
        userstream_store::connect(
            contact,
            login.as_ref(),
            TIMEOUT,
            &userstream_endpoints::stack_run_dir(&userstream_endpoints::state_dir_from_env()),
        )
        .await
    };
    let config = stack_config();
    let old = credentials.cassandra.app.clone();
    let job_ran = std::process::Command::new(&bin)
        .args(["stream", "status"])
        .output()?
        .status
        .success();
    let rotated = std::process::Command::new(&bin)
        .args(["stack", "credentials", "--rotate", "cassandra-app"])
        .output()?;
    ensure!(
        rotated.status.success(),
        "stack credentials --rotate cassandra-app: {}\n{}",
        rotated.status,
        String::from_utf8_lossy(&rotated.stderr)
    );
    let rotated = config
        .client_endpoints()
        .credentials
        .context("the secrets file after rotation")?
        .cassandra
        .app;
    ensure!(
        rotated.password != old.password,
        "the password did not change"
    );
    // Cassandra caches a login's credentials for a moment (credentials_validity, 2 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while connect(Some(old.clone())).await.is_ok() {
        ensure!(
            std::time::Instant::now() < deadline,
            "the old password still logs in 20 s after rotation"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    connect(Some(rotated))
        .await
        .context("the new password logs in")?;
    // A job that ran before writes with the new login now: its queries run again.
    let status = std::process::Command::new(&bin)
        .args(["stream", "status"])
        .output()?;
    ensure!(
        !job_ran || status.status.success(),
        "after rotation, `stream status` exited {}:\n{}",
        status.status,
        String::from_utf8_lossy(&status.stdout)
    );
    Ok(())
}

#[tokio::test]
async fn the_registry_refuses_strangers_and_readers_cannot_write() -> anyhow::Result<()> {
    let Some((endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let http = reqwest::Client::new();
    let subjects = format!(
        "{}/subjects",
        endpoints.registry_url.as_str().trim_end_matches('/')
    );
    let anonymous = http.get(&subjects).send().await?.status();
    ensure!(anonymous == 401, "anonymous GET /subjects: {anonymous}");
    let reader = &credentials.registry.reader;
    let wrong = http
        .get(&subjects)
        .basic_auth(&reader.username, Some("not-the-password"))
        .send()
        .await?
        .status();
    ensure!(wrong == 401, "wrong password: {wrong}");
    let read = http
        .get(&subjects)
        .basic_auth(&reader.username, Some(&reader.password))
        .send()
        .await?
        .status();
    ensure!(read.is_success(), "the reader lists subjects: {read}");
    let register = http
        .post(format!("{subjects}/security-probe-value/versions"))
        .basic_auth(&reader.username, Some(&reader.password))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(r#"{"schema": "{\"type\": \"string\"}"}"#)
        .send()
        .await?
        .status();
    ensure!(
        register == 403,
        "the reader registering a schema: {register}"
    );

    // The management port answers without a login, so it serves health only: the stack's
    // agent swaps the prebuilt registry's metrics handler for one answering 404.
    let management = format!("http://127.0.0.1:{}", endpoints.ports.registry_management);
    let health = http
        .get(format!("{management}/health/ready"))
        .send()
        .await?
        .status();
    ensure!(health.is_success(), "GET /health/ready: {health}");
    for path in [
        "/metrics",
        "/metrics/",
        "/metrics?name=jvm_info",
        "/q/metrics",
    ] {
        let response = http.get(format!("{management}{path}")).send().await?;
        let status = response.status();
        let body = response.text().await?;
        ensure!(
            status == 404 && !body.contains("jvm_"),
            "GET {path} on the management port: {status}, {} bytes",
            body.len()
        );
    }
    Ok(())
}

#[tokio::test]
async fn spark_connect_wants_the_token() -> anyhow::Result<()> {
    let Some((endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let url = &endpoints.spark_connect_url;
    let none = userstream_stack::engines::spark::spark_connect_select_one(url, None).await;
    let refused = none.err().context("SELECT 1 without the token answered")?;
    ensure!(
        refused.contains("token"),
        "refused, but not for the token: {refused}"
    );
    let wrong =
        userstream_stack::engines::spark::spark_connect_select_one(url, Some("not-the-token"))
            .await;
    ensure!(wrong.is_err(), "SELECT 1 with a wrong token answered");
    userstream_stack::engines::spark::spark_connect_select_one(
        url,
        Some(&credentials.spark_connect_token),
    )
    .await
    .map_err(anyhow::Error::msg)
    .context("SELECT 1 with the token")?;
    Ok(())
}

/// A test host: a network namespace joined to this one by a veth pair. Removed on drop.
struct TestHost {
    namespace: String,
    host_address: String,
}

impl TestHost {
    fn create() -> anyhow::Result<Self> {
        let id = std::process::id() % 200 + 20;
        let namespace = format!("userstream-test-{id}");
        let (outside, inside) = (format!("usv{id}a"), format!("usv{id}b"));
        let host_address = format!("10.231.{id}.1");
        let host = Self {
            namespace: namespace.clone(),
            host_address: host_address.clone(),
        };
        let _ = run("ip", &["netns", "del", &namespace]);
        let _ = run("ip", &["link", "del", &outside]);
        for args in [
            vec!["netns", "add", namespace.as_str()],
            vec![
                "link", "add", &outside, "type", "veth", "peer", "name", &inside,
            ],
            vec!["link", "set", &inside, "netns", &namespace],
            vec![
                "addr",
                "add",
                &format!("{host_address}/24"),
                "dev",
                &outside,
            ],
            vec!["link", "set", &outside, "up"],
        ] {
            run("ip", &args)?;
        }
        for args in [
            vec!["addr", "add", &format!("10.231.{id}.2/24"), "dev", &inside],
            vec!["link", "set", &inside, "up"],
            vec!["link", "set", "lo", "up"],
        ] {
            let mut full = vec!["netns", "exec", namespace.as_str(), "ip"];
            full.extend(args.iter().copied());
            run("ip", &full)?;
        }
        Ok(host)
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and the pair with it.
        let _ = run("ip", &["netns", "del", &self.namespace]);
    }
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("{program} {}", args.join(" ")))?;
    ensure!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test]
async fn spark_connect_refuses_a_caller_from_another_host_even_with_the_token() -> anyhow::Result<()>
{
    let Some((endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let Ok(binary) = std::env::var("USERSTREAM_BIN") else {
        if stack_started() {
            bail!("USERSTREAM_BIN is not set: the test command sets it");
        }
        eprintln!("skipped: USERSTREAM_BIN (the userstream binary) not set");
        return Ok(());
    };
    let host = TestHost::create()
        .context("creating a test host (ip netns + veth; needs root or CAP_NET_ADMIN)")?;
    // Spark 3.5 listens on every interface: the other host reaches the port, and the
    // interceptor must refuse it although the call carries the right token.
    let url = format!(
        "sc://{}:{}",
        host.host_address, endpoints.ports.spark_connect
    );
    // An address elsewhere gets no login of the stack's: the token is given for it, the way a
    // user names a server elsewhere (`--engine-credentials`).
    let dir = tempfile::tempdir()?;
    let engines = dir.path().join("engines.json");
    std::fs::write(
        &engines,
        serde_json::json!({"spark_connect_token": credentials.spark_connect_token}).to_string(),
    )?;
    let output = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &host.namespace,
            &binary,
            "stream",
            "status",
            "--connect-url",
            &url,
            "--engine-credentials",
        ])
        .arg(&engines)
        .output()
        .context("userstream stream status from the test host")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        text.contains("loopback"),
        "the call from {} was not refused as non-loopback (exit {}): {text}",
        host.host_address,
        output.status
    );
    Ok(())
}

#[tokio::test]
async fn no_secret_is_in_a_process_argument_a_log_or_a_readable_file() -> anyhow::Result<()> {
    let Some((_, _)) = stack().await? else {
        return Ok(());
    };
    let found = exposed_secrets(&stack_config().layout())?;
    ensure!(
        found.is_empty(),
        "secrets or personal data exposed: {found:#?}"
    );
    Ok(())
}

/// The same scan once every other test has run (the test command runs it last, with
/// `--ignored`): Spark Connect logs a plan when it drops an abandoned execution, which may be
/// long after the test that started it. Needs no running stack, only its state directory.
#[tokio::test]
#[ignore = "run by the test command after every other test"]
async fn no_secret_in_any_log_after_the_whole_run() -> anyhow::Result<()> {
    let layout = stack_config().layout();
    if !layout.secrets().exists() {
        if stack_started() {
            bail!("no secrets file at {}", layout.secrets().display());
        }
        eprintln!("skipped: no stack secrets file (run `userstream stack up`)");
        return Ok(());
    }
    let found = exposed_secrets(&layout)?;
    ensure!(found.is_empty(), "secrets exposed: {found:#?}");
    // Airflow's task logs and the engines' files written during the run are private too.
    ensure_private(layout.state(), " after the run")
}

/// Every place a value of the secrets file (or, in a file, a user's e-mail address) shows
/// where it must not: a process's arguments,
/// a log (`<state>/logs`: every service's, `spark-connect.log` among them), what Spark writes
/// under the state directory (`data/spark-*`: the worker's application dirs with the
/// executors' logs, the driver's local dir, the master's recovery files; `data/checkpoints`),
/// and a configuration file others may read.
fn exposed_secrets(layout: &userstream_stack::Layout) -> anyhow::Result<Vec<String>> {
    let secrets =
        userstream_stack::secrets::read(&layout.secrets())?.context("the secrets file")?;
    let values: Vec<String> = secrets.values().into_iter().map(str::to_owned).collect();
    ensure!(
        values.iter().all(|v| v.len() >= 8),
        "a secret shorter than 8 characters would match by chance"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(layout.secrets())?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "secrets file mode {mode:o}");
    let holds_secret = |text: &str| values.iter().any(|v| text.contains(v.as_str()));

    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if holds_secret(&cmdline) {
            found.push(format!(
                "process {}: {}",
                entry.file_name().to_string_lossy(),
                cmdline
                    .replace('\0', " ")
                    .chars()
                    .take(80)
                    .collect::<String>()
            ));
        }
    }
    let mut scanned = vec![layout.logs()];
    if let Ok(entries) = std::fs::read_dir(layout.data_root()) {
        scanned.extend(
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("spark") || n == "checkpoints")
                }),
        );
    }
    for file in scanned.iter().flat_map(|dir| walk(dir)) {
        // The connector jars the worker copies into each application's directory.
        if file.extension().is_some_and(|e| e == "jar") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if holds_secret(&text) {
            found.push(format!("file {}", file.display()));
        }
        // The records' own fields must not be logged either: the Cassandra driver once
        // logged every batch Cassandra warned about with its bound values.
        if !file.starts_with(layout.data_root().join("checkpoints")) && holds_personal_data(&text) {
            found.push(format!(
                "file {} holds a user's e-mail address",
                file.display()
            ));
        }
    }
    for entry in walk(&layout.conf_root()) {
        let mode = std::fs::metadata(&entry)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            found.push(format!(
                "{} is readable by others ({mode:o})",
                entry.display()
            ));
        }
    }
    Ok(found)
}

/// True when `text` holds an e-mail address of a generated user (`first.last@example.com`,
/// the users API's form, as randomuser.me's).
fn holds_personal_data(text: &str) -> bool {
    text.match_indices("@example.com").any(|(at, _)| {
        let local = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .count();
        local > 0
    })
}

#[test]
fn personal_data_is_an_address_of_a_generated_user() {
    assert!(holds_personal_data(
        "[.., email='nicklas.poulsen@example.com', ..]"
    ));
    assert!(!holds_personal_data(
        "see https://example.com/ or <@example.com>"
    ));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Every Spark UI (master, worker, the Connect server's driver) asks for the console token,
/// and no page or JSON API a caller with the token can reach shows a value of the secrets
/// file: the pages linked from each UI's front page (two levels), the driver's `/connect/`
/// page and the REST API's environment, executors and SQL listings.
#[tokio::test]
async fn spark_uis_want_the_token_and_show_no_secret() -> anyhow::Result<()> {
    let Some((endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let layout = stack_config().layout();
    let secrets =
        userstream_stack::secrets::read(&layout.secrets())?.context("the secrets file")?;
    let values: Vec<String> = secrets.values().into_iter().map(str::to_owned).collect();
    let token = &credentials.console_token;
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        // Follow redirects by hand: each hop must carry the token too.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let uis = [
        ("master", endpoints.spark_master_ui_url.clone()),
        ("worker", endpoints.spark_worker_ui_url.clone()),
        ("driver", endpoints.spark_driver_ui_url.clone()),
    ];
    let mut exposed = Vec::new();
    let mut fetched = 0usize;
    for (name, base) in &uis {
        let base = base.trim_end_matches('/').to_owned();
        for (what, request) in [
            ("no login", http.get(format!("{base}/"))),
            (
                "a wrong token",
                http.get(format!("{base}/")).bearer_auth("not-the-token"),
            ),
            (
                "a wrong password",
                http.get(format!("{base}/"))
                    .basic_auth("admin", Some("not-the-token")),
            ),
            ("no login", http.get(format!("{base}/json/"))),
            ("no login", http.get(format!("{base}/api/v1/applications"))),
        ] {
            let status = request.send().await?.status();
            ensure!(
                status == reqwest::StatusCode::UNAUTHORIZED,
                "the Spark {name} UI answered {status} to a caller with {what}"
            );
        }
        let mut pending = vec![format!("{base}/")];
        if *name == "driver" {
            pending.push(format!("{base}/connect/"));
            let apps: serde_json::Value = http
                .get(format!("{base}/api/v1/applications"))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            for app in apps.as_array().into_iter().flatten() {
                let id = app["id"].as_str().unwrap_or_default();
                for api in [
                    "environment",
                    "executors",
                    "sql",
                    "jobs",
                    "streaming/statistics",
                ] {
                    pending.push(format!("{base}/api/v1/applications/{id}/{api}"));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut depth = 0;
        while !pending.is_empty() && depth < 3 {
            let mut next = Vec::new();
            for url in pending.drain(..) {
                if !seen.insert(url.clone()) || seen.len() > 150 {
                    continue;
                }
                let response = http.get(&url).bearer_auth(token).send().await?;
                let status = response.status();
                if let Some(location) = response.headers().get("location") {
                    let location = location.to_str().unwrap_or_default();
                    next.push(same_origin(&base, location));
                }
                let body = response.text().await?;
                fetched += 1;
                ensure!(
                    status != reqwest::StatusCode::UNAUTHORIZED,
                    "the Spark {name} UI refused its token at {url}"
                );
                if values.iter().any(|v| body.contains(v.as_str())) {
                    exposed.push(url.clone());
                }
                next.extend(links(&body).into_iter().filter_map(|href| {
                    let url = same_origin(&base, &href);
                    // Kill links are off; never follow anything that acts.
                    (url.starts_with(&base) && !url.contains("kill")).then_some(url)
                }));
            }
            pending = next;
            depth += 1;
        }
    }
    ensure!(
        exposed.is_empty(),
        "secret values on Spark UI pages: {exposed:#?}"
    );
    eprintln!("{fetched} Spark UI pages and API answers scanned: no secret");
    Ok(())
}

/// The `href="…"` values of an HTML page.
fn links(body: &str) -> Vec<String> {
    body.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}

/// `href` as an absolute URL on `base`'s host (Spark's links are absolute paths).
fn same_origin(base: &str, href: &str) -> String {
    if href.starts_with("http://") || href.starts_with("https://") {
        href.to_owned()
    } else if let Some(path) = href.strip_prefix('/') {
        let origin = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        format!("{origin}/{path}")
    } else {
        format!("{base}/{href}")
    }
}

/// A Spark application that does not know the stack's RPC secret is refused by the master:
/// one submitted with `spark-submit`, one from a plain pyspark session, one with
/// `spark.authenticate` on and a wrong secret. Each is stopped as soon as the master's
/// refusal shows in its log (or after 90 s); none may register.
#[tokio::test]
async fn spark_refuses_an_application_without_the_rpc_secret() -> anyhow::Result<()> {
    let Some((endpoints, _)) = stack().await? else {
        return Ok(());
    };
    let layout = stack_config().layout();
    let spark_home = layout
        .spark_home()
        .context("no Spark distribution under the runtime dir (`userstream stack install`)")?;
    let java = userstream_stack::install::find_java17(None)?;
    let python = layout.spark_venv().join("bin/python");
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("stranger.py");
    std::fs::write(
        &script,
        format!(
            "import sys\nfrom pyspark.sql import SparkSession\n\
             builder = SparkSession.builder.master({master:?}).appName('stranger')\n\
             builder = builder.config('spark.ui.enabled', 'false')\n\
             for pair in sys.argv[1:]:\n    key, value = pair.split('=', 1)\n    builder = builder.config(key, value)\n\
             print('COUNTED', builder.getOrCreate().range(10).count(), flush=True)\n",
            master = endpoints.spark_master_url
        ),
    )?;
    let attempts: [(&str, std::path::PathBuf, Vec<String>); 3] = [
        (
            "spark-submit",
            spark_home.join("bin/spark-submit"),
            vec![script.display().to_string()],
        ),
        (
            "a pyspark session",
            python.clone(),
            vec![script.display().to_string()],
        ),
        (
            "a wrong secret",
            python,
            vec![
                script.display().to_string(),
                "spark.authenticate=true".into(),
                "spark.authenticate.secret=not-the-secret".into(),
            ],
        ),
    ];
    let mut runs = Vec::new();
    for (what, program, args) in attempts {
        let mut child = tokio::process::Command::new(&program)
            .args(&args)
            .env("JAVA_HOME", &java)
            .env("SPARK_HOME", &spark_home)
            .env("PYSPARK_PYTHON", layout.spark_venv().join("bin/python"))
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let stderr = child.stderr.take().context("stderr")?;
        runs.push(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            let verdict = tokio::time::timeout(Duration::from_secs(90), async {
                while let Some(line) = lines.next_line().await? {
                    if line.contains("Connected to Spark cluster") {
                        return Ok::<_, std::io::Error>(Err(line));
                    }
                    // The master's answer (a SASL failure) shows in the cause under each
                    // "Failed to connect to master"; after three it gives up.
                    let lower = line.to_lowercase();
                    if lower.contains("sasl") || lower.contains("all masters are unresponsive") {
                        return Ok(Ok(line));
                    }
                }
                Ok(Err("its log ended without a refusal".to_owned()))
            })
            .await;
            let _ = child.kill().await;
            (what, verdict)
        });
    }
    for (what, verdict) in futures::future::join_all(runs).await {
        match verdict {
            Ok(Ok(Ok(refusal))) => eprintln!("{what}: refused ({})", refusal.trim()),
            Ok(Ok(Err(line))) => bail!("{what}: the master let the application in: {line}"),
            Ok(Err(error)) => bail!("{what}: reading its log: {error}"),
            Err(_) => bail!("{what}: no refusal within 90 s"),
        }
    }
    Ok(())
}

/// Cassandra listens on its CQL and storage ports only: no JMX (which takes no login and lets
/// a caller run code as the stack's user).
#[tokio::test]
async fn cassandra_serves_no_jmx() -> anyhow::Result<()> {
    let Some((endpoints, _)) = stack().await? else {
        return Ok(());
    };
    let layout = stack_config().layout();
    let pid = userstream_stack::process::running(&layout.pid_file("cassandra"))
        .context("Cassandra is not running")?
        .pid;
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))?;
    ensure!(
        !cmdline.contains("cassandra.jmx.") && !cmdline.contains("jmxremote"),
        "Cassandra is started with a JMX port"
    );
    let mut listening = listening_ports(pid)?;
    listening.sort_unstable();
    listening.dedup();
    let mut expected = vec![endpoints.ports.cassandra, endpoints.ports.cassandra_storage];
    expected.sort_unstable();
    ensure!(
        listening == expected,
        "Cassandra (pid {pid}) listens on {listening:?}; only {expected:?} (CQL, storage) expected"
    );
    Ok(())
}

/// The TCP ports process `pid` listens on (its socket inodes matched in /proc/net/tcp{,6}).
fn listening_ports(pid: i32) -> anyhow::Result<Vec<u16>> {
    let mut inodes = std::collections::HashSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))?.filter_map(Result::ok) {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                inodes.insert(inode.to_owned());
            }
        }
    }
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, state (0A = LISTEN), inode.
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                if let Some(port) = fields[1].rsplit(':').next() {
                    ports.push(u16::from_str_radix(port, 16)?);
                }
            }
        }
    }
    Ok(ports)
}

/// Nothing under the state directory can be read or written by group or others: data, logs
/// (Airflow's task logs among them), configuration, pid files. The test command runs it again
/// after the whole run, with `no_secret_in_any_log_after_the_whole_run`.
#[tokio::test]
async fn only_the_stack_s_user_reads_the_state_directory() -> anyhow::Result<()> {
    let layout = stack_config().layout();
    if !layout.state().exists() {
        if stack_started() {
            bail!("no state directory at {}", layout.state().display());
        }
        eprintln!("skipped: no state directory (run `userstream stack up`)");
        return Ok(());
    }
    ensure_private(layout.state(), "")
}

/// Fails naming (up to 20 of) the paths under `root` that group or others may read or write;
/// `when` ends the message (" after the run").
fn ensure_private(root: &std::path::Path, when: &str) -> anyhow::Result<()> {
    let open = open_paths(root)?;
    ensure!(
        open.is_empty(),
        "{} paths under {} are readable or writable by group or others{when}: {:#?}",
        open.len(),
        root.display(),
        open.iter().take(20).collect::<Vec<_>>()
    );
    Ok(())
}

/// Paths under `root` (itself included, symbolic links not followed) that group or others
/// may read or write, with their modes. (Execute alone reveals nothing: Spark marks the jars
/// it copies for executors `a+x`, and nobody else can reach them through the 0700 root.)
fn open_paths(root: &std::path::Path) -> anyhow::Result<Vec<String>> {
    use std::os::unix::fs::PermissionsExt;
    let mut open = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // removed while we walked (a rotated log, a finished batch)
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o066 != 0 {
            open.push(format!("{} ({mode:o})", path.display()));
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(Result::ok).map(|e| e.path()));
            }
        }
    }
    Ok(open)
}

/// What the impostors of [`no_password_goes_to_a_process_holding_an_engine_s_port`] received.
type Received = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

/// A fake Cassandra: answers OPTIONS and STARTUP (protocol v4) like a node that wants a
/// password, so a client that trusts it sends its login (AUTH_RESPONSE), and keeps every byte.
async fn fake_cql_node(listener: tokio::net::TcpListener, received: Received) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    fn string(text: &str) -> Vec<u8> {
        let mut out = (text.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(text.as_bytes());
        out
    }
    while let Ok((mut socket, _)) = listener.accept().await {
        let received = received.clone();
        tokio::spawn(async move {
            let mut header = [0u8; 9];
            while socket.read_exact(&mut header).await.is_ok() {
                let length = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
                let mut body = vec![0u8; length as usize];
                if socket.read_exact(&mut body).await.is_err() {
                    return;
                }
                if let Ok(mut all) = received.lock() {
                    all.extend_from_slice(&header);
                    all.extend_from_slice(&body);
                }
                let (opcode, reply) = match header[4] {
                    // OPTIONS → SUPPORTED {CQL_VERSION: [3.4.7]}
                    0x05 => (0x06, {
                        let mut b = 1u16.to_be_bytes().to_vec();
                        b.extend(string("CQL_VERSION"));
                        b.extend(1u16.to_be_bytes());
                        b.extend(string("3.4.7"));
                        b
                    }),
                    // STARTUP → AUTHENTICATE
                    0x01 => (
                        0x03,
                        string("org.apache.cassandra.auth.PasswordAuthenticator"),
                    ),
                    // anything else (the AUTH_RESPONSE) → ERROR bad credentials
                    _ => (0x00, {
                        let mut b = 0x0100u32.to_be_bytes().to_vec();
                        b.extend(string("no"));
                        b
                    }),
                };
                let mut frame = vec![0x84, 0, header[2], header[3], opcode];
                frame.extend((reply.len() as u32).to_be_bytes());
                frame.extend(reply);
                if socket.write_all(&frame).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// A fake HTTP server (the registry's or Airflow's port): keeps every request's head and
/// answers `[]`.
async fn fake_http(listener: tokio::net::TcpListener, received: Received) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    while let Ok((mut socket, _)) = listener.accept().await {
        let received = received.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 16 * 1024];
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            if let Ok(mut all) = received.lock() {
                all.extend_from_slice(&head);
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]")
                .await;
        });
    }
}

/// Every form a secret of `credentials` takes on the wire: the value itself (CQL, JSON
/// bodies, bearer tokens) and each login's HTTP basic-auth encoding.
fn wire_forms(credentials: &Credentials) -> Vec<String> {
    use base64::Engine as _;
    let logins = [
        &credentials.cassandra.admin,
        &credentials.cassandra.app,
        &credentials.registry.admin,
        &credentials.registry.producer,
        &credentials.registry.reader,
    ];
    credentials
        .secret_values()
        .into_iter()
        .map(str::to_owned)
        .chain(logins.into_iter().map(|login| {
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", login.username, login.password))
        }))
        .collect()
}

fn found_in(received: &Received, forms: &[String]) -> Vec<String> {
    let all = received.lock().map(|a| a.clone()).unwrap_or_default();
    let text = String::from_utf8_lossy(&all);
    forms
        .iter()
        .filter(|form| text.contains(form.as_str()))
        .cloned()
        .collect()
}

/// While an engine is down anyone on the machine may bind its port. A process holding the
/// Cassandra, registry or Airflow port that the stack did not start gets no password from
/// `stack status` or the console in 15 s. Stopping the real engines would pull them from under
/// the tests running beside this one, so the impostors listen on ports of their own and the
/// commands are pointed at them (`USERSTREAM_*_PORT`): to the commands, exactly an engine's
/// port held by a stranger while the stack's pid files say the engine runs.
#[tokio::test]
async fn no_password_goes_to_a_process_holding_an_engine_s_port() -> anyhow::Result<()> {
    use std::process::Stdio;
    let Some((_endpoints, credentials)) = stack().await? else {
        return Ok(());
    };
    let Some(bin) = std::env::var_os("USERSTREAM_BIN").map(std::path::PathBuf::from) else {
        ensure!(!stack_started(), "USERSTREAM_BIN is not set");
        eprintln!("skipped: USERSTREAM_BIN is not set");
        return Ok(());
    };
    let received = Received::default();
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (cql, registry, airflow) = (bind().await?, bind().await?, bind().await?);
    let ports =
        [&cql, &registry, &airflow].map(|l| l.local_addr().map(|a| a.port()).unwrap_or_default());
    let fakes = [
        tokio::spawn(fake_cql_node(cql, received.clone())),
        tokio::spawn(fake_http(registry, received.clone())),
        tokio::spawn(fake_http(airflow, received.clone())),
    ];

    // The impostors do catch what a client without the check sends.
    let canary = Login::new("canary", "canary-password-4711");
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        scylla::client::session_builder::SessionBuilder::new()
            .known_node(format!("127.0.0.1:{}", ports[0]))
            .user(&canary.username, &canary.password)
            .build(),
    )
    .await;
    let _ = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/subjects", ports[1]))
        .basic_auth(&canary.username, Some(&canary.password))
        .send()
        .await;
    let canary_forms = [canary.password.clone(), {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode("canary:canary-password-4711")
    }];
    ensure!(
        found_in(&received, &canary_forms).len() == 2,
        "the impostors must catch an unchecked client's login, or this test proves nothing"
    );
    received
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clear();

    let console_port = bind().await?.local_addr()?.port();
    let moved = [
        ("USERSTREAM_CASSANDRA_PORT", ports[0].to_string()),
        ("USERSTREAM_REGISTRY_PORT", ports[1].to_string()),
        ("USERSTREAM_AIRFLOW_PORT", ports[2].to_string()),
    ];
    let state = stack_config().state_dir;
    let mut console = tokio::process::Command::new(&bin)
        .arg("console")
        .arg("--state-dir")
        .arg(&state)
        .args(["--listen", &format!("127.0.0.1:{console_port}")])
        .envs(moved.clone())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the console")?;
    let http = reqwest::Client::new();
    let mut said = String::new();
    let begin = std::time::Instant::now();
    while begin.elapsed() < Duration::from_secs(15) {
        let output = tokio::process::Command::new(&bin)
            .args(["stack", "status"])
            .arg("--state-dir")
            .arg(&state)
            .envs(moved.clone())
            .output()
            .await?;
        said = String::from_utf8_lossy(&output.stdout).into_owned();
        let _ = http
            .get(format!("http://127.0.0.1:{console_port}/api/snapshot"))
            .bearer_auth(&credentials.console_token)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let _ = console.kill().await;
    for fake in fakes {
        fake.abort();
    }

    let leaked = found_in(&received, &wire_forms(&credentials));
    ensure!(
        leaked.is_empty(),
        "{} secret value(s) reached a port the stack did not start",
        leaked.len()
    );
    ensure!(
        said.contains(&format!("127.0.0.1:{} is held by pid", ports[0])),
        "`stack status` says why it did not log in:\n{said}"
    );
    Ok(())
}
