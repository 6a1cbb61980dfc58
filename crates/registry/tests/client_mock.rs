//! The client against a scripted local HTTP server: request shapes, caching, error mapping.
//! Needs no registry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;
use userstream_registry::{
    CompatibilityLevel, Deserializer, RegistryClient, RegistryError, SchemaId, SerdeError,
    Serializer,
};

/// One request as the mock server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: Option<String>,
    body: String,
}

/// The scripted answer.
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        body: body.to_owned(),
        delay: Duration::ZERO,
    }
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

struct Mock {
    base: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&script), Arc::clone(&log)));
            }
        });
        Self {
            base: Url::parse(&format!("http://{addr}/apis/ccompat/v7")).expect("url"),
            seen,
        }
    }

    fn client(&self) -> RegistryClient {
        RegistryClient::new(self.base.clone(), Duration::from_secs(2)).expect("client")
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Script>, log: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let seen = Seen {
        method,
        path,
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&buf[header_end..header_end + length]).into_owned(),
    };
    let answer = script(&seen);
    log.lock().expect("lock").push(seen);
    tokio::time::sleep(answer.delay).await;
    let response = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        answer.status,
        answer.body.len(),
        answer.body
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

const SCHEMA: &str = r#"{"type":"record","name":"P","fields":[{"name":"a","type":"string"}]}"#;

#[tokio::test]
async fn register_sends_the_confluent_request_and_caches() {
    let mock = Mock::start(|_| reply(200, r#"{"id":7}"#)).await;
    let client = mock.client();
    assert_eq!(
        client.register("users-value", SCHEMA).await.expect("id"),
        SchemaId(7)
    );
    assert_eq!(
        client.register("users-value", SCHEMA).await.expect("id"),
        SchemaId(7)
    );
    // The id → schema direction is filled by register too.
    assert_eq!(
        client.schema_by_id(SchemaId(7)).await.expect("schema"),
        SCHEMA
    );
    let seen = mock.seen();
    assert_eq!(seen.len(), 1, "cached after the first call: {seen:?}");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].path,
        "/apis/ccompat/v7/subjects/users-value/versions"
    );
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/vnd.schemaregistry.v1+json")
    );
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).expect("json body");
    assert_eq!(body, serde_json::json!({ "schema": SCHEMA }));
}

#[tokio::test]
async fn schema_by_id_is_fetched_once() {
    let mock =
        Mock::start(|_| reply(200, &serde_json::json!({ "schema": SCHEMA }).to_string())).await;
    let client = mock.client();
    for _ in 0..3 {
        assert_eq!(
            client.schema_by_id(SchemaId(3)).await.expect("schema"),
            SCHEMA
        );
    }
    let clone = client.clone();
    assert_eq!(
        clone.schema_by_id(SchemaId(3)).await.expect("schema"),
        SCHEMA
    );
    let seen = mock.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/apis/ccompat/v7/schemas/ids/3");
}

