//! The edge's request path, phase by phase:
//!
//! 1. **route** — the first route of the operator's config whose pattern
//!    matches the path decides: `cache` (GET/HEAD by the HTTP rules) or
//!    `pass` (forwarded, never stored); rate-limited routes take a token
//!    from the client's bucket first (429 when empty).
//! 2. **lookup** — the normalized cache key ([`cache_key`]) and the
//!    request's varied headers pick a stored variant; its policy says
//!    whether it is fresh (`HIT`), servable while refreshed once in the
//!    background (`STALE`), or must be validated first.
//! 3. **origin** — a miss is one coalesced request per key; validation is
//!    a conditional request (`If-None-Match`/`If-Modified-Since`) whose 304
//!    updates the stored headers (`REVALIDATED`). When the origin fails or
//!    times out, a stored page within `stale-if-error` is served (`STALE`).
//!    A response fetched while a purge named it is served but not stored.
//! 4. **respond** — the stored response with a correct `Age` and `X-Cache`;
//!    a client's `If-None-Match`/`If-Modified-Since` that matches gets 304.
//!
//! Writes (and every `pass` route) are forwarded with a signature, a
//! deadline, the request id and `traceparent`; a successful unsafe request
//! purges its URL (and `Location`/`Content-Location`). An origin that is
//! down answers 503 with `Retry-After`, never a hang.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use vitrine_edge_config::{EdgeConfig, RouteConfig, RouteMode};

use super::coalesce::{Coalescer, Role};
use super::limit::RateLimiter;
use super::origin::{OriginClient, OriginError, OriginResponse};
use super::personalize;
use super::policy::{self, Directives, RequestRules, Use};
use super::store::{CachedResponse, IgnoredParams, PageStore, StoreOutcome, cache_key};
use crate::plugins::{PluginHost, World};

/// `X-Cache`: what the cache did.
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
/// The request id, taken from the client or made here.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

/// The client's address, put on each request by the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// One edge: its config, page store, origin client and counters.
pub struct Edge {
    pub(crate) config: Arc<EdgeConfig>,
    /// The page store (purges go straight to it).
    pub store: PageStore,
    coalescer: Coalescer<Arc<Fetched>>,
    pub(crate) origin: OriginClient,
    ignored: IgnoredParams,
    refreshing: Mutex<HashSet<String>>,
    /// Keys whose last response could not be stored: their requests go to
    /// the origin one by one, not coalesced (a private answer must never be
    /// handed to another shopper). Value: until when.
    hit_for_pass: quick_cache::sync::Cache<String, Instant>,
    limiter: RateLimiter,
    pub(crate) stats: Stats,
    served: Served,
    plugins: Option<Arc<PluginHost>>,
    /// Personalized pages already made: for one stored page, one version of
    /// the route's plugins and one shopper context, the answer is the same
    /// (personalization plugins are deterministic by contract), so a
    /// shopper's next hit on the page reuses it. Bounded by bytes (an
    /// eighth of the page store's capacity); a purged page's answers are
    /// never looked up again and age out.
    answers: quick_cache::sync::Cache<AnswerKey, Bytes, AnswerWeight>,
    /// The payment plugins' capabilities, for checkout.
    pub(crate) capabilities: super::checkout::KnownCapabilities,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct AnswerKey {
    page: u64,
    plugins: Box<[u64]>,
    context: Box<[u8]>,
}

#[derive(Clone)]
struct AnswerWeight;

impl quick_cache::Weighter<AnswerKey, Bytes> for AnswerWeight {
    fn weight(&self, key: &AnswerKey, page: &Bytes) -> u64 {
        u64::try_from(page.len() + key.context.len() + 8 * key.plugins.len() + 96).unwrap_or(u64::MAX)
    }
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("origin", &self.origin)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// `vitrine_edge_requests_total{cache}`, registered once: looking a
/// counter up by name and labels on every request costs more than the
/// rest of a hit.
struct Served {
    hit: metrics::Counter,
    miss: metrics::Counter,
    stale: metrics::Counter,
    pass: metrics::Counter,
    revalidated: metrics::Counter,
    error: metrics::Counter,
}

impl Served {
    fn new() -> Self {
        let c = |label: &'static str| metrics::counter!("vitrine_edge_requests_total", "cache" => label);
        Self {
            hit: c("HIT"),
            miss: c("MISS"),
            stale: c("STALE"),
            pass: c("PASS"),
            revalidated: c("REVALIDATED"),
            error: c("ERROR"),
        }
    }

