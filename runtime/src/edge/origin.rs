//! The edge's client to the origin: pooled HTTP/1.1 keep-alive connections,
//! a deadline on every request, and request signatures.
//!
//! **Signatures**: every request the edge sends carries
//! `X-Vitrine-Edge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `METHOD \n path?query \n t \n hex(SHA-256(body))` with the secret the
//! edge shares with the origin — the origin's `http::signature` checks
//! exactly this, and refuses a timestamp more than its allowed skew (30 s by
//! default) away. A client's own `X-Vitrine-Edge-Signature` never reaches
//! the origin: the header is removed before signing.
//!
//! **Failures** are typed ([`OriginError`]): the origin could not be reached
//! (connection refused, reset), it did not answer within the deadline, or
//! its answer was malformed or too large. The caller decides: serve stale,
//! or answer 502/503/504.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

/// The signature header.
pub const SIGNATURE: HeaderName = HeaderName::from_static("x-vitrine-edge-signature");

/// The largest response body the edge reads from the origin.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// An answer from the origin, read whole.
#[derive(Debug, Clone)]
pub struct OriginResponse {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// Why the origin gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// No connection (refused, reset, DNS).
    #[error("the origin is unreachable: {0}")]
    Unreachable(String),
    /// No answer within the deadline.
    #[error("the origin did not answer within {0:?}")]
    Timeout(Duration),
    /// An answer that could not be read (malformed, or over the size cap).
    #[error("the origin's answer could not be read: {0}")]
    BadResponse(String),
}

impl OriginError {
    /// A short label, for metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            OriginError::Unreachable(_) => "unreachable",
            OriginError::Timeout(_) => "timeout",
            OriginError::BadResponse(_) => "bad_response",
        }
    }
}

/// A pooled client for one origin.
#[derive(Clone)]
pub struct OriginClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    authority: HeaderValue,
    timeout: Duration,
    secret: Option<std::sync::Arc<[u8]>>,
}

impl std::fmt::Debug for OriginClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .field("signs", &self.secret.is_some())
            .finish()
    }
}

impl OriginClient {
    /// A client for `base` (`http://host:port`), answering within `timeout`,
    /// signing with `secret` when given.
    pub fn new(base: &str, authority: &str, timeout: Duration, secret: Option<&[u8]>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            authority: HeaderValue::from_str(authority).unwrap_or_else(|_| HeaderValue::from_static("origin")),
            timeout,
            secret: secret.map(Into::into),
        }
    }

    /// Whether requests are signed.
    pub fn signs(&self) -> bool {
        self.secret.is_some()
    }

    /// Sends one request and reads the whole answer, within the deadline.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<OriginResponse, OriginError> {
        self.send_within(self.timeout, method, path_and_query, headers, body)
            .await
    }

    /// [`send`](Self::send) with its own deadline (a long poll's).
    pub async fn send_within(
        &self,
        timeout: Duration,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<OriginResponse, OriginError> {
        headers.remove(&SIGNATURE);
        headers.insert(header::HOST, self.authority.clone());
        if let Some(secret) = &self.secret {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            let value = sign(secret, method.as_str(), path_and_query, now, &body);
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(SIGNATURE, value);
            }
        }
        if !body.is_empty() || !matches!(method, Method::GET | Method::HEAD) {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let uri = format!("{}{path_and_query}", self.base);
        let mut request = Request::builder()
            .method(method)
            .uri(&uri)
            .body(Full::new(body))
            .map_err(|e| OriginError::BadResponse(format!("building the request to {uri}: {e}")))?;
        *request.headers_mut() = headers;

        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| OriginError::Unreachable(format!("{e:#}")))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| OriginError::BadResponse(format!("reading the body: {e}")))?
                .to_bytes();
            Ok(OriginResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(OriginError::Timeout(timeout)),
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The signature header's value for a request at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(method.as_bytes());
    mac.update(b"\n");
    mac.update(path_and_query.as_bytes());
    mac.update(b"\n");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(hex::encode(Sha256::digest(body)).as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_method_target_time_and_body() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let base = sign(secret, "POST", "/api/v1/carts", 1_800_000_000, b"{}");
        assert!(base.starts_with("t=1800000000,v1="));
        assert_eq!(base.len(), "t=1800000000,v1=".len() + 64);
        for other in [
            sign(secret, "PUT", "/api/v1/carts", 1_800_000_000, b"{}"),
            sign(secret, "POST", "/api/v1/carts?x=1", 1_800_000_000, b"{}"),
            sign(secret, "POST", "/api/v1/carts", 1_800_000_001, b"{}"),
            sign(secret, "POST", "/api/v1/carts", 1_800_000_000, b"{ }"),
            sign(
                b"another secret, also 32 bytes!!",
                "POST",
                "/api/v1/carts",
                1_800_000_000,
                b"{}",
            ),
        ] {
            assert_ne!(base, other);
        }
    }
}
