//! The command handlers: each event applied to the database idempotently,
//! in one transaction with the record that it was processed and its outbox
//! row.
//!
//! - An event whose id was processed before changes nothing ([`Outcome::Duplicate`]).
//! - An event changes a SKU's stock, price or other fields only where its
//!   `version` is newer than that field's last change (and than a delete):
//!   so a SKU's events give the state of their version order whatever order
//!   they arrive in (a redriven dead letter, a queue that reorders). One that
//!   changes nothing is recorded as [`Outcome::Stale`]; a delete's version
//!   stays, so a late, older upsert does not bring the product back.
//! - Otherwise the change, the SKU's new version, the processed id and the
//!   outbox row commit together ([`Outcome::Applied`]): a crash before the
//!   commit leaves the event to be redelivered, one after it leaves a
//!   redelivery to be a duplicate.

use chrono::Utc;
use uuid::Uuid;

use super::event::{Body, Change, Envelope, Event, ProductFields, Source};
use crate::catalog::product_surrogate_keys;
use crate::db::{BeginWrite as _, Db};
use crate::outbox::OutboxEvent;
use crate::with_db;

/// What handling an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The change is in the database.
    Applied,
    /// This event id was processed before.
    Duplicate,
    /// A newer version of the product was applied before.
    Stale,
}

impl Outcome {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
        }
    }
}

