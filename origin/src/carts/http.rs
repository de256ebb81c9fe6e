//! Cart endpoints. Never cacheable: every answer says `private, no-store`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{Cart, CartLine, CartStore as _, CartView, MAX_COUPONS, MAX_LINES, MAX_QUANTITY, normalize_coupon};
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::http::cache::NO_STORE;
use crate::state::AppState;

/// Cart routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_cart))
        .routes(routes!(get_cart))
        .routes(routes!(add_line))
        .routes(routes!(change_line, remove_line))
        .routes(routes!(apply_coupon, remove_coupon))
}

fn cart_response(state: &AppState, status: StatusCode, cart: &Cart) -> Result<Response, ApiError> {
    let view = cart.view(state.config.shipping_fee_minor)?;
    Ok((status, [(header::CACHE_CONTROL, NO_STORE)], axum::Json(view)).into_response())
}

/// Starts a cart. A signed-in shopper who already has an open cart gets that
/// one back (200) instead of a second.
#[utoipa::path(
    post,
    path = "/api/v1/carts",
    tag = "carts",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer")),
    responses(
        (status = 201, description = "A new cart", body = CartView),
        (status = 200, description = "The signed-in shopper's existing open cart", body = CartView),
        (status = 401, description = "An invalid bearer token", body = ErrorBody),
        (status = 422, description = "Idempotency-Key reused with a different request", body = ErrorBody),
    )
)]
async fn create_cart(State(state): State<AppState>, principal: Option<Principal>) -> Result<Response, ApiError> {
    let state = &state;
    let new_cart = |owner: Option<Uuid>| async move {
        let cart = Cart::new(owner, &state.config.currency);
        if !state.carts.save(&cart, 0).await? {
            return Err(ApiError::Internal(anyhow::anyhow!("a new cart id collided")));
        }
        Ok::<_, ApiError>(cart)
    };
    let Some(p) = principal else {
        return cart_response(state, StatusCode::CREATED, &new_cart(None).await?);
    };
    // One open cart per shopper: when two devices create one at the same
    // moment, the pointer is set by compare-and-set, and the loser answers
    // with the winner's cart (its own, empty and unreferenced, expires).
    let mut made: Option<Cart> = None;
    for _ in 0..4 {
        let current = state.carts.user_cart(p.user_id).await?;
        if let Some(id) = current
            && let Some(cart) = state.carts.load(id).await?
            && cart.status == super::CartStatus::Open
            && cart.visible_to(Some(&p))
        {
            return cart_response(state, StatusCode::OK, &cart);
        }
        let cart = match made.take() {
            Some(cart) => cart,
            None => new_cart(Some(p.user_id)).await?,
        };
        if state.carts.swap_user_cart(p.user_id, current, Some(cart.id)).await? {
            return cart_response(state, StatusCode::CREATED, &cart);
        }
        made = Some(cart);
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "user {}'s cart pointer kept changing while a cart was created",
        p.user_id
    )))
}

/// One cart, with line totals and the subtotal.
#[utoipa::path(
    get,
    path = "/api/v1/carts/{id}",
    tag = "carts",
    params(("id" = Uuid, Path, description = "Cart id")),
    responses(
        (status = 200, description = "The cart", body = CartView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such cart, expired, or not the caller's", body = ErrorBody),
    )
)]
async fn get_cart(
    State(state): State<AppState>,
    principal: Option<Principal>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let cart = super::load_visible(&state, id, principal.as_ref()).await?;
    let mut view = cart.view(state.config.shipping_fee_minor)?;
    if let Some(owner) = cart.owner_id
        && !cart.coupons.is_empty()
    {
        view.coupon_uses = super::coupon_uses(&state, owner, cart.id, &cart.coupons).await?;
    }
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, NO_STORE)], axum::Json(view)).into_response())
}

/// A product to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLine {
    /// The product.
    pub product_id: Uuid,
    /// Units to add, 1 to 999; added to any units of it already in the cart.
    pub quantity: i64,
}

/// A new quantity for a line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeLine {
    /// Units, 1 to 999 (remove the line with DELETE).
    pub quantity: i64,
}

