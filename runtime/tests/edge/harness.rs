//! A scripted origin and an edge in front of it, both in this process on
//! loopback ports, for the HTTP corner cases of the edge.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::task::JoinHandle;
use vitrine_edge_config::EdgeConfig;
use vitrine_runtime::edge::feed::{self, FeedStatus};
use vitrine_runtime::edge::proxy::Edge;
use vitrine_runtime::edge::server::{self, Extras};

/// What the scripted origin answers for a path: status, headers, body.
pub type Answer =
    Arc<dyn Fn(&RecordedRequest, usize) -> (StatusCode, Vec<(&'static str, String)>, String) + Send + Sync>;

/// A request the origin received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Default)]
pub struct Script {
    answers: Mutex<HashMap<String, Answer>>,
    delay: Mutex<HashMap<String, Duration>>,
    counts: Mutex<HashMap<String, usize>>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub total: AtomicUsize,
}

/// The scripted origin.
pub struct Origin {
    pub addr: SocketAddr,
    pub script: Arc<Script>,
    task: JoinHandle<()>,
}

impl Origin {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("addr")).await
    }

    pub async fn start_on(addr: SocketAddr) -> Self {
        let script = Arc::new(Script::default());
        let listener = tokio::net::TcpListener::bind(addr).await.expect("origin bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new().fallback(answer).with_state(Arc::clone(&script));
        // Connections live in the server task's JoinSet, so `kill` ends
        // them too (as a crashed origin would), not just the listener.
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, script, task }
    }

    /// Answers `path` (with its query, as sent; `/p?*` for any query) with `answer`.
    pub fn on(
        &self,
        path: &str,
        answer: impl Fn(&RecordedRequest, usize) -> (StatusCode, Vec<(&'static str, String)>, String)
        + Send
        + Sync
        + 'static,
    ) {
        self.script
            .answers
            .lock()
            .expect("lock")
            .insert(path.to_owned(), Arc::new(answer));
    }

    /// Makes `path` answer after `delay`.
    pub fn delay(&self, path: &str, delay: Duration) {
        self.script.delay.lock().expect("lock").insert(path.to_owned(), delay);
    }

    /// Requests for `path` so far.
    pub fn count(&self, path: &str) -> usize {
        self.script.counts.lock().expect("lock").get(path).copied().unwrap_or(0)
    }

    pub fn last_request(&self, path: &str) -> Option<RecordedRequest> {
        self.script
            .requests
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|r| r.target == path)
            .cloned()
    }

    /// Stops answering: connections are refused from now on.
    pub fn kill(&self) {
        self.task.abort();
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(script): State<Arc<Script>>, request: Request) -> Response {
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let method = request.method().to_string();
    let headers = request.headers().clone();
    let body = to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default()
        .to_vec();
    let recorded = RecordedRequest {
        method,
        target: target.clone(),
        headers,
        body,
    };
    let n = {
        let mut counts = script.counts.lock().expect("lock");
        let n = counts.entry(target.clone()).or_default();
        *n += 1;
        *n
    };
    script.total.fetch_add(1, Ordering::SeqCst);
    script.requests.lock().expect("lock").push(recorded.clone());
    let delay = script.delay.lock().expect("lock").get(&target).copied();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let answer = {
        let answers = script.answers.lock().expect("lock");
        let path = target.split('?').next().unwrap_or("/");
        answers
            .get(&target)
            .or_else(|| answers.get(&format!("{path}?*")))
            .cloned()
    };
    let Some(answer) = answer else {
        let mut r = Response::new(Body::from("no script for this path"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    };
    let (status, headers, body) = answer(&recorded, n);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in headers {
        response
            .headers_mut()
            .append(name, HeaderValue::from_str(&value).expect("header value"));
    }
    response
}

/// Now as an HTTP date.
pub fn http_now() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}

/// An edge in front of `origin`, with `extra` TOML appended to its `[edge]`
/// table, and `routes` after it.
pub struct EdgeUnderTest {
    pub addr: SocketAddr,
    pub edge: Arc<Edge>,
    pub feed: Arc<FeedStatus>,
    task: JoinHandle<()>,
}

pub const SECRET: &str = "test-edge-secret-of-at-least-32-bytes";
pub const ADMIN: &str = "admin-token-for-tests";

impl EdgeUnderTest {
    pub async fn start(origin: SocketAddr, edge_extra: &str, routes: &str) -> Self {
        let text = format!(
            "version = 1\n\n[edge]\nlisten = \"127.0.0.1:0\"\norigin = \"http://{origin}\"\norigin_timeout_ms = 2000\n\
             signing_secret = \"{SECRET}\"\nadmin_token = \"{ADMIN}\"\n{edge_extra}\n{routes}\n"
        );
        let config =
            EdgeConfig::parse(Path::new("edge-under-test.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let feed_config = config.edge.change_feed.clone();
        let client_timeout = config.edge.client_timeout;
        let host = (!config.plugins.is_empty()).then(|| {
            Arc::new(vitrine_runtime::plugins::PluginHost::from_config(&config).unwrap_or_else(|e| panic!("{e}")))
        });
        let edge = Edge::new(Arc::new(config));
        let edge = Arc::new(match host {
            Some(host) => edge.with_plugins(host),
            None => edge,
        });
        let feed_task = feed::spawn(&edge, &feed_config);
        let status = feed_task.clone().unwrap_or_default();
        let router = server::router(
            Arc::clone(&edge),
            Extras {
                metrics: None,
                feed: feed_task,
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("edge bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = server::serve(
                listener,
                router,
                client_timeout,
                Duration::from_secs(1),
                std::future::pending(),
            )
            .await;
        });
        Self {
            addr,
            edge,
            feed: status,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for EdgeUnderTest {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(2000)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub fn x_cache(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

pub fn age(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("age")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("an Age header")
}

/// A cacheable JSON page.
pub fn page(cache_control: &'static str, body: String) -> (StatusCode, Vec<(&'static str, String)>, String) {
    (
        StatusCode::OK,
        vec![
            ("cache-control", cache_control.to_owned()),
            ("content-type", "application/json".to_owned()),
            ("date", http_now()),
        ],
        body,
    )
}
