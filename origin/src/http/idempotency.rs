//! `Idempotency-Key` on every mutating endpoint.
//!
//! The first request with a key claims `(caller, key)` in the database before
//! its handler runs and stores the answer after. A repeat with the same key:
//! - and the same method, path and body gets the stored answer again, marked
//!   `Idempotent-Replayed: true`, and runs nothing;
//! - and a different request gets 422 `idempotency_key_reused`;
//! - while the first is still running gets 409 `idempotency_key_in_use`.
//!
//! Answers that depend on the moment (401, 403, 408, 409, 429, and every 5xx)
//! are not stored: the key is released so a retry runs afresh. A claim whose
//! request died without answering is taken over by a retry of the same request
//! once it is older than twice the request deadline. Keys expire after the
//! configured window, and a periodic sweep deletes them.
//!
//! Authentication endpoints (`/api/v1/auth/*`) are exempt: their answers
//! hold live tokens, and a refresh must never be replayed.
//!
//! Authentication endpoints (`/api/v1/auth/*`) are exempt: their answers
//! hold live tokens, and a refresh must never be replayed.
//!
//! The caller is the bearer token's subject, so two users' keys never collide
//! and a key survives token rotation; anonymous callers share one scope, where
//! keys must be unguessable (clients send UUIDs).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::db::{Db, is_unique_violation, now_ms};
use crate::error::ApiError;
use crate::state::AppState;
use crate::with_db;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Set on an answer replayed from the store.
pub const REPLAYED: &str = "idempotent-replayed";
/// Largest answer kept for replay.
const MAX_STORED_RESPONSE: usize = 1024 * 1024;

/// What a claim found.
#[derive(Debug)]
enum Claim {
    /// This request owns the key now; run it.
    Won,
    /// A finished answer for the same request.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// The middleware.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match run(&state, request, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn run(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let mutating = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    // Token endpoints are left alone: storing their answers would keep live
    // tokens in the table, and replaying a refresh would bypass the reuse
    // detection that revokes a stolen token's family.
    let token_endpoint = request.uri().path().starts_with("/api/v1/auth/");
    let Some(key) = request.headers().get(HEADER).filter(|_| mutating && !token_endpoint) else {
        return Ok(next.run(request).await);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?
        .to_owned();
    let scope = match state.tokens.from_headers(request.headers()) {
        Ok(Some(p)) => format!("user:{}", p.user_id),
        _ => "anonymous".to_owned(),
    };
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, state.config.body_limit_bytes)
        .await
        .map_err(|_| ApiError::too_large())?;
    let hash = request_hash(
        &parts.method,
        parts.uri.path_and_query().map_or("", |p| p.as_str()),
        &bytes,
    );