fn check_quantity(quantity: i64) -> Result<(), ApiError> {
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_quantity",
            format!("quantity must be between 1 and {MAX_QUANTITY}, got {quantity}"),
        ))
    }
}

fn check_stock(product: &crate::catalog::Product, quantity: i64) -> Result<(), ApiError> {
    if product.stock >= quantity {
        return Ok(());
    }
    Err(ApiError::Conflict {
        code: "insufficient_stock",
        message: format!(
            "only {} of `{}` in stock, asked for {quantity}",
            product.stock, product.sku
        ),
        details: Some(serde_json::json!({ "product_id": product.id, "available": product.stock })),
    })
}

/// Adds a product, or more units of one already in the cart. The line takes
/// the product's current price.
#[utoipa::path(
    post,
    path = "/api/v1/carts/{id}/lines",
    tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer"),
    ),
    request_body = AddLine,
    responses(
        (status = 200, description = "The updated cart", body = CartView),
        (status = 400, description = "Malformed JSON or id", body = ErrorBody),
        (status = 404, description = "No such cart", body = ErrorBody),
        (status = 409, description = "Not enough stock, or the cart is closed", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Unknown product, bad quantity, too many lines, unknown field", body = ErrorBody),
    )
)]
async fn add_line(
    State(state): State<AppState>,
    principal: Option<Principal>,
    Path(id): Path<Uuid>,
    Json(body): Json<AddLine>,
) -> Result<Response, ApiError> {
    check_quantity(body.quantity)?;
    let product = crate::catalog::product(&state.db, body.product_id)
        .await?
        .ok_or_else(|| ApiError::unprocessable("unknown_product", format!("no product {}", body.product_id)))?;
    let cart = super::update(&state, id, principal.as_ref(), |cart| {
        if product.price.currency != cart.currency {
            return Err(ApiError::unprocessable(
                "currency_mismatch",
                format!(
                    "product is priced in {}, the cart in {}",
                    product.price.currency, cart.currency
                ),
            ));
        }
        if let Some(line) = cart.lines.iter_mut().find(|l| l.product_id == product.id) {
            let quantity = line.quantity + body.quantity;
            check_quantity(quantity)?;
            check_stock(&product, quantity)?;
            line.quantity = quantity;
            line.unit_price_minor = product.price.amount_minor;
            line.product_version = product.version;
            return Ok(());
        }
        if cart.lines.len() >= MAX_LINES {
            return Err(ApiError::unprocessable(
                "too_many_lines",
                format!("a cart holds at most {MAX_LINES} lines"),
            ));
        }
        check_stock(&product, body.quantity)?;
        cart.lines.push(CartLine {
            id: Uuid::new_v4(),
            product_id: product.id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            brand: product.brand.clone(),
            category_path: product.category_path.clone(),
            quantity: body.quantity,
            unit_price_minor: product.price.amount_minor,
            product_version: product.version,
        });
        Ok(())
    })
    .await?;
    cart_response(&state, StatusCode::OK, &cart)
}

