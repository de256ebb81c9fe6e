//! Edge request signatures.
//!
//! An edge signs what it forwards with a secret it shares with the origin:
//! `X-Vitrine-Edge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//!
//! ```text
//! METHOD \n path?query \n t \n hex(SHA-256(body))
//! ```
//!
//! A request that carries the header is verified before any handler runs: a
//! missing secret, a bad MAC, or a timestamp more than the allowed skew away
//! from now answers 401, so an unsigned or forged request can never pass for
//! an edge's. A verified request gets the [`EdgeSigned`] extension; handlers
//! that accept edge-only input (order adjustments, payments) require it.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// The request header.
pub const HEADER: &str = "x-vitrine-edge-signature";

/// Marks a request whose edge signature was verified.
#[derive(Clone, Copy, Debug)]
pub struct EdgeSigned;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(method.as_bytes());
    mac.update(b"\n");
    mac.update(path_and_query.as_bytes());
    mac.update(b"\n");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(hex::encode(Sha256::digest(body)).as_bytes());
    mac
}

/// The header value an edge sends for this request at `timestamp`.
pub fn sign(secret: &[u8], method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, method, path_and_query, timestamp, body)
        .finalize()
        .into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Checks `header` for this request at time `now` (Unix seconds).
pub fn verify(
    secret: &[u8],
    header: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
    max_skew_secs: i64,
) -> Result<(), ApiError> {
    let bad = |why: &str| ApiError::Unauthorized(format!("edge signature refused: {why}"));
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => tag = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(tag)) = (timestamp, tag) else {
        return Err(bad("expected `t=<unix seconds>,v1=<hex>`"));
    };
    if (now - timestamp).abs() > max_skew_secs {
        return Err(bad("timestamp outside the allowed window"));
    }
    mac(secret, method, path_and_query, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| bad("signature does not match"))
}

/// The middleware: verifies requests that carry the header.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(header) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    let Some(secret) = state.config.edge_secret.as_deref() else {
        return ApiError::Unauthorized("edge signatures are not configured on this origin".into()).into_response();
    };
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, state.config.body_limit_bytes).await else {
        return ApiError::too_large().into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let now = chrono::Utc::now().timestamp();
    let skew = i64::try_from(state.config.edge_signature_max_age_secs).unwrap_or(30);
    let header = header.to_str().unwrap_or_default();
    if let Err(e) = verify(
        secret.as_bytes(),
        header,
        parts.method.as_str(),
        &path,
        &bytes,
        now,
        skew,
    ) {
        metrics::counter!("vitrine_edge_signatures_refused_total").increment(1);
        return e.into_response();
    }
    parts.extensions.insert(EdgeSigned);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"edge-secret-edge-secret-edge-sec";

    #[test]
    fn a_signed_request_verifies() {
        let h = sign(SECRET, "POST", "/api/v1/orders", 1_000, b"{}");
        verify(SECRET, &h, "POST", "/api/v1/orders", b"{}", 1_010, 30).unwrap();
    }

    #[test]
    fn tampering_with_anything_signed_is_refused() {
        let h = sign(SECRET, "POST", "/api/v1/orders", 1_000, b"{\"a\":1}");
        assert!(verify(SECRET, &h, "POST", "/api/v1/orders", b"{\"a\":2}", 1_000, 30).is_err());
        assert!(verify(SECRET, &h, "PUT", "/api/v1/orders", b"{\"a\":1}", 1_000, 30).is_err());
        assert!(verify(SECRET, &h, "POST", "/api/v1/orders?x", b"{\"a\":1}", 1_000, 30).is_err());
        assert!(verify(b"other", &h, "POST", "/api/v1/orders", b"{\"a\":1}", 1_000, 30).is_err());
        let forged = h.replace("t=1000", "t=1001");
        assert!(verify(SECRET, &forged, "POST", "/api/v1/orders", b"{\"a\":1}", 1_000, 30).is_err());
    }

    #[test]
    fn old_and_malformed_signatures_are_refused() {
        let h = sign(SECRET, "POST", "/p", 1_000, b"");
        assert!(verify(SECRET, &h, "POST", "/p", b"", 1_031, 30).is_err());
        assert!(verify(SECRET, &h, "POST", "/p", b"", 969, 30).is_err());
        for junk in ["", "t=abc,v1=00", "v1=zz", "t=1000"] {
            assert!(verify(SECRET, junk, "POST", "/p", b"", 1_000, 30).is_err(), "{junk}");
        }
    }
}
