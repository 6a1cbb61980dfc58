//! Routes: the page, its two assets, and the JSON API (`/api/...`) scripts can read too.
//! Every GET is cheap (it reads what the sampler gathered); the one action is
//! `POST /api/cassandra/count`, an exact count of `users` with a time limit.
//!
//! The page shows personal data (names, e-mails), so every route but `/healthz` first asks
//! for the console's token ([`authorize`]): `Authorization: Bearer <token>`, the cookie
//! `userstream_console_<port>=<token>` ([`cookie_name`]), or `GET /?token=<token>` (the
//! link `userstream console` prints), which answers a redirect to `/` setting the cookie,
//! so the token leaves the address bar. The token is never logged nor echoed.
//!
//! A browser sends the cookie with requests other sites' pages make, and cookies are not
//! port-scoped: any page on `127.0.0.1` (another port's service) is the same site. So a
//! request that changes something is refused when the browser says it comes from another
//! page ([`check_origin`]), and every response forbids framing and foreign scripts
//! ([`SECURITY_HEADERS`]).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::Deserialize;

use crate::{Console, ConsoleConfig};

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

/// The console's routes: all but `/healthz` ask for the token, and every response carries
/// [`SECURITY_HEADERS`].
pub fn router(console: Arc<Console>) -> Router {
    let access = Arc::new(Access::new(console.config()));
    let guard = middleware::from_fn_with_state(access, guard);
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
        // Outermost: the guard's refusals and redirects carry the headers too.
        .layer(middleware::map_response(secure))
}

/// The headers on every response. The page loads its script and style from `/assets` (no
/// inline code, no inline `style` attribute: the script sets styles through the DOM), so
/// `'self'` is all it needs; no other page may frame it (clickjacking the count button), and
/// no address (the `?token=` link) leaves in a `Referer`.
pub const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// Sets [`SECURITY_HEADERS`] on `response`, replacing any a handler set.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The name of the cookie a browser keeps the token in, once it came with `?token=`: it
/// carries the console's port, because cookies are not port-scoped and two consoles on one
/// host (two stacks) would otherwise overwrite each other's login.
pub fn cookie_name(port: u16) -> String {
    format!("userstream_console_{port}")
}

/// The page's own origins when the console listens on `listen`, as a browser sends them in
/// `Origin`: the address itself, and `localhost` and the other loopback spelling when it is
/// a loopback or every-interface address. On port 80 a browser leaves the port out.
pub(crate) fn own_origins(listen: SocketAddr) -> Vec<String> {
    let v4_loopback = IpAddr::from([127, 0, 0, 1]);
    let v6_loopback = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let hosts: Vec<IpAddr> = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => vec![v4_loopback],
        // On Linux `[::]` takes IPv4 too, unless the system says otherwise.
        IpAddr::V6(ip) if ip.is_unspecified() => vec![v4_loopback, v6_loopback],
        ip => vec![ip],
    };
    let local = hosts.contains(&v4_loopback) || hosts.contains(&v6_loopback);
    let mut names: Vec<String> = hosts
        .iter()
        .map(|ip| match ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        })
        .collect();
    if local {
        names.push("localhost".to_owned());
    }
    let port = listen.port();
    let mut origins: Vec<String> = names
        .iter()
        .map(|host| format!("http://{host}:{port}"))
        .collect();
    if port == 80 {
        origins.extend(names.iter().map(|host| format!("http://{host}")));
    }
    origins
}

/// What the guard checks a request against, made once from the configuration.
#[derive(Clone)]
pub(crate) struct Access {
    /// The console's token.
    token: String,
    /// The cookie's name ([`cookie_name`]).
    cookie: String,
    /// The page's own origins ([`own_origins`]).
    origins: Vec<String>,
}

impl Access {
    pub(crate) fn new(config: &ConsoleConfig) -> Self {
        Self {
            token: config.token.clone(),
            cookie: cookie_name(config.listen.port()),
            origins: own_origins(config.listen),
        }
    }
}

/// What a caller without the token is told (never the token itself).
const REFUSAL: &str = "This console needs its token. `userstream console` prints the \
    address with it; `userstream stack credentials` shows it.";

