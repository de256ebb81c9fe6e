//! The relay: numbers committed outbox rows with `feed_seq`, trims old ones,
//! and drives the Redis publisher.
//!
//! Numbering is one transaction that gives the rows without a `feed_seq`, in
//! `seq` order, `max(feed_seq) + 1`, `+ 2`, …. Only one relay may do it at a
//! time across origin replicas, or two could hand out the same numbers (the
//! unique index would refuse the second, but it is cheaper not to race): on
//! Postgres the transaction first takes a transaction-scoped advisory lock and
//! a replica that cannot get it leaves the round to the one that did; on
//! SQLite the write transaction (`BEGIN IMMEDIATE`) already serializes. Under
//! Postgres' read committed, each statement after the lock sees every earlier
//! round's commit, so `max(feed_seq)` is current.
//!
//! Every replica runs a relay; each round is cheap when there is nothing to do
//! (one indexed read, no lock).

use std::time::{Duration, Instant};

use crate::db::{BeginWrite as _, Db, Engine};
use crate::state::AppState;
use crate::with_db;

/// Rows numbered per transaction.
const BATCH: i64 = 1_000;

/// The advisory lock key of the relay (`"vitrine"` and a 1, as bytes).
const ADVISORY_LOCK_KEY: i64 = 0x7669_7472_696e_6501;

/// How often the unsequenced gauge is refreshed and retention considered.
const GAUGE_EVERY: Duration = Duration::from_secs(1);
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Longest pause after a failed round.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Numbers up to [`BATCH`] unnumbered rows in one transaction and returns how
/// many it numbered (0 when another replica holds the lock).
pub async fn sequence_batch(db: &Db) -> Result<u64, sqlx::Error> {
    let pending: bool = with_db!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE feed_seq IS NULL)"
    ).fetch_one(pool).await)?;
    if !pending {
        return Ok(0);
    }
    let postgres = db.engine() == Engine::Postgres;
    with_db!(db, pool => {
        let mut tx = pool.begin_write().await?;
        if postgres {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(ADVISORY_LOCK_KEY)
                .fetch_one(&mut *tx)
                .await?;
            if !locked {
                return Ok(0);
            }
        }
        // Under the lock (or SQLite's write lock), in a statement of its own
        // so that its snapshot is taken after the lock was granted.
        let numbered: Vec<i64> = sqlx::query_scalar(
            "WITH base AS (SELECT COALESCE(MAX(feed_seq), 0) AS top FROM outbox), \
             todo AS (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS n FROM outbox \
                      WHERE feed_seq IS NULL ORDER BY seq LIMIT $1) \
             UPDATE outbox SET feed_seq = (SELECT top FROM base) + todo.n \
             FROM todo WHERE outbox.seq = todo.seq RETURNING feed_seq",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(numbered.len() as u64)
    })
}

