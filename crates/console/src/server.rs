//! Routes: the page, its two assets, and the JSON API (`/api/...`) scripts can read too.
//! Every GET is cheap (it reads what the sampler gathered); the one action is
//! `POST /api/cassandra/count`, an exact count of `users` with a time limit.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
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

/// The console's routes.
pub fn router(console: Arc<Console>) -> Router {
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
