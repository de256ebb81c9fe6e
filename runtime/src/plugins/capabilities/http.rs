//! `http`: outbound requests, only to hosts granted to the plugin.
//!
//! Every request is checked against the [`HttpGrant`] first: a URL that is
//! not absolute http(s) to a listed host gets the typed `denied` error and
//! nothing leaves the process. A granted request is sent with a blocking
//! client (`ureq`, rustls on ring), on the calling thread: plugin calls are
//! synchronous, so an async caller runs payment calls with `spawn_blocking`.
//!
//! What the guest gets, and what it cannot do:
//! - **Timeout**: one request may take at most the grant's `timeout`, and
//!   never longer than what remains of the call's wall-clock deadline
//!   (the guest cannot be interrupted while the host waits for it); past it,
//!   `timeout`.
//! - **Size**: at most `max_response_bytes` of body are read (a larger
//!   `Content-Length` is refused before reading); past it, `too-large`.
//! - **No redirects**: a 3xx comes back as is. Following it could leave the
//!   granted hosts; a plugin that wants to follow sends a new request, which
//!   is checked again.
//! - **No ambient state**: no cookies, no proxy from the environment, no
//!   `User-Agent`/`Accept` added by the client. The guest's headers go out
//!   as given, except hop-by-hop ones, `Host` and `Content-Length`, which
//!   belong to the connection, not the plugin.
//! - Connection, TLS and protocol failures are `transport(..)`.
//!
//! Connections are pooled (keyed by scheme, host and port) by one client for
//! the process; a pooled connection carries no credentials or cookies.
//!
//! Counted per plugin: `vitrine_plugin_http_requests_total{plugin, outcome}`
//! (`ok`, `timeout`, `too_large`, `transport`),
//! `vitrine_plugin_http_denied_total{plugin}`, and the request time in
//! `vitrine_plugin_http_request_seconds{plugin}`.

use std::io::Read;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use ureq::config::AutoHeaderValue;
use ureq::http;

use super::HostState;
use crate::plugins::bindings::http::{HttpError, Request, Response};

/// Where a plugin may send requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    /// Host names (exact, case-insensitive, optionally with `:port`).
    pub hosts: Vec<String>,
    /// Deadline for one request.
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
}

impl Default for HttpGrant {
    fn default() -> Self {
        Self {
            hosts: Vec::new(),
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
        }
    }
}

impl HttpGrant {
    /// Checks `url` against the grant; `Err` says why it is denied.
    pub fn check(&self, method: &str, url: &str) -> Result<(), String> {
        if !matches!(method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
            return Err(format!("method `{method}` is not allowed"));
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| format!("`{url}` is not an absolute http(s) url"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("`{url}` has no plain host"));
        }
        let host = authority.to_ascii_lowercase();
        let bare = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let granted = self.hosts.iter().any(|g| {
            let g = g.to_ascii_lowercase();
            g == host || g == bare
        });
        if granted {
            Ok(())
        } else {
            Err(format!("host `{authority}` is not granted"))
        }
    }
}

impl crate::plugins::bindings::http::Host for HostState {
    fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let plugin = self.caps.plugin.to_string();
        let grant = &self.caps.http;
        if let Err(why) = grant.check(&request.method, &request.url) {
            metrics::counter!("vitrine_plugin_http_denied_total", "plugin" => plugin).increment(1);
            tracing::warn!(plugin = &*self.caps.plugin, url = %request.url, reason = %why, "plugin http request denied");
            return Err(HttpError::Denied(why));
        }
        let timeout = match self.deadline {
            Some(deadline) => grant.timeout.min(deadline.saturating_duration_since(Instant::now())),
            None => grant.timeout,
        };
        let started = Instant::now();
        let result = if timeout.is_zero() {
            Err(HttpError::Timeout)
        } else {
            send(grant, request, timeout)
        };
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(HttpError::Timeout) => "timeout",
            Err(HttpError::TooLarge) => "too_large",
            Err(HttpError::Denied(_)) => "denied",
            Err(HttpError::Transport(_)) => "transport",
        };
        metrics::counter!("vitrine_plugin_http_requests_total", "plugin" => plugin.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("vitrine_plugin_http_request_seconds", "plugin" => plugin).record(elapsed.as_secs_f64());
        match &result {
            Ok(response) => tracing::debug!(
                plugin = &*self.caps.plugin,
                status = response.status,
                bytes = response.body.len(),
                elapsed_ms = elapsed.as_millis(),
                "plugin http request"
            ),
            Err(error) => tracing::info!(
                plugin = &*self.caps.plugin,
                outcome,
                error = ?error,
                elapsed_ms = elapsed.as_millis(),
                "plugin http request failed"
            ),
        }
        result
    }
}

/// The client shared by every plugin: no redirects, statuses are answers
/// (not errors), no proxy from the environment, no headers of its own.
static AGENT: LazyLock<ureq::Agent> = LazyLock::new(|| {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(AutoHeaderValue::None)
        .accept(AutoHeaderValue::None)
        .accept_encoding(AutoHeaderValue::None)
        .max_idle_connections_per_host(8)
        .build()
        .new_agent()
});