    fn count(&self, label: &str) {
        match label {
            "HIT" => &self.hit,
            "MISS" => &self.miss,
            "STALE" => &self.stale,
            "REVALIDATED" => &self.revalidated,
            "ERROR" => &self.error,
            _ => &self.pass,
        }
        .increment(1);
    }
}

/// Counters readable in-process (tests, `/readyz`); the same counts go to
/// `metrics` for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests sent to the origin.
    pub origin_requests: AtomicU64,
    /// Requests that waited on another's origin request.
    pub coalesced_waits: AtomicU64,
}

/// What one origin fetch for the cache produced, shared by its waiters.
#[derive(Debug)]
struct Fetched {
    result: Result<OriginResponse, OriginError>,
    /// The stored entry, when the response could be stored.
    stored: Option<Arc<CachedResponse>>,
    /// The request headers it was fetched with (for `Vary` checks by waiters).
    request_headers: HeaderMap,
}

impl Edge {
    /// An edge for `config` (its `[edge]` table and routes).
    pub fn new(config: Arc<EdgeConfig>) -> Self {
        let edge = &config.edge;
        let origin = OriginClient::new(
            &edge.origin,
            &edge.origin_authority,
            edge.origin_timeout,
            edge.signing_secret.as_ref().map(|s| s.expose().as_bytes()),
        );
        Self {
            store: PageStore::new(edge.cache_bytes),
            coalescer: Coalescer::new(),
            ignored: IgnoredParams::new(&edge.ignore_params),
            refreshing: Mutex::new(HashSet::new()),
            hit_for_pass: quick_cache::sync::Cache::new(10_000),
            answers: {
                let bytes = (edge.cache_bytes / 8).max(1 << 20);
                let items = usize::try_from(bytes / (16 << 10)).unwrap_or(usize::MAX).max(64);
                quick_cache::sync::Cache::with_weighter(items, bytes, AnswerWeight)
            },
            limiter: RateLimiter::new(edge.rate_limit),
            stats: Stats::default(),
            served: Served::new(),
            plugins: None,
            capabilities: super::checkout::KnownCapabilities::default(),
            origin,
            config,
        }
    }

    /// The plugin host whose personalization plugins the routes name.
    pub fn with_plugins(mut self, host: Arc<PluginHost>) -> Self {
        self.plugins = Some(host);
        self
    }

    /// The plugin host, when it has one.
    pub fn plugins(&self) -> Option<&Arc<PluginHost>> {
        self.plugins.as_ref()
    }

    /// Its config.
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// Its counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The shopper's context for a request with `headers`: the signed
    /// cookie, a verified access token's segments, `Accept-Language`.
    pub(crate) fn shopper_context(&self, headers: &HeaderMap) -> crate::plugins::types::ShopperContext {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        fn bytes(s: Option<&vitrine_edge_config::Secret>) -> Option<&[u8]> {
            s.map(|s| s.expose().as_bytes())
        }
        let secrets = personalize::ContextSecrets {
            cookie: bytes(self.config.edge.signing_secret.as_ref()),
            token: bytes(self.config.edge.token_secret.as_ref()),
        };
        personalize::shopper_context(headers, secrets, now)
    }

