//! Priced carts and checkout at the edge.
//!
//! - `GET /api/v1/carts/{id}`: the origin's cart, priced here with the
//!   installed promotion plugins in their stacking order (see
//!   `plugins::pricing`), under `pricing`: every adjustment with its plugin,
//!   version and reason, the promotions left out and why (`excluded`), those
//!   that failed (`skipped`: the cart is priced without them), and the
//!   totals in minor units.
//! - `POST /api/v1/checkout` with `Idempotency-Key`: load the cart, price
//!   it, authorize the total through the payment plugin, then create the
//!   order at the origin with the priced lines' adjustments (plugin name and
//!   version, for audit), the coupon use counts the promotions saw, and the
//!   authorization. The origin re-checks prices, stock, the adjustments and
//!   those counts in its transaction; when it refuses, the authorization is
//!   voided and the shopper told what changed.
//!
//! **Replays.** Every step is keyed by the cart and the shopper's key: the
//! provider's idempotency key is [`provider_idempotency_key`], the order
//! request carries the shopper's key (the origin remembers it on the order
//! and in its idempotency store). A repeat of a checkout, also one whose
//! first attempt died after the authorization and before the order, gets
//! the provider's first authorization back (no second charge) and the same
//! order. The edge keeps no state of its own.
//!
//! **A provider that is down** (its plugin reports the provider unavailable,
//! runs past its deadline, or is switched off by its breaker, which such
//! failures open): when the plugin's `capabilities` say the provider
//! supports deferred authorization, the order is placed with a `pending`
//! payment and the origin authorizes it later (`origin/src/payments.rs`);
//! the shopper gets 202. Otherwise the checkout fails fast with 503 and
//! `Retry-After`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::origin::OriginResponse;
use super::proxy::{self, Edge, error};
use crate::plugins::cart::CartBuilder;
use crate::plugins::types::{
    Authorization, AuthorizeRequest, Customer, Level, Money, PaymentCapabilities, PaymentStatus, VoidRequest,
};
use crate::plugins::{GuestError, PaymentAnswer, PaymentCall, PluginError, PluginHost, PromotionOutcome, World};

/// The edge's commerce paths, if `path` is one (checked before routing).
pub(crate) fn wants(method: &Method, path: &str) -> bool {
    match *method {
        Method::POST => path == "/api/v1/checkout",
        Method::GET => cart_id_of(path).is_some(),
        _ => false,
    }
}

/// The cart id of `GET /api/v1/carts/{id}` (and nothing below it).
fn cart_id_of(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/api/v1/carts/")?;
    is_uuid(id).then_some(id)
}

/// A UUID in its hyphenated form (any case); nothing else reaches a URL.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The provider's idempotency key for the authorization of checkout `key`
/// of cart `cart_id`: the same for every attempt of one checkout, different
/// for any other.
pub fn provider_idempotency_key(cart_id: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(cart_id.to_ascii_lowercase().as_bytes());
    h.update(b"\n");
    h.update(key.as_bytes());
    format!("chk_{}", &hex::encode(h.finalize())[..40])
}

/// What the edge remembers of each payment plugin's `capabilities`, by
/// plugin and component hash: asked once while the plugin answers, so that
/// it is known when its breaker is open.
#[derive(Debug, Default)]
pub(crate) struct KnownCapabilities {
    by_plugin: Mutex<HashMap<(String, String), PaymentCapabilities>>,
}

/// Answers a commerce path (see [`wants`]).
pub(crate) async fn handle(
    edge: &Arc<Edge>,
    request: Request,
    request_id: &HeaderValue,
    client: Option<SocketAddr>,
) -> Response {
    let (parts, body) = request.into_parts();
    let upstream = proxy::upstream_headers(&parts.headers, request_id, client);
    if parts.method == Method::GET {
        let Some(id) = cart_id_of(parts.uri.path()) else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such path");
        };
        return priced_cart(edge, id, &parts.headers, upstream).await;
    }
    let body = match proxy::read_body(edge, &parts.headers, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match checkout(edge, &parts.headers, upstream, &body).await {
        Ok(response) | Err(response) => response,
    }
}

