//! The HTTP server: routes, the API handler with fault injection, binding and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tracing::{debug, info};

use crate::config::UsersApiConfig;
use crate::error::UsersApiError;
use crate::faults::{self, Fault, FaultOverrides, DELAY_HEADER, FAULT_HEADER};
use crate::json;
use crate::params::{self, Format};
use crate::rng::mix64;
use userstream_model::request::PageRequest;

/// Pages larger than this are generated on the blocking pool, not on a runtime worker.
const INLINE_LIMIT: u32 = 200;

struct AppState {
    config: UsersApiConfig,
    fault_seed: u64,
    requests: AtomicU64,
}

/// The server's routes, for mounting into another axum app or driving with `tower::Service`:
/// `/api`, `/api/`, `/api/1.4`, `/api/1.4/` and `/health`.
pub fn router(config: UsersApiConfig) -> Result<Router, UsersApiError> {
    config.validate()?;
    let fault_seed = config.faults.seed.unwrap_or_else(rand::random);
    let state = Arc::new(AppState {
        config,
        fault_seed,
        requests: AtomicU64::new(0),
    });
    Ok(Router::new()
        .route("/api", get(api))
        .route("/api/", get(api))
        .route("/api/1.4", get(api))
        .route("/api/1.4/", get(api))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(state))
}

/// A server bound to its socket but not yet serving; lets callers learn the port first.
pub struct BoundServer {
    listener: TcpListener,
    router: Router,
    local_addr: SocketAddr,
}

/// Validates `config` and binds its address (port 0 picks a free one).
pub async fn bind(config: UsersApiConfig) -> Result<BoundServer, UsersApiError> {
    let addr = config.bind;
    let router = router(config)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| UsersApiError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| UsersApiError::Bind { addr, source })?;
    Ok(BoundServer {
        listener,
        router,
        local_addr,
    })
}

impl BoundServer {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), UsersApiError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        info!(addr = %self.local_addr, "users-api listening");
        let listener = self.listener.tap_io(|tcp| {
            // Small responses (faults, health) should not wait for Nagle.
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(UsersApiError::Serve)?;
        info!(addr = %self.local_addr, "users-api stopped");
        Ok(())
    }
}

/// Binds `config.bind` and serves until `shutdown` completes.
pub async fn serve<F>(config: UsersApiConfig, shutdown: F) -> Result<(), UsersApiError>
where
    F: Future<Output = ()> + Send + 'static,
{
    bind(config).await?.serve(shutdown).await
}

async fn api(
    State(state): State<Arc<AppState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    // The real API ignores what it cannot read rather than failing.
    let pairs = query.map(|Query(pairs)| pairs).unwrap_or_default();
    let q = match params::parse_query(&pairs, state.config.max_results) {
        Ok(q) => q,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let no_overrides = FaultOverrides::default();
    let overrides = if state.config.allow_fault_params {
        &q.faults
    } else {
        &no_overrides
    };
    let n = state.requests.fetch_add(1, Ordering::Relaxed);
    let plan = faults::plan(
        &state.config.faults,
        overrides,
        mix64(state.fault_seed ^ mix64(n)),
    );
    debug!(
        seed = %q.page.seed,
        page = q.page.page,
        results = q.page.results,
        fault = plan.fault.map(|f| f.header_value()),
        delay_ms = plan.delay.as_millis() as u64,
        "users-api request"
    );
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }

    let mut response = match plan.fault {
        Some(Fault::Error { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let reason = status.canonical_reason().unwrap_or("error");
            let mut r = error_response(status, &format!("{reason} (injected fault)"));
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(whole_secs(plan.retry_after)),
            );
            r
        }
        Some(Fault::ErrorBody) => error_response(StatusCode::OK, faults::REAL_API_ERROR_MESSAGE),
        other => {
            let served = if other == Some(Fault::Empty) {
                0
            } else {
                q.page.results
            };
            match render(q.page, served, q.format).await {
                Ok(mut body) => {
                    if other == Some(Fault::Malformed) {
                        faults::truncate(&mut body);
                    }
                    json_response(StatusCode::OK, body)
                }
                Err(message) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &message),
            }
        }
    };
    let headers = response.headers_mut();
    if let Some(fault) = plan.fault {
        if let Ok(v) = HeaderValue::from_str(&fault.header_value()) {
            headers.insert(HeaderName::from_static(FAULT_HEADER), v);
        }
    }
    if !plan.delay.is_zero() {
        headers.insert(
            HeaderName::from_static(DELAY_HEADER),
            HeaderValue::from(plan.delay.as_millis() as u64),
        );
    }
    response
}

/// Writes the body, off the runtime's workers when the page is large.
async fn render(page: PageRequest, served: u32, format: Format) -> Result<Vec<u8>, String> {
    let build = move || {
        let mut out = Vec::new();
        json::write_page(&page, served, &mut out);
        match format {
            Format::Json => out,
            Format::Pretty => json::pretty(&out),
        }
    };
    if served <= INLINE_LIMIT {
        Ok(build())
    } else {
        tokio::task::spawn_blocking(build)
            .await
            .map_err(|e| format!("generation failed: {e}"))
    }
}

async fn health() -> Response {
    json_response(
        StatusCode::OK,
        format!("{{\"status\":\"ok\",\"version\":\"{}\"}}", json::VERSION).into_bytes(),
    )
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not found; the API is at /api/")
}

fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    json_response(status, body.into_bytes())
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    // The real API allows browser clients from any origin.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// `Retry-After` takes whole seconds; round up so clients never retry early.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