/// Why an event could not be applied. Either way the queue delivers it
/// again later; one that keeps failing ends in the dead letters.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event cannot apply to the data as it is (an unknown SKU or
    /// category); it may after the data is fixed, then it can be redriven.
    #[error("{0}")]
    Rejected(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The newest version applied to each of a SKU's groups of fields.
#[derive(sqlx::FromRow)]
struct Versions {
    stock_version: i64,
    price_version: i64,
    fields_version: i64,
    deleted_version: i64,
}

/// Which groups of fields an event changes.
struct Applies {
    stock: bool,
    price: bool,
    fields: bool,
    delete: bool,
}

impl Versions {
    /// What an event at `version` changes, or `None` when it is stale: an
    /// event changes a field only if it is newer than the field's last
    /// change and than a delete, so a SKU's events leave the state of their
    /// version order in whatever order they arrive.
    fn applies(&self, version: i64, change: &Change) -> Option<Applies> {
        let newer = |v: i64| version > v && version > self.deleted_version;
        let applies = match change {
            Change::Stock { .. } => Applies {
                stock: newer(self.stock_version),
                price: false,
                fields: false,
                delete: false,
            },
            Change::Price { .. } => Applies {
                stock: false,
                price: newer(self.price_version),
                fields: false,
                delete: false,
            },
            Change::Product { .. } => Applies {
                stock: newer(self.stock_version),
                price: newer(self.price_version),
                fields: newer(self.fields_version),
                delete: false,
            },
            Change::Delete => Applies {
                stock: false,
                price: false,
                fields: false,
                delete: [self.stock_version, self.price_version, self.fields_version]
                    .into_iter()
                    .all(|v| version > v)
                    && newer(0),
            },
        };
        (applies.stock || applies.price || applies.fields || applies.delete).then_some(applies)
    }
}

/// Applies what `envelope` carries; `currency` is the store's, for new
/// products.
pub async fn apply(db: &Db, currency: &str, envelope: &Envelope) -> Result<Outcome, HandleError> {
    match &envelope.body {
        Body::Event(event) => apply_event(db, currency, envelope.source, event).await,
        Body::Payment(notice) => super::payment::apply(db, notice, &notice.dedup_id()).await,
    }
}

/// Claims `$event_id` as processed through `$exec`, in the transaction that
/// applies it; evaluates to `Ok(true)` for the first claim. A concurrent
/// handler of the same id waits on the row (Postgres) or on the write lock
/// (SQLite) and then sees it. A macro so it type-checks against each
/// engine's transaction inside [`crate::with_db!`].
macro_rules! claim_processed {
    ($exec:expr, $event_id:expr, $now_ms:expr) => {
        sqlx::query(
            "INSERT INTO sync_processed (event_id, outcome, processed_at_ms) VALUES ($1, 'applied', $2) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind($event_id)
        .bind($now_ms)
        .execute($exec)
        .await
        .map(|done| done.rows_affected() == 1)
    };
}

/// Records a claimed event as `stale` (older than what is stored).
macro_rules! mark_stale {
    ($exec:expr, $event_id:expr) => {
        sqlx::query("UPDATE sync_processed SET outcome = 'stale' WHERE event_id = $1")
            .bind($event_id)
            .execute($exec)
            .await
            .map(drop)
    };
}

pub(crate) use {claim_processed, mark_stale};

/// Applies one product event from `source`.
async fn apply_event(db: &Db, currency: &str, source: Source, event: &Event) -> Result<Outcome, HandleError> {
    let now = Utc::now();
    let now_ms = now.timestamp_millis();
    let cause = format!("sync:{}", source.as_str());
    with_db!(db, pool => {
        let mut tx = pool.begin_write().await?;
        // Claimed first, so a concurrent handler of the same id waits.
        if !claim_processed!(&mut *tx, &event.id, now_ms)? {
            return Ok(Outcome::Duplicate);
        }
        // The SKU's versions, locked until the commit (Postgres; SQLite's
        // write transaction already excludes everyone else).
        sqlx::query("INSERT INTO sync_versions (sku) VALUES ($1) ON CONFLICT (sku) DO NOTHING")
            .bind(&event.sku)
            .execute(&mut *tx)
            .await?;
        let lock = if matches!(db, Db::Postgres(_)) { " FOR UPDATE" } else { "" };
        let versions: Versions = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT stock_version, price_version, fields_version, deleted_version FROM sync_versions WHERE sku = $1{lock}"
        )))
        .bind(&event.sku)
        .fetch_one(&mut *tx)
        .await?;
        let Some(applies) = versions.applies(event.version, &event.change) else {
            mark_stale!(&mut *tx, &event.id)?;
            tx.commit().await?;
            return Ok(Outcome::Stale);
        };
        sqlx::query(
            "UPDATE sync_versions SET \
               stock_version = CASE WHEN $2 THEN $1 ELSE stock_version END, \
               price_version = CASE WHEN $3 THEN $1 ELSE price_version END, \
               fields_version = CASE WHEN $4 THEN $1 ELSE fields_version END, \
               deleted_version = CASE WHEN $5 THEN $1 ELSE deleted_version END \
             WHERE sku = $6",
        )
        .bind(event.version)
        .bind(applies.stock)
        .bind(applies.price)
        .bind(applies.fields)
        .bind(applies.delete)
        .bind(&event.sku)
        .execute(&mut *tx)
        .await?;
        let existing: Option<(Uuid, String)> =
            sqlx::query_as("SELECT id, category_path FROM products WHERE sku = $1")
                .bind(&event.sku)
                .fetch_optional(&mut *tx)
                .await?;
        let unknown = || HandleError::Rejected(format!("no product has sku `{}`", event.sku));
        let (topic, id, keys, payload) = match &event.change {
            Change::Stock { stock } => {
                let (id, path) = existing.ok_or_else(unknown)?;
                sqlx::query("UPDATE products SET stock = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                    .bind(stock).bind(now).bind(id).execute(&mut *tx).await?;
                ("product.stock_changed", id, product_surrogate_keys(id, &path, false), serde_json::json!({ "value": stock }))
            }
            Change::Price { price_minor } => {
                let (id, path) = existing.ok_or_else(unknown)?;
                sqlx::query("UPDATE products SET price_minor = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                    .bind(price_minor).bind(now).bind(id).execute(&mut *tx).await?;
                ("product.price_changed", id, product_surrogate_keys(id, &path, true), serde_json::json!({ "value": price_minor }))
            }
            Change::Product { product } => {
                let path: Option<String> = sqlx::query_scalar("SELECT path FROM categories WHERE slug = $1")
                    .bind(&product.category)
                    .fetch_optional(&mut *tx)
                    .await?;
                let path = path.ok_or_else(|| HandleError::Rejected(format!("no category has slug `{}`", product.category)))?;
                let ProductFields { name, description, brand, category, price_minor, stock, attributes } = product;
                let attributes = sqlx::types::Json(attributes);
                let mut keys;
                let id = match existing {
                    Some((id, old_path)) => {
                        // Each group of fields only if this event is newer
                        // than its last change.
                        sqlx::query(
                            "UPDATE products SET \
                               name = CASE WHEN $11 THEN $1 ELSE name END, \
                               description = CASE WHEN $11 THEN $2 ELSE description END, \
                               brand = CASE WHEN $11 THEN $3 ELSE brand END, \
                               category_slug = CASE WHEN $11 THEN $4 ELSE category_slug END, \
                               category_path = CASE WHEN $11 THEN $5 ELSE category_path END, \
                               attributes = CASE WHEN $11 THEN $6 ELSE attributes END, \
                               price_minor = CASE WHEN $12 THEN $7 ELSE price_minor END, \
                               stock = CASE WHEN $13 THEN $8 ELSE stock END, \
                               version = version + 1, updated_at = $9 WHERE id = $10",
                        )
                        .bind(name).bind(description).bind(brand).bind(category).bind(&path)
                        .bind(&attributes).bind(price_minor).bind(stock).bind(now).bind(id)
                        .bind(applies.fields).bind(applies.price).bind(applies.stock)
                        .execute(&mut *tx).await?;
                        keys = product_surrogate_keys(id, &old_path, true);
                        id
                    }
                    None => {
                        let id = Uuid::new_v4();
                        sqlx::query(
                            "INSERT INTO products (id, sku, name, description, brand, category_slug, category_path, \
                             attributes, images, price_minor, currency, stock, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
                        )
                        .bind(id).bind(&event.sku).bind(name).bind(description).bind(brand).bind(category)
                        .bind(&path).bind(&attributes).bind(sqlx::types::Json(Vec::<serde_json::Value>::new()))
                        .bind(price_minor).bind(currency).bind(stock).bind(now)
                        .execute(&mut *tx).await?;
                        keys = Vec::new();
                        id
                    }
                };
                // Listings of the new place too, when it moved (or is new).
                for key in product_surrogate_keys(id, &path, true) {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                ("product.upserted", id, keys, serde_json::json!({ "category": category, "price_minor": price_minor, "stock": stock }))
            }
            Change::Delete => {
                let Some((id, path)) = existing else {
                    // Nothing to withdraw; the version is kept, so an older
                    // upsert arriving later does not create it.
                    tx.commit().await?;
                    return Ok(Outcome::Applied);
                };
                // A product that orders name stays (their lines point at
                // it) but can no longer be bought.
                let removed = sqlx::query(
                    "DELETE FROM products WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM order_lines WHERE product_id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if removed == 0 {
                    sqlx::query("UPDATE products SET stock = 0, version = version + 1, updated_at = $1 WHERE id = $2")
                        .bind(now).bind(id).execute(&mut *tx).await?;
                }
                ("product.deleted", id, product_surrogate_keys(id, &path, true), serde_json::json!({ "removed": removed > 0 }))
            }
        };
        let mut payload = payload;
        if let serde_json::Value::Object(fields) = &mut payload {
            fields.insert("product_id".into(), serde_json::json!(id));
            fields.insert("sku".into(), serde_json::json!(event.sku));
            fields.insert("sync_version".into(), serde_json::json!(event.version));
            fields.insert("event_id".into(), serde_json::json!(event.id));
            fields.insert("cause".into(), serde_json::json!(cause));
        }
        crate::write_outbox!(&mut *tx, &OutboxEvent {
            topic,
            entity: format!("product:{id}"),
            surrogate_keys: keys,
            payload,
        })?;
        tx.commit().await?;
        Ok(Outcome::Applied)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(stock: i64, price: i64, fields: i64, deleted: i64) -> Versions {
        Versions {
            stock_version: stock,
            price_version: price,
            fields_version: fields,
            deleted_version: deleted,
        }
    }

    #[test]
    fn each_field_takes_only_newer_versions_and_a_delete_bars_older_ones() {
        let v = versions(5, 7, 3, 0);
        let stock = Change::Stock { stock: 1 };
        let price = Change::Price { price_minor: 1 };
        assert!(v.applies(5, &stock).is_none(), "the same version again is stale");
        assert!(v.applies(6, &stock).is_some_and(|a| a.stock && !a.price));
        assert!(v.applies(6, &price).is_none(), "price v7 was applied, so v6 is older");
        let product = Change::Product {
            product: ProductFields {
                name: "n".into(),
                description: String::new(),
                brand: "b".into(),
                category: "c".into(),
                price_minor: 1,
                stock: 1,
                attributes: serde_json::Map::new(),
            },
        };
        let a = v.applies(6, &product).expect("newer fields and stock");
        assert!(a.fields && a.stock && !a.price, "only what is older than v6 changes");
        assert!(
            v.applies(7, &Change::Delete).is_none(),
            "a delete must be newer than every field"
        );
        assert!(v.applies(8, &Change::Delete).is_some_and(|a| a.delete));
        let deleted = versions(5, 7, 3, 9);
        assert!(
            deleted.applies(8, &product).is_none(),
            "an older upsert does not bring it back"
        );
        assert!(
            deleted
                .applies(10, &product)
                .is_some_and(|a| a.fields && a.price && a.stock)
        );
    }
}
