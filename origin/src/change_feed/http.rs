//! `GET /internal/v1/changes`: the change feed as a long poll, for edges
//! without Redis (and for an edge catching up after the stream trimmed what
//! it needs).

use std::time::Duration;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ChangesPage;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::http::cache::NO_STORE;
use crate::http::signature::EdgeSigned;
use crate::state::AppState;

/// Change feed routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(changes))
}

/// Largest `limit`.
pub const MAX_LIMIT: u32 = 1_000;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: u32 = 500;
/// Largest `wait_ms`.
pub const MAX_WAIT_MS: u64 = 30_000;

/// Where to read from, how much, and how long to wait for it.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Answer changes with `seq` above this: the last one the caller applied (0 to start).
    pub after: u64,
    /// At most this many changes, 1 to 1000 (default 500).
    pub limit: Option<u32>,
    /// When there is nothing after `after`, wait up to this long for something,
    /// 0 to 30000 ms (default 0: answer at once). The wait ends a second before
    /// the origin's request timeout, whichever comes first.
    pub wait_ms: Option<u64>,
}

/// The changes after a sequence number, waiting for some if asked to.
///
/// Only for edges: the request must carry a valid `X-Vitrine-Edge-Signature`.
/// `seq` is contiguous from 1, so an edge that applied up to `after` has missed
/// nothing when the first change is `after + 1` (or there are none and
/// `last_seq == after`). If `first_seq > after + 1`, changes it needed were
/// deleted by retention; if `last_seq < after`, the origin's feed started over
/// (a new database). In both cases the edge must drop what it cannot prove
/// fresh and go on from `last_seq`. An answer with no change and
/// `last_seq < after` comes at once, without waiting.
#[utoipa::path(
    get,
    path = "/internal/v1/changes",
    tag = "internal",
    params(
        ChangesQuery,
        ("X-Vitrine-Edge-Signature" = String, Header, description = "Set by an edge: `t=<unix>,v1=<hmac>`"),
    ),
    responses(
        (status = 200, description = "Changes after `after`, in order; never cached", body = ChangesPage),
        (status = 400, description = "Bad or unknown query parameter, `limit` or `wait_ms` out of range", body = ErrorBody),
        (status = 401, description = "No valid edge signature", body = ErrorBody),
    )
)]
async fn changes(
    State(state): State<AppState>,
    signed: Option<Extension<EdgeSigned>>,
    Query(query): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    if signed.is_none() {
        return Err(ApiError::Unauthorized(
            "the change feed is for edges: sign the request with `X-Vitrine-Edge-Signature`".into(),
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let wait_ms = query.wait_ms.unwrap_or(0);
    if wait_ms > MAX_WAIT_MS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("wait_ms must be between 0 and {MAX_WAIT_MS}"),
        ));
    }
    if i64::try_from(query.after).is_err() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "after is larger than any sequence number",
        ));
    }
    let ceiling = Duration::from_secs(state.config.request_timeout_secs).saturating_sub(Duration::from_secs(1));
    let wait = Duration::from_millis(wait_ms).min(ceiling);
    let page = long_poll(&state, query.after, limit, wait).await?;
    Ok(([(header::CACHE_CONTROL, NO_STORE)], axum::Json(page)).into_response())
}

/// Reads the feed after `after`; while it is empty, reads again whenever
/// this process's relay numbers rows, and every relay interval for other
/// replicas' relays, until `wait` has passed.
async fn long_poll(state: &AppState, after: u64, limit: u32, wait: Duration) -> Result<ChangesPage, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    let poll = Duration::from_millis(state.config.feed_relay_interval_ms);
    let feed = &state.feed;
    loop {
        // Registered before the read, so a round that lands between the read
        // and the wait still wakes it.
        let sequenced = feed.inner.sequenced.notified();
        tokio::pin!(sequenced);
        sequenced.as_mut().enable();
        let page = super::page_after(&state.db, after, limit).await?;
        let now = tokio::time::Instant::now();
        if !page.changes.is_empty() || page.last_seq < after || now >= deadline || feed.is_closing() {
            return Ok(page);
        }
        let nap = poll.min(deadline - now);
        tokio::select! {
            () = &mut sequenced => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}

/// Wakes the relay after every request that may have written, so its
/// outbox rows reach the feed without waiting for the next tick.
pub async fn wake_relay_after_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes = !request.method().is_safe();
    let response = next.run(request).await;
    if writes {
        state.feed.wake_relay();
    }
    response
}
