//! Orders: made from a cart in one database transaction.
//!
//! The transaction re-reads every product, refuses the order if a price
//! differs from the one the shopper saw in the cart, and reserves stock with a
//! conditional decrement (`stock >= quantity`), so concurrent checkouts of the
//! last units never oversell: on Postgres the row lock makes the second
//! decrement re-check the new value; on SQLite writers are serialised. The
//! order, its lines, its price adjustments, its payment reference, its first
//! state event and the outbox rows commit together or not at all.
//!
//! `cart_id` is unique among orders, so a cart becomes at most one order, and
//! an order remembers the `Idempotency-Key` it was made with, so a retry that
//! arrives after a crash (order committed, answer lost) gets the same order.

pub mod http;
pub mod refunds;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::carts::{Cart, CartStatus, CartStore as _};
use crate::db::{BeginWrite as _, is_unique_violation};
use crate::error::ApiError;
use crate::money::{Money, line_total};
use crate::outbox::OutboxEvent;
use crate::state::AppState;
use crate::{with_db, write_outbox};

/// Inserts an `order_events` row. A macro so it type-checks per engine.
macro_rules! record_event {
    ($exec:expr, $order:expr, $position:expr, $from:expr, $to:expr, $actor:expr, $note:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO order_events (order_id, position, from_status, to_status, actor_id, note, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($order)
        .bind($position)
        .bind($from)
        .bind($to)
        .bind($actor)
        .bind($note)
        .bind($at)
        .execute($exec)
        .await
    };
}
pub(crate) use record_event;

/// Records that order `$order` moved `$from` → `$to` (`&str`s), in the
/// transaction `$tx` that moved it: the next event in its history, and the
/// `order.status_changed` outbox row. `$actor` is the user who moved it, if
/// any.
macro_rules! record_transition {
    ($tx:ident, $order:expr, $from:expr, $to:expr, $actor:expr, $note:expr, $at:expr) => {{
        let order: uuid::Uuid = $order;
        let (from, to): (&str, &str) = ($from, $to);
        let position: i32 =
            sqlx::query_scalar("SELECT COALESCE(MAX(position), -1) + 1 FROM order_events WHERE order_id = $1")
                .bind(order)
                .fetch_one(&mut *$tx)
                .await?;
        $crate::orders::record_event!(&mut *$tx, order, position, Some(from), to, $actor, $note, $at)?;
        $crate::write_outbox!(&mut *$tx, &$crate::outbox::OutboxEvent {
            topic: "order.status_changed",
            entity: format!("order:{order}"),
            surrogate_keys: vec![],
            payload: serde_json::json!({ "order_id": order, "from": from, "to": to }),
        })?;
    }};
}
pub(crate) use record_transition;

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed; payment authorised or pending, not captured.
    AwaitingPayment,
    /// Payment captured.
    Paid,
    /// Shipped or collected.
    Fulfilled,
    /// Cancelled before payment; stock released.
    Cancelled,
    /// Refunded in full.
    Refunded,
    /// Refunded in part.
    PartiallyRefunded,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 6] = [
        Self::AwaitingPayment,
        Self::Paid,
        Self::Fulfilled,
        Self::Cancelled,
        Self::Refunded,
        Self::PartiallyRefunded,
    ];

    /// Whether an order in this status may move to `to`. The whole state
    /// machine:
    ///
    /// ```text
    /// awaiting_payment ─► paid ─► fulfilled
    ///        │             │          │
    ///        ▼             ▼          ▼
    ///    cancelled   refunded / partially_refunded ─► refunded
    /// ```
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (AwaitingPayment, Paid | Cancelled)
                | (Paid, Fulfilled | Refunded | PartiallyRefunded)
                | (Fulfilled, Refunded | PartiallyRefunded)
                | (PartiallyRefunded, PartiallyRefunded | Refunded)
        )
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unknown order status `{s}` in the database")))
    }
}

/// Level a price adjustment applies at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentLevel {
    /// One line.
    Line,
    /// The whole order's goods.
    Order,
    /// The shipping fee.
    Shipping,
}

impl AdjustmentLevel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::Order => "order",
            Self::Shipping => "shipping",
        }
    }
}

/// The plugin that produced an adjustment, for audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRef {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
}

/// A discount to record on the order (computed by promotion plugins at the edge).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    /// Where it applies.
    pub level: AdjustmentLevel,
    /// The cart line, for `line` adjustments.
    pub line_id: Option<Uuid>,
    /// Amount taken off, in minor units, > 0.
    pub amount_minor: i64,
    /// Why, as shown to the shopper.
    pub reason: String,
    /// The coupon code it consumed, if any.
    pub coupon: Option<String>,
    /// The plugin that computed it.
    pub plugin: Option<PluginRef>,
}

