//! The edge server's part of the operator's config: where it listens, the
//! origin it fronts, the page cache, the change feed it follows, whether it
//! serves the storefront page, and the routes with their cache rules.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;
use crate::manifest::World;
use crate::plugins::{At, PluginConfig, Secret};

/// The edge server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeServerConfig {
    /// Where shoppers connect.
    pub listen: SocketAddr,
    /// The origin, `http://host:port` (no path).
    pub origin: String,
    /// The origin's host and port, from [`origin`](Self::origin).
    pub origin_authority: String,
    /// How long one origin request may take.
    pub origin_timeout: Duration,
    /// The page cache's size.
    pub cache_bytes: u64,
    /// Query parameters left out of cache keys (`utm_*` is a prefix).
    pub ignore_params: Vec<String>,
    /// The secret shared with the origin for request signatures. `None`:
    /// nothing is signed (the origin then refuses edge-only fields).
    pub signing_secret: Option<Secret>,
    /// The origin's access-token secret (its `VITRINE_JWT_SECRET`): with it
    /// the edge reads a signed-in shopper's segments from the `seg` claim of
    /// their `Authorization: Bearer` token. `None`: tokens are not read.
    pub token_secret: Option<Secret>,
    /// Bearer token of the admin endpoints (`/admin/purge`); `None`: off.
    pub admin_token: Option<Secret>,
    /// Largest request body forwarded.
    pub max_body_bytes: usize,
    /// How a client that sends its request slowly is cut off.
    pub client_timeout: Duration,
    /// Requests per second (and burst) per client on write and search paths.
    pub rate_limit: RateLimit,
    /// Where purges come from.
    pub change_feed: ChangeFeed,
    /// Whether the edge serves the storefront page at `/` and its files
    /// under `/storefront/` (on by default; off leaves those paths to the
    /// routes like any other).
    pub storefront: bool,
}

/// A token bucket per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second; 0 turns the limit off.
    pub per_second: u32,
    /// Requests allowed in a burst.
    pub burst: u32,
}

/// The change feed an edge follows to purge what changed at the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeFeed {
    /// No feed: pages live until they expire (tests, a lone edge).
    Off,
    /// The origin's long-poll endpoint (`/internal/v1/changes`).
    Poll {
        /// How long one poll waits for a change at the origin.
        wait: Duration,
    },
    /// A Redis Stream.
    Redis {
        /// The Redis URL.
        url: Secret,
        /// The stream's key: the origin's Redis prefix + `changes`
        /// (`vitrine:changes` by default).
        stream: String,
    },
}

/// What a route does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteMode {
    /// `GET`/`HEAD` cached by the HTTP rules (RFC 9111); other methods
    /// forwarded and invalidate the URL.
    #[default]
    Cache,
    /// Everything forwarded, nothing stored (carts, orders, auth).
    Pass,
}

/// One route: a path pattern and its rules. The first route that matches
/// a request's path applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// `/exact/path`, or a prefix ending in `*` (`/api/v1/products/*`).
    pub path: String,
    /// What it does.
    pub mode: RouteMode,
    /// Personalization plugins run on its cached pages, in order.
    pub personalize: Vec<String>,
    /// Whether its requests are rate-limited per client.
    pub rate_limited: bool,
    /// Whether the client's `Cache-Control` (`no-cache`, `max-age`, …) is
    /// honoured (off by default, as in Varnish and the CDNs).
    pub honour_request_cache_control: bool,
}