// ── the priced cart ─────────────────────────────────────────────────────

/// The origin's cart view, as far as pricing reads it.
#[derive(Debug, Deserialize)]
struct OriginCart {
    id: String,
    owner_id: Option<String>,
    lines: Vec<OriginLine>,
    coupons: Vec<String>,
    subtotal: OriginMoney,
    shipping_fee: OriginMoney,
    #[serde(default)]
    coupon_uses: Vec<CouponUse>,
}

#[derive(Debug, Deserialize)]
struct OriginLine {
    id: String,
    product_id: String,
    sku: String,
    brand: String,
    category_path: Vec<String>,
    quantity: i64,
    unit_price: OriginMoney,
}

#[derive(Debug, Deserialize)]
struct OriginMoney {
    amount_minor: i64,
    currency: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct CouponUse {
    code: String,
    uses: u32,
}

/// One adjustment as the shopper (and the order) sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PricedAdjustment {
    /// The promotion plugin that made it.
    pub plugin: String,
    /// Its version.
    pub plugin_version: String,
    /// `line`, `order` or `shipping`.
    pub level: &'static str,
    /// The cart line, for `line` adjustments.
    pub line_id: Option<String>,
    /// Taken off, > 0.
    pub amount_minor: i64,
    /// Why, for the shopper.
    pub reason: String,
    /// The coupon it used up.
    pub coupon: Option<String>,
}

/// A cart priced at the edge.
#[derive(Debug)]
struct Priced {
    cart: OriginCart,
    /// The origin's answer, to extend.
    view: Value,
    adjustments: Vec<PricedAdjustment>,
    outcome: PromotionOutcome,
}

impl Priced {
    fn total(&self) -> i64 {
        self.outcome.totals.total_minor
    }

    fn currency(&self) -> &str {
        &self.cart.subtotal.currency
    }

    fn pricing_json(&self) -> Value {
        let t = &self.outcome.totals;
        json!({
            "currency": self.currency(),
            "adjustments": self.adjustments,
            "excluded": self.outcome.excluded.iter().map(|e| json!({
                "plugin": e.plugin,
                "reason": match &e.reason {
                    crate::plugins::Exclusion::AfterExclusive { by } => format!("{by} applies alone"),
                    crate::plugins::Exclusion::NotAlone { first } => format!("applies only alone, and {first} applied"),
                    crate::plugins::Exclusion::NothingLeft => "nothing left to discount".to_owned(),
                },
            })).collect::<Vec<_>>(),
            "skipped": self.outcome.skipped.iter().map(|(plugin, e)| json!({
                "plugin": plugin,
                "error": e.kind().as_str(),
                "message": e.to_string(),
            })).collect::<Vec<_>>(),
            "totals": {
                "subtotal_minor": t.subtotal_minor,
                "discount_minor": t.line_discount_minor + t.order_discount_minor,
                "shipping_fee_minor": t.shipping_minor,
                "shipping_discount_minor": t.shipping_discount_minor,
                "shipping_minor": t.shipping_minor - t.shipping_discount_minor,
                "total_minor": t.total_minor,
            },
        })
    }
}

async fn priced_cart(edge: &Arc<Edge>, id: &str, headers: &HeaderMap, upstream: HeaderMap) -> Response {
    let Some(host) = edge.plugins().cloned() else {
        // No plugins: the origin's cart is the whole answer.
        return match load_cart(edge, id, upstream).await {
            Ok(answer) => proxy::pass_origin(&answer),
            Err(response) => response,
        };
    };
    let priced = match price(edge, &host, id, headers, upstream).await {
        Ok(priced) => priced,
        Err(response) => return response,
    };
    let mut view = priced.view.clone();
    if let Some(object) = view.as_object_mut() {
        object.insert("pricing".into(), priced.pricing_json());
    }
    let mut response = json_response(StatusCode::OK, &view);
    response
        .headers_mut()
        .insert("x-vitrine-priced", HeaderValue::from_static("yes"));
    response
}

