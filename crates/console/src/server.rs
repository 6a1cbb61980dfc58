//! Routes: the page, its two assets, and the JSON API (`/api/...`) scripts can read too.
//! Every GET is cheap (it reads what the sampler gathered); the one action is
//! `POST /api/cassandra/count`, an exact count of `users` with a time limit.
//!
//! The page shows personal data (names, e-mails), so with a token configured every route
//! but `/healthz` first asks for it ([`authorize`]): `Authorization: Bearer <token>`, the
//! cookie `userstream_console=<token>`, or `GET /?token=<token>` (the link `userstream
//! console` prints), which answers a redirect to `/` setting the cookie, so the token
//! leaves the address bar. The token is never logged nor echoed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::Deserialize;

use crate::Console;

const PAGE: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/console.js");
const STYLE: &str = include_str!("../assets/console.css");

/// The areas `/api/<area>` serves; `/api/snapshot` has them all.
pub const AREAS: [&str; 9] = [
    "flow",
    "stack",
    "source",
    "kafka",
    "registry",
    "spark",
    "cassandra",
    "airflow",
    "links",
];

/// The console's routes; with a token configured, all but `/healthz` ask for it.
pub fn router(console: Arc<Console>) -> Router {
    let guard = middleware::from_fn_with_state(Arc::clone(&console), guard);
    Router::new()
        .route("/", get(page))
        .route("/assets/console.js", get(script))
        .route("/assets/console.css", get(style))
        .route("/api", get(index))
        .route("/api/snapshot", get(snapshot))
        .route("/api/{area}", get(area))
        .route("/api/cassandra/count", get(count).post(start_count))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(console)
        // `layer` (not `route_layer`): the fallback (404) is behind the token too.
        .layer(guard)
}

/// The cookie a browser keeps the token in, once it came with `?token=`.
const COOKIE: &str = "userstream_console";

/// What a caller without the token is told (never the token itself).
const REFUSAL: &str = "This console needs its token. `userstream console` prints the \
    address with it; `userstream stack credentials` shows it.";

/// The same sentence as a page, for a browser opening `/`.
const REFUSAL_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>userstream console: token needed</title></head>\n<body><p>This console needs its \
    token. <code>userstream console</code> prints the address with it; \
    <code>userstream stack credentials</code> shows it.</p></body></html>\n";

/// What [`authorize`] makes of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Served as asked.
    Pass,
    /// `GET /?token=<the token>`: a redirect to `/` that sets the cookie.
    SetCookie,
    /// 401.
    Refuse,
}

/// Whether a request may be served when the console's token is `expected`: `/healthz`
/// always; otherwise with the token as a bearer, as the cookie, or (`GET /` only) as
/// `?token=`, which asks for the cookie to be set. A `?token=` that is not the token
/// refuses, whatever else comes with it. Empty tokens never match.
pub(crate) fn authorize(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    expected: &str,
) -> Decision {
    if path == "/healthz" {
        return Decision::Pass;
    }
    if method == Method::GET && path == "/" {
        let mut link = None;
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if key == "token" {
                link = Some(value);
            }
        }
        if let Some(link) = link {
            return if same(link.as_bytes(), expected.as_bytes()) {
                Decision::SetCookie
            } else {
                Decision::Refuse
            };
        }
    }
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .any(|(_, token)| same(token.trim().as_bytes(), expected.as_bytes()));
    let cookie = cookie_value(expected);
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .any(|(_, value)| same(value.as_bytes(), cookie.as_bytes()));
    if bearer || cookie {
        Decision::Pass
    } else {
        Decision::Refuse
    }
}

/// `presented == expected`, in a time that does not depend on where they differ (no early
/// exit), and never for an empty `presented`.
fn same(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(presented.len() != expected.len()) | u8::from(presented.is_empty());
    for i in 0..presented.len().max(expected.len()) {
        let a = presented.get(i).copied().unwrap_or(0);
        let b = expected.get(i).copied().unwrap_or(0);
        diff |= a ^ b;
    }
    std::hint::black_box(diff) == 0
}