impl RouteConfig {
    /// Whether the route's pattern matches `path`.
    pub fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEdge {
    listen: Option<String>,
    origin: Option<String>,
    origin_timeout_ms: Option<u64>,
    cache_mb: Option<u64>,
    ignore_params: Option<Vec<String>>,
    signing_secret: Option<String>,
    token_secret: Option<String>,
    admin_token: Option<String>,
    max_body_kb: Option<u64>,
    client_timeout_ms: Option<u64>,
    rate_limit: Option<RawRateLimit>,
    change_feed: Option<RawFeed>,
    storefront: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    per_second: u32,
    burst: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
enum RawFeed {
    Off,
    Poll { wait_ms: Option<u64> },
    Redis { url: String, stream: Option<String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    path: String,
    #[serde(default)]
    mode: RouteMode,
    #[serde(default)]
    personalize: Vec<String>,
    #[serde(default)]
    rate_limited: bool,
    #[serde(default)]
    honour_request_cache_control: bool,
}

pub(crate) fn resolve_edge(raw: RawEdge, at: &dyn At) -> Result<EdgeServerConfig, ConfigError> {
    let listen = raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen: SocketAddr = listen.parse().map_err(|_| {
        at.at(
            "edge.listen",
            format!("`{listen}` is not an address like 127.0.0.1:8080"),
        )
    })?;
    let origin = raw.origin.unwrap_or_else(|| "http://127.0.0.1:8081".into());
    let origin = origin.trim_end_matches('/').to_owned();
    let origin_authority = match origin.strip_prefix("http://") {
        Some(authority) if !authority.is_empty() && !authority.contains(['/', '?', '#', '@']) => authority.to_owned(),
        _ => {
            return Err(at.at(
                "edge.origin",
                format!("`{origin}` is not an origin like http://127.0.0.1:8081 (http, host and port, no path)"),
            ));
        }
    };
    let origin_timeout = match raw.origin_timeout_ms {
        Some(0) => return Err(at.at("edge.origin_timeout_ms", "must be more than 0".into())),
        Some(ms) => Duration::from_millis(ms),
        None => Duration::from_secs(5),
    };
    let cache_bytes = match raw.cache_mb {
        Some(0) => return Err(at.at("edge.cache_mb", "must be more than 0".into())),
        Some(mb) => mb.saturating_mul(1 << 20),
        None => 256 << 20,
    };
    let ignore_params = raw
        .ignore_params
        .unwrap_or_else(|| vec!["utm_*".into(), "gclid".into(), "fbclid".into()]);
    for (i, p) in ignore_params.iter().enumerate() {
        if p.is_empty() || p.trim_end_matches('*').contains('*') {
            return Err(at.at(
                &format!("edge.ignore_params[{i}]"),
                format!("`{p}` is not a parameter name or a prefix ending in `*`"),
            ));
        }
    }
    let signing_secret = optional_secret(raw.signing_secret, "edge.signing_secret", 32, at, |n| {
        format!("is {n} bytes; the origin needs at least 32")
    })?;
    let token_secret = optional_secret(raw.token_secret, "edge.token_secret", 32, at, |n| {
        format!("is {n} bytes; the origin's token secret is at least 32")
    })?;
    let admin_token = optional_secret(raw.admin_token, "edge.admin_token", 16, at, |_| {
        "must be at least 16 bytes".into()
    })?;
    let max_body_bytes = match raw.max_body_kb {
        Some(0) => return Err(at.at("edge.max_body_kb", "must be more than 0".into())),
        Some(kb) => usize::try_from(kb.saturating_mul(1024)).unwrap_or(usize::MAX),
        None => 64 << 10,
    };
    let client_timeout = match raw.client_timeout_ms {
        Some(0) => return Err(at.at("edge.client_timeout_ms", "must be more than 0".into())),
        Some(ms) => Duration::from_millis(ms),
        None => Duration::from_secs(10),
    };
    let rate_limit = match raw.rate_limit {
        Some(r) if r.per_second > 0 && r.burst == 0 => {
            return Err(at.at("edge.rate_limit.burst", "must be more than 0".into()));
        }
        Some(r) => RateLimit {
            per_second: r.per_second,
            burst: r.burst,
        },
        None => RateLimit {
            per_second: 20,
            burst: 40,
        },
    };
    let change_feed = match raw.change_feed {
        None | Some(RawFeed::Off) => ChangeFeed::Off,
        Some(RawFeed::Poll { wait_ms }) => {
            let wait = Duration::from_millis(wait_ms.unwrap_or(20_000));
            if wait > Duration::from_secs(30) {
                return Err(at.at("edge.change_feed.wait_ms", "the origin waits at most 30000 ms".into()));
            }
            ChangeFeed::Poll { wait }
        }
        Some(RawFeed::Redis { url, stream }) => {
            if !url.starts_with("redis://") && !url.starts_with("rediss://") {
                return Err(at.at("edge.change_feed.url", "is not a redis:// or rediss:// URL".into()));
            }
            ChangeFeed::Redis {
                url: Secret::new(url),
                stream: stream.unwrap_or_else(|| "vitrine:changes".into()),
            }
        }
    };
    Ok(EdgeServerConfig {
        listen,
        origin,
        origin_authority,
        origin_timeout,
        cache_bytes,
        ignore_params,
        signing_secret,
        token_secret,
        admin_token,
        max_body_bytes,
        client_timeout,
        rate_limit,
        change_feed,
        storefront: raw.storefront.unwrap_or(true),
    })
}

/// A secret setting: empty or absent is off; shorter than `min` bytes is an
/// error at `field`, worded by `too_short` (given the length).
fn optional_secret(
    raw: Option<String>,
    field: &str,
    min: usize,
    at: &dyn At,
    too_short: impl FnOnce(usize) -> String,
) -> Result<Option<Secret>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.len() < min => Err(at.at(field, too_short(s.len()))),
        Some(s) => Ok(Some(Secret::new(s))),
    }
}

pub(crate) fn resolve_routes(
    raw: Vec<RawRoute>,
    plugins: &[PluginConfig],
    at: &dyn At,
) -> Result<Vec<RouteConfig>, ConfigError> {
    let mut routes = Vec::with_capacity(raw.len() + 1);
    for (i, r) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("routes[{i}].{f}");
        let pattern_ok =
            r.path.starts_with('/') && !r.path.trim_end_matches('*').contains('*') && !r.path.contains(['?', '#']);
        if !pattern_ok {
            return Err(at.at(
                &field("path"),
                format!(
                    "`{}` is not a path or a prefix ending in `*` (like /api/v1/products/*)",
                    r.path
                ),
            ));
        }
        for (j, name) in r.personalize.iter().enumerate() {
            match plugins.iter().find(|p| &p.name == name) {
                None => {
                    return Err(at.at(
                        &field(&format!("personalize[{j}]")),
                        format!("no plugin `{name}` is installed"),
                    ));
                }
                Some(p) if p.world() != World::Personalization => {
                    return Err(at.at(
                        &field(&format!("personalize[{j}]")),
                        format!("`{name}` is a {} plugin, not a personalization", p.world()),
                    ));
                }
                Some(_) => {}
            }
        }
        if r.mode == RouteMode::Pass && !r.personalize.is_empty() {
            return Err(at.at(
                &field("personalize"),
                "a `pass` route has no cached page to personalize".into(),
            ));
        }
        routes.push(RouteConfig {
            path: r.path,
            mode: r.mode,
            personalize: r.personalize,
            rate_limited: r.rate_limited,
            honour_request_cache_control: r.honour_request_cache_control,
        });
    }
    // Whatever no route names is cached by the HTTP rules.
    if !routes.iter().any(|r| r.path == "/*") {
        routes.push(RouteConfig {
            path: "/*".into(),
            mode: RouteMode::Cache,
            personalize: Vec::new(),
            rate_limited: false,
            honour_request_cache_control: false,
        });
    }
    Ok(routes)
}
