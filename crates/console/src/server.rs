//! Routes: the page, its two assets, and the JSON API (`/api/...`) scripts can read too.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

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
    Json(serde_json::json!({ "endpoints": endpoints }))
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