/// The same sentence as a page, for a browser opening `/`.
const REFUSAL_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>userstream console: token needed</title></head>\n<body><p>This console needs its \
    token. <code>userstream console</code> prints the address with it; \
    <code>userstream stack credentials</code> shows it.</p></body></html>\n";

/// Why [`check_origin`] refused a request: another page asked.
const FOREIGN_ORIGIN: &str = "refused: this request comes from a page that is not the \
    console's own (its Origin header); the console takes actions only from its own page, \
    or from a script that sends no Origin (with the token)";

/// Why [`check_origin`] refused a request: the browser says another site asked.
const FOREIGN_SITE: &str = "refused: the browser says this request comes from another site's \
    page (Sec-Fetch-Site); the console takes actions only from its own page, or from a \
    script (with the token)";

/// Whether a request may change something, given the page's own `origins`: GET and HEAD
/// always (they change nothing); any other method unless the browser says another page
/// sent it: an `Origin` that is not one of `origins` (`null` included), or a
/// `Sec-Fetch-Site` of `cross-site` or `same-site` (another port on this host is the same
/// site). Without either header (curl, scripts, the tests' clients) it passes, as the
/// token still has to come with it. The error is the reason to answer with.
pub(crate) fn check_origin(
    method: &Method,
    headers: &HeaderMap,
    origins: &[String],
) -> Result<(), &'static str> {
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    let foreign_origin = headers.get_all(header::ORIGIN).iter().any(|value| {
        value.to_str().map_or(true, |value| {
            !origins
                .iter()
                .any(|own| own.eq_ignore_ascii_case(value.trim()))
        })
    });
    if foreign_origin {
        return Err(FOREIGN_ORIGIN);
    }
    let foreign_site = headers
        .get_all(HeaderName::from_static("sec-fetch-site"))
        .iter()
        .any(|value| {
            value.to_str().map_or(true, |value| {
                let value = value.trim();
                value.eq_ignore_ascii_case("cross-site") || value.eq_ignore_ascii_case("same-site")
            })
        });
    if foreign_site {
        return Err(FOREIGN_SITE);
    }
    Ok(())
}

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

