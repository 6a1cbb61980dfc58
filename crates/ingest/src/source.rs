//! Getting pages: HTTP from a randomuser-compatible API (with retries), or the users-api
//! generator in process; then parsing and encoding them (on the blocking pool).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use url::Url;
use userstream_model::request::{FieldSet, Nat, PageRequest};
use userstream_model::{parse_page, PageError, SourcePosition};

use crate::config::SourceConfig;
use crate::dlq::{
    encode_dead_letter, page_dead_letter, record_dead_letter, DeadLetter, PageFailure,
};
use crate::encode::FrameEncoder;
use crate::error::IngestError;
use crate::plan::PageTask;
use crate::stats::{add, add_time, IngestStats};

/// The request URL of one page: `base` with `results`, `seed`, `page` and, when set, `nat`,
/// `inc`, `exc` (replacing any such parameter already on `base`, keeping the others).
pub fn page_url(source: &SourceConfig, page: u32, results: u32) -> Url {
    const OWN: [&str; 6] = ["results", "seed", "page", "nat", "inc", "exc"];
    let mut url = source.url.clone();
    let kept: Vec<(String, String)> = source
        .url
        .query_pairs()
        .filter(|(k, _)| !OWN.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("results", &results.to_string());
        query.append_pair("seed", &source.seed);
        query.append_pair("page", &page.to_string());
        if !source.nat.is_empty() {
            query.append_pair("nat", &source.nat.join(","));
        }
        if let Some(inc) = &source.inc {
            query.append_pair("inc", inc);
        }
        if let Some(exc) = &source.exc {
            query.append_pair("exc", exc);
        }
        for (k, v) in &kept {
            query.append_pair(k, v);
        }
    }
    url
}

/// The users-api request that the generator serves for one page of `source`.
pub fn page_request(source: &SourceConfig, page: u32, results: u32) -> PageRequest {
    PageRequest {
        seed: source.seed.clone(),
        page,
        results,
        nats: source.nat.iter().filter_map(|n| Nat::parse(n)).collect(),
        gender: None,
        fields: FieldSet::from_inc_exc(source.inc.as_deref(), source.exc.as_deref()),
        noinfo: false,
    }
}

/// The valid users a run of `config` with the generator source produces ([`crate::produce_generated`],
/// or HTTP from a users-api with default settings), in the order produced: pages from
/// `source.start_page`, `count` entries in all (the last page trimmed). Pure (CPU only); what a
/// test compares Kafka or Cassandra with. `produced_at` is the time of this call. Empty without
/// a `count` (an unbounded run has no last page).
pub fn generated_users(
    config: &crate::IngestConfig,
    write_page: PageWriter,
) -> Vec<userstream_model::User> {
    let source = &config.source;
    let Some(count) = config.count else {
        return Vec::new();
    };
    let plan = crate::PagePlan::new(source.start_page, source.results_per_page, Some(count));
    let now = Utc::now();
    let mut users = Vec::new();
    for task in plan {
        let mut body = Vec::with_capacity(task.results as usize * 1200);
        write_page(&page_request(source, task.page, task.results), &mut body);
        let position = SourcePosition {
            url: page_url(source, task.page, task.results).to_string(),
            seed: source.seed.clone(),
            page: task.page,
        };
        // A page that does not parse is dead-lettered by a run: it holds no users.
        if let Ok(page) = parse_page(&body, &position, now) {
            users.extend(
                page.records
                    .into_iter()
                    .take(task.results as usize)
                    .filter_map(Result::ok),
            );
        }
    }
    users
}

/// Writes the page a randomuser-compatible API would serve for a request, in process: the
/// local stand-in's generator (`userstream_users_api::write_page`), passed in by the caller so
/// the producer does not link the server.
pub type PageWriter = fn(&PageRequest, &mut Vec<u8>);

/// Where pages come from.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// HTTP GET against the configured URL.
    Http(reqwest::Client),
    /// A [`PageWriter`], in process: no HTTP at all (the bench's "generator straight to
    /// Kafka" mode). Records still carry the configured URL.
    Generator(PageWriter),
}