/// State of a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Started, not yet authorised.
    Pending,
    /// Authorised, to be captured.
    Authorized,
    /// Captured.
    Captured,
    /// Authorisation released.
    Voided,
    /// Failed.
    Failed,
}

impl PaymentStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "authorized" => Self::Authorized,
            "captured" => Self::Captured,
            "voided" => Self::Voided,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// The payment an order was placed with (authorised at the edge).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// The payment plugin's name, e.g. `testpay`.
    pub provider: String,
    /// The provider's reference for the authorisation.
    pub reference: String,
    /// Its state.
    pub status: PaymentStatus,
    /// Amount in minor units; must equal the order total.
    pub amount_minor: i64,
}

/// A request to place an order.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// The cart to buy.
    pub cart_id: Uuid,
    /// Contact email (guests).
    pub email: Option<String>,
    /// Discounts from the promotion plugins. Only accepted on requests signed
    /// by an edge.
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    /// The payment authorisation. Only accepted on requests signed by an edge.
    pub payment: Option<PaymentInput>,
    /// With a `pending` payment: the order was taken while the provider was
    /// down, and the origin authorizes it later (see `origin/src/payments.rs`).
    /// Only accepted on requests signed by an edge.
    #[serde(default)]
    pub deferred_authorization: Option<crate::payments::DeferredAuthorization>,
    /// The total the shopper was shown; if given and different, 409.
    pub expected_total_minor: Option<i64>,
    /// How many orders the cart's owner had placed with each of the cart's
    /// coupons when the cart was priced (`coupon_uses` of
    /// `GET /api/v1/carts/{id}`; a code not listed had none). When given,
    /// the order's transaction locks the customer and counts again, and a
    /// coupon an adjustment consumes that was used since is refused with
    /// 409 `coupon_uses_changed`: two checkouts at once cannot both spend a
    /// once-per-customer coupon.
    #[serde(default)]
    pub coupon_uses: Option<Vec<crate::carts::CouponUse>>,
}

/// The refusal for the first coupon in `consumed` whose orders `counted`
/// (code, orders; from [`crate::carts::COUPON_USES_SQL`]) differ from what
/// the cart was `priced` with; a code missing from either had none.
fn coupon_uses_changed(
    consumed: &std::collections::BTreeSet<String>,
    counted: &[(String, i64)],
    priced: &[crate::carts::CouponUse],
) -> Option<ApiError> {
    consumed.iter().find_map(|code| {
        let used = counted.iter().find(|(c, _)| c == code).map_or(0, |(_, n)| *n);
        let priced_with = priced
            .iter()
            .find(|u| u.code.eq_ignore_ascii_case(code))
            .map_or(0, |u| i64::from(u.uses));
        (used != priced_with).then(|| ApiError::Conflict {
            code: "coupon_uses_changed",
            message: format!(
                "coupon {code} has been used in {used} orders, not {priced_with}, since the cart was priced"
            ),
            details: Some(json!({ "coupon": code, "uses": used })),
        })
    })
}

/// A line of an order.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    /// The cart line it came from.
    pub cart_line_id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// Product version sold (after this order's stock change).
    pub product_version: i64,
    /// SKU.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// Units.
    pub quantity: i64,
    /// Price of one unit.
    pub unit_price_minor: i64,
    /// `unit × quantity`.
    pub line_total_minor: i64,
}

/// A payment record.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    /// Provider (payment plugin) name.
    pub provider: String,
    /// Provider's reference.
    pub reference: String,
    /// State.
    pub status: PaymentStatus,
    /// Amount.
    pub amount: Money,
}

/// An order.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Order {
    /// Order id.
    pub id: Uuid,
    /// The cart it was made from.
    pub cart_id: Uuid,
    /// The signed-in customer, if any.
    pub customer_id: Option<Uuid>,
    /// Contact email.
    pub email: Option<String>,
    /// State.
    pub status: OrderStatus,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Discounts applied.
    pub adjustments: Vec<Adjustment>,
    /// The payment, if one was given.
    pub payment: Option<Payment>,
    /// Σ line totals.
    pub subtotal: Money,
    /// Σ line and order adjustments.
    pub discount: Money,
    /// Shipping after shipping adjustments.
    pub shipping: Money,
    /// What the customer pays.
    pub total: Money,
    /// Refunded so far.
    pub refunded: Money,
    /// Placed at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Totals of an order being placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Σ line totals.
    pub subtotal: i64,
    /// Σ line and order adjustments.
    pub discount: i64,
    /// Shipping fee minus shipping adjustments.
    pub shipping: i64,
    /// subtotal − discount + shipping.
    pub total: i64,
}

