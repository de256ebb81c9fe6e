//! What flows through the sync pipeline: ERP and catalog-feed events about
//! one product each, identified by the SKU the ERP knows it by.
//!
//! Every event carries the ERP's `version` of its product. The handlers
//! apply an event only when its version is newer than the newest they have
//! applied for that SKU, so events that arrive twice, late or out of order
//! leave the state that applying each SKU's events in version order gives.

use serde::{Deserialize, Serialize};

use super::queue::{Outgoing, valid_dedup_id};

/// Longest SKU accepted.
pub const MAX_SKU_LEN: usize = 64;

/// Who sent an event (a metrics label, and where a dead letter came from).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `POST /webhooks/erp`.
    Erp,
    /// A catalog feed poller.
    Feed,
    /// `POST /webhooks/payments/{provider}`.
    Payment,
}

impl Source {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Erp => "erp",
            Self::Feed => "feed",
            Self::Payment => "payment",
        }
    }
}

/// One change to one product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawEvent")]
pub struct Event {
    /// The sender's id of this event: the same id twice is the same event.
    /// 1 to 128 printable ASCII characters.
    pub id: String,
    /// The product's SKU (1 to 64 characters).
    pub sku: String,
    /// The sender's version of the product after this change (≥ 1); an event
    /// not newer than the last one applied for the SKU changes nothing.
    pub version: i64,
    /// The change.
    #[serde(flatten)]
    pub change: Change,
}

/// What an [`Event`] changes.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// The stock count is now `stock`.
    Stock {
        /// Units on hand (≥ 0).
        stock: i64,
    },
    /// The unit price is now `price_minor`.
    Price {
        /// In minor units of the store's currency (≥ 0).
        price_minor: i64,
    },
    /// The product is created, or all its fields replaced.
    Product {
        /// The product's fields.
        product: ProductFields,
    },
    /// The product is withdrawn from sale.
    Delete,
}

/// A product as the ERP describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductFields {
    /// Display name.
    pub name: String,
    /// Description (plain text).
    #[serde(default)]
    pub description: String,
    /// Brand.
    pub brand: String,
    /// The slug of an existing category.
    pub category: String,
    /// Unit price in minor units (≥ 0).
    pub price_minor: i64,
    /// Units on hand (≥ 0).
    pub stock: i64,
    /// Attributes shown and searched (`{"voltage": "18 V"}`).
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// An event as it arrives: every field of every kind, so that a field the
/// kind does not have, or one nobody knows, is refused by name (serde's
/// `deny_unknown_fields` does not reach through a flattened enum).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    id: String,
    sku: String,
    version: i64,
    #[serde(rename = "type")]
    kind: String,
    stock: Option<i64>,
    price_minor: Option<i64>,
    product: Option<ProductFields>,
}

impl TryFrom<RawEvent> for Event {
    type Error = String;

    fn try_from(raw: RawEvent) -> Result<Self, String> {
        let fields = [
            ("stock", raw.stock.is_some()),
            ("price_minor", raw.price_minor.is_some()),
            ("product", raw.product.is_some()),
        ];
        let wanted = match raw.kind.as_str() {
            "stock" => Some("stock"),
            "price" => Some("price_minor"),
            "product" => Some("product"),
            "delete" => None,
            other => {
                return Err(format!(
                    "unknown event type `{other}`: expected stock, price, product or delete"
                ));
            }
        };
        if let Some((extra, _)) = fields.iter().find(|(name, set)| *set && Some(*name) != wanted) {
            return Err(format!("a `{}` event has no field `{extra}`", raw.kind));
        }
        let missing = || format!("a `{}` event needs `{}`", raw.kind, wanted.unwrap_or_default());
        let change = match raw.kind.as_str() {
            "stock" => Change::Stock {
                stock: raw.stock.ok_or_else(missing)?,
            },
            "price" => Change::Price {
                price_minor: raw.price_minor.ok_or_else(missing)?,
            },
            "product" => Change::Product {
                product: raw.product.ok_or_else(missing)?,
            },
            _ => Change::Delete,
        };
        Ok(Self {
            id: raw.id,
            sku: raw.sku,
            version: raw.version,
            change,
        })
    }
}

impl Event {
    /// The ordering group of this event's product.
    pub fn group(&self) -> String {
        format!("sku:{}", self.sku)
    }