/// Sets a line's quantity; the line takes the product's current price.
#[utoipa::path(
    patch,
    path = "/api/v1/carts/{id}/lines/{line}",
    tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("line" = Uuid, Path, description = "Line id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer"),
    ),
    request_body = ChangeLine,
    responses(
        (status = 200, description = "The updated cart", body = CartView),
        (status = 400, description = "Malformed JSON or id", body = ErrorBody),
        (status = 404, description = "No such cart or line", body = ErrorBody),
        (status = 409, description = "Not enough stock, or the cart is closed", body = ErrorBody),
        (status = 422, description = "Bad quantity", body = ErrorBody),
    )
)]
async fn change_line(
    State(state): State<AppState>,
    principal: Option<Principal>,
    Path((id, line_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<ChangeLine>,
) -> Result<Response, ApiError> {
    check_quantity(body.quantity)?;
    let product_id = super::load_visible(&state, id, principal.as_ref())
        .await?
        .lines
        .iter()
        .find(|l| l.id == line_id)
        .map(|l| l.product_id)
        .ok_or_else(|| ApiError::NotFound(format!("line {line_id} in cart {id}")))?;
    let product = crate::catalog::product(&state.db, product_id)
        .await?
        .ok_or_else(|| ApiError::unprocessable("unknown_product", format!("product {product_id} no longer exists")))?;
    check_stock(&product, body.quantity)?;
    let cart = super::update(&state, id, principal.as_ref(), |cart| {
        let line = cart
            .lines
            .iter_mut()
            .find(|l| l.id == line_id)
            .ok_or_else(|| ApiError::NotFound(format!("line {line_id} in cart {id}")))?;
        line.quantity = body.quantity;
        line.unit_price_minor = product.price.amount_minor;
        line.product_version = product.version;
        Ok(())
    })
    .await?;
    cart_response(&state, StatusCode::OK, &cart)
}

/// Removes a line.
#[utoipa::path(
    delete,
    path = "/api/v1/carts/{id}/lines/{line}",
    tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("line" = Uuid, Path, description = "Line id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer"),
    ),
    responses(
        (status = 200, description = "The updated cart", body = CartView),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 404, description = "No such cart or line", body = ErrorBody),
        (status = 409, description = "The cart is closed", body = ErrorBody),
    )
)]
async fn remove_line(
    State(state): State<AppState>,
    principal: Option<Principal>,
    Path((id, line_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let cart = super::update(&state, id, principal.as_ref(), |cart| {
        let before = cart.lines.len();
        cart.lines.retain(|l| l.id != line_id);
        if cart.lines.len() == before {
            return Err(ApiError::NotFound(format!("line {line_id} in cart {id}")));
        }
        Ok(())
    })
    .await?;
    cart_response(&state, StatusCode::OK, &cart)
}

/// Applies a coupon code. Whether it gives a discount is decided when the
/// cart is priced by the promotion plugins.
#[utoipa::path(
    post,
    path = "/api/v1/carts/{id}/coupons/{code}",
    tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("code" = String, Path, description = "Coupon code: 1 to 32 letters, digits, '-' or '_'"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer"),
    ),
    responses(
        (status = 200, description = "The updated cart (applying a code twice is harmless)", body = CartView),
        (status = 400, description = "Malformed code or id", body = ErrorBody),
        (status = 404, description = "No such cart", body = ErrorBody),
        (status = 409, description = "The cart is closed", body = ErrorBody),
        (status = 422, description = "Too many coupons", body = ErrorBody),
    )
)]
async fn apply_coupon(
    State(state): State<AppState>,
    principal: Option<Principal>,
    Path((id, code)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let code = normalize_coupon(&code)?;
    let cart = super::update(&state, id, principal.as_ref(), |cart| {
        if cart.coupons.contains(&code) {
            return Ok(());
        }
        if cart.coupons.len() >= MAX_COUPONS {
            return Err(ApiError::unprocessable(
                "too_many_coupons",
                format!("at most {MAX_COUPONS} coupons per cart"),
            ));
        }
        cart.coupons.push(code.clone());
        Ok(())
    })
    .await?;
    cart_response(&state, StatusCode::OK, &cart)
}

/// Removes a coupon code.
#[utoipa::path(
    delete,
    path = "/api/v1/carts/{id}/coupons/{code}",
    tag = "carts",
    params(
        ("id" = Uuid, Path, description = "Cart id"),
        ("code" = String, Path, description = "Coupon code"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first answer"),
    ),
    responses(
        (status = 200, description = "The updated cart", body = CartView),
        (status = 400, description = "Malformed code or id", body = ErrorBody),
        (status = 404, description = "No such cart, or the code is not on it", body = ErrorBody),
        (status = 409, description = "The cart is closed", body = ErrorBody),
    )
)]
async fn remove_coupon(
    State(state): State<AppState>,
    principal: Option<Principal>,
    Path((id, code)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let code = normalize_coupon(&code)?;
    let cart = super::update(&state, id, principal.as_ref(), |cart| {
        let before = cart.coupons.len();
        cart.coupons.retain(|c| c != &code);
        if cart.coupons.len() == before {
            return Err(ApiError::NotFound(format!("coupon `{code}` on cart {id}")));
        }
        Ok(())
    })
    .await?;
    cart_response(&state, StatusCode::OK, &cart)
}
