//! Carts: what a shopper means to buy.
//!
//! A cart holds lines (a product, a quantity, and the unit price and product
//! version seen when the line was last set) and coupon codes. Prices are a
//! snapshot: the order transaction compares them with the catalog and refuses
//! the order if one changed, so a shopper is never charged a price they did
//! not see. Whether a coupon is valid is the promotion plugins' business; the
//! cart only keeps well-formed codes.
//!
//! A guest cart belongs to whoever holds its id (a random UUID). A cart with
//! an owner is visible to that user only. Logging in with a guest cart id
//! merges the guest cart into the user's cart.

pub mod http;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use store::{CartStore, Carts};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::money::{Money, line_total};
use crate::state::AppState;
use crate::with_db;

/// Most lines one cart holds.
pub const MAX_LINES: usize = 100;
/// Most units of one product in one cart.
pub const MAX_QUANTITY: i64 = 999;
/// Most coupon codes on one cart.
pub const MAX_COUPONS: usize = 5;

/// Where a cart is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CartStatus {
    /// Being filled.
    Open,
    /// Turned into an order; read-only.
    CheckedOut,
    /// Merged into a signed-in shopper's cart; read-only.
    Merged,
}

/// A cart as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cart {
    /// Random id; holding it is the right to a guest cart.
    pub id: Uuid,
    /// The signed-in owner, if any.
    pub owner_id: Option<Uuid>,
    /// Currency of every line.
    pub currency: String,
    /// Lines in the order they were added.
    pub lines: Vec<CartLine>,
    /// Upper-cased coupon codes.
    pub coupons: Vec<String>,
    /// Life-cycle state.
    pub status: CartStatus,
    /// The order made from it, once checked out.
    pub order_id: Option<Uuid>,
    /// The cart this one was merged into, if merged.
    pub merged_into: Option<Uuid>,
    /// Increases on every save; the compare-and-set token.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One line of a cart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    /// Line id, stable for the line's life.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// The product's SKU.
    pub sku: String,
    /// The product's name when the line was set.
    pub name: String,
    /// The product's brand.
    pub brand: String,
    /// The product's category slugs, root first (promotions match on them).
    pub category_path: Vec<String>,
    /// Units.
    pub quantity: i64,
    /// Unit price seen when the line was last set.
    pub unit_price_minor: i64,
    /// Product version seen when the line was last set.
    pub product_version: i64,
}

/// A cart as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CartView {
    /// Cart id.
    pub id: Uuid,
    /// The owner, if signed in.
    pub owner_id: Option<Uuid>,
    /// Life-cycle state.
    pub status: CartStatus,
    /// Lines with their totals.
    pub lines: Vec<CartLineView>,
    /// Coupon codes applied.
    pub coupons: Vec<String>,
    /// Σ line totals, before promotions and shipping.
    pub subtotal: Money,
    /// The shipping fee an order of this cart pays before promotions.
    pub shipping_fee: Money,
    /// How many orders the cart's owner placed with each of the cart's
    /// coupons (orders not cancelled), for promotions with a per-customer
    /// limit. Only on `GET /api/v1/carts/{id}`, for a signed-in owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coupon_uses: Vec<CouponUse>,
    /// Total units.
    pub item_count: i64,
    /// The order made from it, once checked out.
    pub order_id: Option<Uuid>,
    /// Changes on every update.
    pub version: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// How often a customer used a coupon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouponUse {
    /// The upper-cased code.
    pub code: String,
    /// Orders placed with it.
    pub uses: u32,
}

/// Orders (not cancelled) of customer `$1` per coupon code, leaving out the
/// order of cart `$2`.
pub(crate) const COUPON_USES_SQL: &str = "SELECT a.coupon_code, COUNT(DISTINCT o.id) FROM order_adjustments a JOIN orders o ON o.id = a.order_id \
     WHERE o.customer_id = $1 AND o.cart_id <> $2 AND o.status <> 'cancelled' AND a.coupon_code IS NOT NULL \
     GROUP BY a.coupon_code";

