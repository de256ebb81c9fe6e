//! The database queue: the embedded default's stand-in for SQS FIFO, with
//! the same contract (see [`super::queue`]), in table `sync_messages`.
//!
//! A message is deliverable when it is visible and no older live message of
//! its group exists, so a group's next message waits while one is in flight.
//! On Postgres, concurrent receivers skip each other's rows (`FOR UPDATE
//! SKIP LOCKED`) and a group's later rows are never heads while an earlier
//! one lives; on SQLite a receive is one write transaction.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng as _;

use super::queue::{DeadLetter, Delivery, MAX_BATCH, Outgoing, Queue, QueueError, QueueStats};
use crate::db::{BeginWrite as _, Db};
use crate::with_db;

/// How often a long poll looks again when nothing in this process sent.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// The queue in the origin's database.
#[derive(Clone, Debug)]
pub struct DbQueue {
    db: Db,
    max_receives: u32,
    sent: Arc<tokio::sync::Notify>,
}

#[derive(sqlx::FromRow)]
struct Row {
    group_id: String,
    dedup_id: String,
    body: String,
    sent_at_ms: i64,
    receive_count: i32,
    receipt: Option<String>,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl DbQueue {
    /// The queue in `db`; a message received `max_receives` times without
    /// being deleted becomes a dead letter at its next receive.
    pub fn new(db: Db, max_receives: u32) -> Self {
        Self {
            db,
            max_receives: max_receives.max(1),
            sent: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// One receive attempt, without waiting.
    async fn receive_now(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        let now = now_ms();
        let visible_at = now.saturating_add(millis(visibility));
        let max = i64::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(10);
        let nonce = format!("{:016x}", rand::thread_rng().r#gen::<u64>());
        let max_receives = i64::from(self.max_receives);
        // Heads of their groups, oldest first. Postgres locks the picked
        // rows and skips rows another receiver holds.
        let pick = |lock: &str| {
            format!(
                "UPDATE sync_messages SET receive_count = receive_count + 1, visible_at_ms = $1, \
                   receipt = $2 || '-' || CAST(id AS TEXT) \
                 WHERE id IN ( \
                   SELECT m.id FROM sync_messages m \
                   WHERE NOT m.dead AND m.visible_at_ms <= $3 AND NOT EXISTS ( \
                     SELECT 1 FROM sync_messages o WHERE o.group_id = m.group_id AND o.id < m.id AND NOT o.dead) \
                   ORDER BY m.id LIMIT $4 {lock}) \
                 RETURNING id, group_id, dedup_id, body, sent_at_ms, receive_count, receipt"
            )
        };
        // Messages received too often move to the dead letters instead of
        // being delivered again, which frees their groups.
        let bury = "UPDATE sync_messages SET dead = TRUE, receipt = NULL \
                    WHERE NOT dead AND visible_at_ms <= $1 AND receive_count >= $2";
        let mut rows: Vec<(i64, Row)> = with_db!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let buried = sqlx::query(bury).bind(now).bind(max_receives).execute(&mut *tx).await?.rows_affected();
            if buried > 0 {
                tracing::warn!(count = buried, "sync messages received too often moved to the dead letters");
                metrics::counter!("vitrine_sync_dead_lettered_total", "queue" => "db").increment(buried);
            }
            let lock = if matches!(self.db, Db::Postgres(_)) { "FOR UPDATE SKIP LOCKED" } else { "" };
            let sql = pick(lock);
            let rows: Vec<(i64, String, String, String, i64, i32, Option<String>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(visible_at)
                    .bind(&nonce)
                    .bind(now)
                    .bind(max)
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(
                rows.into_iter()
                    .map(|(id, group_id, dedup_id, body, sent_at_ms, receive_count, receipt)| {
                        (id, Row { group_id, dedup_id, body, sent_at_ms, receive_count, receipt })
                    })
                    .collect(),
            )
        })?;
        rows.sort_by_key(|(id, _)| *id);
        Ok(rows
            .into_iter()
            .map(|(_, r)| Delivery {
                group: r.group_id,
                dedup_id: r.dedup_id,
                body: r.body,
                receipt: r.receipt.unwrap_or_default(),
                receive_count: u32::try_from(r.receive_count).unwrap_or(0),
                sent_at: at(r.sent_at_ms),
            })
            .collect())
    }
}

impl Queue for DbQueue {
    async fn send(&self, messages: &[Outgoing]) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        for chunk in messages.chunks(500) {
            with_db!(&self.db, pool => {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO sync_messages (group_id, dedup_id, body, sent_at_ms, visible_at_ms) ",
                );
                insert.push_values(chunk, |mut row, m| {
                    row.push_bind(&m.group)
                        .push_bind(&m.dedup_id)
                        .push_bind(&m.body)
                        .push_bind(now)
                        .push_bind(now);
                });
                insert.push(" ON CONFLICT (dedup_id) DO NOTHING");
                let mut tx = pool.begin_write().await?;
                insert.build().execute(&mut *tx).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(())
            })?;
        }
        self.sent.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register before looking, so a send between the look and the
            // wait still wakes this receive.
            let sent = self.sent.notified();
            let got = self.receive_now(max, visibility).await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let nap = POLL_EVERY.min(deadline - now);
            let _ = tokio::time::timeout(nap, sent).await;
        }
    }

    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let visible_at = now_ms().saturating_add(millis(visibility));
        let changed = with_db!(&self.db, pool => {
            sqlx::query("UPDATE sync_messages SET visible_at_ms = $1 WHERE receipt = $2 AND NOT dead")
                .bind(visible_at)
                .bind(receipt)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if changed == 0 {
            return Err(QueueError::Refused(format!("receipt `{receipt}` is no longer valid")));
        }
        Ok(())
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let deleted = with_db!(&self.db, pool => {
            sqlx::query("DELETE FROM sync_messages WHERE receipt = $1 AND NOT dead")
                .bind(receipt)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if deleted == 0 {
            return Err(QueueError::Refused(format!("receipt `{receipt}` is no longer valid")));
        }
        // The group's next message may be deliverable now.
        self.sent.notify_waiters();
        Ok(())
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let now = now_ms();
        let (backlog, in_flight, dead, oldest): (i64, i64, i64, Option<i64>) = with_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT \
                   COALESCE(SUM(CASE WHEN NOT dead AND visible_at_ms <= $1 THEN 1 ELSE 0 END), 0), \
                   COALESCE(SUM(CASE WHEN NOT dead AND visible_at_ms > $1 THEN 1 ELSE 0 END), 0), \
                   COALESCE(SUM(CASE WHEN dead THEN 1 ELSE 0 END), 0), \
                   MIN(CASE WHEN NOT dead THEN sent_at_ms END) \
                 FROM sync_messages",
            )
            .bind(now)
            .fetch_one(pool)
            .await
        })?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(QueueStats {
            backlog: count(backlog),
            in_flight: count(in_flight),
            dead: count(dead),
            oldest_age_secs: Some(oldest.map_or(0.0, |sent| (now - sent).max(0) as f64 / 1000.0)),
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, String, i32, i64)> = with_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT dedup_id, group_id, body, receive_count, sent_at_ms FROM sync_messages \
                 WHERE dead ORDER BY id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, group, body, receive_count, sent_at_ms)| DeadLetter {
                id,
                group,
                body,
                receive_count: u32::try_from(receive_count).unwrap_or(0),
                sent_at: at(sent_at_ms),
            })
            .collect())
    }

    async fn redrive(&self, id: Option<&str>) -> Result<u64, QueueError> {
        let now = now_ms();
        // Deleted and inserted again, so it takes a new place at the end of
        // the queue (and of its group), as SQS's redrive does.
        let moved = with_db!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let mut rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
                "DELETE FROM sync_messages WHERE dead AND ($1 IS NULL OR dedup_id = $1) \
                 RETURNING id, group_id, dedup_id, body, sent_at_ms",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            rows.sort_by_key(|row| row.0);
            for (_, group, dedup_id, body, sent_at_ms) in &rows {
                sqlx::query(
                    "INSERT INTO sync_messages (group_id, dedup_id, body, sent_at_ms, visible_at_ms) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(group)
                .bind(dedup_id)
                .bind(body)
                .bind(sent_at_ms)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(rows.len() as u64)
        })?;
        if moved > 0 {
            self.sent.notify_waiters();
        }
        Ok(moved)
    }
}