/// The origin's answer to `GET /api/v1/carts/{id}` for this shopper.
async fn load_cart(edge: &Edge, id: &str, mut upstream: HeaderMap) -> Result<OriginResponse, Response> {
    upstream.remove(header::CONTENT_TYPE);
    upstream.remove(header::IF_NONE_MATCH);
    upstream.remove(header::IF_MODIFIED_SINCE);
    let target = format!("/api/v1/carts/{id}");
    edge.origin_send(Method::GET, &target, upstream, Bytes::new())
        .await
        .map_err(|e| proxy::origin_failure(&e))
}

/// Loads cart `id` and prices it with the promotions.
async fn price(
    edge: &Edge,
    host: &Arc<PluginHost>,
    id: &str,
    headers: &HeaderMap,
    upstream: HeaderMap,
) -> Result<Priced, Response> {
    let answer = load_cart(edge, id, upstream).await?;
    if answer.status != StatusCode::OK {
        return Err(proxy::pass_origin(&answer));
    }
    let bad = |what: String| {
        tracing::warn!(cart = id, error = %what, "the origin's cart could not be read");
        error(
            StatusCode::BAD_GATEWAY,
            "bad_origin_response",
            "the origin's cart could not be read",
        )
    };
    let view: Value = serde_json::from_slice(&answer.body).map_err(|e| bad(e.to_string()))?;
    let cart: OriginCart = serde_json::from_value(view.clone()).map_err(|e| bad(e.to_string()))?;

    let mut builder = CartBuilder::new(cart.subtotal.currency.clone());
    for line in &cart.lines {
        let quantity = u32::try_from(line.quantity).map_err(|_| bad(format!("line {} quantity", line.id)))?;
        builder.line(
            line.product_id.clone(),
            line.sku.clone(),
            quantity,
            line.unit_price.amount_minor,
            &line.category_path,
            &line.brand,
        );
    }
    let context = edge.shopper_context(headers);
    builder
        .coupons(&cart.coupons)
        .shipping(cart.shipping_fee.amount_minor)
        .customer(Customer {
            id: cart.owner_id.clone(),
            segments: context.segments,
            coupon_uses: cart.coupon_uses.iter().map(|u| (u.code.clone(), u.uses)).collect(),
        });
    let plugin_cart = builder.build();
    let outcome = host.apply_promotions(&plugin_cart);
    let adjustments = outcome
        .applied
        .iter()
        .flat_map(|p| {
            let lines = &cart.lines;
            p.adjustments.iter().map(move |a| PricedAdjustment {
                plugin: p.plugin.clone(),
                plugin_version: p.version.clone(),
                level: match a.level {
                    Level::Line => "line",
                    Level::Order => "order",
                    Level::Shipping => "shipping",
                },
                line_id: a.line.and_then(|i| lines.get(i as usize)).map(|l| l.id.clone()),
                amount_minor: a.amount_minor,
                reason: a.reason.clone(),
                coupon: a.coupon.clone(),
            })
        })
        .collect();
    Ok(Priced {
        cart,
        view,
        adjustments,
        outcome,
    })
}

// ── checkout ────────────────────────────────────────────────────────────

/// A shopper's checkout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    cart_id: String,
    email: Option<String>,
    /// The payment method as the provider's front-end tokenised it.
    payment_token: String,
    /// The payment plugin; by default the only one installed.
    payment_provider: Option<String>,
    /// The total the shopper was shown; a different one is 409 before any
    /// payment is attempted.
    expected_total_minor: Option<i64>,
}

/// Longest `Idempotency-Key` accepted.
const MAX_KEY: usize = 128;

fn idempotency_key(headers: &HeaderMap) -> Result<&str, Response> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "a checkout needs an Idempotency-Key header (one per checkout attempt, the same on its retries)",
            )
        })?
        .to_str()
        .ok()
        .filter(|k| (1..=MAX_KEY).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                &format!("Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters"),
            )
        })?;
    Ok(key)
}

