//! `/admin/v1/webhooks`: registering endpoints and reading their delivery
//! log (store managers and super admins, [`Permission::ManageWebhooks`]).
//! Every answer is `Cache-Control: private, no-store`; the signing secret
//! appears in the registration's answer only.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::store::{self, CreatedEndpoint, Delivery, DeliveryPage, DeliveryStatus, Endpoint};
use crate::auth::{Permission, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::http::cache::NO_STORE;
use crate::state::AppState;

/// Largest page of the delivery log served.
pub const MAX_PER_PAGE: u32 = 100;
/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// Routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, delete_endpoint))
        .routes(routes!(list_deliveries))
        .routes(routes!(redeliver))
}

fn no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, [(header::CACHE_CONTROL, NO_STORE)], axum::Json(body)).into_response()
}

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// `http://` or `https://` URL with a host and no user or password, at
    /// most 2048 bytes.
    pub url: String,
    /// Topics (`order.created`, `order.status_changed`, `order.refunded`,
    /// `payment.status_changed`, `payment.refunded`) or `order.*`,
    /// `payment.*`; 1 to 32.
    pub events: Vec<String>,
    /// For people, at most 500 characters.
    pub description: Option<String>,
}

/// Filter and paging of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatus>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Deliveries per page, 1 to 100 (default 50).
    pub per_page: Option<u32>,
}

/// Every registered endpoint, oldest first (without secrets).
#[utoipa::path(
    get,
    path = "/admin/v1/webhooks",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoints", body = [Endpoint]),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller may not manage webhooks", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn list_endpoints(State(state): State<AppState>, principal: Principal) -> Result<Response, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::ManageWebhooks).await?;
    Ok(no_store(StatusCode::OK, &store::list(&state.db).await?))
}

/// Registers an endpoint; the answer carries its signing secret, shown only here.
#[utoipa::path(
    post,
    path = "/admin/v1/webhooks",
    tag = "admin",
    security(("bearer" = [])),
    request_body = CreateEndpoint,
    responses(
        (status = 201, description = "The endpoint and its secret", body = CreatedEndpoint),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller may not manage webhooks", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields, or `invalid_url`, `invalid_events`, `invalid_description`; nothing was written", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateEndpoint>,
) -> Result<Response, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::ManageWebhooks).await?;
    let created = store::create(&state.db, &body.url, &body.events, body.description.as_deref()).await?;
    tracing::info!(actor = %principal.user_id, endpoint = %created.endpoint.id, url = %created.endpoint.url, "webhook endpoint registered");
    Ok(no_store(StatusCode::CREATED, &created))
}

/// One endpoint (without its secret).
#[utoipa::path(
    get,
    path = "/admin/v1/webhooks/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = Endpoint),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller may not manage webhooks", body = ErrorBody),
        (status = 404, description = "No such endpoint, or it was deleted", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn get_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::ManageWebhooks).await?;
    Ok(no_store(StatusCode::OK, &store::get(&state.db, id).await?))
}

/// Deletes an endpoint: it gets nothing more, and its pending deliveries are cancelled.
#[utoipa::path(
    delete,
    path = "/admin/v1/webhooks/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller may not manage webhooks", body = ErrorBody),
        (status = 404, description = "No such endpoint, or it was deleted", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::ManageWebhooks).await?;
    let cancelled = store::delete(&state.db, id).await?;
    tracing::info!(actor = %principal.user_id, endpoint = %id, cancelled, "webhook endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's delivery log, newest first.
#[utoipa::path(
    get,
    path = "/admin/v1/webhooks/{id}/deliveries",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id"), DeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 400, description = "Bad id, status or paging", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller may not manage webhooks", body = ErrorBody),
        (status = 404, description = "No such endpoint, or it was deleted", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::ManageWebhooks).await?;
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(ApiError::bad_request("invalid_query", "page starts at 1"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("per_page must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let deliveries = store::deliveries(&state.db, id, query.status, page, per_page).await?;
    Ok(no_store(StatusCode::OK, &deliveries))
}

/// Sends a delivered or failed delivery again: back to pending, due now,
/// with a fresh round of attempts.
#[utoipa::path(
    post,
    path = "/admin/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Endpoint id"),
        ("delivery_id" = Uuid, Path, description = "Delivery id"),
    ),
    responses(
        (status = 200, description = "The delivery, pending again", body = Delivery),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller may not manage webhooks", body = ErrorBody),
        (status = 404, description = "No such endpoint or delivery", body = ErrorBody),
        (status = 409, description = "`not_redeliverable`: the delivery is pending or cancelled", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, delivery_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    crate::admin::authorize(&state, &principal, Permission::ManageWebhooks).await?;
    let delivery = store::redeliver(&state.db, id, delivery_id).await?;
    tracing::info!(actor = %principal.user_id, endpoint = %id, delivery = %delivery_id, "webhook delivery queued again");
    Ok(no_store(StatusCode::OK, &delivery))
}
