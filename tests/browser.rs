//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! loads the page while users flow, checks the figures are there and moving, sees a stopped
//! service marked down, and saves screenshots under `test-output/console/`.
//!
//! It stops a shared service (the registry), so `cargo test` skips it; `scripts/test.sh`
//! runs it last with `--ignored`. Needs `USERSTREAM_BIN` (the release binary), `chromium`
//! and `chromedriver` (Debian: `chromium`, `chromium-driver`; the test script installs them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use base64::Engine;
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use userstream_tests::{stack_config, stack_started};

/// A WebDriver session, spoken over plain HTTP (the W3C protocol is a small JSON API).
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn open(driver: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1400,2100",
        ];
        let mut options = json!({ "args": args });
        if let Ok(binary) = std::env::var("USERSTREAM_CHROMIUM") {
            options["binary"] = json!(binary);
        }
        let body = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options }}});
        let answer: Value = http
            .post(format!("{driver}/session"))
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let session = answer["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("chromedriver did not open a session: {answer}"))?;
        Ok(Self {
            http,
            session: format!("{driver}/session/{session}"),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        // chromedriver refuses a GET that carries a body, even `null`.
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request.send().await?.json().await?;
        if answer["value"]["error"].is_string() {
            bail!("WebDriver {path}: {}", answer["value"]);
        }
        Ok(answer["value"].clone())
    }

    async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await
            .map(|_| ())
    }

    /// Runs `script` in the page and returns its value.
    async fn js(&self, script: &str) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// The text of the element `selector` (null when there is none).
    async fn text(&self, selector: &str) -> anyhow::Result<Option<String>> {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent.trim() : null;",
            json!(selector)
        );
        Ok(self.js(&script).await?.as_str().map(str::to_owned))
    }

    /// A `data-*` attribute of `selector`.
    async fn data(&self, selector: &str, key: &str) -> anyhow::Result<Option<String>> {
        let script = format!(
            "const e = document.querySelector({}); return e ? (e.dataset[{}] ?? null) : null;",
            json!(selector),
            json!(key)
        );
        Ok(self.js(&script).await?.as_str().map(str::to_owned))
    }

    async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let value = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().context("screenshot is not base64")?)?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("screenshot: {}", path.display());
        Ok(())
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// Polls `check` every 500 ms until it returns `Some`, or fails after `timeout` with `what`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what} (last error: {last_error:?})");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The page's verdict at one refresh: every area readable, every service healthy, the users
/// query active. `Some("n/n")` when all hold.
async fn all_ok(browser: &Browser) -> anyhow::Result<Option<String>> {
    let mut not_ok = Vec::new();
    for section in [
        "kafka",
        "spark",
        "cassandra",
        "registry",
        "airflow",
        "stack",
    ] {
        let ok = browser.data(&format!("#{section}"), "ok").await?;
        if ok.as_deref() != Some("true") {
            not_ok.push(section);
        }
    }
    let healthy = browser.text("#stack-healthy").await?.unwrap_or_default();
    let all_up = healthy.split_once('/').is_some_and(|(up, all)| up == all);
    let query = r#"#spark-queries tr[data-query="userstream-users"]"#;
    let active = browser.data(query, "active").await?;
    let done = not_ok.is_empty() && all_up && active.as_deref() == Some("true");
    if !done {
        eprintln!("waiting: not ok {not_ok:?}, healthy {healthy}, query active {active:?}");
    }
    Ok(done.then_some(healthy))
}

fn number(text: &str) -> Option<f64> {
    let digits: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(|c| *c != ',')
        .collect();
    digits.parse().ok()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn output_dir() -> anyhow::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-output/console");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Starts `program args`, logging to `log`; killed when dropped.
fn spawn(program: &Path, args: &[&str], log: &Path) -> anyhow::Result<Child> {
    let file = std::fs::File::create(log)?;
    Command::new(program)
        .args(args)
        .stdout(file.try_clone()?)
        .stderr(file)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))
}

