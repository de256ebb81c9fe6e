//! The fan-out: numbered outbox rows with a notified topic become one
//! delivery per subscribed endpoint.
//!
//! It reads the change feed after its cursor (`webhook_fanout.last_feed_seq`)
//! and, in one transaction, inserts the deliveries of a batch and moves the
//! cursor past it, so a crash in between loses and doubles nothing (and
//! `(endpoint_id, event_id)` is unique besides). The relay numbers rows
//! without holes and a row keeps its number (see [`crate::change_feed`]), so
//! the rows after the cursor are exactly the ones not yet fanned out.
//!
//! Replicas take turns: on Postgres the transaction locks the cursor row
//! with `SKIP LOCKED`, and a replica that finds it locked leaves the round to
//! the one that holds it; SQLite's write transaction serialises anyway.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::db::{BeginWrite as _, Db, Engine};
use crate::with_db;

/// Outbox rows read per transaction.
const BATCH: i64 = 500;

/// The body every attempt of a delivery sends, byte for byte.
#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    topic: &'a str,
    created_at: DateTime<Utc>,
    data: &'a Value,
}

/// The event id of the change numbered `feed_seq`: the same for every
/// endpoint and every attempt.
pub fn event_id(feed_seq: i64) -> String {
    format!("evt_{feed_seq}")
}

/// Whether the change feed has rows the fan-out has not read (a read, so
/// idle rounds take no write lock).
pub async fn behind(db: &Db) -> Result<bool, sqlx::Error> {
    with_db!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE feed_seq > (SELECT last_feed_seq FROM webhook_fanout WHERE id = 1))"
    ).fetch_one(pool).await)
}

/// Fans out up to [`BATCH`] rows after the cursor in one transaction and
/// returns (rows read, deliveries made); (0, 0) when there was nothing, or
/// another replica holds the cursor.
pub async fn fan_out_batch(db: &Db) -> Result<(u64, u64), sqlx::Error> {
    let lock = match db.engine() {
        Engine::Postgres => "SELECT last_feed_seq FROM webhook_fanout WHERE id = 1 FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "SELECT last_feed_seq FROM webhook_fanout WHERE id = 1",
    };
    with_db!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let Some(cursor): Option<i64> = sqlx::query_scalar(lock).fetch_optional(&mut *tx).await? else {
            return Ok((0, 0));
        };
        let rows: Vec<(i64, String, sqlx::types::Json<Value>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT feed_seq, topic, payload, created_at FROM outbox WHERE feed_seq > $1 ORDER BY feed_seq LIMIT $2"
        ).bind(cursor).bind(BATCH).fetch_all(&mut *tx).await?;
        let Some(last) = rows.last().map(|row| row.0) else {
            return Ok((0, 0));
        };
        if rows[0].0 != cursor + 1 {
            // Retention deleted changes the fan-out never read (it was
            // stopped for longer than VITRINE_FEED_RETENTION_SECS).
            tracing::warn!(cursor, first = rows[0].0, "webhook fan-out skipped changes past the feed's retention");
        }
        let endpoints: Vec<(Uuid, sqlx::types::Json<Vec<String>>, i64)> = sqlx::query_as(
            "SELECT id, events, created_at_ms FROM webhook_endpoints WHERE deleted_at_ms IS NULL"
        ).fetch_all(&mut *tx).await?;
        let now = crate::db::now_ms();
        let mut made = 0;
        for (feed_seq, topic, payload, created_at) in &rows {
            if !super::is_notified(topic) {
                continue;
            }
            let id = event_id(*feed_seq);
            let body = serde_json::to_string(&Body { id: &id, topic, created_at: *created_at, data: &payload.0 })
                .expect("a JSON value serialises");
            for (endpoint, events, registered_at_ms) in &endpoints {
                // Only what happened after the endpoint was registered.
                if *registered_at_ms > created_at.timestamp_millis()
                    || !events.0.iter().any(|pattern| super::matches(pattern, topic))
                {
                    continue;
                }
                made += sqlx::query(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, feed_seq, topic, body, status, \
                     next_attempt_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) \
                     ON CONFLICT (endpoint_id, event_id) DO NOTHING"
                )
                .bind(Uuid::new_v4()).bind(endpoint).bind(&id).bind(feed_seq).bind(topic).bind(&body).bind(now)
                .execute(&mut *tx).await?.rows_affected();
            }
        }
        sqlx::query("UPDATE webhook_fanout SET last_feed_seq = $1 WHERE id = 1")
            .bind(last).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok((rows.len() as u64, made))
    })
}

/// Fans out every row after the cursor, batch by batch; returns the
/// deliveries made.
pub async fn fan_out_all(db: &Db) -> Result<u64, sqlx::Error> {
    let mut made = 0;
    while behind(db).await? {
        let (read, n) = fan_out_batch(db).await?;
        made += n;
        if read == 0 {
            // Another replica holds the cursor: its round covers these rows.
            break;
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::OutboxEvent;

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&Db::embedded_url(dir.path()), 4)
            .await
            .expect("open sqlite");
        db.migrate().await.expect("migrate");
        (dir, db)
    }

    async fn write(db: &Db, topic: &'static str) {
        with_db!(db, pool => {
            let mut tx = pool.begin_write().await.expect("begin");
            crate::write_outbox!(&mut *tx, &OutboxEvent {
                topic,
                entity: "order:x".into(),
                surrogate_keys: vec![],
                payload: serde_json::json!({ "order_id": "x" }),
            }).expect("write outbox");
            tx.commit().await.expect("commit");
        });
    }

    async fn deliveries(db: &Db) -> Vec<(String, String)> {
        with_db!(db, pool => sqlx::query_as("SELECT event_id, topic FROM webhook_deliveries ORDER BY feed_seq")
            .fetch_all(pool).await.expect("deliveries"))
    }

    #[tokio::test]
    async fn each_notified_change_becomes_one_delivery_per_subscriber_once() {
        let (_dir, db) = sqlite().await;
        super::super::store::create(&db, "http://127.0.0.1:9/a", &["order.*".into()], None)
            .await
            .expect("endpoint");
        write(&db, "order.created").await;
        write(&db, "product.stock_changed").await;
        write(&db, "payment.refunded").await;
        write(&db, "order.status_changed").await;
        crate::change_feed::relay::sequence_all(&db).await.expect("number");
        assert_eq!(fan_out_all(&db).await.expect("fan out"), 2);
        assert_eq!(
            deliveries(&db).await,
            vec![
                ("evt_1".into(), "order.created".into()),
                ("evt_4".into(), "order.status_changed".into())
            ]
        );
        assert!(!behind(&db).await.expect("behind"), "the cursor moved past all four");
        // A second round, and a cursor moved back as if a crash lost its
        // update: the unique key still makes nothing twice.
        assert_eq!(fan_out_all(&db).await.expect("fan out"), 0);
        with_db!(&db, pool => sqlx::query("UPDATE webhook_fanout SET last_feed_seq = 0")
            .execute(pool).await.map(drop))
        .expect("rewind");
        assert_eq!(fan_out_all(&db).await.expect("fan out"), 0);
        assert_eq!(deliveries(&db).await.len(), 2);
    }
}
