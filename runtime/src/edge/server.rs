//! The edge's HTTP server: its own accept loop on hyper, so it can bound
//! what a client may do to it — a deadline for sending the request head
//! (slow clients), a cap on the head's size (431 past it), keep-alive — and
//! drain connections on shutdown.
//!
//! Besides the shoppers' paths (everything goes to [`proxy::handle`]) and
//! the storefront page (`/`, `/storefront/*`: [`storefront`]):
//! `/healthz` (alive), `/readyz` (following the change feed, when there is
//! one), `/metrics` (Prometheus, when a recorder is installed), and
//! `POST /admin/purge` (bearer token; purge by surrogate key, by URL, or
//! everything).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use http::header::{self, HeaderValue};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::feed::FeedStatus;
use super::proxy::{self, ClientAddr, Edge};
use super::store::{IgnoredParams, cache_key};
use super::storefront;

/// The largest request head (request line and headers) accepted; past it,
/// 431. hyper's read buffer is bounded at twice this, so a larger head is
/// refused before it is even parsed.
pub const MAX_HEAD_BYTES: usize = 32 << 10;

/// What the server needs besides the edge.
#[derive(Clone, Default)]
pub struct Extras {
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// The change feed's state, for `/readyz`.
    pub feed: Option<Arc<FeedStatus>>,
}

#[derive(Clone)]
struct AppState {
    edge: Arc<Edge>,
    extras: Extras,
}

/// The edge's own paths; every other path is the shoppers'.
const OPS_PATHS: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/admin/purge"];

/// What the server runs for each request: the operations router for the
/// edge's own paths, the proxy straight away for everything else (the hit
/// path pays for no route matching).
#[derive(Clone)]
pub struct App {
    ops: Router,
    edge: Arc<Edge>,
}

impl App {
    /// Answers one request (from the client in its [`ClientAddr`]
    /// extension, if any).
    pub async fn call(&self, request: Request) -> Response {
        let client = request.extensions().get::<ClientAddr>().map(|c| c.0);
        self.call_from(request, client).await
    }

    /// Answers one request from `client`. Generic over the body, so a hit
    /// never boxes the request body it does not read.
    pub async fn call_from<B>(&self, request: http::Request<B>, client: Option<SocketAddr>) -> Response
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let path = request.uri().path();
        if self.edge.config.edge.storefront && storefront::is_storefront_path(path) {
            return storefront::serve(&request);
        }
        if OPS_PATHS.contains(&path) {
            let mut request = request.map(Body::new);
            if let Some(addr) = client {
                request.extensions_mut().insert(ClientAddr(addr));
            }
            match Box::pin(self.ops.clone().oneshot(request)).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        } else {
            proxy::handle_from(&self.edge, request, client).await
        }
    }
}

/// The app: operations paths, then every other path through the proxy.
pub fn router(edge: Arc<Edge>, extras: Extras) -> App {
    let state = AppState {
        edge: Arc::clone(&edge),
        extras,
    };
    let ops = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/purge", post(purge))
        .with_state(state);
    App { ops, edge }
}

async fn readyz(State(state): State<AppState>) -> Response {
    let Some(feed) = &state.extras.feed else {
        return (StatusCode::OK, "ready (no change feed)").into_response();
    };
    let (ready, detail) = feed.readiness();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, detail).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let store = &state.edge.store;
    metrics::gauge!("vitrine_edge_cache_bytes").set(store.bytes() as f64);
    metrics::gauge!("vitrine_edge_cache_entries").set(store.len() as f64);
    match &state.extras.metrics {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            )],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics recorder installed").into_response(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    all: bool,
}

/// `POST /admin/purge` with `Authorization: Bearer <edge.admin_token>` and
/// `{"keys": [...], "urls": [...], "all": false}`.
async fn purge(State(state): State<AppState>, request: Request) -> Response {
    let edge = &state.edge;
    let Some(token) = &edge.config.edge.admin_token else {
        return proxy::error(
            StatusCode::NOT_FOUND,
            "not_found",
            "the admin endpoints are off (no edge.admin_token)",
        );
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.expose().as_bytes())) {
        return proxy::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin bearer token is required",
        );
    }
    let body = match http_body_util::Limited::new(request.into_body(), 64 << 10)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return proxy::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body is over 64 KiB",
            );
        }
    };
    let purge: PurgeRequest = match serde_json::from_slice(&body) {
        Ok(purge) => purge,
        Err(e) => return proxy::error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", &e.to_string()),
    };
    if let Some(bad) = purge.urls.iter().find(|u| !u.starts_with('/')) {
        return proxy::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            &format!("`{bad}` is not a path (like /api/v1/products/1)"),
        );
    }
    let ignored = IgnoredParams::new(&edge.config.edge.ignore_params);
    let mut purged = 0usize;
    for key in &purge.keys {
        purged += edge.store.purge_key(key);
    }
    for url in &purge.urls {
        purged += usize::from(edge.store.purge_url(&cache_key(url, &ignored)));
    }
    if purge.all {
        edge.store.invalidate_all();
    }
    metrics::counter!("vitrine_edge_purges_total", "cause" => "admin").increment(1);
    tracing::info!(keys = ?purge.keys, urls = ?purge.urls, all = purge.all, purged, "purge by hand");
    let body = serde_json::json!({ "purged": purged, "all": purge.all });
    let mut response = Response::new(Body::from(body.to_string()));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and gives open connections up to `drain` to finish.
pub async fn serve(
    listener: TcpListener,
    app: App,
    client_timeout: Duration,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(client_timeout)
        .max_buf_size(2 * MAX_HEAD_BYTES)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, say: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let too_large = head_size(&request) > MAX_HEAD_BYTES;
                    let app = app.clone();
                    async move {
                        if too_large {
                            return Ok::<_, std::convert::Infallible>(proxy::error(
                                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                                "headers_too_large",
                                &format!("the request line and headers are over {MAX_HEAD_BYTES} bytes"),
                            ));
                        }
                        Ok(app.call_from(request, Some(addr)).await)
                    }
                });
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(client = %addr, error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining connections");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(drain) => tracing::warn!("drain timed out; closing the rest"),
    }
    Ok(())
}

fn head_size<B>(request: &Request<B>) -> usize {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    target + headers
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