/// Checks `adjustments` against `cart` and computes the totals.
///
/// Line adjustments must name a line of the cart and together take at most
/// that line's total; line and order adjustments together take at most the
/// subtotal; shipping adjustments at most the shipping fee. Nothing goes
/// below zero.
pub fn totals(cart: &Cart, adjustments: &[Adjustment], shipping_fee: i64) -> Result<Totals, ApiError> {
    let bad = |m: String| ApiError::unprocessable("invalid_adjustment", m);
    let subtotal = cart.subtotal_minor()?;
    let mut discount = 0i64;
    let mut shipping_discount = 0i64;
    let mut per_line: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
    for (i, a) in adjustments.iter().enumerate() {
        if a.amount_minor <= 0 {
            return Err(bad(format!("adjustment {i}: amount_minor must be positive")));
        }
        if a.reason.trim().is_empty() || a.reason.chars().count() > 200 || a.reason.chars().any(char::is_control) {
            return Err(bad(format!(
                "adjustment {i}: reason must be 1 to 200 printable characters"
            )));
        }
        if let Some(code) = &a.coupon {
            crate::carts::normalize_coupon(code)?;
        }
        match (a.level, a.line_id) {
            (AdjustmentLevel::Line, Some(line_id)) => {
                let line = cart
                    .lines
                    .iter()
                    .find(|l| l.id == line_id)
                    .ok_or_else(|| bad(format!("adjustment {i}: line {line_id} is not in the cart")))?;
                let taken = per_line.entry(line_id).or_default();
                *taken = taken.saturating_add(a.amount_minor);
                if *taken > line.unit_price_minor.saturating_mul(line.quantity) {
                    return Err(bad(format!("adjustments to line {line_id} exceed its total")));
                }
                discount = discount.saturating_add(a.amount_minor);
            }
            (AdjustmentLevel::Line, None) => {
                return Err(bad(format!("adjustment {i}: a line adjustment needs line_id")));
            }
            (_, Some(_)) => return Err(bad(format!("adjustment {i}: only line adjustments name a line"))),
            (AdjustmentLevel::Order, None) => discount = discount.saturating_add(a.amount_minor),
            (AdjustmentLevel::Shipping, None) => shipping_discount = shipping_discount.saturating_add(a.amount_minor),
        }
    }
    if discount > subtotal {
        return Err(bad(format!(
            "discounts of {discount} exceed the subtotal of {subtotal}"
        )));
    }
    if shipping_discount > shipping_fee {
        return Err(bad(format!(
            "shipping discounts of {shipping_discount} exceed the fee of {shipping_fee}"
        )));
    }
    let shipping = shipping_fee - shipping_discount;
    Ok(Totals {
        subtotal,
        discount,
        shipping,
        total: subtotal - discount + shipping,
    })
}

/// Why a line could not be reserved.
#[derive(Debug, Serialize)]
struct LineProblem {
    line_id: Uuid,
    product_id: Uuid,
    sku: String,
    problem: &'static str,
    cart_price_minor: i64,
    current_price_minor: Option<i64>,
    requested: i64,
    available: Option<i64>,
}