impl SourceKind {
    /// An HTTP source with `config`'s timeout.
    pub fn http(config: &SourceConfig) -> Result<Self, IngestError> {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("userstream/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(IngestError::HttpClient)?;
        Ok(Self::Http(client))
    }
}

/// One record ready for Kafka.
#[derive(Debug)]
pub enum OutRecord {
    /// A valid user: key = id, value = framed Avro.
    User {
        /// `login.uuid`.
        key: String,
        /// Confluent-framed Avro.
        payload: Vec<u8>,
    },
    /// A dead letter.
    Dead(DeadLetter),
}

/// A page parsed and encoded, in `results[]` order.
#[derive(Debug)]
pub struct PreparedPage {
    /// The page.
    pub task: PageTask,
    /// Records, page-level dead letter (if any) last.
    pub records: Vec<OutRecord>,
    /// Valid users among them.
    pub users: u64,
    /// Rejected entries among them.
    pub rejected: u64,
    /// Whether the page (or part of it) went to the DLQ as a whole.
    pub page_failed: bool,
}

/// What one page fetch needs, shared by the concurrent fetches.
pub(crate) struct PageContext {
    pub source: SourceConfig,
    pub kind: SourceKind,
    pub encoder: FrameEncoder,
    pub stats: Arc<IngestStats>,
}

enum Attempt {
    Body(Vec<u8>),
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: Vec<u8>,
    },
    Transport(reqwest::Error),
}

enum Prepared {
    Done(PreparedPage),
    Retry(PageFailure),
}

/// Whether retrying an HTTP status may help. 403 is included because randomuser.me answers
/// 403 when it throttles.
fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error() || matches!(status.as_u16(), 403 | 408 | 425 | 429)
}

/// Fetches, parses and encodes one page, retrying as the policy says. Errors only when the
/// run cannot go on (source unreachable, request refused); bad pages become dead letters.
pub(crate) async fn obtain_page(
    ctx: Arc<PageContext>,
    task: PageTask,
) -> Result<PreparedPage, IngestError> {
    let url = page_url(&ctx.source, task.page, task.results);
    let position = Arc::new(SourcePosition {
        url: url.to_string(),
        seed: ctx.source.seed.clone(),
        page: task.page,
    });
    let policy = &ctx.source.retry;
    let mut http_attempts = 0u32;
    let mut body_attempts = 0u32;
    loop {
        let started = Instant::now();
        let attempt = get(&ctx, &url, task).await;
        add_time(&ctx.stats.fetch_nanos, started.elapsed());
        let retries = http_attempts + body_attempts;
        let wait = match attempt {
            Attempt::Transport(error) => {
                http_attempts += 1;
                if http_attempts >= policy.max_attempts {
                    return Err(IngestError::SourceUnreachable {
                        url: url.to_string(),
                        attempts: http_attempts,
                        source: error,
                    });
                }
                tracing::warn!(%url, %error, attempt = http_attempts, "source unreachable; retrying");
                policy.wait(retries, rand::random(), None)
            }
            Attempt::Status {
                status,
                retry_after,
                body,
            } if retryable_status(status) => {
                http_attempts += 1;
                if http_attempts >= policy.max_attempts {
                    let failure = PageFailure {
                        code: format!("http_{}", status.as_u16()),
                        reason: format!(
                            "HTTP {status} after {http_attempts} attempts: {}",
                            snippet(&body)
                        ),
                        attempts: http_attempts,
                    };
                    return Ok(failed_page(task, &failure, &body, &position, &ctx.stats));
                }
                tracing::debug!(%url, %status, attempt = http_attempts, "source busy; retrying");
                policy.wait(retries, rand::random(), retry_after)
            }
            Attempt::Status { status, body, .. } => {
                return Err(IngestError::SourceRefused {
                    url: url.to_string(),
                    status: status.as_u16(),
                    body: snippet(&body),
                });
            }
            Attempt::Body(body) => {
                body_attempts += 1;
                let last = body_attempts >= policy.body_attempts;
                let stats = Arc::clone(&ctx.stats);
                let encoder = ctx.encoder;
                let position = Arc::clone(&position);
                let attempts = body_attempts;
                let prepared = tokio::task::spawn_blocking(move || {
                    prepare(task, &body, &position, &encoder, &stats, attempts, last)
                })
                .await
                .map_err(|e| IngestError::Task(format!("parsing page {}: {e}", task.page)))?;
                match prepared {
                    Prepared::Done(page) => return Ok(page),
                    Prepared::Retry(failure) => {
                        tracing::debug!(%url, reason = %failure.reason, attempt = body_attempts, "bad body; retrying");
                        policy.wait(retries, rand::random(), None)
                    }
                }
            }
        };
        add(&ctx.stats.fetch_retries, 1);
        tokio::time::sleep(wait).await;
    }
}