    pub(crate) async fn origin_send(
        &self,
        method: Method,
        target: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<OriginResponse, OriginError> {
        self.stats.origin_requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.origin.send(method, target, headers, body).await;
        let outcome = match &result {
            Ok(r) if r.status.is_server_error() => "5xx",
            Ok(_) => "ok",
            Err(e) => e.as_str(),
        };
        metrics::counter!("vitrine_edge_origin_requests_total", "outcome" => outcome).increment(1);
        metrics::histogram!("vitrine_edge_origin_seconds").record(started.elapsed().as_secs_f64());
        result
    }
}

/// The handler every shopper request goes through (from the client in
/// its [`ClientAddr`] extension, if any).
pub async fn handle(State(edge): State<Arc<Edge>>, request: Request) -> Response {
    let client = request.extensions().get::<ClientAddr>().map(|c| c.0);
    handle_from(&edge, request, client).await
}

/// [`handle`] for a request from `client`, with any body: the cache path
/// never reads (so never boxes) the body.
pub(crate) async fn handle_from<B>(edge: &Arc<Edge>, request: http::Request<B>, client: Option<SocketAddr>) -> Response
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .cloned()
        .unwrap_or_else(new_request_id);
    let route = edge.config.route(request.uri().path());
    let mut response = if route.rate_limited
        && let Some(addr) = client
        && let Err(retry) = edge.limiter.take(addr.ip())
    {
        metrics::counter!("vitrine_edge_rate_limited_total").increment(1);
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; slow down",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry.as_secs().max(1)));
        r
    } else {
        let cacheable = route.mode == RouteMode::Cache && matches!(*request.method(), Method::GET | Method::HEAD);
        // Only the plain cached path runs inline: the others are boxed so
        // the future of a hit stays small.
        if super::checkout::wants(request.method(), request.uri().path()) {
            Box::pin(super::checkout::handle(
                edge,
                request.map(Body::new),
                &request_id,
                client,
            ))
            .await
        } else if cacheable && !route.personalize.is_empty() {
            Box::pin(personalized(edge, route, request.into_parts().0, &request_id, client)).await
        } else if cacheable {
            cached(edge, route, request.into_parts().0, &request_id, client).await
        } else {
            Box::pin(forward(edge, request.map(Body::new), &request_id, client)).await
        }
    };
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    response
}

fn new_request_id() -> HeaderValue {
    // Unique across restarts: the process's start time, then a counter.
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{:x}", nanos & 0xffff_ffff_ffff)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `<prefix>-<n in hex>` written into a buffer on the stack: one
    // allocation (the header's own bytes), not three.
    let mut buf = [0u8; 64];
    let mut rest = &mut buf[..];
    let _ = std::io::Write::write_fmt(&mut rest, format_args!("{prefix}-{n:x}"));
    let written = 64 - rest.len();
    HeaderValue::from_bytes(&buf[..written]).unwrap_or_else(|_| HeaderValue::from_static("edge"))
}

/// A W3C `traceparent` starting a trace here, for requests that came
/// without one: trace and span ids derived from the request id and the time.
fn new_traceparent(request_id: &HeaderValue) -> HeaderValue {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(request_id.as_bytes());
    hasher.update(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            .to_le_bytes(),
    );
    let id = hex::encode(hasher.finalize());
    HeaderValue::from_str(&format!("00-{}-{}-01", &id[..32], &id[32..48]))
        .unwrap_or_else(|_| HeaderValue::from_static("00-00000000000000000000000000000001-0000000000000001-01"))
}

/// The headers an origin fetch carries: the client's end-to-end ones, the
/// request id, `traceparent`, and `X-Forwarded-For`.
pub(crate) fn upstream_headers(request: &HeaderMap, request_id: &HeaderValue, client: Option<SocketAddr>) -> HeaderMap {
    let mut headers = request.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(X_REQUEST_ID, request_id.clone());
    if !headers.contains_key(&TRACEPARENT) {
        headers.insert(TRACEPARENT, new_traceparent(request_id));
    }
    if let Some(addr) = client
        && let Ok(ip) = HeaderValue::from_str(&addr.ip().to_string())
    {
        headers.insert(HeaderName::from_static("x-forwarded-for"), ip);
    }
    headers.insert(header::VIA, HeaderValue::from_static("1.1 vitrine"));
    headers
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

// ── personalization ─────────────────────────────────────────────────────

const X_PERSONALIZED: HeaderName = HeaderName::from_static("x-personalized");

/// A personalized route: the cached page (found, fetched or validated as
/// any other), then the route's plugins on it for this shopper. The page
/// they make is this shopper's alone: `private`, no validator, its own
/// length. When a plugin fails, the shopper gets the cached page as it is.
async fn personalized(
    edge: &Arc<Edge>,
    route: &RouteConfig,
    mut parts: http::request::Parts,
    request_id: &HeaderValue,
    client: Option<SocketAddr>,
) -> Response {
    let context = edge.shopper_context(&parts.headers);
    let head = parts.method == Method::HEAD;
    // The shopper's validators would match the shared page, not theirs.
    parts.headers.remove(header::IF_NONE_MATCH);
    parts.headers.remove(header::IF_MODIFIED_SINCE);
    let response = cached(edge, route, parts, request_id, client).await;
    let Some(host) = &edge.plugins else {
        return response;
    };
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A stored page was read as a listing when it was stored; a page the
    // store did not keep (PASS) is read here.
    let from_store = parts
        .extensions
        .remove::<StoredEntry>()
        .and_then(|e| e.0.listing.clone());
    let stored = from_store.is_some();
    let (listing, body) = match from_store {
        Some(listing) => (listing, body),
        None if head => return Response::from_parts(parts, body),
        None => {
            let Ok(page) = body.collect().await.map(http_body_util::Collected::to_bytes) else {
                return error(StatusCode::BAD_GATEWAY, "bad_page", "the page could not be read");
            };
            (personalize::read_listing(&page), Body::from(page))
        }
    };
    let listing = match listing {
        Ok(listing) => listing,
        Err(reason) => {
            let e = personalize::PersonalizeError::NotAListing { reason };
            return unpersonalized(parts, body, &e);
        }
    };
    // The same page, plugins and context as an earlier hit: its answer.
    let key = stored
        .then(|| host.versions(World::Personalization, &route.personalize))
        .flatten()
        .map(|plugins| AnswerKey {
            page: listing.id(),
            plugins,
            context: personalize::context_key(&context),
        });
    let reused = key.as_ref().and_then(|key| edge.answers.get(key));
    let outcome = if reused.is_some() { "reused" } else { "ok" };
    let mine = match reused {
        Some(mine) => mine,
        None => match personalize::personalize_listing(host, &route.personalize, &listing, &context) {
            Ok(mine) => {
                if let Some(key) = key {
                    edge.answers.insert(key, mine.clone());
                }
                mine
            }
            Err(e) => return unpersonalized(parts, body, &e),
        },
    };
    metrics::counter!("vitrine_edge_personalized_total", "outcome" => outcome).increment(1);
    let h = &mut parts.headers;
    h.remove(header::ETAG);
    h.remove(header::LAST_MODIFIED);
    h.remove(SURROGATE_KEY);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(mine.len()));
    h.insert(X_PERSONALIZED, HeaderValue::from_static("yes"));
    Response::from_parts(parts, if head { Body::empty() } else { Body::from(mine) })
}

/// The page as cached, when personalizing it failed.
fn unpersonalized(mut parts: http::response::Parts, body: Body, e: &personalize::PersonalizeError) -> Response {
    metrics::counter!("vitrine_edge_personalized_total", "outcome" => "failed").increment(1);
    tracing::warn!(error = %e, "personalization failed; serving the page as cached");
    parts.headers.insert(X_PERSONALIZED, HeaderValue::from_static("failed"));
    Response::from_parts(parts, body)
}

// ── the cache path ──────────────────────────────────────────────────────

async fn cached(
    edge: &Arc<Edge>,
    route: &RouteConfig,
    parts: http::request::Parts,
    request_id: &HeaderValue,
    client: Option<SocketAddr>,
) -> Response {
    let head = parts.method == Method::HEAD;
    // The hit path allocates nothing it can avoid: the headers are the
    // request's own, and a URL without a query is its own key.
    let headers = parts.headers;
    let target: &str = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let key: std::borrow::Cow<'_, str> = if target.contains('?') {
        cache_key(target, &edge.ignored).into()
    } else {
        target.into()
    };
    let directives = route.honour_request_cache_control.then(|| Directives::parse(&headers));
    let rules = RequestRules {
        directives: directives.as_ref(),
    };