fn parse_request(body: &[u8]) -> Result<CheckoutRequest, Response> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let request: CheckoutRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let status = if e.inner().is_syntax() || e.inner().is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        error(status, "invalid_checkout", &format!("at `{}`: {}", e.path(), e.inner()))
    })?;
    let unprocessable = |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_checkout", m);
    if !is_uuid(&request.cart_id) {
        return Err(unprocessable("cart_id is not a UUID"));
    }
    let token_ok =
        (1..=256).contains(&request.payment_token.len()) && !request.payment_token.chars().any(char::is_control);
    if !token_ok {
        return Err(unprocessable("payment_token must be 1 to 256 printable characters"));
    }
    if let Some(p) = &request.payment_provider
        && !(1..=64).contains(&p.len())
    {
        return Err(unprocessable("payment_provider must be 1 to 64 characters"));
    }
    Ok(request)
}

/// The payment plugin to use: the one named, or the only one installed.
fn payment_plugin(host: &PluginHost, named: Option<&str>) -> Result<(String, String), Response> {
    let set = host.plugins();
    let mut payments = set.iter().filter(|p| p.world() == World::Payment);
    let chosen = match named {
        Some(name) => set.get(name).filter(|p| p.world() == World::Payment),
        None => {
            let first = payments.next();
            if payments.next().is_some() {
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "payment_provider_required",
                    "several payment providers are installed: name one in payment_provider",
                ));
            }
            first
        }
    };
    match chosen {
        Some(p) => Ok((p.name().to_owned(), p.sha256().to_owned())),
        None => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_payment_provider",
            "no such payment provider is installed",
        )),
    }
}

/// How the authorization went.
enum Authorized {
    /// The provider authorized (or captured) the payment.
    Yes(Authorization),
    /// The provider is unavailable; the order may wait for it.
    Deferred,
}