async fn get(ctx: &PageContext, url: &Url, task: PageTask) -> Attempt {
    match &ctx.kind {
        SourceKind::Generator(write_page) => {
            let request = page_request(&ctx.source, task.page, task.results);
            let write_page = *write_page;
            match tokio::task::spawn_blocking(move || {
                let mut out = Vec::with_capacity(task.results as usize * 1200);
                write_page(&request, &mut out);
                out
            })
            .await
            {
                Ok(body) => Attempt::Body(body),
                // A panic in the generator: report it like a server error so it is retried
                // and, if it persists, dead-lettered.
                Err(e) => Attempt::Status {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    retry_after: None,
                    body: e.to_string().into_bytes(),
                },
            }
        }
        SourceKind::Http(client) => {
            let response = match client.get(url.clone()).send().await {
                Ok(r) => r,
                Err(e) => return Attempt::Transport(e),
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| crate::backoff::parse_retry_after(v, Utc::now()));
            let body = match response.bytes().await {
                Ok(b) => b.to_vec(),
                // A body cut off mid-transfer: like a malformed body, worth another try.
                Err(e) if status.is_success() => {
                    tracing::debug!(%url, error = %e, "body cut off");
                    return Attempt::Transport(e);
                }
                Err(_) => Vec::new(),
            };
            if status.is_success() {
                Attempt::Body(body)
            } else {
                Attempt::Status {
                    status,
                    retry_after,
                    body,
                }
            }
        }
    }
}

/// The start of a body, for messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.trim().to_owned()
}

fn page_error_code(error: &PageError) -> &'static str {
    match error {
        PageError::NotJson(_) => "not_json",
        PageError::Api { .. } => "api_error",
        PageError::NotAnObject { .. } => "not_an_object",
        PageError::MissingResults { .. } => "missing_results",
        PageError::ResultsNotArray { .. } => "results_not_array",
        PageError::PageOutOfRange { .. } => "page_out_of_range",
    }
}

fn failed_page(
    task: PageTask,
    failure: &PageFailure,
    body: &[u8],
    position: &SourcePosition,
    stats: &IngestStats,
) -> PreparedPage {
    tracing::warn!(page = task.page, code = %failure.code, reason = %failure.reason, "page sent to the dead-letter topic");
    add(&stats.pages_failed, 1);
    PreparedPage {
        task,
        records: vec![OutRecord::Dead(page_dead_letter(failure, body, position))],
        users: 0,
        rejected: 0,
        page_failed: true,
    }
}

/// Parses and encodes one body (CPU only). `last` says whether a retryable problem should
/// be dead-lettered now rather than retried.
fn prepare(
    task: PageTask,
    body: &[u8],
    position: &SourcePosition,
    encoder: &FrameEncoder,
    stats: &IngestStats,
    attempts: u32,
    last: bool,
) -> Prepared {
    let started = Instant::now();
    let parsed = parse_page(body, position, Utc::now());
    add_time(&stats.parse_nanos, started.elapsed());
    let page = match parsed {
        Ok(page) => page,
        Err(error) => {
            let failure = PageFailure {
                code: page_error_code(&error).to_owned(),
                reason: format!("{error} ({})", snippet_error(&error)),
                attempts,
            };
            if error.is_retryable() && !last {
                return Prepared::Retry(failure);
            }
            return Prepared::Done(failed_page(task, &failure, body, position, stats));
        }
    };
    let expected = task.results as usize;
    let got = page.records.len();
    if got < expected && !last {
        return Prepared::Retry(short_failure(expected, got, attempts));
    }
    let started = Instant::now();
    let mut records = Vec::with_capacity(expected.min(got) + 1);
    let (mut users, mut rejected) = (0, 0);
    for record in page.records.into_iter().take(expected) {
        match record {
            Ok(user) => match encoder.encode(&user) {
                Ok(payload) => {
                    users += 1;
                    records.push(OutRecord::User {
                        key: user.id.to_string(),
                        payload,
                    });
                }
                Err(error) => {
                    rejected += 1;
                    let raw = serde_json::to_value(&user).unwrap_or_default();
                    let index = usize::try_from(user.source_index).unwrap_or_default();
                    records.push(OutRecord::Dead(encode_dead_letter(
                        &raw,
                        index,
                        &format!("{error}"),
                        position,
                    )));
                }
            },
            Err(rej) => {
                rejected += 1;
                records.push(OutRecord::Dead(record_dead_letter(&rej, position)));
            }
        }
    }
    add_time(&stats.encode_nanos, started.elapsed());
    add(&stats.rejected, rejected);
    let mut page_failed = false;
    if got < expected {
        let failure = short_failure(expected, got, attempts);
        tracing::warn!(page = task.page, code = %failure.code, reason = %failure.reason, "short page: the missing users go to the dead-letter topic as a page entry");
        add(&stats.pages_failed, 1);
        records.push(OutRecord::Dead(page_dead_letter(&failure, body, position)));
        page_failed = true;
    }
    Prepared::Done(PreparedPage {
        task,
        records,
        users,
        rejected,
        page_failed,
    })
}