    let stored = edge.store.get(&key).and_then(|v| v.select(&headers).cloned());
    if let Some(entry) = stored {
        let now = SystemTime::now();
        let usable = if edge.store.is_invalidated(&entry) {
            Use::Validate {
                on_error: !entry.policy.never_stale
                    && entry.policy.age(now) < entry.policy.lifetime + entry.policy.stale_if_error,
            }
        } else {
            entry.policy.usable(now, rules)
        };
        match usable {
            Use::Fresh => {
                edge.served.count("HIT");
                return respond(&entry, "HIT", &headers, head, now);
            }
            Use::StaleWhileRevalidate => {
                edge.served.count("STALE");
                refresh_in_background(edge, &key, target, &entry, &headers, request_id, client);
                return respond(&entry, "STALE", &headers, head, now);
            }
            Use::Validate { on_error } => {
                return Box::pin(revalidate(
                    edge, &key, target, entry, &headers, request_id, client, on_error, head,
                ))
                .await;
            }
        }
    }
    // The slow paths live in their own boxed futures, so the future every
    // hit builds (and hyper moves into place per request) stays small.
    Box::pin(miss(edge, &key, target, &headers, request_id, client, head)).await
}

/// A miss: the origin's answer through the coalescer, stored if it may be.
async fn miss(
    edge: &Arc<Edge>,
    key: &str,
    target: &str,
    headers: &HeaderMap,
    request_id: &HeaderValue,
    client: Option<SocketAddr>,
    head: bool,
) -> Response {
    let upstream = upstream_headers(headers, request_id, client);
    let alone = headers.contains_key(header::AUTHORIZATION)
        || edge.hit_for_pass.get(key).is_some_and(|until| until > Instant::now());
    if alone {
        return pass_fetch(edge, target, upstream, head).await;
    }
    let (fetched, role) = edge
        .coalescer
        .run(key, || {
            fetch_and_store(Arc::clone(edge), key.to_string(), target.to_owned(), upstream.clone())
        })
        .await;
    if role == Role::Waiter {
        edge.stats.coalesced_waits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vitrine_edge_coalesced_waits_total").increment(1);
    }
    let shared = fetched.stored.as_ref().filter(|entry| {
        role == Role::Leader || policy::vary_matches(&entry.policy.vary, &fetched.request_headers, headers)
    });
    match (shared, &fetched.result) {
        (Some(entry), _) => {
            edge.served.count("MISS");
            respond(entry, "MISS", headers, head, SystemTime::now())
        }
        // Not storable (or another variant): a waiter asks the origin itself,
        // so no private answer reaches another shopper.
        (None, Ok(_)) if role == Role::Waiter => pass_fetch(edge, target, upstream, head).await,
        (None, Ok(response)) => {
            edge.served.count("PASS");
            passthrough(response, "PASS", head)
        }
        (None, Err(e)) => {
            edge.served.count("ERROR");
            origin_failure(e)
        }
    }
}