async fn checkout(
    edge: &Arc<Edge>,
    headers: &HeaderMap,
    upstream: HeaderMap,
    body: &[u8],
) -> Result<Response, Response> {
    let key = idempotency_key(headers)?.to_owned();
    let request = parse_request(body)?;
    let Some(host) = edge.plugins().cloned() else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "checkout_unavailable",
            "this edge has no plugins installed, so it cannot take payments",
        ));
    };
    let (provider, sha256) = payment_plugin(&host, request.payment_provider.as_deref())?;
    let priced = price(edge, &host, &request.cart_id, headers, upstream.clone()).await?;
    if priced.cart.lines.is_empty() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_cart",
            "the cart has no lines",
        ));
    }
    let total = priced.total();
    if let Some(expected) = request.expected_total_minor
        && expected != total
    {
        return Err(conflict_total(&priced, expected));
    }
    metrics::counter!("vitrine_edge_checkouts_total", "step" => "priced").increment(1);

    let provider_key = provider_idempotency_key(&priced.cart.id, &key);
    let capabilities = edge.capabilities(&host, &provider, &sha256).await;
    let authorized = if total == 0 {
        // Nothing to pay: no authorization.
        None
    } else {
        Some(
            authorize(
                &host,
                &provider,
                &provider_key,
                &priced,
                &request,
                capabilities.as_ref(),
            )
            .await?,
        )
    };

    let (payment, deferred, payment_json) = match &authorized {
        None => (Value::Null, Value::Null, Value::Null),
        Some(Authorized::Yes(a)) => {
            let status = match a.status {
                PaymentStatus::Captured => "captured",
                PaymentStatus::Pending => "pending",
                PaymentStatus::Authorized | PaymentStatus::Declined => "authorized",
            };
            let payment =
                json!({ "provider": provider, "reference": a.reference, "status": status, "amount_minor": total });
            (payment.clone(), Value::Null, payment)
        }
        Some(Authorized::Deferred) => {
            let payment = json!({
                "provider": provider, "reference": format!("deferred-{provider_key}"),
                "status": "pending", "amount_minor": total,
            });
            let deferred = json!({ "payment_token": request.payment_token, "idempotency_key": provider_key });
            (
                payment.clone(),
                deferred,
                json!({ "provider": provider, "status": "pending", "deferred": true }),
            )
        }
    };
    let mut order = json!({
        "cart_id": priced.cart.id,
        "adjustments": priced.adjustments.iter().map(|a| json!({
            "level": a.level,
            "line_id": a.line_id,
            "amount_minor": a.amount_minor,
            "reason": a.reason,
            "coupon": a.coupon,
            "plugin": { "name": a.plugin, "version": a.plugin_version },
        })).collect::<Vec<_>>(),
        "expected_total_minor": total,
    });
    if let Some(object) = order.as_object_mut() {
        // The use counts the promotions saw: the origin counts again under
        // a lock on the customer, so two checkouts at once cannot both
        // spend a once-per-customer coupon.
        if priced.cart.owner_id.is_some() {
            object.insert("coupon_uses".into(), json!(priced.cart.coupon_uses));
        }
        if let Some(email) = &request.email {
            object.insert("email".into(), json!(email));
        }
        if !payment.is_null() {
            object.insert("payment".into(), payment);
        }
        if !deferred.is_null() {
            object.insert("deferred_authorization".into(), deferred);
        }
    }
    let mut order_headers = upstream;
    order_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    order_headers.remove(header::IF_NONE_MATCH);
    order_headers.remove(header::IF_MODIFIED_SINCE);
    if let Ok(value) = HeaderValue::from_str(&key) {
        order_headers.insert("idempotency-key", value);
    }
    let body = Bytes::from(order.to_string());
    let answer = match edge
        .origin_send(Method::POST, "/api/v1/orders", order_headers, body)
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            // The order may or may not have been made; the authorization
            // stays, and a retry with the same key finishes the checkout.
            tracing::warn!(error = %e, cart = %priced.cart.id, "placing the order failed after the authorization");
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "order_not_confirmed",
                "the order could not be confirmed; retry with the same Idempotency-Key (you will not be charged twice)",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            return Err(response);
        }
    };
    if answer.status.is_success() {
        let order: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let status = if matches!(authorized, Some(Authorized::Deferred)) {
            metrics::counter!("vitrine_edge_checkouts_total", "step" => "deferred").increment(1);
            StatusCode::ACCEPTED
        } else {
            metrics::counter!("vitrine_edge_checkouts_total", "step" => "ordered").increment(1);
            StatusCode::CREATED
        };
        let mut response = json_response(
            status,
            &json!({ "order": order, "payment": payment_json, "pricing": priced.pricing_json() }),
        );
        if let Some(replayed) = answer.headers.get("idempotent-replayed") {
            response.headers_mut().insert("idempotent-replayed", replayed.clone());
        }
        return Ok(response);
    }
    // Refused. Void the authorization where the refusal proves no order
    // holds it; the shopper hears what changed.
    let refusal: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let code = refusal["error"]["code"].as_str().unwrap_or("");
    let voids = matches!(
        code,
        "price_changed"
            | "insufficient_stock"
            | "total_changed"
            | "coupon_uses_changed"
            | "invalid_adjustment"
            | "payment_amount_mismatch"
            | "empty_cart"
            | "cart_closed"
    );
    let mut voided = false;
    if voids && let Some(Authorized::Yes(a)) = &authorized {
        voided = void(&host, &provider, &provider_key, &a.reference).await;
    }
    metrics::counter!("vitrine_edge_checkouts_total", "step" => "refused").increment(1);
    let mut body = refusal;
    if let Some(e) = body.get_mut("error").and_then(Value::as_object_mut) {
        e.insert(
            "payment".into(),
            json!(match (&authorized, voided) {
                (Some(Authorized::Yes(_)), true) => "voided",
                (Some(Authorized::Yes(_)), false) => "authorized",
                (Some(Authorized::Deferred), _) => "not_taken",
                (None, _) => "none",
            }),
        );
    }
    Err(json_response(answer.status, &body))
}