    /// What is wrong with this event, if anything (for a 422 that names it).
    pub fn problem(&self) -> Option<String> {
        if !valid_dedup_id(&self.id) {
            return Some("`id` must be 1 to 128 printable ASCII characters without spaces".into());
        }
        if self.sku.is_empty() || self.sku.len() > MAX_SKU_LEN || self.sku.chars().any(char::is_control) {
            return Some(format!(
                "`sku` must be 1 to {MAX_SKU_LEN} characters without control characters"
            ));
        }
        if self.version < 1 {
            return Some("`version` must be at least 1".into());
        }
        match &self.change {
            Change::Stock { stock } if *stock < 0 => Some("`stock` cannot be negative".into()),
            Change::Price { price_minor } if *price_minor < 0 => Some("`price_minor` cannot be negative".into()),
            Change::Product { product } => product.problem(),
            _ => None,
        }
    }
}

impl ProductFields {
    fn problem(&self) -> Option<String> {
        if self.name.trim().is_empty() || self.name.len() > 500 {
            return Some("`product.name` must be 1 to 500 characters".into());
        }
        if self.brand.len() > 200 || self.category.is_empty() || self.category.len() > 200 {
            return Some(
                "`product.brand` and `product.category` must be at most 200 characters, a category at least 1".into(),
            );
        }
        if self.description.len() > 20_000 {
            return Some("`product.description` must be at most 20000 characters".into());
        }
        if self.price_minor < 0 || self.stock < 0 {
            return Some("`product.price_minor` and `product.stock` cannot be negative".into());
        }
        None
    }
}

/// A message on the queue: what it carries and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Who sent it.
    pub source: Source,
    /// When the origin accepted it (for the end-to-end lag).
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// What it carries.
    #[serde(flatten)]
    pub body: Body,
}

/// What an [`Envelope`] carries: `{"event": ...}` or `{"payment": ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A change to one product (the ERP, a catalog feed).
    Event(Event),
    /// A verified payment provider's event.
    Payment(super::payment::PaymentNotice),
}

impl Envelope {
    /// An envelope for a product event from `source`.
    pub fn event(source: Source, received_at: chrono::DateTime<chrono::Utc>, event: Event) -> Self {
        Self {
            source,
            received_at,
            body: Body::Event(event),
        }
    }

    /// An envelope for a verified payment event.
    pub fn payment(received_at: chrono::DateTime<chrono::Utc>, notice: super::payment::PaymentNotice) -> Self {
        Self {
            source: Source::Payment,
            received_at,
            body: Body::Payment(notice),
        }
    }

    /// The queue message carrying this envelope.
    pub fn to_outgoing(&self) -> Outgoing {
        let (group, dedup_id) = match &self.body {
            Body::Event(event) => (event.group(), event.id.clone()),
            Body::Payment(notice) => (notice.group(), notice.dedup_id()),
        };
        Outgoing {
            group,
            dedup_id,
            body: serde_json::to_string(self).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_from_the_erps_json_and_say_what_is_wrong() {
        let e: Event =
            serde_json::from_str(r#"{"id":"e1","sku":"DR-1","version":3,"type":"stock","stock":12}"#).expect("stock");
        assert_eq!(e.change, Change::Stock { stock: 12 });
        assert_eq!(e.group(), "sku:DR-1");
        assert_eq!(e.problem(), None);
        let e: Event =
            serde_json::from_str(r#"{"id":"e 2","sku":"DR-1","version":3,"type":"delete"}"#).expect("delete");
        assert!(e.problem().expect("space in id").contains("`id`"));
        let e: Event = serde_json::from_str(r#"{"id":"e3","sku":"DR-1","version":0,"type":"price","price_minor":5}"#)
            .expect("price");
        assert!(e.problem().expect("version 0").contains("`version`"));
        assert!(
            serde_json::from_str::<Event>(r#"{"id":"e4","sku":"DR-1","version":1,"type":"stock","stock":1,"x":1}"#)
                .is_err(),
            "unknown fields are refused"
        );
        assert!(serde_json::from_str::<Event>(r#"{"id":"e5","sku":"DR-1","version":1,"type":"teleport"}"#).is_err());
        let wrong = serde_json::from_str::<Event>(r#"{"id":"e6","sku":"DR-1","version":1,"type":"price","stock":1}"#)
            .expect_err("a price event with a stock field");
        assert!(wrong.to_string().contains("no field `stock`"), "{wrong}");
        let e = Event {
            id: "e7".into(),
            sku: "DR-1".into(),
            version: 2,
            change: Change::Price { price_minor: 1999 },
        };
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).expect("json")).expect("parse");
        assert_eq!(back, e, "what the origin enqueues, it reads back");
    }
}