/// Places an order from `request.cart_id`. `signed_by_edge` says whether the
/// request carried a valid edge signature (required for adjustments and
/// payments, which a shopper must not be able to invent).
pub async fn create(
    state: &AppState,
    principal: Option<&Principal>,
    request: CreateOrder,
    idempotency_key: Option<&str>,
    signed_by_edge: bool,
) -> Result<Order, ApiError> {
    if !signed_by_edge
        && (!request.adjustments.is_empty() || request.payment.is_some() || request.deferred_authorization.is_some())
    {
        return Err(ApiError::Forbidden(
            "adjustments and payments are accepted only from a signed edge request".into(),
        ));
    }
    if let Some(email) = &request.email {
        if email.len() > 254 || !email.contains('@') || email.chars().any(char::is_control) {
            return Err(ApiError::unprocessable("invalid_email", "email is not a valid address"));
        }
    }
    let cart = crate::carts::load_visible(state, request.cart_id, principal).await?;
    if cart.status != CartStatus::Open {
        return existing_for_retry(state, &cart, idempotency_key).await;
    }
    if cart.lines.is_empty() {
        return Err(ApiError::unprocessable("empty_cart", "the cart has no lines"));
    }
    let fee = state.config.shipping_fee_minor;
    let totals = totals(&cart, &request.adjustments, fee)?;
    if let Some(expected) = request.expected_total_minor {
        if expected != totals.total {
            return Err(ApiError::Conflict {
                code: "total_changed",
                message: format!("the total is now {}, not {expected}", totals.total),
                details: Some(json!({ "total_minor": totals.total })),
            });
        }
    }
    if let Some(p) = &request.payment {
        let ok_name = (1..=64).contains(&p.provider.len())
            && p.provider
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok_name || !(1..=128).contains(&p.reference.len()) || p.reference.chars().any(char::is_control) {
            return Err(ApiError::unprocessable(
                "invalid_payment",
                "payment provider or reference is malformed",
            ));
        }
        let deferred_ok = match (&request.deferred_authorization, p.status) {
            (None, _) => true,
            (Some(d), PaymentStatus::Pending) => d.check().is_ok(),
            (Some(_), _) => false,
        };
        if !deferred_ok {
            return Err(ApiError::unprocessable(
                "invalid_payment",
                "a deferred authorization needs a pending payment and a well-formed token and key",
            ));
        }
        if p.amount_minor != totals.total {
            return Err(ApiError::unprocessable(
                "payment_amount_mismatch",
                format!(
                    "payment of {} does not match the order total of {}",
                    p.amount_minor, totals.total
                ),
            ));
        }
    }
    let status = match request.payment.as_ref().map(|p| p.status) {
        Some(PaymentStatus::Captured) => OrderStatus::Paid,
        _ => OrderStatus::AwaitingPayment,
    };
    let order_id = Uuid::new_v4();
    let now = Utc::now();
    // The cart's owner is the customer; a guest cart checked out by a
    // signed-in shopper becomes theirs.
    let customer_id = cart.owner_id.or(principal
        .filter(|p| p.role == crate::auth::Role::Shopper)
        .map(|p| p.user_id));
    let currency = cart.currency.clone();

    let consumed: std::collections::BTreeSet<String> = request
        .adjustments
        .iter()
        .filter_map(|a| a.coupon.as_deref())
        .map(str::to_ascii_uppercase)
        .collect();
    // Lock rows in a fixed order so two checkouts never deadlock.
    let mut lines: Vec<&crate::carts::CartLine> = cart.lines.iter().collect();
    lines.sort_by_key(|l| l.product_id);

    let outcome: Result<Vec<i64>, ApiError> = with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await?;
        // The customer first, then the products: one lock order for every
        // checkout, so two never deadlock.
        if let (Some(priced), Some(customer)) = (&request.coupon_uses, customer_id)
            && !consumed.is_empty()
        {
            sqlx::query("UPDATE users SET id = id WHERE id = $1")
                .bind(customer)
                .execute(&mut *tx)
                .await?;
            let rows: Vec<(String, i64)> = sqlx::query_as(crate::carts::COUPON_USES_SQL)
                .bind(customer)
                .bind(cart.id)
                .fetch_all(&mut *tx)
                .await?;
            if let Some(changed) = coupon_uses_changed(&consumed, &rows, priced) {
                tx.rollback().await?;
                return Err(changed);
            }
        }
        let mut versions = Vec::with_capacity(lines.len());
        let mut problems = Vec::new();
        for line in &lines {
            let reserved: Option<i64> = sqlx::query_scalar(
                "UPDATE products SET stock = stock - $1, version = version + 1, popularity = popularity + $1, \
                 updated_at = $2 WHERE id = $3 AND stock >= $1 AND price_minor = $4 RETURNING version",
            )
            .bind(line.quantity)
            .bind(now)
            .bind(line.product_id)
            .bind(line.unit_price_minor)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(version) = reserved {
                versions.push(version);
                continue;
            }
            let current: Option<(i64, i64)> =
                sqlx::query_as("SELECT price_minor, stock FROM products WHERE id = $1")
                    .bind(line.product_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (problem, price, available) = match current {
                None => ("product_gone", None, None),
                Some((price, stock)) if price != line.unit_price_minor => ("price_changed", Some(price), Some(stock)),
                Some((price, stock)) => ("insufficient_stock", Some(price), Some(stock)),
            };
            problems.push(LineProblem {
                line_id: line.id,
                product_id: line.product_id,
                sku: line.sku.clone(),
                problem,
                cart_price_minor: line.unit_price_minor,
                current_price_minor: price,
                requested: line.quantity,
                available,
            });
        }
        if !problems.is_empty() {
            tx.rollback().await?;
            return Err(reservation_failed(problems));
        }
        let inserted = sqlx::query(
            "INSERT INTO orders (id, cart_id, customer_id, email, status, currency, subtotal_minor, discount_minor, \
             shipping_minor, total_minor, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(order_id)
        .bind(cart.id)
        .bind(customer_id)
        .bind(&request.email)
        .bind(status.as_str())
        .bind(&currency)
        .bind(totals.subtotal)
        .bind(totals.discount)
        .bind(totals.shipping)
        .bind(totals.total)
        .bind(idempotency_key)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                return Err(ApiError::conflict("cart_closed", format!("cart {} was already checked out", cart.id)));
            }
            Err(e) => return Err(e.into()),
        }
        for (no, (line, version)) in lines.iter().zip(&versions).enumerate() {
            sqlx::query(
                "INSERT INTO order_lines (order_id, line_no, cart_line_id, product_id, product_version, sku, name, \
                 quantity, unit_price_minor, line_total_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(order_id)
            .bind(i32::try_from(no).unwrap_or(i32::MAX))
            .bind(line.id)
            .bind(line.product_id)
            .bind(version)
            .bind(&line.sku)
            .bind(&line.name)
            .bind(line.quantity)
            .bind(line.unit_price_minor)
            .bind(line_total(line.unit_price_minor, line.quantity).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        for (position, a) in request.adjustments.iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_adjustments (order_id, position, level, cart_line_id, amount_minor, reason, \
                 coupon_code, plugin_name, plugin_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(order_id)
            .bind(i32::try_from(position).unwrap_or(i32::MAX))
            .bind(a.level.as_str())
            .bind(a.line_id)
            .bind(a.amount_minor)
            .bind(&a.reason)
            .bind(a.coupon.as_deref().map(str::to_ascii_uppercase))
            .bind(a.plugin.as_ref().map(|p| p.name.as_str()))
            .bind(a.plugin.as_ref().map(|p| p.version.as_str()))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(p) = &request.payment {
            let payment_id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO payments (id, order_id, provider, reference, status, amount_minor, currency, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(payment_id)
            .bind(order_id)
            .bind(&p.provider)
            .bind(&p.reference)
            .bind(p.status.as_str())
            .bind(p.amount_minor)
            .bind(&currency)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) {
                ApiError::conflict("payment_reused", "this payment reference already belongs to an order")
            } else {
                e.into()
            })?;
            // What the origin owes the provider from here: the capture of an
            // authorized payment, or the authorization of a deferred one.
            match (p.status, &request.deferred_authorization) {
                (PaymentStatus::Authorized, _) if p.amount_minor > 0 => {
                    crate::payments::enqueue_task!(
                        &mut *tx, crate::payments::TaskKind::Capture, order_id, payment_id, None,
                        p.amount_minor, "{}", None
                    )?;
                }
                (PaymentStatus::Pending, Some(deferred)) if p.amount_minor > 0 => {
                    let give_up = now.timestamp_millis().saturating_add(
                        i64::try_from(state.config.payments.deferred_auth_timeout_secs.saturating_mul(1000))
                            .unwrap_or(i64::MAX),
                    );
                    let payload = serde_json::to_string(deferred).map_err(|e| ApiError::Internal(e.into()))?;
                    crate::payments::enqueue_task!(
                        &mut *tx, crate::payments::TaskKind::Authorize, order_id, payment_id, None,
                        p.amount_minor, payload, Some(give_up)
                    )?;
                }
                _ => {}
            }
        }
        record_event!(&mut *tx, order_id, 0, None::<&str>, status.as_str(), principal.map(|p| p.user_id), Some("placed"), now)?;
        write_outbox!(&mut *tx, &OutboxEvent {
            topic: "order.created",
            entity: format!("order:{order_id}"),
            surrogate_keys: vec![],
            payload: json!({ "order_id": order_id, "status": status.as_str(), "total_minor": totals.total, "currency": currency }),
        })?;
        for (line, version) in lines.iter().zip(&versions) {
            write_outbox!(&mut *tx, &OutboxEvent {
                topic: "product.stock_changed",
                entity: format!("product:{}", line.product_id),
                surrogate_keys: crate::catalog::product_surrogate_keys(line.product_id, "", false),
                payload: json!({ "product_id": line.product_id, "delta": -line.quantity, "version": version, "cause": "order", "order_id": order_id }),
            })?;
        }
        tx.commit().await?;
        Ok(versions)
    });
    if let Err(ApiError::Conflict {
        code: "cart_closed", ..
    }) = &outcome
    {
        // Lost a race with another checkout of the same cart.
        let cart = crate::carts::load_visible(state, cart.id, principal).await?;
        return existing_for_retry(state, &cart, idempotency_key).await;
    }
    outcome?;
    metrics::counter!("vitrine_orders_created_total").increment(1);
    close_cart(state, cart.id, order_id).await;
    load(state, order_id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("order {order_id} vanished")))
}

