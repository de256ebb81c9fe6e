//! Order endpoints for shoppers (and the edge's checkout).

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::refunds::{Refund, RequestRefund};
use super::{CreateOrder, Order};
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::http::cache::NO_STORE;
use crate::http::signature::EdgeSigned;
use crate::state::AppState;

/// Order routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order))
        .routes(routes!(get_order))
        .routes(routes!(request_refund))
}

/// Places an order from a cart.
///
/// Prices are checked against the catalog and stock is reserved in the same
/// transaction that writes the order. Adjustments and a payment are accepted
/// only on requests signed by an edge.
#[utoipa::path(
    post,
    path = "/api/v1/orders",
    tag = "orders",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the same order"),
        ("X-Vitrine-Edge-Signature" = Option<String>, Header, description = "Set by an edge: `t=<unix>,v1=<hmac>`"),
    ),
    request_body = CreateOrder,
    responses(
        (status = 201, description = "The order", body = Order),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Invalid token or edge signature", body = ErrorBody),
        (status = 403, description = "Adjustments or payment without an edge signature", body = ErrorBody),
        (status = 404, description = "No such cart", body = ErrorBody),
        (status = 409, description = "Prices changed, stock ran out, the total changed, or the cart was already checked out; `details` says which lines", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Empty cart, bad adjustments, payment amount mismatch, unknown field, key reused with another body", body = ErrorBody),
    )
)]
async fn create_order(
    State(state): State<AppState>,
    principal: Option<Principal>,
    signed: Option<Extension<EdgeSigned>>,
    headers: HeaderMap,
    Json(body): Json<CreateOrder>,
) -> Result<Response, ApiError> {
    let key = headers
        .get(crate::http::idempotency::HEADER)
        .and_then(|v| v.to_str().ok());
    let order = super::create(&state, principal.as_ref(), body, key, signed.is_some()).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, NO_STORE)],
        axum::Json(order),
    )
        .into_response())
}

/// One order: visible to its customer, to staff, and (for guest orders) to
/// whoever holds its id.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such order, or not the caller's", body = ErrorBody),
    )
)]
async fn get_order(
    State(state): State<AppState>,
    principal: Option<Principal>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let order = super::load_visible(&state, id, principal.as_ref()).await?;
    Ok(([(header::CACHE_CONTROL, NO_STORE)], axum::Json(order)).into_response())
}

/// Asks for a refund on one's own paid or fulfilled order; a store manager
/// approves or rejects it.
#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/refund-requests",
    tag = "orders",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key returns the same request"),
    ),
    request_body = RequestRefund,
    responses(
        (status = 201, description = "The refund request", body = Refund),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such order of the caller's", body = ErrorBody),
        (status = 409, description = "The order cannot be refunded in its state", body = ErrorBody),
        (status = 422, description = "Bad amount or reason, or more than is left to refund", body = ErrorBody),
    )
)]
async fn request_refund(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<RequestRefund>,
) -> Result<Response, ApiError> {
    let refund = super::refunds::request(&state, &principal, id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(refund)).into_response())
}