/// How many orders, not cancelled, `customer` placed with each of `codes`,
/// leaving out an order made from `cart` itself: a checkout replayed after
/// its order was made must price the cart as the first attempt did.
pub async fn coupon_uses(
    state: &AppState,
    customer: Uuid,
    cart: Uuid,
    codes: &[String],
) -> Result<Vec<CouponUse>, ApiError> {
    let rows: Vec<(String, i64)> = with_db!(&state.db, pool => sqlx::query_as(COUPON_USES_SQL)
        .bind(customer).bind(cart).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .filter(|(code, _)| codes.contains(code))
        .map(|(code, uses)| CouponUse {
            code,
            uses: u32::try_from(uses).unwrap_or(u32::MAX),
        })
        .collect())
}

/// A cart line as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CartLineView {
    /// Line id.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// SKU.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// Brand.
    pub brand: String,
    /// Category slugs, root first.
    pub category_path: Vec<String>,
    /// Units.
    pub quantity: i64,
    /// Price of one unit.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

impl Cart {
    /// A new, empty, open cart.
    pub fn new(owner_id: Option<Uuid>, currency: &str) -> Self {
        let now = Utc::now();
        Self {
            id: Uuid::new_v4(),
            owner_id,
            currency: currency.to_owned(),
            lines: Vec::new(),
            coupons: Vec::new(),
            status: CartStatus::Open,
            order_id: None,
            merged_into: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// Σ line totals, or an error if it overflows.
    pub fn subtotal_minor(&self) -> Result<i64, ApiError> {
        self.lines.iter().try_fold(0i64, |acc, l| {
            line_total(l.unit_price_minor, l.quantity)
                .and_then(|t| acc.checked_add(t))
                .ok_or_else(|| ApiError::unprocessable("amount_overflow", "cart total is out of range"))
        })
    }

    /// The API view, with the shop's shipping fee.
    pub fn view(&self, shipping_fee_minor: i64) -> Result<CartView, ApiError> {
        let lines = self
            .lines
            .iter()
            .map(|l| CartLineView {
                id: l.id,
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                brand: l.brand.clone(),
                category_path: l.category_path.clone(),
                quantity: l.quantity,
                unit_price: Money::new(l.unit_price_minor, &self.currency),
                line_total: Money::new(l.unit_price_minor.saturating_mul(l.quantity), &self.currency),
            })
            .collect();
        Ok(CartView {
            id: self.id,
            owner_id: self.owner_id,
            status: self.status,
            lines,
            coupons: self.coupons.clone(),
            subtotal: Money::new(self.subtotal_minor()?, &self.currency),
            shipping_fee: Money::new(shipping_fee_minor, &self.currency),
            coupon_uses: Vec::new(),
            item_count: self.lines.iter().map(|l| l.quantity).sum(),
            order_id: self.order_id,
            version: self.version,
            updated_at: self.updated_at,
        })
    }

    /// Whether `principal` may see and change this cart.
    pub fn visible_to(&self, principal: Option<&Principal>) -> bool {
        match self.owner_id {
            None => true,
            Some(owner) => principal.is_some_and(|p| p.user_id == owner || p.is_staff()),
        }
    }

    /// Merges `guest`'s lines and coupons into this cart, summing quantities
    /// of the same product (capped at [`MAX_QUANTITY`]) and keeping this
    /// cart's line for a product both hold.
    pub fn absorb(&mut self, guest: &Cart) {
        for line in &guest.lines {
            let room = self.lines.len() < MAX_LINES;
            match self.lines.iter_mut().find(|l| l.product_id == line.product_id) {
                Some(mine) => mine.quantity = (mine.quantity + line.quantity).min(MAX_QUANTITY),
                None if room => self.lines.push(line.clone()),
                None => {}
            }
        }
        for code in &guest.coupons {
            if !self.coupons.contains(code) && self.coupons.len() < MAX_COUPONS {
                self.coupons.push(code.clone());
            }
        }
    }
}

/// Normalises a coupon code: trimmed, upper-cased, 1–32 of `A-Z 0-9 - _`.
pub fn normalize_coupon(code: &str) -> Result<String, ApiError> {
    let code = code.trim().to_ascii_uppercase();
    let ok = (1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(code)
    } else {
        Err(ApiError::bad_request(
            "invalid_coupon_code",
            "coupon codes are 1 to 32 letters, digits, '-' or '_'",
        ))
    }
}

/// Loads cart `id` as `principal` sees it: 404 when missing or not theirs.
pub async fn load_visible(state: &AppState, id: Uuid, principal: Option<&Principal>) -> Result<Cart, ApiError> {
    match state.carts.load(id).await? {
        Some(cart) if cart.visible_to(principal) => Ok(cart),
        _ => Err(ApiError::NotFound(format!("cart {id}"))),
    }
}

/// Applies `change` to open cart `id` with compare-and-set, retrying when a
/// concurrent writer got there first. `change` may run more than once.
pub async fn update<F>(
    state: &AppState,
    id: Uuid,
    principal: Option<&Principal>,
    mut change: F,
) -> Result<Cart, ApiError>
where
    F: FnMut(&mut Cart) -> Result<(), ApiError>,
{
    let cart = compare_and_set(state, id, |cart| {
        if !cart.visible_to(principal) {
            return Err(ApiError::NotFound(format!("cart {id}")));
        }
        if cart.status != CartStatus::Open {
            return Err(closed(cart));
        }
        change(cart)
    })
    .await?;
    cart.ok_or_else(|| ApiError::NotFound(format!("cart {id}")))
}

/// Applies `change` to cart `id` whatever its state or owner (for the system
/// itself, e.g. closing a cart once its order commits). `Ok(None)` if the
/// cart is gone.
pub async fn update_any<F>(state: &AppState, id: Uuid, mut change: F) -> Result<Option<Cart>, ApiError>
where
    F: FnMut(&mut Cart),
{
    compare_and_set(state, id, |cart| {
        change(cart);
        Ok(())
    })
    .await
}

/// The one compare-and-set loop behind [`update`] and [`update_any`]: load,
/// apply `change`, save if nobody wrote in between, else retry. `Ok(None)`
/// if the cart is gone.
async fn compare_and_set<F>(state: &AppState, id: Uuid, mut change: F) -> Result<Option<Cart>, ApiError>
where
    F: FnMut(&mut Cart) -> Result<(), ApiError>,
{
    for _ in 0..8 {
        let Some(mut cart) = state.carts.load(id).await? else {
            return Ok(None);
        };
        let expected = cart.version;
        change(&mut cart)?;
        cart.version = expected + 1;
        cart.updated_at = Utc::now();
        if state.carts.save(&cart, expected).await? {
            return Ok(Some(cart));
        }
    }
    Err(ApiError::conflict(
        "cart_busy",
        "the cart is being changed concurrently, retry",
    ))
}

/// The conflict answered for a change to a cart that is no longer open.
pub fn closed(cart: &Cart) -> ApiError {
    let message = match (cart.status, cart.order_id, cart.merged_into) {
        (CartStatus::CheckedOut, Some(order), _) => format!("cart {} was checked out as order {order}", cart.id),
        (CartStatus::Merged, _, Some(into)) => format!("cart {} was merged into cart {into}", cart.id),
        _ => format!("cart {} is closed", cart.id),
    };
    ApiError::Conflict {
        code: "cart_closed",
        message,
        details: Some(serde_json::json!({ "order_id": cart.order_id, "merged_into": cart.merged_into })),
    }
}

/// Merges guest cart `guest_id` into `user`'s cart after login and returns the
/// id of the cart the user now has. A guest cart that is missing, owned by
/// someone else or closed is ignored.
pub async fn merge_on_login(state: &AppState, guest_id: Uuid, user: Principal) -> Result<Option<Uuid>, ApiError> {
    // Two logins at once may both find no open cart; only one of them can
    // adopt its guest cart, and the other then merges into that one.
    for _ in 0..4 {
        if let Some(outcome) = try_merge(state, guest_id, user).await? {
            return Ok(outcome);
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "user {}'s cart pointer kept changing while a guest cart was merged",
        user.user_id
    )))
}

/// One attempt of [`merge_on_login`]; `None` when another request moved the
/// user's cart pointer meanwhile.
async fn try_merge(state: &AppState, guest_id: Uuid, user: Principal) -> Result<Option<Option<Uuid>>, ApiError> {
    let current = state.carts.user_cart(user.user_id).await?;
    let guest = match state.carts.load(guest_id).await? {
        Some(c) if c.owner_id.is_none() && c.status == CartStatus::Open => c,
        _ => return Ok(Some(current)),
    };
    let target = match current {
        Some(id) if id != guest_id => match state.carts.load(id).await? {
            Some(c) if c.status == CartStatus::Open => Some(c.id),
            _ => None,
        },
        _ => None,
    };
    let Some(target) = target else {
        // No open cart yet: the guest cart becomes the user's, if the
        // pointer still says what it said.
        if !state
            .carts
            .swap_user_cart(user.user_id, current, Some(guest_id))
            .await?
        {
            return Ok(None);
        }
        update(state, guest_id, None, |c| {
            c.owner_id = Some(user.user_id);
            Ok(())
        })
        .await?;
        return Ok(Some(Some(guest_id)));
    };
    update(state, target, Some(&user), |c| {
        c.absorb(&guest);
        Ok(())
    })
    .await?;
    update(state, guest_id, None, |c| {
        c.status = CartStatus::Merged;
        c.merged_into = Some(target);
        Ok(())
    })
    .await?;
    Ok(Some(Some(target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product: u128, qty: i64, price: i64) -> CartLine {
        CartLine {
            id: Uuid::new_v4(),
            product_id: Uuid::from_u128(product),
            sku: format!("SKU-{product}"),
            name: "thing".into(),
            brand: "Acme".into(),
            category_path: vec!["tools".into()],
            quantity: qty,
            unit_price_minor: price,
            product_version: 1,
        }
    }

    #[test]
    fn coupon_codes_are_normalised_and_injection_is_refused() {
        assert_eq!(normalize_coupon(" spring-10 ").unwrap(), "SPRING-10");
        for bad in ["", "' OR 1=1 --", "<script>", "A".repeat(33).as_str(), "DROP TABLE;"] {
            assert!(normalize_coupon(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn absorb_sums_quantities_and_keeps_unique_coupons() {
        let mut mine = Cart::new(Some(Uuid::new_v4()), "ZAR");
        mine.lines.push(line(1, 2, 1000));
        mine.coupons.push("A".into());
        let mut guest = Cart::new(None, "ZAR");
        guest.lines.push(line(1, 3, 1000));
        guest.lines.push(line(2, 1, 500));
        guest.coupons.extend(["A".to_owned(), "B".to_owned()]);
        mine.absorb(&guest);
        assert_eq!(mine.lines.len(), 2);
        assert_eq!(mine.lines[0].quantity, 5);
        assert_eq!(mine.coupons, vec!["A", "B"]);
        assert_eq!(mine.subtotal_minor().unwrap(), 5 * 1000 + 500);
    }

    #[test]
    fn absorb_caps_quantity() {
        let mut mine = Cart::new(None, "ZAR");
        mine.lines.push(line(1, MAX_QUANTITY - 1, 1));
        let mut guest = Cart::new(None, "ZAR");
        guest.lines.push(line(1, 5, 1));
        mine.absorb(&guest);
        assert_eq!(mine.lines[0].quantity, MAX_QUANTITY);
    }

    #[test]
    fn owned_carts_are_hidden_from_others() {
        let owner = Principal {
            user_id: Uuid::new_v4(),
            role: crate::auth::Role::Shopper,
        };
        let other = Principal {
            user_id: Uuid::new_v4(),
            role: crate::auth::Role::Shopper,
        };
        let cart = Cart::new(Some(owner.user_id), "ZAR");
        assert!(cart.visible_to(Some(&owner)));
        assert!(!cart.visible_to(Some(&other)));
        assert!(!cart.visible_to(None));
        assert!(Cart::new(None, "ZAR").visible_to(None));
    }
}