fn reservation_failed(problems: Vec<LineProblem>) -> ApiError {
    let price_changed = problems
        .iter()
        .any(|p| p.problem == "price_changed" || p.problem == "product_gone");
    let (code, what) = if price_changed {
        (
            "price_changed",
            "prices or products changed since they were added to the cart",
        )
    } else {
        ("insufficient_stock", "not enough stock for every line")
    };
    let skus: Vec<&str> = problems.iter().map(|p| p.sku.as_str()).collect();
    ApiError::Conflict {
        code,
        message: format!("{what}: {}", skus.join(", ")),
        details: Some(json!({ "lines": problems })),
    }
}

/// The answer for a checkout of a cart that is no longer open: the existing
/// order if this is a retry with the key that made it, else 409.
async fn existing_for_retry(state: &AppState, cart: &Cart, key: Option<&str>) -> Result<Order, ApiError> {
    let made_by: Option<(Uuid, Option<String>)> = with_db!(&state.db, pool => sqlx::query_as(
        "SELECT id, idempotency_key FROM orders WHERE cart_id = $1"
    ).bind(cart.id).fetch_optional(pool).await)?;
    if let Some((order_id, stored_key)) = made_by {
        close_cart(state, cart.id, order_id).await;
        if key.is_some() && stored_key.as_deref() == key {
            return load(state, order_id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("order {order_id}")));
        }
        return Err(ApiError::Conflict {
            code: "cart_closed",
            message: format!("cart {} was checked out as order {order_id}", cart.id),
            details: Some(json!({ "order_id": order_id })),
        });
    }
    Err(crate::carts::closed(cart))
}

