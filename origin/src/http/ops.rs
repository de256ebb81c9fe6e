//! Operations: liveness, readiness, Prometheus metrics and the per-request
//! metrics middleware.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// The process-wide metrics recorder, installed on first use.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .expect("bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (a test harness); then
        // this handle renders only what is recorded through it, which is
        // still correct for /metrics of this process's requests.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts and times every request by method, route template and status.
pub async fn track(State(_state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("vitrine_http_requests_total", &labels).increment(1);
    metrics::histogram!("vitrine_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}

/// Alive: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the database and the cart store answer.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (db, carts) = tokio::join!(state.db.ping(), state.carts.ping());
    let body = serde_json::json!({ "database": db, "carts": carts });
    let status = if db && carts {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (size, idle) = state.db.pool_usage();
    metrics::gauge!("vitrine_db_pool_connections", "state" => "open").set(f64::from(size));
    metrics::gauge!("vitrine_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("vitrine_db_pool_connections_max").set(f64::from(state.config.db_max_connections));
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        recorder().render(),
    )
        .into_response()
}
