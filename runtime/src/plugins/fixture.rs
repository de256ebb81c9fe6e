//! Fixtures: every world's inputs and outputs as JSON, for the `vitrine`
//! CLI and the component test harness ([`crate::testing`]).
//!
//! The JSON uses snake_case names of the WIT fields, optional fields have
//! defaults, and unknown fields are errors (a typo must not silently become a
//! default). A parse error names the file, line, column and JSON path.
//!
//! | world | input | output |
//! |---|---|---|
//! | `promotion` | a cart (below) | a list of adjustments |
//! | `personalization` | `{"page": [product…], "context": {…}}` | the page |
//! | `payment` | `{"call": "authorize", "request": {…}}` | the answer |
//!
//! A promotion cart; only `currency`, `lines[].id`, `lines[].sku` and
//! `lines[].unit_price_minor` are required:
//!
//! ```
//! use vitrine_runtime::plugins::{World, fixture::{self, Input}};
//! let input = fixture::parse(World::Promotion, r#"{
//!     "currency": "ZAR",
//!     "lines": [
//!         { "id": "l1", "sku": "SKU-1", "quantity": 2, "unit_price_minor": 1500,
//!           "categories": ["shoes"], "brand": "acme", "attributes": { "colour": "white" } }
//!     ],
//!     "coupon_codes": ["WELCOME10"],
//!     "customer": { "id": "c-1", "segments": ["trade"], "coupon_uses": { "WELCOME10": 1 } },
//!     "shipping_minor": 9900
//! }"#)?;
//! let Input::Promotion { cart, line_ids } = input else { unreachable!() };
//! assert_eq!(cart.lines[0].product_id, "SKU-1"); // defaults to the sku
//! assert_eq!(cart.categories[0].slug, "shoes");
//! assert_eq!(line_ids, ["l1"]); // adjustments name lines by index; output JSON by id too
//! # Ok::<(), fixture::FixtureError>(())
//! ```
//!
//! Payment calls are `capabilities` (no `request`), `authorize`, `capture`,
//! `void`, `refund` and `verify-webhook`; their requests carry the WIT
//! record's fields, with money as `{"amount_minor": 1000, "currency": "ZAR"}`
//! and a webhook's body as a UTF-8 string.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cart::CartBuilder;
use super::types::{
    Adjustment, Authorization, AuthorizeRequest, CaptureRequest, Cart, Customer, EventKind, Level, Money,
    PaymentCapabilities, PaymentEvent, PaymentStatus, ProductSummary, RefundRequest, ShopperContext, VoidRequest,
    Webhook,
};
use super::{PaymentAnswer, PaymentCall, World};

/// One call's input, for any world.
#[derive(Debug, Clone)]
pub enum Input {
    /// A cart for `apply`.
    Promotion {
        /// The cart as the plugin receives it.
        cart: Cart,
        /// The fixture's id of each line, by index.
        line_ids: Vec<String>,
    },
    /// A page and a shopper context for `personalize`.
    Personalization {
        /// The catalog page.
        page: Vec<ProductSummary>,
        /// The shopper.
        context: ShopperContext,
    },
    /// One payment call.
    Payment(PaymentCall),
}

impl Input {
    /// The world this input is for.
    pub fn world(&self) -> World {
        match self {
            Input::Promotion { .. } => World::Promotion,
            Input::Personalization { .. } => World::Personalization,
            Input::Payment(_) => World::Payment,
        }
    }
}

/// One call's answer, for any world.
#[derive(Debug, Clone)]
pub enum Output {
    /// From a promotion.
    Promotion {
        /// The plugin's answer.
        adjustments: Vec<Adjustment>,
        /// The fixture's id of each line, by index (see [`Output::line_id`]).
        line_ids: Vec<String>,
    },
    /// From a personalization.
    Personalization(Vec<ProductSummary>),
    /// From a payment call.
    Payment(PaymentAnswer),
}

impl Output {
    /// The adjustments, if this is a promotion's answer.
    pub fn adjustments(&self) -> Option<&[Adjustment]> {
        match self {
            Output::Promotion { adjustments, .. } => Some(adjustments),
            _ => None,
        }
    }

