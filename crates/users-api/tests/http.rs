//! The server over real HTTP on a loopback port: routes, parameters and injected faults.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use userstream_users_api::{
    bind, generate_page, write_page, FaultConfig, PageRequest, UsersApiConfig, UsersApiError,
    DELAY_HEADER, FAULT_HEADER, REAL_API_ERROR_MESSAGE,
};

struct Server {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), UsersApiError>>,
}

impl Server {
    async fn start(config: UsersApiConfig) -> Result<Self> {
        let config = UsersApiConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..config
        };
        let bound = bind(config).await?;
        let addr = bound.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            base: format!("http://{addr}"),
            stop: Some(stop),
            task,
        })
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .context("server did not shut down")??;
        Ok(result?)
    }
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn serves_what_the_generator_says() -> Result<()> {
    let server = Server::start(UsersApiConfig::default()).await?;
    let client = reqwest::Client::new();

    let r = client
        .get(server.url("/api/?results=25&seed=http&page=3&nat=us,gb"))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(header(&r, FAULT_HEADER), None);
    let body = r.bytes().await?;

    let req = PageRequest {
        seed: "http".into(),
        page: 3,
        results: 25,
        nats: vec![userstream_users_api::Nat::Us, userstream_users_api::Nat::Gb],
        ..PageRequest::default()
    };
    let mut expected = Vec::new();
    write_page(&req, &mut expected);
    assert_eq!(
        body.as_ref(),
        expected.as_slice(),
        "HTTP body differs from write_page"
    );
    let value: Value = serde_json::from_slice(&body)?;
    assert_eq!(value, generate_page(&req));

    for path in ["/api", "/api/1.4", "/api/1.4/?results=2"] {
        let r = client.get(server.url(path)).send().await?;
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await?;
        assert_eq!(v["info"]["version"], "1.4");
        assert_eq!(
            v["info"]["seed"].as_str().map(str::len),
            Some(16),
            "random seed"
        );
    }
    let r = client.get(server.url("/health")).send().await?;
    assert_eq!(r.status(), 200);
    let r = client.get(server.url("/nope")).send().await?;
    assert_eq!(r.status(), 404);

    // Out-of-range results silently give one user.
    for bad in ["0", "5001", "abc"] {
        let v: Value = client
            .get(server.url(&format!("/api/?results={bad}")))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            v["results"].as_array().map(Vec::len),
            Some(1),
            "results={bad}"
        );
    }

    let r = client.get(server.url("/api/?format=xml")).send().await?;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await?;
    assert!(v["error"].as_str().is_some_and(|e| e.contains("xml")));

    let r = client
        .get(server.url("/api/?format=pretty&seed=http&results=2&noinfo"))
        .send()
        .await?;
    let text = r.text().await?;
    assert!(text.starts_with("{\n  \"results\": ["), "{text}");
    let v: Value = serde_json::from_str(&text)?;
    assert!(v.get("info").is_none());

    server.stop().await
}

#[tokio::test]
async fn forced_faults_are_announced() -> Result<()> {
    let server = Server::start(UsersApiConfig::default()).await?;
    let client = reqwest::Client::new();

    for status in [429u16, 500, 503] {
        let r = client
            .get(server.url(&format!("/api/?fault=error-{status}&fault_retry_after=7")))
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(header(&r, "retry-after"), Some("7"));
        let fault = format!("error-{status}");
        assert_eq!(header(&r, FAULT_HEADER), Some(fault.as_str()));
        let v: Value = r.json().await?;
        assert!(v["error"].is_string(), "{v}");
    }

    let r = client
        .get(server.url("/api/?fault=malformed&results=10"))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, FAULT_HEADER), Some("malformed"));
    let body = r.bytes().await?;
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "malformed body parsed"
    );
    assert!(body.starts_with(b"{\"results\":["));

    let r = client
        .get(server.url("/api/?fault=empty&results=10&seed=e"))
        .send()
        .await?;
    assert_eq!(header(&r, FAULT_HEADER), Some("empty"));
    let v: Value = r.json().await?;
    assert_eq!(v["results"], serde_json::json!([]));
    assert_eq!(v["info"]["results"], 10);

    let r = client
        .get(server.url("/api/?fault=error-body"))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, FAULT_HEADER), Some("error-body"));
    let v: Value = r.json().await?;
    assert_eq!(v, serde_json::json!({ "error": REAL_API_ERROR_MESSAGE }));

    let start = Instant::now();
    let r = client
        .get(server.url("/api/?fault_latency_ms=150"))
        .send()
        .await?;
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!(header(&r, DELAY_HEADER), Some("150"));
    assert_eq!(r.status(), 200);

    let r = client.get(server.url("/api/?fault=bogus")).send().await?;
    assert_eq!(r.status(), 400);

    server.stop().await
}