/// Request headers that belong to the connection, not to the plugin.
const CONNECTION_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Sends a request that passed [`HttpGrant::check`], within `timeout`.
fn send(grant: &HttpGrant, request: Request, timeout: Duration) -> Result<Response, HttpError> {
    let uri: http::Uri = request
        .url
        .parse()
        .map_err(|e| HttpError::Denied(format!("`{}` is not a valid url: {e}", request.url)))?;
    // The grant was checked on the guest's text; check what the client will
    // actually connect to as well, so the two parsers cannot disagree.
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(HttpError::Denied(format!("`{}` has no scheme or host", request.url)));
    };
    grant
        .check(&request.method, &format!("{scheme}://{}/", authority.as_str()))
        .map_err(HttpError::Denied)?;

    let mut builder = http::Request::builder().method(request.method.as_str()).uri(uri);
    for (name, value) in outgoing_headers(&request.headers)? {
        builder = builder.header(name, value);
    }
    let response = if request.body.is_empty() {
        run(builder.body(()), timeout)
    } else {
        run(builder.body(request.body), timeout)
    }?;
    read_response(response, grant.max_response_bytes)
}

/// The guest's headers that go out: all but [`CONNECTION_HEADERS`]; an
/// invalid name or value (say, with a line break) refuses the request.
fn outgoing_headers(headers: &[(String, String)]) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, HttpError> {
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        if CONNECTION_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        let name = http::HeaderName::try_from(name.as_str())
            .map_err(|_| HttpError::Denied(format!("`{name}` is not a valid header name")))?;
        let value = http::HeaderValue::try_from(value.as_str())
            .map_err(|_| HttpError::Denied(format!("the value of header `{name}` is not valid")))?;
        out.push((name, value));
    }
    Ok(out)
}

fn run<S: ureq::AsSendBody>(
    request: Result<http::Request<S>, http::Error>,
    timeout: Duration,
) -> Result<http::Response<ureq::Body>, HttpError> {
    let request = request.map_err(|e| HttpError::Denied(format!("invalid request: {e}")))?;
    let request = AGENT.configure_request(request).timeout_global(Some(timeout)).build();
    AGENT.run(request).map_err(transport_error)
}

/// The whole answer, reading at most `cap + 1` bytes of body.
fn read_response(mut response: http::Response<ureq::Body>, cap: usize) -> Result<Response, HttpError> {
    let cap64 = u64::try_from(cap).unwrap_or(u64::MAX);
    if response.body().content_length().is_some_and(|len| len > cap64) {
        return Err(HttpError::TooLarge);
    }
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(cap64.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| transport_error(ureq::Error::from(e)))?;
    if body.len() > cap {
        return Err(HttpError::TooLarge);
    }
    Ok(Response {
        status: response.status().as_u16(),
        headers,
        body,
    })
}

fn transport_error(error: ureq::Error) -> HttpError {
    match error {
        ureq::Error::Timeout(_) => HttpError::Timeout,
        ureq::Error::Io(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
            HttpError::Timeout
        }
        ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge,
        other => HttpError::Transport(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> HttpGrant {
        HttpGrant {
            hosts: vec!["api.testpay.example".into(), "localhost:8080".into()],
            ..HttpGrant::default()
        }
    }

    #[test]
    fn only_granted_hosts_pass() {
        let g = grant();
        assert!(g.check("POST", "https://api.testpay.example/v1/authorize").is_ok());
        assert!(g.check("GET", "https://API.testpay.example:443?x").is_ok());
        assert!(g.check("GET", "http://localhost:8080/x").is_ok());
        assert!(g.check("GET", "http://localhost:9999/x").is_err());
        assert!(g.check("GET", "https://evil.example/").is_err());
        assert!(g.check("GET", "https://api.testpay.example@evil.example/").is_err());
        assert!(g.check("GET", "ftp://api.testpay.example/").is_err());
        assert!(g.check("CONNECT", "https://api.testpay.example/").is_err());
    }

    #[test]
    fn connection_headers_stay_with_the_host() {
        let headers = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
        };
        let out = outgoing_headers(&headers(&[
            ("Idempotency-Key", "k-1"),
            ("Host", "evil.example"),
            ("Connection", "upgrade"),
            ("Transfer-Encoding", "chunked"),
            ("content-length", "0"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Authorization", "Bearer sk"),
        ]))
        .expect("valid headers");
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["idempotency-key", "authorization"]);
        assert!(matches!(
            outgoing_headers(&headers(&[("x-a", "1\r\nHost: evil.example")])),
            Err(HttpError::Denied(_))
        ));
        assert!(matches!(
            outgoing_headers(&headers(&[("bad name", "1")])),
            Err(HttpError::Denied(_))
        ));
    }
}