fn short_failure(expected: usize, got: usize, attempts: u32) -> PageFailure {
    PageFailure {
        code: if got == 0 {
            "empty_results"
        } else {
            "short_page"
        }
        .to_owned(),
        reason: format!(
            "asked for {expected} users, the source returned {got} (after {attempts} attempts)"
        ),
        attempts,
    }
}

fn snippet_error(error: &PageError) -> String {
    match error {
        PageError::NotJson(e) => e.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_url_sets_own_parameters_and_keeps_others() {
        let source = SourceConfig {
            url: Url::parse("http://127.0.0.1:1/api/?fault_error_rate=0.1&seed=old&page=9")
                .expect("url"),
            seed: "userstream".to_owned(),
            nat: vec!["us".to_owned(), "gb".to_owned()],
            exc: Some("picture".to_owned()),
            ..SourceConfig::default()
        };
        let url = page_url(&source, 4, 250);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/api/?results=250&seed=userstream&page=4&nat=us%2Cgb&exc=picture&fault_error_rate=0.1"
        );
        let req = page_request(&source, 4, 250);
        assert_eq!(req.nats.len(), 2);
        assert_eq!(req.page, 4);
        assert!(!req
            .fields
            .contains(userstream_model::request::Field::Picture));
    }

    #[test]
    fn retryable_statuses() {
        for s in [403, 408, 429, 500, 503] {
            assert!(
                retryable_status(StatusCode::from_u16(s).expect("status")),
                "{s}"
            );
        }
        for s in [400, 401, 404] {
            assert!(
                !retryable_status(StatusCode::from_u16(s).expect("status")),
                "{s}"
            );
        }
    }

    fn serializer() -> FrameEncoder {
        FrameEncoder::new(userstream_registry::SchemaId(1))
    }

    fn position(page: u32) -> SourcePosition {
        SourcePosition {
            url: "http://x/api/".to_owned(),
            seed: "s".to_owned(),
            page,
        }
    }

    #[test]
    fn prepare_encodes_users_and_dead_letters_bad_ones() {
        let mut body = Vec::new();
        userstream_users_api::write_page(
            &PageRequest {
                seed: "s".to_owned(),
                page: 2,
                results: 5,
                ..PageRequest::default()
            },
            &mut body,
        );
        let mut value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        value["results"][1]["login"]["uuid"] = serde_json::json!("nope");
        let body = serde_json::to_vec(&value).expect("json");
        let stats = IngestStats::new();
        let task = PageTask {
            page: 2,
            results: 4,
        };
        let Prepared::Done(page) =
            prepare(task, &body, &position(2), &serializer(), &stats, 1, false)
        else {
            panic!("expected a page");
        };
        assert_eq!((page.users, page.rejected, page.page_failed), (3, 1, false));
        assert_eq!(page.records.len(), 4, "trimmed to the task's results");
        match &page.records[1] {
            OutRecord::Dead(dl) => assert_eq!(dl.header("error_code"), Some("invalid_uuid")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_bodies_are_retried_then_dead_lettered() {
        let stats = IngestStats::new();
        let task = PageTask {
            page: 1,
            results: 3,
        };
        let truncated = br#"{"results":[{"login":{"password":"x"#;
        assert!(matches!(
            prepare(task, truncated, &position(1), &serializer(), &stats, 1, false),
            Prepared::Retry(f) if f.code == "not_json"
        ));
        let Prepared::Done(page) = prepare(
            task,
            truncated,
            &position(1),
            &serializer(),
            &stats,
            3,
            true,
        ) else {
            panic!("expected a dead-lettered page");
        };
        assert!(page.page_failed);
        let empty = br#"{"results":[],"info":{"seed":"s","results":0,"page":1,"version":"1.4"}}"#;
        assert!(matches!(
            prepare(task, empty, &position(1), &serializer(), &stats, 1, false),
            Prepared::Retry(f) if f.code == "empty_results"
        ));
        let error = br#"{"error":"Uh oh"}"#;
        let Prepared::Done(page) =
            prepare(task, error, &position(1), &serializer(), &stats, 3, true)
        else {
            panic!("expected a dead-lettered page");
        };
        match &page.records[..] {
            [OutRecord::Dead(dl)] => assert_eq!(dl.header("error_code"), Some("api_error")),
            other => panic!("{other:?}"),
        }
        // Not retryable at all: dead-lettered on the first attempt.
        assert!(matches!(
            prepare(task, b"[1,2]", &position(1), &serializer(), &stats, 1, false),
            Prepared::Done(p) if p.page_failed
        ));
    }
}