#[tokio::test]
async fn incompatible_registration_carries_the_registry_reason() {
    let message = "io.apicurio.registry.rules.violation.RuleViolationException: Incompatible artifact: s [AVRO], num of incompatible diffs: {1}, list of diff types: [b at /fields/1]";
    let body = serde_json::json!({ "message": message, "error_code": 409 }).to_string();
    let mock = Mock::start(move |_| reply(409, &body)).await;
    let err = mock.client().register("s", SCHEMA).await.expect_err("409");
    match &err {
        RegistryError::Incompatible {
            subject,
            error_code,
            message: got,
            url,
        } => {
            assert_eq!(subject, "s");
            assert_eq!(*error_code, 409);
            assert_eq!(got, message);
            assert!(url.ends_with("/subjects/s/versions"));
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("b at /fields/1"), "{err}");
}

#[tokio::test]
async fn not_found_is_final_server_errors_are_retryable() {
    let mock = Mock::start(|seen| {
        if seen.path.contains("/schemas/ids/") {
            reply(
                404,
                r#"{"message":"Schema 99 not found.","error_code":40403}"#,
            )
        } else if seen.path.ends_with("/subjects") {
            reply(503, "<html><body>Service Unavailable</body></html>")
        } else {
            reply(500, r#"{"message":"Store error","error_code":50001}"#)
        }
    })
    .await;
    let client = mock.client();

    let err = client.schema_by_id(SchemaId(99)).await.expect_err("404");
    assert!(err.is_not_found());
    assert!(!err.is_retryable());
    assert_eq!(err.error_code(), Some(40403));
    assert!(
        err.to_string()
            .contains("answered HTTP 404 (error_code 40403): Schema 99 not found."),
        "{err}"
    );

    let err = client.subjects().await.expect_err("503");
    assert!(err.is_retryable());
    assert_eq!(err.error_code(), None);
    assert!(
        err.to_string()
            .contains("<html><body>Service Unavailable</body></html>"),
        "{err}"
    );

    let err = client.latest("users-value").await.expect_err("500");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("GET "), "{err}");
    assert!(
        err.to_string()
            .contains("/subjects/users-value/versions/latest"),
        "{err}"
    );
    assert!(!err.is_unreachable());
}

#[tokio::test]
async fn unexpected_success_body_is_an_error() {
    let mock = Mock::start(|_| reply(200, r#"{"unexpected":true}"#)).await;
    let err = mock
        .client()
        .register("s", SCHEMA)
        .await
        .expect_err("bad body");
    assert!(matches!(err, RegistryError::Body { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_unreachable_and_retryable() {
    // Bind then drop: nothing listens on that port afterwards.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/apis/ccompat/v7")).expect("url");
    let client = RegistryClient::new(url, Duration::from_secs(2)).expect("client");
    let err = client.subjects().await.expect_err("refused");
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn timeout_is_retryable() {
    let mock = Mock::start(|_| Reply {
        status: 200,
        body: "[]".to_owned(),
        delay: Duration::from_secs(3),
    })
    .await;
    let client =
        RegistryClient::new(mock.base.clone(), Duration::from_millis(300)).expect("client");
    let err = client.subjects().await.expect_err("timeout");
    assert!(err.is_unreachable() && err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn config_and_compatibility_shapes() {
    let mock = Mock::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("PUT", _) => reply(200, r#"{"compatibility":"BACKWARD","normalize":false}"#),
        ("GET", p) if p.ends_with("/config/unset") => {
            reply(404, r#"{"error_code":40408,"message":"Subject 'unset' does not have subject-level compatibility configured"}"#)
        }
        ("GET", _) => reply(200, r#"{"compatibilityLevel":"FULL_TRANSITIVE"}"#),
        _ => reply(200, r#"{"is_compatible":false,"messages":["reader field b has no default", {"detail":1}]}"#),
    })
    .await;
    let client = mock.client();
    assert_eq!(
        client
            .set_compatibility("s", CompatibilityLevel::Backward)
            .await
            .expect("put"),
        CompatibilityLevel::Backward
    );
    assert_eq!(
        client.get_compatibility("s").await.expect("get"),
        Some(CompatibilityLevel::FullTransitive)
    );
    assert_eq!(client.get_compatibility("unset").await.expect("get"), None);
    let check = client
        .check_compatibility("s", SCHEMA)
        .await
        .expect("check");
    assert!(!check.is_compatible);
    assert_eq!(
        check.messages,
        ["reader field b has no default", r#"{"detail":1}"#]
    );
    let seen = mock.seen();
    assert_eq!(seen[0].path, "/apis/ccompat/v7/config/s");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&seen[0].body).expect("json"),
        serde_json::json!({ "compatibility": "BACKWARD" })
    );
    assert_eq!(
        seen[3].path,
        "/apis/ccompat/v7/compatibility/subjects/s/versions/latest?verbose=true"
    );
}

#[tokio::test]
async fn deserializer_reports_frame_and_registry_errors() {
    let mock = Mock::start(|_| {
        reply(
            404,
            r#"{"message":"Schema 5 not found.","error_code":40403}"#,
        )
    })
    .await;
    let deserializer = Deserializer::new(mock.client());
    let err = deserializer
        .deserialize(b"{}")
        .await
        .expect_err("not framed");
    assert!(matches!(err, SerdeError::Frame(_)), "{err:?}");
    let err = deserializer
        .deserialize(&[0, 0, 0, 0, 5, 1, 2])
        .await
        .expect_err("unknown id");
    assert!(
        matches!(&err, SerdeError::Registry { id: SchemaId(5), source } if source.is_not_found()),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn serializer_lookup_uses_the_existing_id() {
    let mock = Mock::start(|_| {
        reply(
            200,
            &serde_json::json!({"subject": "users-value", "version": 4, "id": 12, "schema": "{}"})
                .to_string(),
        )
    })
    .await;
    let serializer = Serializer::lookup(&mock.client(), "users-value")
        .await
        .expect("found");
    assert_eq!(serializer.schema_id(), SchemaId(12));
    let seen = mock.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/apis/ccompat/v7/subjects/users-value");
}