fn conflict_total(priced: &Priced, expected: i64) -> Response {
    json_response(
        StatusCode::CONFLICT,
        &json!({ "error": {
            "code": "total_changed",
            "message": format!("the total is now {}, not {expected}", priced.total()),
            "details": { "total_minor": priced.total(), "pricing": priced.pricing_json() },
        }}),
    )
}

async fn authorize(
    host: &Arc<PluginHost>,
    provider: &str,
    provider_key: &str,
    priced: &Priced,
    request: &CheckoutRequest,
    capabilities: Option<&PaymentCapabilities>,
) -> Result<Authorized, Response> {
    let call = PaymentCall::Authorize(AuthorizeRequest {
        idempotency_key: provider_key.to_owned(),
        order_reference: priced.cart.id.clone(),
        amount: Money {
            amount_minor: priced.total(),
            currency: priced.currency().to_owned(),
        },
        payment_token: request.payment_token.clone(),
        customer_id: priced.cart.owner_id.clone(),
    });
    let answer = call_payment(host, provider, call).await;
    let deferrable = capabilities.is_some_and(|c| c.deferred_authorization);
    match answer {
        Ok(PaymentAnswer::Authorization(a)) if a.status == PaymentStatus::Declined => {
            Err(declined("the payment was declined"))
        }
        Ok(PaymentAnswer::Authorization(a)) => {
            metrics::counter!("vitrine_edge_checkouts_total", "step" => "authorized").increment(1);
            Ok(Authorized::Yes(a))
        }
        Ok(other) => {
            tracing::error!(plugin = provider, answer = ?other, "the payment plugin answered authorize with something else");
            Err(error(
                StatusCode::BAD_GATEWAY,
                "payment_failed",
                "the payment provider's answer could not be used",
            ))
        }
        Err(PluginError::Guest {
            error: GuestError::Declined(reason),
            ..
        }) => Err(declined(&reason)),
        Err(PluginError::Guest {
            error: GuestError::InvalidInput(reason),
            ..
        }) => Err(error(StatusCode::UNPROCESSABLE_ENTITY, "payment_invalid", &reason)),
        Err(e) if unavailable(&e) => {
            if deferrable {
                tracing::warn!(plugin = provider, error = %e, "payment provider unavailable: order taken for deferred authorization");
                return Ok(Authorized::Deferred);
            }
            metrics::counter!("vitrine_edge_checkouts_total", "step" => "unavailable").increment(1);
            let retry = match &e {
                PluginError::Disabled { retry_in, .. } => retry_in.as_secs().max(1),
                _ => 5,
            };
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "payment_unavailable",
                "the payment provider is not answering; nothing was charged, please try again shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry));
            Err(response)
        }
        Err(e) => {
            tracing::error!(plugin = provider, error = %e, "the payment plugin failed");
            Err(error(
                StatusCode::BAD_GATEWAY,
                "payment_failed",
                "the payment could not be taken; nothing was charged",
            ))
        }
    }
}

/// Whether a failed payment call means the provider is unavailable (so
/// waiting may help), not that the payment is refused.
fn unavailable(e: &PluginError) -> bool {
    matches!(
        e,
        PluginError::Disabled { .. }
            | PluginError::Deadline { .. }
            | PluginError::Guest {
                error: GuestError::Unavailable(_),
                ..
            }
    )
}

fn declined(reason: &str) -> Response {
    metrics::counter!("vitrine_edge_checkouts_total", "step" => "declined").increment(1);
    error(
        StatusCode::PAYMENT_REQUIRED,
        "payment_declined",
        &format!("the payment was declined: {reason}"),
    )
}

/// Voids an authorization; true if the provider confirmed.
async fn void(host: &Arc<PluginHost>, provider: &str, provider_key: &str, reference: &str) -> bool {
    let call = PaymentCall::Void(VoidRequest {
        idempotency_key: format!("void_{}", provider_key.trim_start_matches("chk_")),
        reference: reference.to_owned(),
    });
    match call_payment(host, provider, call).await {
        Ok(_) => true,
        Err(e) => {
            // The provider's hold expires on its own; logged for the operator.
            tracing::error!(plugin = provider, reference, error = %e, "voiding an authorization failed");
            metrics::counter!("vitrine_edge_void_failures_total").increment(1);
            false
        }
    }
}

