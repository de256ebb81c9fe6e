//! The transactional outbox: every committed change to the catalog or an order
//! also writes a row here, in the same transaction, naming the entity and the
//! surrogate keys whose cached pages it invalidates. The sync pipeline's relay
//! publishes the rows in `seq` order to the change feed and the search index;
//! because the row commits with the change, a crash between the two loses
//! nothing.

use serde_json::Value;

/// One change to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEvent {
    /// What happened, e.g. `product.stock_changed`, `order.created`.
    pub topic: &'static str,
    /// The entity, e.g. `product:<id>`.
    pub entity: String,
    /// Keys of the cached pages the change invalidates.
    pub surrogate_keys: Vec<String>,
    /// The change itself.
    pub payload: Value,
}

/// Writes `$event` (an [`OutboxEvent`]) through `$exec` (a transaction of
/// either engine). A macro rather than a function so that it type-checks
/// against each engine's concrete transaction inside [`crate::with_db!`].
#[macro_export]
macro_rules! write_outbox {
    ($exec:expr, $event:expr) => {{
        let event: &$crate::outbox::OutboxEvent = $event;
        sqlx::query(
            "INSERT INTO outbox (topic, entity, surrogate_keys, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.topic)
        .bind(&event.entity)
        .bind(sqlx::types::Json(&event.surrogate_keys))
        .bind(sqlx::types::Json(&event.payload))
        .bind(chrono::Utc::now())
        .execute($exec)
        .await
    }};
}

/// An unpublished outbox row (for the relay and for tests).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    /// Commit-ordered sequence number.
    pub seq: i64,
    /// What happened.
    pub topic: String,
    /// The entity.
    pub entity: String,
    /// Keys to purge.
    pub surrogate_keys: sqlx::types::Json<Vec<String>>,
    /// The change.
    pub payload: sqlx::types::Json<Value>,
}

/// Outbox rows after `after_seq`, oldest first, at most `limit`.
pub async fn read_after(db: &crate::db::Db, after_seq: i64, limit: i64) -> Result<Vec<OutboxRow>, sqlx::Error> {
    crate::with_db!(db, pool => sqlx::query_as(
        "SELECT seq, topic, entity, surrogate_keys, payload FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2"
    ).bind(after_seq).bind(limit).fetch_all(pool).await)
}