/// The leader's fetch for a miss: the origin's answer, stored if it may be.
async fn fetch_and_store(edge: Arc<Edge>, key: String, target: String, upstream: HeaderMap) -> Arc<Fetched> {
    // A request that missed just before the previous leader stored the page
    // and became leader just after it left: the page is in the store now.
    if let Some(entry) = edge.store.get(&key).and_then(|v| v.select(&upstream).cloned())
        && !edge.store.is_invalidated(&entry)
        && matches!(
            entry
                .policy
                .usable(SystemTime::now(), RequestRules { directives: None }),
            Use::Fresh
        )
    {
        return Arc::new(Fetched {
            result: Ok(OriginResponse {
                status: entry.status,
                headers: entry.headers.clone(),
                body: entry.body.clone(),
            }),
            stored: Some(entry),
            request_headers: upstream,
        });
    }
    let mark = edge.store.purge_mark();
    let request_time = SystemTime::now();
    let result = edge
        .origin_send(Method::GET, &target, upstream.clone(), Bytes::new())
        .await;
    let stored = match &result {
        Ok(response) => store_response(&edge, &key, &upstream, response, request_time, mark),
        Err(_) => None,
    };
    Arc::new(Fetched {
        result,
        stored,
        request_headers: upstream,
    })
}

/// Stores `response` if the rules allow it and no purge named it while it
/// was in flight; returns the entry.
fn store_response(
    edge: &Edge,
    key: &str,
    request: &HeaderMap,
    response: &OriginResponse,
    request_time: SystemTime,
    mark: u64,
) -> Option<Arc<CachedResponse>> {
    let response_time = SystemTime::now();
    let policy = match policy::evaluate(
        &Method::GET,
        request,
        response.status,
        &response.headers,
        request_time,
        response_time,
    ) {
        Ok(policy) => policy,
        Err(reason) => {
            metrics::counter!("vitrine_edge_not_stored_total", "reason" => reason.as_str()).increment(1);
            edge.hit_for_pass
                .insert(key.to_owned(), Instant::now() + Duration::from_secs(30));
            return None;
        }
    };
    let surrogate_keys: Box<[String]> = response
        .headers
        .get_all(SURROGATE_KEY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(str::split_whitespace)
        .map(str::to_owned)
        .collect();
    let mut vary_values = HeaderMap::new();
    for name in &policy.vary {
        for value in request.get_all(name) {
            vary_values.append(name.clone(), value.clone());
        }
    }
    let mut headers = response.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::AGE);
    // A personalized route's page is read as a listing once, here.
    let path = key.split_once('?').map_or(key, |(path, _)| path);
    let listing = (response.status == StatusCode::OK && !edge.config.route(path).personalize.is_empty())
        .then(|| personalize::read_listing(&response.body));
    let entry = CachedResponse {
        listing,
        status: response.status,
        wire_headers: super::store::wire_headers(&headers),
        headers,
        body: response.body.clone(),
        policy,
        vary_values,
        surrogate_keys,
        generation: edge.store.generation(),
    };
    let entry = Arc::new(entry);
    let outcome = edge.store.insert_unless_purged(key, Arc::clone(&entry), mark);
    if outcome == StoreOutcome::PurgedInFlight {
        metrics::counter!("vitrine_edge_not_stored_total", "reason" => "purged-in-flight").increment(1);
        return None;
    }
    edge.hit_for_pass.remove(key);
    // Too large: served, not kept.
    (outcome == StoreOutcome::Stored).then_some(entry)
}

