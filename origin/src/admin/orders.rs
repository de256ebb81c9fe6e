//! Admin: orders and refund approval (store managers and super admins).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Permission, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::orders::refunds::{Refund, RefundStatus};
use crate::orders::{Order, OrderStatus};
use crate::state::AppState;
use crate::with_db;

/// Routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(set_status))
        .routes(routes!(list_refunds))
        .routes(routes!(approve_refund))
        .routes(routes!(reject_refund))
}

/// Paging and filter of admin lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// Only orders in this state.
    pub status: Option<OrderStatus>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Page size, 1 to 100 (default 50).
    pub per_page: Option<u32>,
}

/// An order in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct OrderSummary {
    /// Order id.
    pub id: Uuid,
    /// Customer, if signed in.
    pub customer_id: Option<Uuid>,
    /// State.
    pub status: String,
    /// Total in minor units.
    pub total_minor: i64,
    /// Currency.
    pub currency: String,
    /// Placed at.
    pub created_at: DateTime<Utc>,
}

fn paging(page: Option<u32>, per_page: Option<u32>) -> Result<(u32, u32), ApiError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(50);
    if page == 0 || !(1..=100).contains(&per_page) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "page starts at 1; per_page is 1 to 100",
        ));
    }
    Ok((page, per_page))
}

/// Orders, newest first.
#[utoipa::path(
    get,
    path = "/admin/v1/orders",
    tag = "admin",
    security(("bearer" = [])),
    params(OrderFilter),
    responses(
        (status = 200, description = "Orders", body = Vec<OrderSummary>),
        (status = 400, description = "Bad filter or paging", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not manage orders", body = ErrorBody),
    )
)]
async fn list_orders(
    State(state): State<AppState>,
    principal: Principal,
    Query(filter): Query<OrderFilter>,
) -> Result<Json<Vec<OrderSummary>>, ApiError> {
    super::authorize(&state, &principal, Permission::ManageOrders).await?;
    let (page, per_page) = paging(filter.page, filter.per_page)?;
    let offset = i64::from(page - 1) * i64::from(per_page);
    let status = filter.status.map(OrderStatus::as_str);
    let rows: Vec<OrderSummary> = with_db!(&state.db, pool => sqlx::query_as(
        "SELECT id, customer_id, status, total_minor, currency, created_at FROM orders \
         WHERE ($1 IS NULL OR status = $1) ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
    ).bind(status).bind(i64::from(per_page)).bind(offset).fetch_all(pool).await)?;
    Ok(Json(rows))
}

/// Any order.
#[utoipa::path(
    get,
    path = "/admin/v1/orders/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not manage orders", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
    )
)]
async fn get_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Order>, ApiError> {
    super::authorize(&state, &principal, Permission::ManageOrders).await?;
    let order = crate::orders::load(&state, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("order {id}")))?;
    Ok(Json(order))
}

/// A move through the order state machine.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    /// Target: `paid`, `fulfilled` or `cancelled`.
    pub status: OrderStatus,
    /// Why, for the order's history.
    pub note: Option<String>,
}

/// Moves an order: marks it paid, fulfilled, or cancelled (which returns its
/// stock). Illegal moves are refused with 409.
#[utoipa::path(
    post,
    path = "/admin/v1/orders/{id}/status",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    request_body = SetStatus,
    responses(
        (status = 200, description = "The order after the move", body = Order),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not manage orders", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The state machine does not allow this move", body = ErrorBody),
        (status = 422, description = "Refund states, unknown status or field", body = ErrorBody),
    )
)]
async fn set_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SetStatus>,
) -> Result<Json<Order>, ApiError> {
    super::authorize(&state, &principal, Permission::ManageOrders).await?;
    if body.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::unprocessable(
            "invalid_note",
            "note is at most 500 characters",
        ));
    }
    let order = crate::orders::transition(&state, &principal, id, body.status, body.note.as_deref()).await?;
    Ok(Json(order))
}

/// Paging and filter of refunds.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RefundFilter {
    /// State (default `requested`).
    pub status: Option<RefundStatus>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Page size, 1 to 100 (default 50).
    pub per_page: Option<u32>,
}

/// Refund requests, oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/refunds",
    tag = "admin",
    security(("bearer" = [])),
    params(RefundFilter),
    responses(
        (status = 200, description = "Refunds", body = Vec<Refund>),
        (status = 400, description = "Bad filter or paging", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not approve refunds", body = ErrorBody),
    )
)]
async fn list_refunds(
    State(state): State<AppState>,
    principal: Principal,
    Query(filter): Query<RefundFilter>,
) -> Result<Json<Vec<Refund>>, ApiError> {
    super::authorize(&state, &principal, Permission::ApproveRefunds).await?;
    let (page, per_page) = paging(filter.page, filter.per_page)?;
    let status = filter.status.unwrap_or(RefundStatus::Requested);
    Ok(Json(
        crate::orders::refunds::list(&state, status, page, per_page).await?,
    ))
}

/// Approves a refund request: the order becomes refunded or partially refunded.
#[utoipa::path(
    post,
    path = "/admin/v1/refunds/{id}/approve",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Refund id")),
    responses(
        (status = 200, description = "The approved refund", body = Refund),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not approve refunds", body = ErrorBody),
        (status = 404, description = "No such refund", body = ErrorBody),
        (status = 409, description = "Already decided, or the order cannot be refunded", body = ErrorBody),
    )
)]
async fn approve_refund(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Refund>, ApiError> {
    super::authorize(&state, &principal, Permission::ApproveRefunds).await?;
    Ok(Json(
        crate::orders::refunds::decide(&state, &principal, id, true).await?,
    ))
}

/// Rejects a refund request.
#[utoipa::path(
    post,
    path = "/admin/v1/refunds/{id}/reject",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Refund id")),
    responses(
        (status = 200, description = "The rejected refund", body = Refund),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not approve refunds", body = ErrorBody),
        (status = 404, description = "No such refund", body = ErrorBody),
        (status = 409, description = "Already decided", body = ErrorBody),
    )
)]
async fn reject_refund(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Refund>, ApiError> {
    super::authorize(&state, &principal, Permission::ApproveRefunds).await?;
    Ok(Json(
        crate::orders::refunds::decide(&state, &principal, id, false).await?,
    ))
}
