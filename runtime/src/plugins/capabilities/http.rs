//! `http`: outbound requests, only to hosts granted to the plugin.
//!
//! The grant check is complete: any URL that is not absolute http(s) to a
//! listed host gets the typed `denied` error. **Not yet wired**: the request
//! itself. Calls run synchronously on the caller's thread and a blocking
//! client there would stall an async executor, so granted requests answer
//! `transport("http capability not yet wired")` until the host runs payment
//! calls with wasmtime's async support (next step for the payment world).

use std::time::Duration;

use super::HostState;
use crate::plugins::bindings::http::{HttpError, Request, Response};

/// Where a plugin may send requests.
#[derive(Debug, Clone)]
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
        if let Err(why) = self.caps.http.check(&request.method, &request.url) {
            metrics::counter!("vitrine_plugin_http_denied_total", "plugin" => self.caps.plugin.to_string())
                .increment(1);
            tracing::warn!(plugin = &*self.caps.plugin, url = %request.url, reason = %why, "plugin http request denied");
            return Err(HttpError::Denied(why));
        }
        Err(HttpError::Transport("http capability not yet wired".into()))
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
}