/// Validates `entry` with the origin, then serves what it says.
#[allow(clippy::too_many_arguments)]
async fn revalidate(
    edge: &Arc<Edge>,
    key: &str,
    target: &str,
    entry: Arc<CachedResponse>,
    headers: &HeaderMap,
    request_id: &HeaderValue,
    client: Option<SocketAddr>,
    on_error: bool,
    head: bool,
) -> Response {
    match validate(edge, key, target, &entry, headers, request_id, client).await {
        Ok((fresh, label)) => {
            edge.served.count(label);
            respond(&fresh, label, headers, head, SystemTime::now())
        }
        Err(Validation::NotStored(response)) => {
            edge.served.count("PASS");
            passthrough(&response, "PASS", head)
        }
        Err(Validation::Failed(_)) if on_error => {
            edge.served.count("STALE");
            metrics::counter!("vitrine_edge_stale_if_error_total").increment(1);
            respond(&entry, "STALE", headers, head, SystemTime::now())
        }
        Err(Validation::Failed(Ok(response))) => {
            edge.served.count("PASS");
            passthrough(&response, "PASS", head)
        }
        Err(Validation::Failed(Err(e))) => {
            edge.served.count("ERROR");
            origin_failure(&e)
        }
    }
}

enum Validation {
    /// The origin answered with something that may not be stored.
    NotStored(OriginResponse),
    /// The origin failed (an error, or a 5xx).
    Failed(Result<OriginResponse, OriginError>),
}

/// A conditional request for `entry`: a 304 refreshes its headers and
/// policy (`REVALIDATED`); a full answer replaces it (`MISS`).
async fn validate(
    edge: &Edge,
    key: &str,
    target: &str,
    entry: &CachedResponse,
    headers: &HeaderMap,
    request_id: &HeaderValue,
    client: Option<SocketAddr>,
) -> Result<(Arc<CachedResponse>, &'static str), Validation> {
    let mut upstream = upstream_headers(headers, request_id, client);
    upstream.remove(header::IF_NONE_MATCH);
    upstream.remove(header::IF_MODIFIED_SINCE);
    if let Some(etag) = entry.headers.get(header::ETAG) {
        upstream.insert(header::IF_NONE_MATCH, etag.clone());
    }
    if let Some(modified) = entry.headers.get(header::LAST_MODIFIED) {
        upstream.insert(header::IF_MODIFIED_SINCE, modified.clone());
    }
    let mark = edge.store.purge_mark();
    let request_time = SystemTime::now();
    let response = edge
        .origin_send(Method::GET, target, upstream.clone(), Bytes::new())
        .await;
    match response {
        Ok(r) if r.status == StatusCode::NOT_MODIFIED => {
            // §4.3.4: the 304's headers replace the stored ones.
            let mut merged = entry.headers.clone();
            for (name, value) in r.headers.iter() {
                if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                    merged.insert(name.clone(), value.clone());
                }
            }
            let refreshed = OriginResponse {
                status: entry.status,
                headers: merged,
                body: entry.body.clone(),
            };
            match store_response(edge, key, &upstream, &refreshed, request_time, mark) {
                Some(stored) => Ok((stored, "REVALIDATED")),
                None => Err(Validation::NotStored(refreshed)),
            }
        }
        Ok(r) if r.status.is_server_error() => Err(Validation::Failed(Ok(r))),
        Ok(r) => match store_response(edge, key, &upstream, &r, request_time, mark) {
            Some(stored) => Ok((stored, "MISS")),
            None => Err(Validation::NotStored(r)),
        },
        Err(e) => Err(Validation::Failed(Err(e))),
    }
}

