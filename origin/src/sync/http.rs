//! The sync pipeline's HTTP surface: the ERP and payment webhooks, and the admin's view
//! of the queue and its dead letters (store managers and super admins).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::queue::{DeadLetter, Queue as _, QueueStats};
use crate::auth::{Permission, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::with_db;

/// Routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(super::webhook::erp))
        .routes(routes!(super::payment::payments))
        .routes(routes!(queue_stats))
        .routes(routes!(dead_letters))
        .routes(routes!(redrive_one))
        .routes(routes!(redrive_all))
}

fn unavailable(e: super::queue::QueueError) -> ApiError {
    tracing::warn!(error = %e, "the sync queue failed an admin call");
    ApiError::Unavailable(format!("the sync queue is unavailable: {e}"))
}

/// The queue's fill.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    /// `db` or `sqs`.
    pub queue: String,
    /// Counts.
    #[serde(flatten)]
    pub stats: QueueStats,
}

/// How full the sync queue is.
#[utoipa::path(
    get,
    path = "/admin/v1/sync/queue",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Backlog, in flight, dead letters", body = QueueView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not edit the catalog", body = ErrorBody),
        (status = 503, description = "The queue is unavailable", body = ErrorBody),
    )
)]
async fn queue_stats(State(state): State<AppState>, principal: Principal) -> Result<Json<QueueView>, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::EditCatalog).await?;
    let stats = state.sync.queue.stats().await.map_err(unavailable)?;
    Ok(Json(QueueView {
        queue: state.sync.queue.kind().into(),
        stats,
    }))
}

/// How many dead letters to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// At most this many (1–100, default 50).
    pub limit: Option<usize>,
}

/// A dead letter and why it failed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    /// The message.
    #[serde(flatten)]
    pub letter: DeadLetter,
    /// The handler's last error, if it got that far.
    pub last_error: Option<String>,
    /// Receives that failed.
    pub attempts: Option<i64>,
}

/// Events that failed too often, oldest first, with their last error.
#[utoipa::path(
    get,
    path = "/admin/v1/sync/dead-letters",
    tag = "admin",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The dead letters", body = [DeadLetterView]),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not edit the catalog", body = ErrorBody),
        (status = 503, description = "The queue is unavailable", body = ErrorBody),
    )
)]
async fn dead_letters(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::EditCatalog).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let letters = state.sync.queue.dead_letters(limit).await.map_err(unavailable)?;
    let mut views = Vec::with_capacity(letters.len());
    for letter in letters {
        let failure: Option<(String, i64)> = with_db!(&state.db, pool => {
            sqlx::query_as("SELECT last_error, CAST(attempts AS BIGINT) FROM sync_failures WHERE event_id = $1")
                .bind(&letter.id)
                .fetch_optional(pool)
                .await
        })?;
        let (last_error, attempts) = failure.unzip();
        views.push(DeadLetterView {
            letter,
            last_error,
            attempts,
        });
    }
    Ok(Json(views))
}

/// How many dead letters went back on the queue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Redriven {
    /// That many.
    pub redriven: u64,
}

/// Puts one dead letter back on the queue (after the cause was fixed).
#[utoipa::path(
    post,
    path = "/admin/v1/sync/dead-letters/{id}/redrive",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The event id")),
    responses(
        (status = 200, description = "Back on the queue", body = Redriven),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not edit the catalog", body = ErrorBody),
        (status = 404, description = "No such dead letter", body = ErrorBody),
        (status = 503, description = "The queue is unavailable", body = ErrorBody),
    )
)]
async fn redrive_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Redriven>, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::EditCatalog).await?;
    let redriven = state.sync.queue.redrive(Some(&id)).await.map_err(unavailable)?;
    if redriven == 0 {
        return Err(ApiError::NotFound(format!("dead letter {id}")));
    }
    tracing::info!(actor = %principal.user_id, event = %id, "dead letter redriven");
    Ok(Json(Redriven { redriven }))
}

/// Puts every dead letter back on the queue.
#[utoipa::path(
    post,
    path = "/admin/v1/sync/dead-letters/redrive",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Back on the queue", body = Redriven),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not edit the catalog", body = ErrorBody),
        (status = 503, description = "The queue is unavailable", body = ErrorBody),
    )
)]
async fn redrive_all(State(state): State<AppState>, principal: Principal) -> Result<Json<Redriven>, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::EditCatalog).await?;
    let redriven = state.sync.queue.redrive(None).await.map_err(unavailable)?;
    tracing::info!(actor = %principal.user_id, redriven, "every dead letter redriven");
    Ok(Json(Redriven { redriven }))
}