async fn run(bin: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(bin).args(args).status().await?;
    ensure!(
        status.success(),
        "`userstream {}` failed: {status}",
        args.join(" ")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the registry; scripts/test.sh runs it last with --ignored"]
async fn the_console_in_chromium_shows_the_flow_and_a_service_going_down() -> anyhow::Result<()> {
    let Some(bin) = std::env::var_os("USERSTREAM_BIN").map(PathBuf::from) else {
        ensure!(!stack_started(), "USERSTREAM_BIN is not set");
        eprintln!("skipped: USERSTREAM_BIN is not set");
        return Ok(());
    };
    let config = stack_config();
    // The token the console asks for, read from the stack's secrets as the console reads it.
    let token = userstream_console::ConsoleConfig::new(config.clone())?.token;
    let out = output_dir()?;

    // The pipeline on its defaults, as a user runs it.
    // DAGs stay paused: scheduled runs would race this test, which stops the registry.
    run(&bin, &["setup", "--dags", "paused"]).await?;
    run(&bin, &["stream", "start"]).await?;
    // A local users API that cuts one response in five short: with one attempt per body,
    // those pages go to the dead-letter topic, so the page has dead letters to show.
    let api = format!("127.0.0.1:{}", free_port()?);
    let source = format!("http://{api}/api/");
    let api_args = [
        "users-api",
        "--bind",
        &api,
        "--malformed-rate",
        "0.2",
        "--fault-seed",
        "7",
    ];
    let _api = spawn(&bin, &api_args, &out.join("users-api.log"))?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let console_args = [
        "console",
        "--listen",
        &listen,
        "--refresh",
        "1s",
        "--source",
        &source,
    ];
    let _console = spawn(&bin, &console_args, &out.join("console.log"))?;
    let produce_args = [
        "produce",
        "--source",
        &source,
        "--rate",
        "400",
        "--duration",
        "180s",
        "--results-per-page",
        "200",
        "--body-attempts",
        "1",
        "--progress-interval",
        "0s",
    ];
    let mut producer = spawn(&bin, &produce_args, &out.join("produce.log"))?;
    let driver_port = free_port()?;
    let driver_bin =
        std::env::var("USERSTREAM_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let _driver = spawn(
        Path::new(&driver_bin),
        &[&format!("--port={driver_port}")],
        &out.join("chromedriver.log"),
    )?;
    let driver = format!("http://127.0.0.1:{driver_port}");
    let http = reqwest::Client::new();
    wait_for("chromedriver", Duration::from_secs(30), || async {
        let ready: Value = http
            .get(format!("{driver}/status"))
            .send()
            .await?
            .json()
            .await?;
        Ok(ready["value"]["ready"].as_bool().filter(|r| *r))
    })
    .await?;
    wait_for("the console", Duration::from_secs(30), || async {
        Ok(http
            .get(format!("http://{listen}/healthz"))
            .send()
            .await?
            .status()
            .is_success()
            .then_some(()))
    })
    .await?;
    // Without the token, no data.
    let refused = http
        .get(format!("http://{listen}/api/snapshot"))
        .send()
        .await?;
    ensure!(
        refused.status() == reqwest::StatusCode::UNAUTHORIZED,
        "the API without the token answered {}",
        refused.status()
    );

    let browser = Browser::open(&driver).await?;
    let result = async {
        // The link `userstream console` prints: the token becomes a cookie and leaves the
        // address bar.
        browser
            .goto(&format!("http://{listen}/?token={token}"))
            .await?;
        let address = browser
            .call(reqwest::Method::GET, "/url", Value::Null)
            .await?;
        ensure!(
            address.as_str() == Some(format!("http://{listen}/").as_str()),
            "redirected to the bare address"
        );

        // The figures are there...
        let users_end = r#"#kafka-topics tr[data-topic="users"] .end"#;
        let first = wait_for(
            "the users topic's end offset",
            Duration::from_secs(60),
            || async { Ok(browser.text(users_end).await?.as_deref().and_then(number)) },
        )
        .await?;
        // ...and moving: the end offset grows while the producer runs, the edges carry rates.
        let later = wait_for(
            "the end offset to grow",
            Duration::from_secs(30),
            || async {
                Ok(browser
                    .text(users_end)
                    .await?
                    .as_deref()
                    .and_then(number)
                    .filter(|n| *n > first))
            },
        )
        .await?;
        eprintln!("users end offset {first} -> {later}");
        for edge in ["source-kafka", "kafka-spark", "spark-cassandra"] {
            let selector = format!(r#"[data-edge="{edge}"] .rate"#);
            let rate = wait_for(
                &format!("a rate on {edge}"),
                Duration::from_secs(60),
                || async {
                    Ok(browser
                        .text(&selector)
                        .await?
                        .as_deref()
                        .and_then(number)
                        .filter(|r| *r > 0.0))
                },
            )
            .await?;
            eprintln!("{edge}: {rate}/s");
        }
        // The newest users appear once a Cassandra round has the ids of processed records.
        let newest = wait_for("newest users listed", Duration::from_secs(60), || async {
            let rows = browser
                .js("return document.querySelectorAll('#cassandra-newest tr').length")
                .await?;
            Ok(rows.as_u64().filter(|n| *n > 1))
        })
        .await?;
        // Cassandra's own estimate of the users rows, labelled as one: never a scan.
        let estimate = wait_for("the users estimate", Duration::from_secs(60), || async {
            let labelled = browser.data("#cassandra-users", "estimate").await?;
            let rows = browser
                .data("#cassandra-users", "rows")
                .await?
                .and_then(|r| r.parse::<i64>().ok());
            let text = browser.text("#cassandra-users").await?.unwrap_or_default();
            let shown = labelled.as_deref() == Some("true") && text.starts_with('≈');
            Ok(rows.filter(|r| shown && *r > 0))
        })
        .await?;
        // The exact count is the explicit action: the button counts (rows have landed), or
        // says how far it got within its time limit on a large table.
        browser
            .js("document.getElementById('cassandra-count').click(); return true")
            .await?;
        let rows = wait_for("the exact count", Duration::from_secs(120), || async {
            let state = browser.data("#cassandra-count-result", "state").await?;
            let rows = browser
                .data("#cassandra-count-result", "rows")
                .await?
                .and_then(|r| r.parse::<u64>().ok());
            Ok(match (state.as_deref(), rows) {
                (Some("finished" | "timed_out"), Some(rows)) if rows > 0 => Some(rows),
                (Some("failed"), _) => bail!(
                    "the count failed: {:?}",
                    browser.text("#cassandra-count-result").await?
                ),
                _ => None,
            })
        })
        .await?;
        let summary = browser
            .text("#cassandra-count-result")
            .await?
            .unwrap_or_default();
        eprintln!("users estimate {estimate}; count: {summary}");
        let dead_letters = wait_for("dead letters listed", Duration::from_secs(60), || async {
            let rows = browser
                .js("return document.querySelectorAll('#kafka-dlq tr').length")
                .await?;
            Ok(rows.as_u64().filter(|n| *n > 1))
        })
        .await?;
        let reason = browser
            .text("#kafka-dlq tr:nth-child(2) td:nth-child(4)")
            .await?;
        ensure!(
            reason.as_deref().is_some_and(|r| !r.is_empty()),
            "a dead letter shows its reason: {reason:?}"
        );
        eprintln!(
            "dead letters listed: {}; newest reason: {reason:?}",
            dead_letters - 1
        );
        // Every area readable, every service healthy, the query active:
        // all at once on one refresh (each area refreshes on its own loop, so wait for it).
        let healthy = wait_for(
            "every area ok, all healthy",
            Duration::from_secs(60),
            || all_ok(&browser),
        )
        .await?;
        ensure!(
            browser.text("#registry-subject").await?.as_deref() == Some("users-value"),
            "the pipeline subject"
        );
        // The supervisor's journal (chaos, `stream run`, the DAG write it) has its own list.
        let supervisor = browser.text("#supervisor-events").await?;
        ensure!(
            supervisor.as_deref().is_some_and(|t| !t.is_empty()),
            "the Spark area lists the supervisor's events: {supervisor:?}"
        );
        eprintln!(
            "supervisor events: {}",
            supervisor
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
        );
        eprintln!(
            "Cassandra rows counted {rows}, newest users listed {}; stack {healthy}",
            newest - 1
        );
        browser.screenshot(&out.join("console.png")).await?;

        // A service goes down: its row and its area turn red, the rest keeps working.
        // Stop the producer (SIGTERM: it flushes and exits) before taking a service away.
        if let Some(pid) = producer.id() {
            let pid = pid.to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status().await;
        }
        let stopped = tokio::time::timeout(Duration::from_secs(60), producer.wait()).await;
        ensure!(
            stopped.is_ok(),
            "the producer did not stop within 60 s of SIGTERM"
        );
        ensure!(
            userstream_stack::stop_service(&config, "registry")?,
            "registry was running"
        );
        wait_for(
            "the registry marked down",
            Duration::from_secs(60),
            || async {
                let row = browser
                    .data(r#"tr[data-service="registry"]"#, "healthy")
                    .await?;
                let area = browser.data("#registry", "ok").await?;
                Ok(
                    (row.as_deref() == Some("false") && area.as_deref() == Some("false"))
                        .then_some(()),
                )
            },
        )
        .await?;
        ensure!(
            browser.data("#kafka", "ok").await?.as_deref() == Some("true"),
            "Kafka area still fine"
        );
        ensure!(
            browser.data("#cassandra", "ok").await?.as_deref() == Some("true"),
            "Cassandra area still fine"
        );
        let error = browser.text("#registry .error").await?.unwrap_or_default();
        ensure!(
            error.contains("registry"),
            "the registry's error is shown: {error}"
        );
        browser
            .screenshot(&out.join("console-registry-down.png"))
            .await?;
        Ok(())
    }
    .await;

    // Bring the registry back whatever happened, and see the page recover.
    run(&bin, &["stack", "up"]).await?;
    if result.is_ok() {
        wait_for("the registry back", Duration::from_secs(60), || async {
            Ok((browser.data("#registry", "ok").await?.as_deref() == Some("true")).then_some(()))
        })
        .await?;
    }
    browser.close().await;
    result
}