/// `stale-while-revalidate`: one background validation per key at a time.
fn refresh_in_background(
    edge: &Arc<Edge>,
    key: &str,
    target: &str,
    entry: &Arc<CachedResponse>,
    headers: &HeaderMap,
    request_id: &HeaderValue,
    client: Option<SocketAddr>,
) {
    {
        let mut refreshing = edge.refreshing.lock().unwrap_or_else(PoisonError::into_inner);
        if !refreshing.insert(key.to_owned()) {
            return;
        }
    }
    let (edge, key, target, entry, headers, request_id) = (
        Arc::clone(edge),
        key.to_owned(),
        target.to_owned(),
        Arc::clone(entry),
        headers.clone(),
        request_id.clone(),
    );
    tokio::spawn(async move {
        let outcome = validate(&edge, &key, &target, &entry, &headers, &request_id, client).await;
        if let Err(Validation::Failed(failure)) = &outcome {
            tracing::warn!(url = %key, failed = ?failure.as_ref().map(|r| r.status), "background refresh failed; the stale page stays");
        }
        edge.refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
    });
}

/// A request that goes to the origin by itself and is not stored.
async fn pass_fetch(edge: &Edge, target: &str, upstream: HeaderMap, head: bool) -> Response {
    match edge.origin_send(Method::GET, target, upstream, Bytes::new()).await {
        Ok(response) => {
            edge.served.count("PASS");
            passthrough(&response, "PASS", head)
        }
        Err(e) => {
            edge.served.count("ERROR");
            origin_failure(&e)
        }
    }
}

/// The entry a response was served from, for the personalization step
/// (attached only to entries of personalized routes).
#[derive(Clone)]
struct StoredEntry(Arc<CachedResponse>);

/// A stored response for this request: `Age`, `X-Cache`, and a 304 when
/// the client's validators match.
fn respond(
    entry: &Arc<CachedResponse>,
    label: &'static str,
    request: &HeaderMap,
    head: bool,
    now: SystemTime,
) -> Response {
    let age = age_value(entry.policy.age(now).as_secs());
    if entry.status == StatusCode::OK && not_modified(request, &entry.headers) {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        let h = response.headers_mut();
        for name in [
            header::ETAG,
            header::CACHE_CONTROL,
            header::CONTENT_LOCATION,
            header::DATE,
            header::EXPIRES,
            header::VARY,
            header::LAST_MODIFIED,
        ] {
            if let Some(value) = entry.headers.get(&name) {
                h.insert(name, value.clone());
            }
        }
        h.insert(header::AGE, age);
        h.insert(X_CACHE, HeaderValue::from_static(label));
        return response;
    }
    let mut response = full_response(entry.status, &entry.wire_headers, &entry.body, head);
    let h = response.headers_mut();
    h.insert(header::AGE, age);
    h.insert(X_CACHE, HeaderValue::from_static(label));
    if head {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
    }
    if entry.listing.is_some() {
        response.extensions_mut().insert(StoredEntry(Arc::clone(entry)));
    }
    response
}

/// The `Age` header for `secs`: the first hour's values are made once and
/// shared, so a hit allocates nothing for it.
fn age_value(secs: u64) -> HeaderValue {
    const SHARED: usize = 3600;
    static AGES: std::sync::OnceLock<Vec<HeaderValue>> = std::sync::OnceLock::new();
    let ages = AGES.get_or_init(|| (0..SHARED).map(HeaderValue::from).collect());
    usize::try_from(secs)
        .ok()
        .and_then(|i| ages.get(i))
        .cloned()
        .unwrap_or_else(|| HeaderValue::from(secs))
}