    let now = now_ms();
    let ttl_ms = i64::try_from(state.config.idempotency_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4);
    let stale_ms = i64::try_from(state.config.request_timeout_secs.saturating_mul(2000)).unwrap_or(60_000);
    match claim(&state.db, &scope, &key, &hash, now, now + ttl_ms, now - stale_ms).await? {
        Claim::Won => {}
        Claim::Replay {
            status,
            content_type,
            body,
        } => {
            metrics::counter!("vitrine_idempotent_replays_total").increment(1);
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let headers = response.headers_mut();
            if let Some(ct) = content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
                headers.insert(header::CONTENT_TYPE, ct);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(super::cache::NO_STORE));
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(response);
        }
        Claim::Mismatch => {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request",
            ));
        }
        Claim::InFlight => {
            return Err(ApiError::conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still being processed, retry shortly",
            ));
        }
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = response.status();
    if !storable(status) {
        release(&state.db, &scope, &key).await?;
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, MAX_STORED_RESPONSE).await else {
        release(&state.db, &scope, &key).await?;
        return Err(ApiError::Internal(anyhow::anyhow!(
            "response too large to keep for idempotent replay"
        )));
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    complete(&state.db, &scope, &key, status.as_u16(), content_type, &body).await?;
    parts.headers.insert(REPLAYED, HeaderValue::from_static("false"));
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Whether an answer with `status` is kept for replay.
fn storable(status: StatusCode) -> bool {
    let transient = matches!(status.as_u16(), 401 | 403 | 408 | 409 | 429);
    (status.is_success() || status.is_client_error()) && !transient
}

fn request_hash(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b" ");
    h.update(path_and_query.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

#[allow(clippy::too_many_arguments)]
async fn claim(
    db: &Db,
    scope: &str,
    key: &str,
    hash: &str,
    now: i64,
    expires: i64,
    stale_before: i64,
) -> Result<Claim, ApiError> {
    // Take the key when it is new, expired, or abandoned mid-request by the
    // same request; otherwise leave the row as it is and look at it.
    let inserted = with_db!(db, pool => sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, locked_at_ms, expires_at_ms) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (scope, idem_key) DO UPDATE SET request_hash = excluded.request_hash, \
           locked_at_ms = excluded.locked_at_ms, expires_at_ms = excluded.expires_at_ms, \
           status_code = NULL, content_type = NULL, response_body = NULL \
         WHERE idempotency_keys.expires_at_ms <= $4 \
            OR (idempotency_keys.status_code IS NULL AND idempotency_keys.locked_at_ms <= $6 \
                AND idempotency_keys.request_hash = excluded.request_hash)"
    ).bind(scope).bind(key).bind(hash).bind(now).bind(expires).bind(stale_before).execute(pool).await.map(|r| r.rows_affected()));
    match inserted {
        Ok(1) => return Ok(Claim::Won),
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    type Row = (String, Option<i32>, Option<String>, Option<Vec<u8>>);
    let row: Option<Row> = with_db!(db, pool => sqlx::query_as(
        "SELECT request_hash, status_code, content_type, response_body FROM idempotency_keys \
         WHERE scope = $1 AND idem_key = $2"
    ).bind(scope).bind(key).fetch_optional(pool).await)?;
    Ok(match row {
        // Released between our insert and select: the caller may retry.
        None => Claim::InFlight,
        Some((stored, _, _, _)) if stored != hash => Claim::Mismatch,
        Some((_, None, _, _)) => Claim::InFlight,
        Some((_, Some(status), content_type, body)) => Claim::Replay {
            status: u16::try_from(status).unwrap_or(200),
            content_type,
            body: body.unwrap_or_default(),
        },
    })
}

async fn complete(
    db: &Db,
    scope: &str,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    with_db!(db, pool => sqlx::query(
        "UPDATE idempotency_keys SET status_code = $1, content_type = $2, response_body = $3 \
         WHERE scope = $4 AND idem_key = $5"
    ).bind(i32::from(status)).bind(content_type).bind(body).bind(scope).bind(key).execute(pool).await.map(drop))?;
    Ok(())
}

async fn release(db: &Db, scope: &str, key: &str) -> Result<(), ApiError> {
    with_db!(db, pool => sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND status_code IS NULL"
    ).bind(scope).bind(key).execute(pool).await.map(drop))?;
    Ok(())
}

/// Deletes expired keys; returns how many.
pub async fn sweep(db: &Db) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    with_db!(db, pool => sqlx::query("DELETE FROM idempotency_keys WHERE expires_at_ms <= $1")
        .bind(now).execute(pool).await.map(|r| r.rows_affected()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moment_dependent_answers_are_not_stored() {
        for code in [200, 201, 204, 400, 404, 413, 422] {
            assert!(storable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [401, 403, 408, 409, 429, 500, 503] {
            assert!(!storable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn the_hash_covers_method_path_and_body() {
        let a = request_hash(&Method::POST, "/api/v1/carts/1/lines", b"{\"q\":1}");
        assert_ne!(a, request_hash(&Method::POST, "/api/v1/carts/1/lines", b"{\"q\":2}"));
        assert_ne!(a, request_hash(&Method::POST, "/api/v1/carts/2/lines", b"{\"q\":1}"));
        assert_ne!(a, request_hash(&Method::PUT, "/api/v1/carts/1/lines", b"{\"q\":1}"));
    }
}