#[tokio::test]
async fn configured_faults_carry_retry_after_and_header() -> Result<()> {
    let config = UsersApiConfig {
        faults: FaultConfig {
            error_rate: 1.0,
            retry_after: Duration::from_millis(2500),
            ..FaultConfig::default()
        },
        ..UsersApiConfig::default()
    };
    let server = Server::start(config).await?;
    let client = reqwest::Client::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..30 {
        let r = client.get(server.url("/api/?results=3")).send().await?;
        let status = r.status().as_u16();
        ensure!([429, 500, 503].contains(&status), "status {status}");
        assert_eq!(header(&r, "retry-after"), Some("3"), "rounded up");
        let fault = format!("error-{status}");
        assert_eq!(header(&r, FAULT_HEADER), Some(fault.as_str()));
        seen.insert(status);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    // Tests can still switch faults off per request.
    let r = client.get(server.url("/api/?fault=none")).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, FAULT_HEADER), None);
    server.stop().await
}

#[tokio::test]
async fn fault_sequence_is_reproducible_with_a_seed() -> Result<()> {
    let config = UsersApiConfig {
        faults: FaultConfig {
            error_rate: 0.2,
            error_body_rate: 0.2,
            empty_rate: 0.2,
            malformed_rate: 0.2,
            seed: Some(42),
            ..FaultConfig::default()
        },
        ..UsersApiConfig::default()
    };
    let mut sequences = Vec::new();
    for _ in 0..2 {
        let server = Server::start(config.clone()).await?;
        let client = reqwest::Client::new();
        let mut faults = Vec::new();
        for _ in 0..40 {
            let r = client.get(server.url("/api/?results=2")).send().await?;
            faults.push(header(&r, FAULT_HEADER).unwrap_or("none").to_string());
        }
        server.stop().await?;
        sequences.push(faults);
    }
    assert_eq!(sequences[0], sequences[1]);
    let kinds: std::collections::HashSet<&str> = sequences[0]
        .iter()
        .map(|f| f.split('-').next().unwrap_or(""))
        .collect();
    assert!(kinds.len() >= 4, "{kinds:?}");
    Ok(())
}

#[tokio::test]
async fn fault_params_can_be_disabled() -> Result<()> {
    let config = UsersApiConfig {
        allow_fault_params: false,
        ..UsersApiConfig::default()
    };
    let server = Server::start(config).await?;
    let r = reqwest::get(server.url("/api/?fault=error-503")).await?;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, FAULT_HEADER), None);
    server.stop().await
}

#[tokio::test]
async fn invalid_config_is_refused() {
    let config = UsersApiConfig {
        max_results: 0,
        ..UsersApiConfig::default()
    };
    match bind(config).await {
        Err(e @ UsersApiError::InvalidConfig(_)) => assert!(!e.is_retryable()),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("invalid config accepted"),
    }
}

/// Throughput through HTTP: `cargo test --release -p userstream-users-api --test http
/// -- --ignored --nocapture http_speed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release mode"]
async fn http_speed() -> Result<()> {
    let server = Server::start(UsersApiConfig::default()).await?;
    let client = reqwest::Client::new();
    let url = server.url("/api/?results=5000&seed=bench");
    // Warm up the connection pool.
    client.get(&url).send().await?.bytes().await?;
    for clients in [1usize, 2] {
        let requests_each = 20usize;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let client = client.clone();
            let base = server.url("/api/?results=5000&seed=bench");
            tasks.push(tokio::spawn(async move {
                let mut bytes = 0usize;
                for p in 0..requests_each {
                    let url = format!("{base}&page={}", c * 1000 + p + 1);
                    bytes += client.get(&url).send().await?.bytes().await?.len();
                }
                anyhow::Ok(bytes)
            }));
        }
        let mut bytes = 0;
        for t in tasks {
            bytes += t.await??;
        }
        let secs = start.elapsed().as_secs_f64();
        let users = (clients * requests_each * 5000) as f64;
        println!(
            "HTTP, {clients} client(s): {:.0} users/s, {:.1} MB/s, {:.1} ms per 5000-user request",
            users / secs,
            bytes as f64 / secs / 1e6,
            secs * 1000.0 / (requests_each as f64)
        );
    }
    server.stop().await
}
