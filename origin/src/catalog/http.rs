//! Catalog endpoints: cacheable by the edge, purged by surrogate key.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Category, CategoryRef, ProductSummary, Sort};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::http::cache::cacheable_json;
use crate::state::AppState;

/// Catalog routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_product))
        .routes(routes!(list_categories))
        .routes(routes!(category_products))
}

/// One product.
#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "catalog",
    params(("id" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product; cacheable, tagged `product:<id> category:<slug>`", body = super::Product),
        (status = 304, description = "The client's `If-None-Match` matches"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
    )
)]
async fn get_product(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let product = super::product(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("product {id}")))?;
    let keys = [format!("product:{id}"), format!("category:{}", product.category)];
    cacheable_json(&headers, &state.config, &keys, &product)
}

/// The category tree.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CategoryTree {
    /// Root categories with their descendants.
    pub categories: Vec<Category>,
}

/// Every category, as a tree.
#[utoipa::path(
    get,
    path = "/api/v1/categories",
    tag = "catalog",
    responses(
        (status = 200, description = "The tree; cacheable, tagged `categories`", body = CategoryTree),
        (status = 304, description = "The client's `If-None-Match` matches"),
    )
)]
async fn list_categories(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let categories = super::category_tree(&state.db).await?;
    cacheable_json(
        &headers,
        &state.config,
        &["categories".to_owned()],
        &CategoryTree { categories },
    )
}

/// Paging and order of a listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListingQuery {
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Products per page, 1 to 100 (default 24).
    pub per_page: Option<u32>,
    /// Order: `popular` (default), `price_asc`, `price_desc`, `name`, `newest`.
    pub sort: Option<Sort>,
}

/// One page of a category's products.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CategoryListing {
    /// The category.
    pub category: CategoryRef,
    /// Products in its whole subtree.
    pub total: i64,
    /// This page's number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// The products on this page.
    pub products: Vec<ProductSummary>,
}

/// Largest page a listing serves.
pub const MAX_PER_PAGE: u32 = 100;

/// Products in a category and its sub-categories.
#[utoipa::path(
    get,
    path = "/api/v1/categories/{slug}/products",
    tag = "catalog",
    params(("slug" = String, Path, description = "Category slug"), ListingQuery),
    responses(
        (status = 200, description = "A page of products; cacheable, tagged `category:<slug> listing:<slug>` and `product:<id>` for every product shown", body = CategoryListing),
        (status = 304, description = "The client's `If-None-Match` matches"),
        (status = 400, description = "Bad paging or sort", body = ErrorBody),
        (status = 404, description = "No such category", body = ErrorBody),
    )
)]
async fn category_products(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<ListingQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(24);
    if page == 0 {
        return Err(ApiError::bad_request("invalid_query", "page starts at 1"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("per_page must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    if !is_slug(&slug) {
        return Err(ApiError::NotFound(format!("category `{}`", slug.escape_debug())));
    }
    let listing = super::category_products(&state.db, &slug, query.sort.unwrap_or_default(), page, per_page)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("category `{slug}`")))?;
    let mut keys = vec![
        format!("category:{}", listing.category.slug),
        format!("listing:{}", listing.category.slug),
    ];
    keys.extend(listing.products.iter().map(|p| format!("product:{}", p.id)));
    let body = CategoryListing {
        category: listing.category,
        total: listing.total,
        page,
        per_page,
        products: listing.products,
    };
    cacheable_json(&headers, &state.config, &keys, &body)
}

/// Slugs are lowercase ASCII letters, digits and dashes; anything else cannot
/// name a category, so it is answered without touching the database.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