/// Marks cart `cart_id` checked out as `order_id`. Best effort: the order is
/// already committed, and a cart left open is repaired on the next checkout
/// attempt (which finds the order by `cart_id`).
async fn close_cart(state: &AppState, cart_id: Uuid, order_id: Uuid) {
    let result = crate::carts::update_any(state, cart_id, |c| {
        c.status = CartStatus::CheckedOut;
        c.order_id = Some(order_id);
    })
    .await;
    match result {
        Ok(Some(cart)) => {
            if let Some(owner) = cart.owner_id {
                // Unless the pointer has moved on to another cart already.
                let _ = state.carts.swap_user_cart(owner, Some(cart_id), None).await;
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(%cart_id, %order_id, error = %e, "order placed but cart not closed"),
    }
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    cart_id: Uuid,
    customer_id: Option<Uuid>,
    email: Option<String>,
    status: String,
    currency: String,
    subtotal_minor: i64,
    discount_minor: i64,
    shipping_minor: i64,
    total_minor: i64,
    refunded_minor: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    cart_line_id: Uuid,
    product_id: Uuid,
    product_version: i64,
    sku: String,
    name: String,
    quantity: i64,
    unit_price_minor: i64,
    line_total_minor: i64,
}

#[derive(sqlx::FromRow)]
struct AdjustmentRow {
    level: String,
    cart_line_id: Option<Uuid>,
    amount_minor: i64,
    reason: String,
    coupon_code: Option<String>,
    plugin_name: Option<String>,
    plugin_version: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    provider: String,
    reference: String,
    status: String,
    amount_minor: i64,
    currency: String,
}

/// The order with `id`, if any.
pub async fn load(state: &AppState, id: Uuid) -> Result<Option<Order>, ApiError> {
    let (order, lines, adjustments, payment) = with_db!(&state.db, pool => {
        let order: Option<OrderRow> = sqlx::query_as(
            "SELECT id, cart_id, customer_id, email, status, currency, subtotal_minor, discount_minor, \
             shipping_minor, total_minor, refunded_minor, created_at, updated_at FROM orders WHERE id = $1",
        ).bind(id).fetch_optional(pool).await?;
        let Some(order) = order else { return Ok(None) };
        let lines: Vec<LineRow> = sqlx::query_as(
            "SELECT cart_line_id, product_id, product_version, sku, name, quantity, unit_price_minor, \
             line_total_minor FROM order_lines WHERE order_id = $1 ORDER BY line_no",
        ).bind(id).fetch_all(pool).await?;
        let adjustments: Vec<AdjustmentRow> = sqlx::query_as(
            "SELECT level, cart_line_id, amount_minor, reason, coupon_code, plugin_name, plugin_version \
             FROM order_adjustments WHERE order_id = $1 ORDER BY position",
        ).bind(id).fetch_all(pool).await?;
        let payment: Option<PaymentRow> = sqlx::query_as(
            "SELECT provider, reference, status, amount_minor, currency FROM payments WHERE order_id = $1 \
             ORDER BY created_at DESC LIMIT 1",
        ).bind(id).fetch_optional(pool).await?;
        (order, lines, adjustments, payment)
    });
    let c = order.currency.clone();
    Ok(Some(Order {
        id: order.id,
        cart_id: order.cart_id,
        customer_id: order.customer_id,
        email: order.email,
        status: OrderStatus::parse(&order.status)?,
        lines: lines
            .into_iter()
            .map(|l| OrderLine {
                cart_line_id: l.cart_line_id,
                product_id: l.product_id,
                product_version: l.product_version,
                sku: l.sku,
                name: l.name,
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
                line_total_minor: l.line_total_minor,
            })
            .collect(),
        adjustments: adjustments
            .into_iter()
            .map(|a| Adjustment {
                level: match a.level.as_str() {
                    "line" => AdjustmentLevel::Line,
                    "shipping" => AdjustmentLevel::Shipping,
                    _ => AdjustmentLevel::Order,
                },
                line_id: a.cart_line_id,
                amount_minor: a.amount_minor,
                reason: a.reason,
                coupon: a.coupon_code,
                plugin: a
                    .plugin_name
                    .zip(a.plugin_version)
                    .map(|(name, version)| PluginRef { name, version }),
            })
            .collect(),
        payment: payment.map(|p| Payment {
            provider: p.provider,
            reference: p.reference,
            status: PaymentStatus::parse(&p.status),
            amount: Money::new(p.amount_minor, p.currency),
        }),
        subtotal: Money::new(order.subtotal_minor, &c),
        discount: Money::new(order.discount_minor, &c),
        shipping: Money::new(order.shipping_minor, &c),
        total: Money::new(order.total_minor, &c),
        refunded: Money::new(order.refunded_minor, &c),
        created_at: order.created_at,
        updated_at: order.updated_at,
    }))
}

/// The order with `id` as `principal` may see it: its customer, staff, or
/// anyone holding the id of a guest order. 404 otherwise.
pub async fn load_visible(state: &AppState, id: Uuid, principal: Option<&Principal>) -> Result<Order, ApiError> {
    let order = load(state, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("order {id}")))?;
    let visible = match order.customer_id {
        None => true,
        Some(customer) => principal.is_some_and(|p| p.user_id == customer || p.is_staff()),
    };
    if visible {
        Ok(order)
    } else {
        Err(ApiError::NotFound(format!("order {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carts::CartLine;

    fn cart_with(lines: &[(i64, i64)]) -> Cart {
        let mut cart = Cart::new(None, "ZAR");
        for &(price, qty) in lines {
            cart.lines.push(CartLine {
                id: Uuid::new_v4(),
                product_id: Uuid::new_v4(),
                sku: "S".into(),
                name: "n".into(),
                brand: "b".into(),
                category_path: vec![],
                quantity: qty,
                unit_price_minor: price,
                product_version: 1,
            });
        }
        cart
    }

    fn adj(level: AdjustmentLevel, line_id: Option<Uuid>, amount: i64) -> Adjustment {
        Adjustment {
            level,
            line_id,
            amount_minor: amount,
            reason: "sale".into(),
            coupon: None,
            plugin: None,
        }
    }

    #[test]
    fn state_machine_allows_only_the_documented_moves() {
        use OrderStatus::*;
        let allowed = [
            (AwaitingPayment, Paid),
            (AwaitingPayment, Cancelled),
            (Paid, Fulfilled),
            (Paid, Refunded),
            (Paid, PartiallyRefunded),
            (Fulfilled, Refunded),
            (Fulfilled, PartiallyRefunded),
            (PartiallyRefunded, PartiallyRefunded),
            (PartiallyRefunded, Refunded),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn totals_add_up_by_hand() {
        // 2 × 249.99 + 1 × 100.00 = 599.98; 10% off line 1 (50.00), R20 off the
        // order, shipping 99.00 with 99.00 off: 599.98 − 70.00 + 0 = 529.98
        let cart = cart_with(&[(24_999, 2), (10_000, 1)]);
        let l1 = cart.lines[0].id;
        let t = totals(
            &cart,
            &[
                adj(AdjustmentLevel::Line, Some(l1), 5_000),
                adj(AdjustmentLevel::Order, None, 2_000),
                adj(AdjustmentLevel::Shipping, None, 9_900),
            ],
            9_900,
        )
        .unwrap();
        assert_eq!(
            t,
            Totals {
                subtotal: 59_998,
                discount: 7_000,
                shipping: 0,
                total: 52_998
            }
        );
    }

    #[test]
    fn adjustments_never_take_more_than_there_is() {
        let cart = cart_with(&[(1_000, 1)]);
        let l1 = cart.lines[0].id;
        let cases = [
            vec![adj(AdjustmentLevel::Line, Some(l1), 1_001)],
            vec![
                adj(AdjustmentLevel::Line, Some(l1), 600),
                adj(AdjustmentLevel::Line, Some(l1), 401),
            ],
            vec![adj(AdjustmentLevel::Order, None, 1_001)],
            vec![adj(AdjustmentLevel::Shipping, None, 501)],
            vec![adj(AdjustmentLevel::Order, None, 0)],
            vec![adj(AdjustmentLevel::Order, None, -5)],
            vec![adj(AdjustmentLevel::Line, Some(Uuid::new_v4()), 1)],
            vec![adj(AdjustmentLevel::Line, None, 1)],
            vec![adj(AdjustmentLevel::Order, Some(l1), 1)],
        ];
        for case in cases {
            assert!(totals(&cart, &case, 500).is_err(), "{case:?}");
        }
        assert_eq!(totals(&cart, &[], 500).unwrap().total, 1_500);
    }
}

/// Moves order `id` to `to` as `actor`, if the state machine allows it.
/// Cancelling returns the reserved stock. Refund states are reached through
/// refund approval ([`refunds::decide`]), not here.
pub async fn transition(
    state: &AppState,
    actor: &Principal,
    id: Uuid,
    to: OrderStatus,
    note: Option<&str>,
) -> Result<Order, ApiError> {
    actor.require(crate::auth::Permission::ManageOrders)?;
    move_order(state, Some(actor.user_id), id, to, note).await
}

/// [`transition`] without the permission check, for the origin's own moves
/// (`actor` is `None`: a payment that never came cancels its order).
pub async fn move_order(
    state: &AppState,
    actor: Option<Uuid>,
    id: Uuid,
    to: OrderStatus,
    note: Option<&str>,
) -> Result<Order, ApiError> {
    if matches!(to, OrderStatus::Refunded | OrderStatus::PartiallyRefunded) {
        return Err(ApiError::unprocessable(
            "use_refunds",
            "refund states are reached by approving a refund request",
        ));
    }
    let now = Utc::now();
    with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await?;
        let current: Option<String> = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
            .bind(id).fetch_optional(&mut *tx).await?;
        let Some(current) = current else {
            return Err(ApiError::NotFound(format!("order {id}")));
        };
        let from = OrderStatus::parse(&current)?;
        if !from.can_become(to) {
            return Err(ApiError::Conflict {
                code: "illegal_transition",
                message: format!("an order that is {} cannot become {}", from.as_str(), to.as_str()),
                details: Some(json!({ "from": from.as_str(), "to": to.as_str() })),
            });
        }
        // Compare-and-set on the status read above, so two managers moving
        // one order at once cannot both succeed from the same state.
        let moved = sqlx::query(
            "UPDATE orders SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND status = $4",
        ).bind(to.as_str()).bind(now).bind(id).bind(from.as_str()).execute(&mut *tx).await?.rows_affected();
        if moved != 1 {
            return Err(ApiError::conflict("order_busy", "the order changed concurrently, retry"));
        }
        if to == OrderStatus::Cancelled {
            let lines: Vec<(Uuid, i64)> = sqlx::query_as(
                "SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id",
            ).bind(id).fetch_all(&mut *tx).await?;
            for (product_id, quantity) in lines {
                sqlx::query(
                    "UPDATE products SET stock = stock + $1, version = version + 1, updated_at = $2 WHERE id = $3",
                ).bind(quantity).bind(now).bind(product_id).execute(&mut *tx).await?;
                write_outbox!(&mut *tx, &OutboxEvent {
                    topic: "product.stock_changed",
                    entity: format!("product:{product_id}"),
                    surrogate_keys: crate::catalog::product_surrogate_keys(product_id, "", false),
                    payload: json!({ "product_id": product_id, "delta": quantity, "cause": "order_cancelled", "order_id": id }),
                })?;
            }
        }
        record_transition!(tx, id, from.as_str(), to.as_str(), actor, note, now);
        tx.commit().await?;
        Ok::<(), ApiError>(())
    })?;
    load(state, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("order {id}")))
}