/// The token as a cookie value: percent-encoded, so any token is a valid one (the stack's,
/// URL-safe base64, is unchanged).
fn cookie_value(token: &str) -> String {
    url::form_urlencoded::byte_serialize(token.as_bytes()).collect()
}

/// The middleware: lets through what [`authorize`] passes, everything when no token is
/// configured.
async fn guard(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    let Some(expected) = console.config().token.as_deref() else {
        return next.run(request).await;
    };
    let uri = request.uri();
    match authorize(
        request.method(),
        uri.path(),
        uri.query(),
        request.headers(),
        expected,
    ) {
        Decision::Pass => next.run(request).await,
        Decision::SetCookie => set_cookie(expected),
        Decision::Refuse => refuse(uri.path()),
    }
}

/// 303 to `/`, keeping the token in an `HttpOnly`, `SameSite=Strict` cookie (no `Secure`:
/// the console is plain HTTP on loopback).
fn set_cookie(token: &str) -> Response {
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        cookie_value(token)
    );
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static("/")),
                (header::SET_COOKIE, cookie),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the token cannot be a cookie",
        )
            .into_response(),
    }
}

/// 401 with [`REFUSAL`]: a page for `/`, JSON under `/api`, text elsewhere.
fn refuse(path: &str) -> Response {
    let headers = [
        (
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"userstream console\"",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    if path == "/" {
        let html = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
        (StatusCode::UNAUTHORIZED, headers, html, REFUSAL_PAGE).into_response()
    } else if path == "/api" || path.starts_with("/api/") {
        let body = Json(serde_json::json!({ "error": REFUSAL }));
        (StatusCode::UNAUTHORIZED, headers, body).into_response()
    } else {
        let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
        (StatusCode::UNAUTHORIZED, headers, text, REFUSAL).into_response()
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn index() -> Json<serde_json::Value> {
    let mut endpoints = vec!["/api/snapshot".to_owned()];
    endpoints.extend(AREAS.iter().map(|a| format!("/api/{a}")));
    endpoints.push("/api/cassandra/count".to_owned());
    Json(serde_json::json!({
        "endpoints": endpoints,
        "actions": {
            "POST /api/cassandra/count[?seconds=N][&wait=true]":
                "exact count of users (a full scan) with a time limit; GET shows the last one",
        },
    }))
}

async fn snapshot(State(console): State<Arc<Console>>) -> Json<crate::Snapshot> {
    Json(console.snapshot())
}

async fn area(State(console): State<Arc<Console>>, Path(area): Path<String>) -> Response {
    let snapshot = match serde_json::to_value(console.snapshot()) {
        Ok(value) => value,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match snapshot.get(area.as_str()) {
        Some(value) if AREAS.contains(&area.as_str()) => {
            let mut value = value.clone();
            if area == "spark" {
                value["history"] = snapshot["spark_history"].clone();
            }
            if area == "cassandra" {
                value["count"] = snapshot["cassandra_count"].clone();
            }
            Json(value).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            format!(
                "no area `{area}`; try one of: snapshot, {}",
                AREAS.join(", ")
            ),
        )
            .into_response(),
    }
}

/// Longest time limit a request may ask of a count.
const MAX_COUNT_SECONDS: u64 = 600;

/// `POST /api/cassandra/count` parameters.
#[derive(Debug, Deserialize)]
struct CountParams {
    /// Time limit in seconds (1 to 600); the configured one when absent.
    seconds: Option<u64>,
    /// Answer when the count ends instead of at once.
    #[serde(default)]
    wait: bool,
}

/// The last count, running or done.
async fn count(State(console): State<Arc<Console>>) -> Response {
    match console.count() {
        Some(view) => Json(view).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no count yet: `POST /api/cassandra/count` starts one",
        )
            .into_response(),
    }
}

/// Starts an exact count: 202 with the running count (200 with the result when `wait`),
/// 409 with the one already running.
async fn start_count(
    State(console): State<Arc<Console>>,
    Query(params): Query<CountParams>,
) -> Response {
    let limit = params
        .seconds
        .map(|s| Duration::from_secs(s.clamp(1, MAX_COUNT_SECONDS)));
    match console.start_count(limit) {
        Err(running) => (StatusCode::CONFLICT, Json(*running)).into_response(),
        Ok((view, task)) if params.wait => match task.await {
            Ok(done) => Json(done).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the count of {} stopped: {e}", view.table),
            )
                .into_response(),
        },
        Ok((view, _)) => (StatusCode::ACCEPTED, Json(view)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConsoleConfig;

    const TOKEN: &str = "k3y_-Z9aQ";

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn decide(method: Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Decision {
        authorize(&method, path, query, headers, TOKEN)
    }

    #[test]
    fn without_the_token_nothing_but_healthz_passes() {
        let none = HeaderMap::new();
        for path in ["/", "/api", "/api/snapshot", "/assets/console.js", "/nope"] {
            assert_eq!(decide(Method::GET, path, None, &none), Decision::Refuse);
        }
        assert_eq!(
            decide(
                Method::POST,
                "/api/cassandra/count",
                Some("wait=true"),
                &none
            ),
            Decision::Refuse
        );
        assert_eq!(decide(Method::GET, "/healthz", None, &none), Decision::Pass);
    }

    #[test]
    fn a_wrong_token_is_refused_everywhere() {
        for wrong in ["", "k3y_-Z9a", "k3y_-Z9aQQ", "K3Y_-Z9AQ", "x"] {
            let bearer = headers(&[(header::AUTHORIZATION, &format!("Bearer {wrong}"))]);
            assert_eq!(
                decide(Method::GET, "/api/snapshot", None, &bearer),
                Decision::Refuse
            );
            let cookie = headers(&[(header::COOKIE, &format!("{COOKIE}={wrong}"))]);
            assert_eq!(decide(Method::GET, "/", None, &cookie), Decision::Refuse);
            let query = format!("token={wrong}");
            assert_eq!(
                decide(Method::GET, "/", Some(&query), &HeaderMap::new()),
                Decision::Refuse
            );
        }
        // The right token under another scheme or cookie name is no credential.
        let basic = headers(&[(header::AUTHORIZATION, &format!("Basic {TOKEN}"))]);
        assert_eq!(decide(Method::GET, "/api", None, &basic), Decision::Refuse);
        let other = headers(&[(header::COOKIE, &format!("other={TOKEN}"))]);
        assert_eq!(decide(Method::GET, "/api", None, &other), Decision::Refuse);
        // A wrong link refuses even with a good cookie: the address bar keeps no token.
        let cookie = headers(&[(header::COOKIE, &format!("{COOKIE}={TOKEN}"))]);
        assert_eq!(
            decide(Method::GET, "/", Some("token=nope"), &cookie),
            Decision::Refuse
        );
    }

    #[test]
    fn a_bearer_token_passes() {
        for value in [format!("Bearer {TOKEN}"), format!("bearer  {TOKEN} ")] {
            let bearer = headers(&[(header::AUTHORIZATION, &value)]);
            for path in ["/", "/api/snapshot", "/assets/console.css"] {
                assert_eq!(decide(Method::GET, path, None, &bearer), Decision::Pass);
            }
            assert_eq!(
                decide(Method::POST, "/api/cassandra/count", None, &bearer),
                Decision::Pass
            );
        }
    }

    #[test]
    fn the_cookie_passes_among_others() {
        let cookie = headers(&[(
            header::COOKIE,
            &format!("a=1; {COOKIE}=stale; {COOKIE}={TOKEN}; b=2"),
        )]);
        for path in ["/", "/api/kafka", "/assets/console.js"] {
            assert_eq!(decide(Method::GET, path, None, &cookie), Decision::Pass);
        }
        let split = headers(&[
            (header::COOKIE, "a=1"),
            (header::COOKIE, &format!("{COOKIE}={TOKEN}")),
        ]);
        assert_eq!(decide(Method::GET, "/api", None, &split), Decision::Pass);
    }

    #[test]
    fn the_link_asks_for_the_cookie_on_get_root_only() {
        let query = format!("token={TOKEN}");
        let none = HeaderMap::new();
        assert_eq!(
            decide(Method::GET, "/", Some(&query), &none),
            Decision::SetCookie
        );
        assert_eq!(
            decide(Method::GET, "/api/snapshot", Some(&query), &none),
            Decision::Refuse
        );
        assert_eq!(
            decide(Method::POST, "/", Some(&query), &none),
            Decision::Refuse
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abd", b"abc"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"abcd", b"abc"));
        assert!(!same(b"", b""));
        assert_eq!(
            cookie_value(TOKEN),
            TOKEN,
            "the stack's tokens are cookie-safe"
        );
        assert_eq!(cookie_value("a b;c"), "a+b%3Bc");
    }

    /// The router over a console that gathers nothing, served on a loopback port.
    async fn serve(token: Option<&str>) -> (String, tokio::task::JoinHandle<()>) {
        let mut config = ConsoleConfig::new(userstream_stack::StackConfig::with_state_dir(
            std::env::temp_dir().join("userstream-console-auth-test"),
        ));
        config.token = token.map(str::to_owned);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(Console::new(config));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (base, server)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn over_http_the_token_guards_every_route_but_healthz() {
        let (base, server) = serve(Some(TOKEN)).await;
        let http = client();

        // No token, or a wrong one: 401 with the sentence, and never the token.
        for (path, content_type) in [
            ("/", "text/html; charset=utf-8"),
            ("/api/snapshot", "application/json"),
            ("/assets/console.js", "text/plain; charset=utf-8"),
        ] {
            let answer = http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(answer.headers()[header::CONTENT_TYPE], content_type);
            let body = answer.text().await.unwrap();
            assert!(body.contains("This console needs its token."), "{body}");
            assert!(body.contains("userstream stack credentials"), "{body}");
        }
        let refused: serde_json::Value = http
            .get(format!("{base}/api/snapshot"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(refused["error"], REFUSAL);
        let wrong_link = http
            .get(format!("{base}/?token=wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_link.status(), StatusCode::UNAUTHORIZED);
        assert!(wrong_link.headers().get(header::SET_COOKIE).is_none());
        assert!(!wrong_link.text().await.unwrap().contains("wrong"));
        let post = http
            .post(format!("{base}/api/cassandra/count"))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), StatusCode::UNAUTHORIZED, "no count started");
        let unknown = http.get(format!("{base}/nope")).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

        // `/healthz` is open.
        let health = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);

        // Bearer.
        let snapshot = http
            .get(format!("{base}/api/snapshot"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(snapshot.status(), StatusCode::OK);
        let snapshot: serde_json::Value = snapshot.json().await.unwrap();
        assert!(snapshot.get("flow").is_some(), "{snapshot}");

        // The link: 303 to `/` with the cookie, which then opens everything.
        let link = http
            .get(format!("{base}/?token={TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(link.status(), StatusCode::SEE_OTHER);
        assert_eq!(link.headers()[header::LOCATION], "/");
        let cookie = link.headers()[header::SET_COOKIE].to_str().unwrap();
        assert_eq!(
            cookie,
            format!("{COOKIE}={TOKEN}; HttpOnly; SameSite=Strict; Path=/")
        );
        let pair = cookie.split(';').next().unwrap().to_owned();
        for path in ["/", "/assets/console.js", "/api/snapshot", "/api"] {
            let answer = http
                .get(format!("{base}{path}"))
                .header(header::COOKIE, &pair)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "{path}");
        }
        let page = http
            .get(&base)
            .header(header::COOKIE, &pair)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("/assets/console.js"));
        server.abort();
    }

    #[tokio::test]
    async fn over_http_without_a_configured_token_everything_is_served() {
        let (base, server) = serve(None).await;
        let http = client();
        for path in ["/", "/api/snapshot", "/assets/console.css", "/healthz"] {
            let answer = http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "{path}");
        }
        // `?token=` means nothing then: the page itself.
        let link = http.get(format!("{base}/?token=x")).send().await.unwrap();
        assert_eq!(link.status(), StatusCode::OK);
        server.abort();
    }
}