/// RFC 9110 §13.1: `If-None-Match` (weak comparison) first; else
/// `If-Modified-Since` against `Last-Modified`.
fn not_modified(request: &HeaderMap, stored: &HeaderMap) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if request.contains_key(header::IF_NONE_MATCH) {
        let Some(etag) = stored.get(header::ETAG).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let etag = strip(etag);
        return request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == "*" || strip(t) == etag);
    }
    let date = |h: &HeaderMap, n: HeaderName| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
    };
    // Most requests carry no validator: no date is parsed for them.
    let Some(since) = date(request, header::IF_MODIFIED_SINCE) else {
        return false;
    };
    date(stored, header::LAST_MODIFIED).is_some_and(|modified| modified <= since)
}

/// A response of `status`, `headers` and `body` (none for `HEAD`).
fn full_response(status: StatusCode, headers: &HeaderMap, body: &Bytes, head: bool) -> Response {
    let body = if head { Body::empty() } else { Body::from(body.clone()) };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers.clone();
    response
}

fn passthrough(response: &OriginResponse, label: &'static str, head: bool) -> Response {
    let mut out = full_response(response.status, &response.headers, &response.body, head);
    let h = out.headers_mut();
    strip_hop_by_hop(h);
    h.insert(X_CACHE, HeaderValue::from_static(label));
    out
}

/// 503 (unreachable) or 504 (timeout) or 502 (a bad answer), with `Retry-After`.
pub(crate) fn origin_failure(failure: &OriginError) -> Response {
    let (status, code) = match failure {
        OriginError::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, "origin_unavailable"),
        OriginError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "origin_timeout"),
        OriginError::BadResponse(_) => (StatusCode::BAD_GATEWAY, "bad_origin_response"),
    };
    tracing::warn!(error = %failure, "origin request failed");
    let mut response = error(status, code, &failure.to_string());
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// The error body every Vitrine service answers: `{"error": {"code", "message"}}`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ── writes and pass routes ──────────────────────────────────────────────

/// Fields of an order only an edge sets (it prices the cart itself); a
/// shopper's request carrying them is refused, since the edge signs what
/// it forwards.
const EDGE_ONLY_ORDER_FIELDS: [&str; 3] = ["adjustments", "payment", "deferred_authorization"];

async fn forward(edge: &Arc<Edge>, request: Request, request_id: &HeaderValue, client: Option<SocketAddr>) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(edge, &parts.headers, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    if parts.method == Method::POST
        && parts.uri.path() == "/api/v1/orders"
        && let Some(field) = edge_only_field(&body)
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "edge_only_field",
            &format!("`{field}` is set by the edge, not by the client"),
        );
    }
    let upstream = upstream_headers(&parts.headers, request_id, client);
    let unsafe_method = !matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let method = parts.method.clone();
    match edge.origin_send(method, &target, upstream, body).await {
        Ok(response) => {
            if unsafe_method && response.status.as_u16() < 400 {
                invalidate_after_write(edge, &target, &response.headers);
            }
            edge.served.count("PASS");
            passthrough(&response, "PASS", parts.method == Method::HEAD)
        }
        Err(e) => {
            edge.served.count("ERROR");
            origin_failure(&e)
        }
    }
}

/// A request body, within the edge's body limit (413 past it).
pub(crate) async fn read_body(edge: &Edge, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let limit = edge.config.edge.max_body_bytes;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("the body is over {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "the request body could not be read",
        )),
    }
}

/// The origin's answer as it is (`X-Cache: PASS`).
pub(crate) fn pass_origin(response: &OriginResponse) -> Response {
    passthrough(response, "PASS", false)
}

fn edge_only_field(body: &[u8]) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    EDGE_ONLY_ORDER_FIELDS.into_iter().find(|f| object.contains_key(*f))
}

/// RFC 9111 §4.4: a successful unsafe request invalidates its target URI
/// and the same-origin `Location` and `Content-Location`.
fn invalidate_after_write(edge: &Edge, target: &str, headers: &HeaderMap) {
    let mut purged = 0;
    let mut purge = |path: &str| {
        if edge.store.purge_url(&cache_key(path, &edge.ignored)) {
            purged += 1;
        }
    };
    purge(target);
    for name in [header::LOCATION, header::CONTENT_LOCATION] {
        if let Some(path) = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        {
            purge(path);
        }
    }
    if purged > 0 {
        metrics::counter!("vitrine_edge_purges_total", "cause" => "write").increment(purged);
    }
}