/// Numbers every row that has no `feed_seq` yet, batch by batch.
pub async fn sequence_all(db: &Db) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = sequence_batch(db).await?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Deletes numbered rows created before `cutoff`, keeping the retained rows
/// one contiguous range and always keeping the newest numbered row (so
/// numbering continues from it). Returns how many it deleted.
///
/// Rows are cut by `feed_seq`, not by age alone: a row numbered late for its
/// age would otherwise leave a hole inside the retained range that
/// `first_seq` could not reveal.
pub async fn trim(db: &Db, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, sqlx::Error> {
    let deleted = with_db!(db, pool => sqlx::query(
        "DELETE FROM outbox WHERE feed_seq <= \
           (SELECT MAX(feed_seq) FROM outbox WHERE created_at < $1 AND feed_seq IS NOT NULL) \
         AND feed_seq < (SELECT MAX(feed_seq) FROM outbox)"
    ).bind(cutoff).execute(pool).await.map(|done| done.rows_affected()))?;
    Ok(deleted)
}

/// Outbox rows that no relay has numbered yet.
pub async fn unsequenced(db: &Db) -> Result<i64, sqlx::Error> {
    with_db!(db, pool => sqlx::query_scalar("SELECT count(*) FROM outbox WHERE feed_seq IS NULL")
        .fetch_one(pool).await)
}

/// Seconds since the oldest outbox row no relay has numbered yet was
/// written (0 when there is none): how far the change feed is behind.
pub async fn oldest_unsequenced_age(db: &Db) -> Result<f64, sqlx::Error> {
    let oldest: Option<chrono::DateTime<chrono::Utc>> = with_db!(db, pool => sqlx::query_scalar(
        "SELECT MIN(created_at) FROM outbox WHERE feed_seq IS NULL"
    ).fetch_one(pool).await)?;
    Ok(oldest.map_or(0.0, |at| {
        (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
    }))
}

/// The numbering loop: every `feed_relay_interval_ms`, and whenever this
/// process wakes it after a write. Never returns; abort it to stop.
pub async fn run(state: AppState) {
    let feed = state.feed.clone();
    let interval = Duration::from_millis(state.config.feed_relay_interval_ms);
    let retention = chrono::Duration::seconds(i64::try_from(state.config.feed_retention_secs).unwrap_or(i64::MAX));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_gauge: Option<Instant> = None;
    let mut last_trim: Option<Instant> = None;
    let mut backoff = interval;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = feed.inner.relay_wake.notified() => {}
        }
        match sequence_all(&state.db).await {
            Ok(n) => {
                backoff = interval;
                if n > 0 {
                    metrics::counter!("vitrine_feed_sequenced_total").increment(n);
                    tracing::debug!(numbered = n, "change feed rows numbered");
                    feed.announce_sequenced();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "numbering change feed rows failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        if last_gauge.is_none_or(|t| t.elapsed() >= GAUGE_EVERY) {
            last_gauge = Some(Instant::now());
            if let Ok(n) = unsequenced(&state.db).await {
                metrics::gauge!("vitrine_feed_unsequenced").set(n as f64);
            }
            if let Ok(age) = oldest_unsequenced_age(&state.db).await {
                metrics::gauge!("vitrine_outbox_lag_seconds").set(age);
            }
        }
        if last_trim.is_none_or(|t| t.elapsed() >= TRIM_EVERY) {
            last_trim = Some(Instant::now());
            let cutoff = chrono::Utc::now()
                .checked_sub_signed(retention)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
            match trim(&state.db, cutoff).await {
                Ok(0) => {}
                Ok(n) => {
                    metrics::counter!("vitrine_feed_trimmed_total").increment(n);
                    tracing::info!(deleted = n, "change feed rows past retention deleted");
                }
                Err(e) => tracing::warn!(error = %e, "trimming the change feed failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change_feed::{bounds, page_after};
    use crate::outbox::OutboxEvent;

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&Db::embedded_url(dir.path()), 4)
            .await
            .expect("open sqlite");
        db.migrate().await.expect("migrate");
        (dir, db)
    }

    async fn write(db: &Db, entity: &str, at: chrono::DateTime<chrono::Utc>) {
        with_db!(db, pool => {
            let mut tx = pool.begin_write().await.expect("begin");
            crate::write_outbox!(&mut *tx, &OutboxEvent {
                topic: "test.changed",
                entity: entity.to_owned(),
                surrogate_keys: vec![entity.to_owned()],
                payload: serde_json::json!({}),
            }).expect("write outbox");
            sqlx::query("UPDATE outbox SET created_at = $1 WHERE entity = $2")
                .bind(at).bind(entity).execute(&mut *tx).await.expect("backdate");
            tx.commit().await.expect("commit");
        });
    }

    async fn seqs(db: &Db) -> Vec<(String, Option<i64>)> {
        with_db!(db, pool => sqlx::query_as("SELECT entity, feed_seq FROM outbox ORDER BY seq")
            .fetch_all(pool).await.expect("read outbox"))
    }

    #[tokio::test]
    async fn numbers_are_contiguous_assigned_once_and_never_reused_after_a_trim() {
        let (_dir, db) = sqlite().await;
        let old = chrono::Utc::now() - chrono::Duration::days(30);
        write(&db, "a", old).await;
        write(&db, "b", old).await;
        assert_eq!(sequence_all(&db).await.expect("sequence"), 2);
        write(&db, "c", chrono::Utc::now()).await;
        assert_eq!(sequence_all(&db).await.expect("sequence"), 1);
        assert_eq!(
            sequence_all(&db).await.expect("sequence"),
            0,
            "nothing is numbered twice"
        );
        assert_eq!(
            seqs(&db).await,
            vec![("a".into(), Some(1)), ("b".into(), Some(2)), ("c".into(), Some(3))]
        );

        // Everything is old: the newest numbered row survives, so numbering
        // goes on from 3 rather than starting over at 1.
        sqlx_update_all_created_at(&db, old).await;
        assert_eq!(trim(&db, chrono::Utc::now()).await.expect("trim"), 2);
        assert_eq!(bounds(&db).await.expect("bounds"), Some((3, 3)));
        write(&db, "d", chrono::Utc::now()).await;
        sequence_all(&db).await.expect("sequence");
        assert_eq!(bounds(&db).await.expect("bounds"), Some((3, 4)));
        let page = page_after(&db, 0, 10).await.expect("page");
        assert_eq!(page.first_seq, Some(3), "an edge at 0 can see that 1 and 2 are gone");
        assert_eq!(page.changes.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![3, 4]);
    }

    #[tokio::test]
    async fn trimming_keeps_the_retained_rows_one_range() {
        let (_dir, db) = sqlite().await;
        let now = chrono::Utc::now();
        let old = now - chrono::Duration::days(30);
        // Numbered 1 (new), 2 (old), 3 (new): cutting by age alone would
        // delete 2 and leave a hole between 1 and 3.
        write(&db, "new1", now).await;
        write(&db, "old2", old).await;
        write(&db, "new3", now).await;
        sequence_all(&db).await.expect("sequence");
        assert_eq!(trim(&db, now - chrono::Duration::days(7)).await.expect("trim"), 2);
        assert_eq!(bounds(&db).await.expect("bounds"), Some((3, 3)));
    }

    async fn sqlx_update_all_created_at(db: &Db, at: chrono::DateTime<chrono::Utc>) {
        with_db!(db, pool => sqlx::query("UPDATE outbox SET created_at = $1").bind(at).execute(pool).await.map(drop).expect("update"));
    }
}
