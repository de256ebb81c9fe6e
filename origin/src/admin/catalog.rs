//! Admin: stock and price edits (store managers and super admins).

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Permission, Principal};
use crate::catalog::{Product, ProductEdit, edit_product};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// Routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_stock))
        .routes(routes!(set_price))
}

/// A new stock count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStock {
    /// Units in stock, ≥ 0.
    pub stock: i64,
    /// If given, the edit applies only if the product is still at this version.
    pub expected_version: Option<i64>,
}

/// A new unit price.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPrice {
    /// Unit price in minor units of the store currency, ≥ 0.
    pub amount_minor: i64,
    /// If given, the edit applies only if the product is still at this version.
    pub expected_version: Option<i64>,
}

/// Sets a product's stock count.
#[utoipa::path(
    put,
    path = "/admin/v1/products/{id}/stock",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Product id")),
    request_body = SetStock,
    responses(
        (status = 200, description = "The product after the edit", body = Product),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not edit the catalog", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "`expected_version` is stale", body = ErrorBody),
        (status = 422, description = "Negative stock or unknown field", body = ErrorBody),
    )
)]
async fn set_stock(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SetStock>,
) -> Result<Json<Product>, ApiError> {
    super::authorize(&state, &principal, Permission::EditCatalog).await?;
    let product = edit_product(&state.db, id, ProductEdit::Stock(body.stock), body.expected_version).await?;
    tracing::info!(actor = %principal.user_id, product = %id, stock = body.stock, "stock set");
    Ok(Json(product))
}

/// Sets a product's unit price.
#[utoipa::path(
    put,
    path = "/admin/v1/products/{id}/price",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Product id")),
    request_body = SetPrice,
    responses(
        (status = 200, description = "The product after the edit", body = Product),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Role may not edit the catalog", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "`expected_version` is stale", body = ErrorBody),
        (status = 422, description = "Negative price or unknown field", body = ErrorBody),
    )
)]
async fn set_price(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SetPrice>,
) -> Result<Json<Product>, ApiError> {
    super::authorize(&state, &principal, Permission::EditCatalog).await?;
    let product = edit_product(
        &state.db,
        id,
        ProductEdit::Price(body.amount_minor),
        body.expected_version,
    )
    .await?;
    tracing::info!(actor = %principal.user_id, product = %id, price = body.amount_minor, "price set");
    Ok(Json(product))
}