/// Whether a request may be served: `/healthz` always; otherwise with the token as a
/// bearer, as the cookie, or (`GET /` only) as `?token=`, which asks for the cookie to be
/// set. A `?token=` that is not the token refuses, whatever else comes with it. Empty
/// tokens never match.
pub(crate) fn authorize(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    access: &Access,
) -> Decision {
    if path == "/healthz" {
        return Decision::Pass;
    }
    let expected = access.token.as_bytes();
    if method == Method::GET && path == "/" {
        let mut link = None;
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if key == "token" {
                link = Some(value);
            }
        }
        if let Some(link) = link {
            return if same(link.as_bytes(), expected) {
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
        .any(|(_, token)| same(token.trim().as_bytes(), expected));
    let cookie = cookie_value(&access.token);
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == access.cookie)
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

/// The middleware: refuses (403) a change another page asks for ([`check_origin`]), then
/// lets through what [`authorize`] passes.
async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let uri = request.uri();
    if let Err(reason) = check_origin(request.method(), request.headers(), &access.origins) {
        return answer(StatusCode::FORBIDDEN, uri.path(), reason);
    }
    match authorize(
        request.method(),
        uri.path(),
        uri.query(),
        request.headers(),
        &access,
    ) {
        Decision::Pass => next.run(request).await,
        Decision::SetCookie => set_cookie(&access),
        Decision::Refuse => refuse(uri.path()),
    }
}

/// 303 to `/`, keeping the token in an `HttpOnly`, `SameSite=Strict` cookie (no `Secure`:
/// the console is plain HTTP on loopback).
fn set_cookie(access: &Access) -> Response {
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        access.cookie,
        cookie_value(&access.token)
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
    let challenge = [(
        header::WWW_AUTHENTICATE,
        "Bearer realm=\"userstream console\"",
    )];
    if path == "/" {
        let html = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
        let headers = [(header::CACHE_CONTROL, "no-store")];
        (
            StatusCode::UNAUTHORIZED,
            challenge,
            headers,
            html,
            REFUSAL_PAGE,
        )
            .into_response()
    } else {
        (challenge, answer(StatusCode::UNAUTHORIZED, path, REFUSAL)).into_response()
    }
}

/// `status` with `message`: JSON (`{"error": …}`) under `/api`, text elsewhere; not cached.
fn answer(status: StatusCode, path: &str, message: &'static str) -> Response {
    let headers = [(header::CACHE_CONTROL, "no-store")];
    if path == "/api" || path.starts_with("/api/") {
        let body = Json(serde_json::json!({ "error": message }));
        (status, headers, body).into_response()
    } else {
        let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
        (status, headers, text, message).into_response()
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

    const TOKEN: &str = "k3y_-Z9aQ";
    const PORT: u16 = 18088;

    fn access() -> Access {
        let listen = SocketAddr::from(([127, 0, 0, 1], PORT));
        Access {
            token: TOKEN.to_owned(),
            cookie: cookie_name(PORT),
            origins: own_origins(listen),
        }
    }

    fn cookie() -> String {
        cookie_name(PORT)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn decide(method: Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Decision {
        authorize(&method, path, query, headers, &access())
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
        let cookie = cookie();
        for wrong in ["", "k3y_-Z9a", "k3y_-Z9aQQ", "K3Y_-Z9AQ", "x"] {
            let bearer = headers(&[("authorization", &format!("Bearer {wrong}"))]);
            assert_eq!(
                decide(Method::GET, "/api/snapshot", None, &bearer),
                Decision::Refuse
            );
            let jar = headers(&[("cookie", &format!("{cookie}={wrong}"))]);
            assert_eq!(decide(Method::GET, "/", None, &jar), Decision::Refuse);
            let query = format!("token={wrong}");
            assert_eq!(
                decide(Method::GET, "/", Some(&query), &HeaderMap::new()),
                Decision::Refuse
            );
        }
        // The right token under another scheme or cookie name is no credential.
        let basic = headers(&[("authorization", &format!("Basic {TOKEN}"))]);
        assert_eq!(decide(Method::GET, "/api", None, &basic), Decision::Refuse);
        let other = headers(&[("cookie", &format!("other={TOKEN}"))]);
        assert_eq!(decide(Method::GET, "/api", None, &other), Decision::Refuse);
        // A wrong link refuses even with a good cookie: the address bar keeps no token.
        let jar = headers(&[("cookie", &format!("{cookie}={TOKEN}"))]);
        assert_eq!(
            decide(Method::GET, "/", Some("token=nope"), &jar),
            Decision::Refuse
        );
    }

    #[test]
    fn a_bearer_token_passes() {
        for value in [format!("Bearer {TOKEN}"), format!("bearer  {TOKEN} ")] {
            let bearer = headers(&[("authorization", &value)]);
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
        let cookie = cookie();
        let jar = headers(&[(
            "cookie",
            &format!("a=1; {cookie}=stale; {cookie}={TOKEN}; b=2"),
        )]);
        for path in ["/", "/api/kafka", "/assets/console.js"] {
            assert_eq!(decide(Method::GET, path, None, &jar), Decision::Pass);
        }
        let split = headers(&[("cookie", "a=1"), ("cookie", &format!("{cookie}={TOKEN}"))]);
        assert_eq!(decide(Method::GET, "/api", None, &split), Decision::Pass);
    }

    #[test]
    fn the_cookie_is_this_ports_own() {
        assert_eq!(cookie_name(8088), "userstream_console_8088");
        assert_ne!(cookie_name(8088), cookie_name(18088));
        // Another console's cookie (another port), or the old port-less one, is no login.
        for name in ["userstream_console", "userstream_console_8088"] {
            let jar = headers(&[("cookie", &format!("{name}={TOKEN}"))]);
            assert_eq!(decide(Method::GET, "/api", None, &jar), Decision::Refuse);
        }
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

    #[test]
    fn the_own_origins_follow_the_listen_address() {
        let at = |ip: [u8; 4], port| own_origins(SocketAddr::from((ip, port)));
        assert_eq!(
            at([127, 0, 0, 1], 8088),
            ["http://127.0.0.1:8088", "http://localhost:8088"]
        );
        assert_eq!(
            at([0, 0, 0, 0], 8088),
            ["http://127.0.0.1:8088", "http://localhost:8088"]
        );
        assert_eq!(at([192, 168, 1, 5], 8088), ["http://192.168.1.5:8088"]);
        assert_eq!(
            at([127, 0, 0, 1], 80),
            [
                "http://127.0.0.1:80",
                "http://localhost:80",
                "http://127.0.0.1",
                "http://localhost"
            ]
        );
        let v6 = own_origins(SocketAddr::from((Ipv6Addr::LOCALHOST, 8088)));
        assert_eq!(v6, ["http://[::1]:8088", "http://localhost:8088"]);
        let any6 = own_origins(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 8088)));
        assert!(
            any6.contains(&"http://127.0.0.1:8088".to_owned()),
            "{any6:?}"
        );
    }

    #[test]
    fn a_change_from_another_page_is_refused() {
        let origins = access().origins;
        let check = |method: Method, pairs: &[(&str, &str)]| {
            check_origin(&method, &headers(pairs), &origins)
        };
        // The console's own page (a browser's same-origin fetch), and scripts without either
        // header.
        let own = [
            ("origin", "http://127.0.0.1:18088"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert_eq!(check(Method::POST, &own), Ok(()));
        assert_eq!(
            check(Method::POST, &[("origin", "http://localhost:18088")]),
            Ok(())
        );
        assert_eq!(check(Method::POST, &[]), Ok(()));
        assert_eq!(check(Method::POST, &[("sec-fetch-site", "none")]), Ok(()));
        // Another page: another port on this host (same site), another host, `null`
        // (a sandboxed frame, a file), or the browser's own word for it.
        for origin in [
            "http://127.0.0.1:18080",
            "http://localhost:8088",
            "https://127.0.0.1:18088",
            "http://evil.example",
            "http://127.0.0.1:18088.evil.example",
            "null",
        ] {
            assert_eq!(
                check(Method::POST, &[("origin", origin)]),
                Err(FOREIGN_ORIGIN),
                "{origin}"
            );
        }
        for site in ["cross-site", "same-site", "Cross-Site"] {
            assert_eq!(
                check(
                    Method::POST,
                    &[
                        ("origin", "http://127.0.0.1:18088"),
                        ("sec-fetch-site", site)
                    ]
                ),
                Err(FOREIGN_SITE),
                "{site}"
            );
        }
        // Any Origin header of several that is foreign refuses.
        assert_eq!(
            check(
                Method::POST,
                &[
                    ("origin", "http://127.0.0.1:18088"),
                    ("origin", "http://evil.example")
                ]
            ),
            Err(FOREIGN_ORIGIN)
        );
        // Every method but GET and HEAD is a change; those two never are.
        for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS] {
            assert!(
                check(method.clone(), &[("sec-fetch-site", "cross-site")]).is_err(),
                "{method}"
            );
        }
        for method in [Method::GET, Method::HEAD] {
            let foreign = [
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ];
            assert_eq!(check(method, &foreign), Ok(()));
        }
    }

    #[test]
    fn the_page_needs_nothing_the_policy_forbids() {
        // `default-src 'self'` without 'unsafe-inline': no inline script, style element or
        // style attribute, no handler attribute, nothing from another origin.
        let policy = SECURITY_HEADERS[0].1;
        assert!(!policy.contains("unsafe"), "{policy}");
        for (name, text) in [
            ("index.html", PAGE),
            ("console.js", SCRIPT),
            ("refusal", REFUSAL_PAGE),
        ] {
            let lower = text.to_ascii_lowercase();
            for forbidden in [
                "<style",
                "style=\"",
                "style='",
                " onclick",
                " onload",
                "javascript:",
                "eval(",
            ] {
                assert!(!lower.contains(forbidden), "{name} has {forbidden}");
            }
        }
        let scripts: Vec<&str> = PAGE.split("<script").skip(1).collect();
        assert_eq!(scripts.len(), 1, "one script element");
        assert!(
            scripts[0].starts_with(" src=\"/assets/console.js\"></script>"),
            "the script is the asset, not inline: {}",
            scripts[0]
        );
        assert!(!STYLE.contains("url("), "the style loads nothing");
    }

    /// The router over a console that gathers nothing, served on a loopback port; the
    /// configuration knows the real port (as `serve` sets it), which names the cookie.
    async fn serve() -> (String, u16, tokio::task::JoinHandle<()>) {
        let mut credentials = userstream_endpoints::Credentials::withheld();
        credentials.console_token = TOKEN.to_owned();
        let mut config = ConsoleConfig::with_credentials(
            userstream_stack::StackConfig::with_state_dir(
                std::env::temp_dir().join("userstream-console-auth-test"),
            ),
            credentials,
        );
        // A count the test starts fails at once: nothing listens there.
        config.endpoints.cassandra = "127.0.0.1:1".to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        config.listen = listener.local_addr().unwrap();
        let base = format!("http://{}", config.listen);
        let port = config.listen.port();
        let app = router(Console::new(config));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (base, port, server)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn assert_secured(answer: &reqwest::Response, what: &str) {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                answer.headers().get(&name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{name} on {what}"
            );
        }
    }

    #[tokio::test]
    async fn over_http_the_token_guards_every_route_but_healthz() {
        let (base, port, server) = serve().await;
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
            assert!(answer.headers().contains_key(header::WWW_AUTHENTICATE));
            assert_secured(&answer, path);
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
        assert_secured(&health, "/healthz");

        // Bearer.
        let snapshot = http
            .get(format!("{base}/api/snapshot"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(snapshot.status(), StatusCode::OK);
        assert_secured(&snapshot, "/api/snapshot");
        let snapshot: serde_json::Value = snapshot.json().await.unwrap();
        assert!(snapshot.get("flow").is_some(), "{snapshot}");

        // The link: 303 to `/` with this port's cookie, which then opens everything.
        let link = http
            .get(format!("{base}/?token={TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(link.status(), StatusCode::SEE_OTHER);
        assert_eq!(link.headers()[header::LOCATION], "/");
        assert_secured(&link, "the link");
        let cookie = link.headers()[header::SET_COOKIE].to_str().unwrap();
        assert_eq!(
            cookie,
            format!("userstream_console_{port}={TOKEN}; HttpOnly; SameSite=Strict; Path=/")
        );
        let pair = cookie.split(';').next().unwrap().to_owned();
        for path in [
            "/",
            "/assets/console.js",
            "/assets/console.css",
            "/api/snapshot",
            "/api",
        ] {
            let answer = http
                .get(format!("{base}{path}"))
                .header(header::COOKIE, &pair)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "{path}");
            assert_secured(&answer, path);
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
        let missing = http
            .get(format!("{base}/api/nope"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_secured(&missing, "a 404");
        server.abort();
    }

    #[tokio::test]
    async fn over_http_a_change_from_another_page_is_forbidden_even_with_the_token() {
        let (base, port, server) = serve().await;
        let http = client();
        let count = format!("{base}/api/cassandra/count?seconds=1");
        let pair = format!("{}={TOKEN}", cookie_name(port));

        // Another service's page on this host, with the browser's cookie: 403, no count.
        let forged = http
            .post(&count)
            .header(header::COOKIE, &pair)
            .header(header::ORIGIN, "http://127.0.0.1:1")
            .header("sec-fetch-site", "same-site")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        assert_secured(&forged, "a 403");
        let reason: serde_json::Value = forged.json().await.unwrap();
        assert_eq!(reason["error"], FOREIGN_ORIGIN);
        let cross = http
            .post(&count)
            .bearer_auth(TOKEN)
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), StatusCode::FORBIDDEN);
        let none = http.get(&count).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(none.status(), StatusCode::NOT_FOUND, "no count was started");

        // The console's own page (as the browser sends it), then a script: both start it.
        let own = http
            .post(&count)
            .header(header::COOKIE, &pair)
            .header(header::ORIGIN, format!("http://localhost:{port}"))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), StatusCode::ACCEPTED);
        let script = http
            .post(format!("{count}&wait=true"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(script.status(), StatusCode::OK | StatusCode::CONFLICT),
            "{}",
            script.status()
        );
        server.abort();
    }
}