    /// The fixture's id of the line `adjustment` applies to, if it is a
    /// line adjustment of this promotion's answer.
    pub fn line_id(&self, adjustment: &Adjustment) -> Option<&str> {
        match self {
            Output::Promotion { line_ids, .. } => adjustment
                .line
                .and_then(|i| line_ids.get(i as usize))
                .map(String::as_str),
            _ => None,
        }
    }

    /// The page, if this is a personalization's answer.
    pub fn page(&self) -> Option<&[ProductSummary]> {
        match self {
            Output::Personalization(page) => Some(page),
            _ => None,
        }
    }

    /// The answer as JSON, in the fixtures' field names.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Output::Promotion { adjustments, line_ids } => serde_json::to_value(
                adjustments
                    .iter()
                    .map(|a| AdjustmentJson::new(a, line_ids))
                    .collect::<Vec<_>>(),
            ),
            Output::Personalization(page) => {
                serde_json::to_value(page.iter().map(ProductJson::from).collect::<Vec<_>>())
            }
            Output::Payment(answer) => serde_json::to_value(PaymentAnswerJson::from(answer)),
        };
        // Plain structs of strings, numbers and bools always serialize.
        value.unwrap_or(serde_json::Value::Null)
    }
}

/// A fixture that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("reading fixture {}: {source}", path.display())]
    Io {
        /// The fixture.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The JSON is malformed or does not fit the world's input.
    #[error("{}line {line}, column {column}{}: {message}", origin(file), at(json_path))]
    Json {
        /// The fixture, if it came from a file.
        file: Option<PathBuf>,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// Where in the document, e.g. `lines[0].quantity` (empty at the top).
        json_path: String,
        /// What serde_json reported.
        message: String,
    },
}

fn origin(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|f| format!("fixture {}: ", f.display()))
        .unwrap_or_default()
}

fn at(json_path: &str) -> String {
    if json_path.is_empty() || json_path == "." {
        String::new()
    } else {
        format!(", at `{json_path}`")
    }
}

/// Reads the fixture at `path` as an input of `world`.
pub fn load(world: World, path: impl AsRef<Path>) -> Result<Input, FixtureError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(world, &text).map_err(|error| match error {
        FixtureError::Json {
            line,
            column,
            json_path,
            message,
            ..
        } => FixtureError::Json {
            file: Some(path.to_owned()),
            line,
            column,
            json_path,
            message,
        },
        other => other,
    })
}

/// Parses `json` as an input of `world`.
pub fn parse(world: World, json: &str) -> Result<Input, FixtureError> {
    Ok(match world {
        World::Promotion => {
            let (cart, line_ids) = from_json::<CartJson>(json)?.build();
            Input::Promotion { cart, line_ids }
        }
        World::Personalization => {
            let input = from_json::<PersonalizationJson>(json)?;
            Input::Personalization {
                page: input.page.into_iter().map(Into::into).collect(),
                context: input.context.into(),
            }
        }
        World::Payment => Input::Payment(from_json::<PaymentJson>(json)?.into()),
    })
}

/// The world called `name` in the WIT and in manifests (`promotion`, …).
pub fn world_from_name(name: &str) -> Option<World> {
    match name {
        "promotion" => Some(World::Promotion),
        "payment" => Some(World::Payment),
        "personalization" => Some(World::Personalization),
        _ => None,
    }
}

/// The WIT name of `world`.
pub fn world_name(world: World) -> &'static str {
    match world {
        World::Promotion => "promotion",
        World::Payment => "payment",
        World::Personalization => "personalization",
    }
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, FixtureError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let json_path = error.path().to_string();
        json_error(json_path, error.into_inner())
    })?;
    deserializer.end().map_err(|error| json_error(String::new(), error))?;
    Ok(value)
}

fn json_error(json_path: String, error: serde_json::Error) -> FixtureError {
    FixtureError::Json {
        file: None,
        line: error.line(),
        column: error.column(),
        json_path,
        message: strip_position(&error.to_string()),
    }
}