/// A payment plugin call off the async threads (it may wait on the network).
async fn call_payment(host: &Arc<PluginHost>, provider: &str, call: PaymentCall) -> Result<PaymentAnswer, PluginError> {
    let host = Arc::clone(host);
    let provider = provider.to_owned();
    let name = provider.clone();
    tokio::task::spawn_blocking(move || host.call_payment(&provider, &call))
        .await
        .unwrap_or_else(|e| {
            Err(PluginError::Trap {
                plugin: name,
                message: format!("the call panicked: {e}"),
            })
        })
}

impl Edge {
    /// The `capabilities` of payment plugin `provider` (component `sha256`),
    /// asked once and remembered.
    async fn capabilities(&self, host: &Arc<PluginHost>, provider: &str, sha256: &str) -> Option<PaymentCapabilities> {
        let key = (provider.to_owned(), sha256.to_owned());
        let known = self
            .capabilities
            .by_plugin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if known.is_some() {
            return known;
        }
        match call_payment(host, provider, PaymentCall::Capabilities).await {
            Ok(PaymentAnswer::Capabilities(c)) => {
                self.capabilities
                    .by_plugin
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key, c.clone());
                Some(c)
            }
            _ => None,
        }
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(proxy::X_CACHE, HeaderValue::from_static("PASS"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_commerce_paths_are_taken() {
        let id = "0b6f7a52-3c1e-4d7a-9a51-2f1f6f0c9d11";
        assert!(wants(&Method::GET, &format!("/api/v1/carts/{id}")));
        assert!(wants(&Method::POST, "/api/v1/checkout"));
        assert!(!wants(&Method::GET, &format!("/api/v1/carts/{id}/lines")));
        assert!(!wants(&Method::POST, &format!("/api/v1/carts/{id}")));
        assert!(!wants(&Method::GET, "/api/v1/carts/not-a-uuid"));
        assert!(!wants(&Method::GET, "/api/v1/carts/../../admin/v1/users"));
        assert!(!wants(&Method::GET, "/api/v1/checkout"));
    }

    #[test]
    fn a_checkout_has_one_provider_key_per_cart_and_shopper_key() {
        let cart = "0b6f7a52-3c1e-4d7a-9a51-2f1f6f0c9d11";
        let k = provider_idempotency_key(cart, "k1");
        assert_eq!(k, provider_idempotency_key(&cart.to_ascii_uppercase(), "k1"));
        assert_ne!(k, provider_idempotency_key(cart, "k2"));
        assert_ne!(
            k,
            provider_idempotency_key("1b6f7a52-3c1e-4d7a-9a51-2f1f6f0c9d11", "k1")
        );
        assert!(k.starts_with("chk_") && k.len() == 44);
    }

    #[test]
    fn bad_checkouts_are_refused_by_name() {
        let ok = br#"{"cart_id":"0b6f7a52-3c1e-4d7a-9a51-2f1f6f0c9d11","payment_token":"tok_visa"}"#;
        assert!(parse_request(ok).is_ok());
        for (body, status) in [
            (&br#"{"cart_id":"#[..], StatusCode::BAD_REQUEST),
            (
                br#"{"cart_id":"x","payment_token":"t"}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                br#"{"cart_id":"0b6f7a52-3c1e-4d7a-9a51-2f1f6f0c9d11","payment_token":""}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                br#"{"cart_id":"0b6f7a52-3c1e-4d7a-9a51-2f1f6f0c9d11","payment_token":"t","adjustments":[]}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ] {
            let status_got = parse_request(body).err().map(|r| r.status());
            assert_eq!(status_got, Some(status), "{}", String::from_utf8_lossy(body));
        }
    }
}
