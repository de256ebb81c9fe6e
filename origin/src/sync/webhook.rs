//! `POST /webhooks/erp`: the ERP's stock, price and product changes.
//!
//! The ERP signs each request with the secret it shares with the origin:
//!
//! ```text
//! X-Vitrine-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//! ```
//!
//! A missing or forged signature is refused (401 `invalid_signature`), and so
//! is a timestamp further than the tolerance from now (401
//! `stale_signature`), so a captured request cannot be replayed later. A
//! replay inside the window enqueues events whose ids the queue and the
//! handlers already know, so it changes nothing. The body is one event or
//! `{"events": [...]}` (at most [`MAX_EVENTS`]); every event is checked
//! before any is enqueued, and the answer is 202 once they are on the queue.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use super::event::{Envelope, Event, Source};
use super::queue::Queue as _;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The request header.
pub const HEADER: &str = "x-vitrine-webhook-signature";

/// Most events in one request.
pub const MAX_EVENTS: usize = 500;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Why a signature was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Missing, malformed, or not made with the secret.
    Invalid,
    /// Made with the secret, but too far from now.
    Stale,
}

/// Checks `header` for `body` at `now` (Unix seconds), allowing
/// `tolerance_secs` either way.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now: i64, tolerance_secs: u64) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Invalid)?;
    let mut timestamp = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", tag)) => tags.push(hex::decode(tag).map_err(|_| Refusal::Invalid)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refusal::Invalid)?;
    // Any listed tag may match (a sender rotating secrets sends two).
    let genuine = tags
        .iter()
        .any(|tag| mac(secret, timestamp, body).verify_slice(tag).is_ok());
    if !genuine {
        return Err(Refusal::Invalid);
    }
    if now.abs_diff(timestamp) > tolerance_secs {
        return Err(Refusal::Stale);
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    Batch { events: Vec<serde_json::Value> },
    One(serde_json::Value),
}

/// What was accepted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// How many events are on the queue.
    pub accepted: usize,
}

/// Takes the ERP's changes onto the queue.
#[utoipa::path(
    post,
    path = "/webhooks/erp",
    tag = "webhooks",
    request_body(content = Event, description = "One event, or `{\"events\": [...]}` with up to 500"),
    responses(
        (status = 202, description = "Every event is on the queue", body = Accepted),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Missing, forged or stale signature", body = ErrorBody),
        (status = 403, description = "No webhook secret is configured", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "An event is invalid (named by its index); nothing was enqueued", body = ErrorBody),
        (status = 503, description = "The queue is unavailable; retry", body = ErrorBody),
    )
)]
pub async fn erp(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Accepted>), ApiError> {
    let sync = &state.config.sync;
    let Some(secret) = &sync.erp_webhook_secret else {
        return Err(ApiError::Forbidden(
            "the ERP webhook is not configured (VITRINE_ERP_WEBHOOK_SECRET)".into(),
        ));
    };
    let header = headers.get(HEADER).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    match verify(secret.as_bytes(), header, &body, now, sync.webhook_tolerance_secs) {
        Ok(()) => {}
        Err(refusal) => {
            let reason = match refusal {
                Refusal::Invalid => "invalid",
                Refusal::Stale => "stale",
            };
            metrics::counter!("vitrine_sync_webhooks_refused_total", "source" => "erp", "reason" => reason)
                .increment(1);
            return Err(match refusal {
                Refusal::Invalid => ApiError::Unauthorized(format!("missing or invalid {HEADER}")),
                Refusal::Stale => ApiError::Unauthorized(format!(
                    "the signature's timestamp is more than {} s from now; a replay is refused",
                    sync.webhook_tolerance_secs
                )),
            });
        }
    }
    let parsed: Body = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}")))?;
    let raw = match parsed {
        Body::Batch { events } => events,
        Body::One(event) => vec![event],
    };
    if raw.is_empty() || raw.len() > MAX_EVENTS {
        return Err(ApiError::unprocessable(
            "invalid_batch",
            format!("a request carries 1 to {MAX_EVENTS} events, not {}", raw.len()),
        ));
    }
    let received_at = chrono::Utc::now();
    let mut messages = Vec::with_capacity(raw.len());
    for (i, value) in raw.into_iter().enumerate() {
        let event: Event = serde_json::from_value(value)
            .map_err(|e| ApiError::unprocessable("invalid_event", format!("event {i}: {e}")))?;
        if let Some(problem) = event.problem() {
            return Err(ApiError::unprocessable(
                "invalid_event",
                format!("event {i} ({}): {problem}", event.id),
            ));
        }
        messages.push(Envelope::event(Source::Erp, received_at, event).to_outgoing());
    }
    let n = messages.len() as u64;
    metrics::counter!("vitrine_sync_events_total", "source" => "erp", "outcome" => "received").increment(n);
    state.sync.queue.send(&messages).await.map_err(|e| {
        tracing::warn!(error = %e, "enqueueing ERP events failed");
        ApiError::Unavailable("the event queue is unavailable; retry".into())
    })?;
    metrics::counter!("vitrine_sync_events_total", "source" => "erp", "outcome" => "enqueued").increment(n);
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Accepted {
            accepted: messages.len(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fresh_signature_made_with_the_secret_passes() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let body = br#"{"id":"e1"}"#;
        let header = sign(secret, 1_000, body);
        assert_eq!(verify(secret, Some(&header), body, 1_010, 300), Ok(()));
        assert_eq!(verify(secret, Some(&header), body, 1_400, 300), Err(Refusal::Stale));
        assert_eq!(
            verify(secret, Some(&header), b"{\"id\":\"e2\"}", 1_010, 300),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify(b"another secret of thirty-two byte", Some(&header), body, 1_010, 300),
            Err(Refusal::Invalid)
        );
        let moved = header.replace("t=1000", "t=1200");
        assert_eq!(
            verify(secret, Some(&moved), body, 1_200, 300),
            Err(Refusal::Invalid),
            "the timestamp is signed"
        );
        assert_eq!(verify(secret, None, body, 1_010, 300), Err(Refusal::Invalid));
        assert_eq!(
            verify(secret, Some("t=1000,v1=zz"), body, 1_010, 300),
            Err(Refusal::Invalid)
        );
    }
}