/// serde_json appends " at line L column C"; the error says it once, up front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

// ---- promotion ------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CartJson {
    currency: String,
    #[serde(default)]
    lines: Vec<LineJson>,
    #[serde(default)]
    coupon_codes: Vec<String>,
    #[serde(default)]
    customer: CustomerJson,
    #[serde(default)]
    shipping_minor: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineJson {
    id: String,
    /// Defaults to the sku.
    #[serde(default)]
    product_id: Option<String>,
    sku: String,
    #[serde(default = "one")]
    quantity: u32,
    unit_price_minor: i64,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CustomerJson {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    segments: Vec<String>,
    #[serde(default)]
    coupon_uses: BTreeMap<String, u32>,
}

impl CartJson {
    /// The cart a plugin receives, and each line's fixture id by index.
    fn build(self) -> (Cart, Vec<String>) {
        let mut cart = CartBuilder::new(self.currency);
        let mut line_ids = Vec::with_capacity(self.lines.len());
        for line in self.lines {
            let product_id = line.product_id.unwrap_or_else(|| line.sku.clone());
            let at = cart.line(
                product_id,
                line.sku,
                line.quantity,
                line.unit_price_minor,
                &line.categories,
                &line.brand,
            );
            for (name, value) in line.attributes {
                cart.attribute(at, name, value);
            }
            line_ids.push(line.id);
        }
        cart.customer(Customer {
            id: self.customer.id,
            segments: self.customer.segments,
            coupon_uses: self.customer.coupon_uses.into_iter().collect(),
        })
        .shipping(self.shipping_minor);
        let mut cart = cart.build();
        // As entered: the fixture says what the shopper typed.
        cart.coupon_codes = self.coupon_codes;
        (cart, line_ids)
    }
}

#[derive(Serialize)]
struct AdjustmentJson {
    level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line_id: Option<String>,
    amount_minor: i64,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon: Option<String>,
}

impl AdjustmentJson {
    fn new(a: &Adjustment, line_ids: &[String]) -> Self {
        AdjustmentJson {
            level: match a.level {
                Level::Line => "line",
                Level::Order => "order",
                Level::Shipping => "shipping",
            },
            line: a.line,
            line_id: a.line.and_then(|i| line_ids.get(i as usize)).cloned(),
            amount_minor: a.amount_minor,
            reason: a.reason.clone(),
            coupon: a.coupon.clone(),
        }
    }
}

// ---- personalization ------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonalizationJson {
    page: Vec<ProductJson>,
    #[serde(default)]
    context: ContextJson,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ProductJson {
    id: String,
    sku: String,
    name: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    category: String,
    price: MoneyJson,
    #[serde(default = "yes")]
    in_stock: bool,
    #[serde(default)]
    badges: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct MoneyJson {
    amount_minor: i64,
    currency: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ContextJson {
    #[serde(default)]
    segments: Vec<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    recently_viewed: Vec<String>,
    #[serde(default)]
    recent_categories: Vec<String>,
    #[serde(default)]
    on_promotion: Vec<String>,
}

impl From<MoneyJson> for Money {
    fn from(m: MoneyJson) -> Self {
        Money {
            amount_minor: m.amount_minor,
            currency: m.currency,
        }
    }
}

impl From<&Money> for MoneyJson {
    fn from(m: &Money) -> Self {
        MoneyJson {
            amount_minor: m.amount_minor,
            currency: m.currency.clone(),
        }
    }
}

impl From<ProductJson> for ProductSummary {
    fn from(p: ProductJson) -> Self {
        ProductSummary {
            id: p.id,
            sku: p.sku,
            name: p.name,
            brand: p.brand,
            category: p.category,
            price: p.price.into(),
            in_stock: p.in_stock,
            badges: p.badges,
        }
    }
}

impl From<&ProductSummary> for ProductJson {
    fn from(p: &ProductSummary) -> Self {
        ProductJson {
            id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            brand: p.brand.clone(),
            category: p.category.clone(),
            price: (&p.price).into(),
            in_stock: p.in_stock,
            badges: p.badges.clone(),
        }
    }
}

impl From<ContextJson> for ShopperContext {
    fn from(c: ContextJson) -> Self {
        ShopperContext {
            segments: c.segments,
            locale: c.locale,
            recently_viewed: c.recently_viewed,
            recent_categories: c.recent_categories,
            on_promotion: c.on_promotion,
        }
    }
}

// ---- payment --------------------------------------------------------------

#[derive(Deserialize)]
#[serde(tag = "call", content = "request", rename_all = "kebab-case", deny_unknown_fields)]
enum PaymentJson {
    Capabilities,
    Authorize(AuthorizeJson),
    Capture(CaptureJson),
    Void(VoidJson),
    Refund(RefundJson),
    VerifyWebhook(WebhookJson),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeJson {
    idempotency_key: String,
    order_reference: String,
    amount: MoneyJson,
    payment_token: String,
    #[serde(default)]
    customer_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaptureJson {
    idempotency_key: String,
    reference: String,
    amount: MoneyJson,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoidJson {
    idempotency_key: String,
    reference: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundJson {
    idempotency_key: String,
    reference: String,
    amount: MoneyJson,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookJson {
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: String,
}

impl From<PaymentJson> for PaymentCall {
    fn from(call: PaymentJson) -> Self {
        match call {
            PaymentJson::Capabilities => PaymentCall::Capabilities,
            PaymentJson::Authorize(r) => PaymentCall::Authorize(AuthorizeRequest {
                idempotency_key: r.idempotency_key,
                order_reference: r.order_reference,
                amount: r.amount.into(),
                payment_token: r.payment_token,
                customer_id: r.customer_id,
            }),
            PaymentJson::Capture(r) => PaymentCall::Capture(CaptureRequest {
                idempotency_key: r.idempotency_key,
                reference: r.reference,
                amount: r.amount.into(),
            }),
            PaymentJson::Void(r) => PaymentCall::Void(VoidRequest {
                idempotency_key: r.idempotency_key,
                reference: r.reference,
            }),
            PaymentJson::Refund(r) => PaymentCall::Refund(RefundRequest {
                idempotency_key: r.idempotency_key,
                reference: r.reference,
                amount: r.amount.into(),
                reason: r.reason,
            }),
            PaymentJson::VerifyWebhook(w) => PaymentCall::VerifyWebhook(Webhook {
                headers: w.headers,
                body: w.body.into_bytes(),
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum PaymentAnswerJson {
    Capabilities {
        deferred_authorization: bool,
        partial_refunds: bool,
    },
    Authorization {
        reference: String,
        status: &'static str,
    },
    Event {
        event_id: String,
        kind: &'static str,
        reference: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        amount: Option<MoneyJson>,
    },
}

impl From<&PaymentAnswer> for PaymentAnswerJson {
    fn from(answer: &PaymentAnswer) -> Self {
        match answer {
            PaymentAnswer::Capabilities(PaymentCapabilities {
                deferred_authorization,
                partial_refunds,
            }) => PaymentAnswerJson::Capabilities {
                deferred_authorization: *deferred_authorization,
                partial_refunds: *partial_refunds,
            },
            PaymentAnswer::Authorization(Authorization { reference, status }) => PaymentAnswerJson::Authorization {
                reference: reference.clone(),
                status: match status {
                    PaymentStatus::Pending => "pending",
                    PaymentStatus::Authorized => "authorized",
                    PaymentStatus::Captured => "captured",
                    PaymentStatus::Declined => "declined",
                },
            },
            PaymentAnswer::Event(PaymentEvent {
                event_id,
                kind,
                reference,
                amount,
            }) => PaymentAnswerJson::Event {
                event_id: event_id.clone(),
                kind: match kind {
                    EventKind::Authorized => "authorized",
                    EventKind::Captured => "captured",
                    EventKind::Voided => "voided",
                    EventKind::Refunded => "refunded",
                    EventKind::Failed => "failed",
                },
                reference: reference.clone(),
                amount: amount.as_ref().map(MoneyJson::from),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn a_minimal_cart_gets_its_defaults() {
        let Input::Promotion { cart, line_ids } = parse(
            World::Promotion,
            r#"{"currency": "EUR", "lines": [{"id": "a", "sku": "S", "unit_price_minor": 250}]}"#,
        )
        .unwrap() else {
            panic!("not a cart")
        };
        assert_eq!(cart.lines[0].quantity, 1);
        assert_eq!(cart.lines[0].product_id, "S");
        assert_eq!(cart.shipping_minor, 0);
        assert_eq!(cart.customer.id, None);
        assert_eq!(line_ids, ["a"]);
    }

    #[test]
    fn errors_name_the_line_and_the_path() {
        let json = "{\n  \"currency\": \"ZAR\",\n  \"lines\": [\n    {\"id\": \"a\", \"sku\": \"S\", \"unit_price_minor\": 1, \"quantity\": -2}\n  ]\n}";
        let error = parse(World::Promotion, json).unwrap_err().to_string();
        assert!(error.starts_with("line 4, column"), "{error}");
        assert!(error.contains("at `lines[0].quantity`"), "{error}");
        assert!(error.contains("invalid value: integer `-2`"), "{error}");
        assert!(!error.contains("at line"), "position said twice: {error}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = parse(World::Promotion, r#"{"currency": "ZAR", "coupons": ["X"]}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `coupons`"), "{error}");
        let error = parse(
            World::Payment,
            r#"{"call": "void", "request": {"idempotency_key": "k", "reference": "r", "amount": 1}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown field `amount`"), "{error}");
    }

    #[test]
    fn payment_calls_by_name() {
        let Input::Payment(PaymentCall::Refund(refund)) = parse(
            World::Payment,
            r#"{"call": "refund", "request": {"idempotency_key": "k", "reference": "r",
                "amount": {"amount_minor": 500, "currency": "ZAR"}}}"#,
        )
        .unwrap() else {
            panic!("not a refund")
        };
        assert_eq!(refund.amount.amount_minor, 500);
        assert!(matches!(
            parse(World::Payment, r#"{"call": "capabilities"}"#).unwrap(),
            Input::Payment(PaymentCall::Capabilities)
        ));
        let error = parse(World::Payment, r#"{"call": "charge"}"#).unwrap_err().to_string();
        assert!(error.contains("unknown variant `charge`"), "{error}");
    }

    #[test]
    fn personalization_page_round_trips() {
        let json = r#"{"page": [{"id": "p1", "sku": "S1", "name": "Drill",
            "price": {"amount_minor": 99900, "currency": "ZAR"}}], "context": {"segments": ["trade"]}}"#;
        let Input::Personalization { page, context } = parse(World::Personalization, json).unwrap() else {
            panic!("not a page")
        };
        assert_eq!(context.segments, ["trade"]);
        let out = Output::Personalization(page).to_json();
        assert_eq!(out[0]["price"]["amount_minor"], 99900);
        assert_eq!(out[0]["in_stock"], true);
    }

    #[test]
    fn adjustments_as_json() {
        let out = Output::Promotion {
            adjustments: vec![
                Adjustment {
                    level: Level::Order,
                    line: None,
                    amount_minor: 700,
                    reason: "welcome".into(),
                    coupon: Some("WELCOME10".into()),
                },
                Adjustment {
                    level: Level::Line,
                    line: Some(1),
                    amount_minor: 5,
                    reason: "sale".into(),
                    coupon: None,
                },
            ],
            line_ids: vec!["l1".into(), "l2".into()],
        }
        .to_json();
        assert_eq!(
            out,
            serde_json::json!([
                {"level": "order", "amount_minor": 700, "reason": "welcome", "coupon": "WELCOME10"},
                {"level": "line", "line": 1, "line_id": "l2", "amount_minor": 5, "reason": "sale"}
            ])
        );
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(parse(World::Promotion, r#"{"currency": "ZAR"} {}"#).is_err());
    }
}
