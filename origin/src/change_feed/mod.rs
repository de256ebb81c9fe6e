//! The change feed the edges follow to purge cached pages.
//!
//! Every committed catalog or order change writes an outbox row (see
//! [`crate::outbox`]). The [`relay`] numbers those rows with `feed_seq`, and
//! edges read them in that order, over HTTP ([`http`]: a long poll on
//! `/internal/v1/changes`) or from the Redis stream `<prefix>changes`
//! ([`stream`]), and purge each change's surrogate keys.
//!
//! Guarantees an edge can build on:
//! - **Contiguous.** `feed_seq` runs 1, 2, 3, … with no hole; each row gets
//!   its number once and keeps it. So an edge that applied everything up to
//!   `n` and next reads `n + 1` has provably missed nothing.
//! - **Committed only, at least once.** A row is numbered only after its
//!   transaction commits; a number is never reused, even after retention
//!   deletes old rows (the newest numbered row is always kept).
//! - **A retained window, not a history.** The database keeps numbered rows
//!   for the configured retention, as one contiguous range
//!   `[first_seq, last_seq]`; the stream keeps about `feed_stream_maxlen`
//!   entries. An edge that needs a number below what is retained (or sees any
//!   other gap, or a `last_seq` below what it applied: the origin's database
//!   was replaced) cannot prove its cache fresh and must drop it.
//! - **Order is feed order, not commit-time order** across entities: purges
//!   are idempotent, so that is all an edge needs.

pub mod http;
pub mod relay;
pub mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::db::Db;
use crate::with_db;

/// The change feed's in-process signals and its Redis publisher. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ChangeFeed {
    inner: Arc<Inner>,
    /// Where sequenced changes are published, when Redis is configured.
    pub stream: Option<stream::StreamPublisher>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Wakes the relay: this process just wrote (probably) an outbox row.
    relay_wake: Notify,
    /// Wakes long polls and the publisher: the relay numbered new rows.
    sequenced: Notify,
    /// Set when the server begins to shut down, so long polls answer at once
    /// instead of holding up the drain.
    closing: AtomicBool,
}

impl ChangeFeed {
    /// A feed that publishes to `stream`, if given.
    pub fn new(stream: Option<stream::StreamPublisher>) -> Self {
        Self {
            inner: Arc::default(),
            stream,
        }
    }

    /// Asks the relay to run now rather than at its next tick.
    pub fn wake_relay(&self) {
        self.inner.relay_wake.notify_one();
    }

    /// Resolves the next time this process's relay numbers new rows (enable
    /// it before reading the feed, so a round in between is not missed).
    pub fn sequenced(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.sequenced.notified()
    }

    /// Tells everyone waiting for new changes that there are some.
    fn announce_sequenced(&self) {
        self.inner.sequenced.notify_waiters();
    }

    /// Ends every long poll now and makes new ones answer without waiting.
    pub fn close(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        self.inner.sequenced.notify_waiters();
    }

    fn is_closing(&self) -> bool {
        self.inner.closing.load(Ordering::SeqCst)
    }
}

/// One change as the edges see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// Its feed sequence number: contiguous from 1.
    pub seq: u64,
    /// What happened, e.g. `product.price_changed`.
    pub topic: String,
    /// The entity, e.g. `product:<id>`.
    pub entity: String,
    /// Surrogate keys of the cached pages to purge.
    pub surrogate_keys: Vec<String>,
}

/// What the feed holds after some point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    /// Changes with `seq > after`, in order, at most `limit`.
    pub changes: Vec<Change>,
    /// The lowest `seq` still retained, or `null` when nothing is numbered
    /// yet. If it is above `after + 1`, changes the caller needs were trimmed.
    pub first_seq: Option<u64>,
    /// The highest `seq` assigned so far, or 0.
    pub last_seq: u64,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    feed_seq: i64,
    topic: String,
    entity: String,
    surrogate_keys: sqlx::types::Json<Vec<String>>,
}

impl From<ChangeRow> for Change {
    fn from(row: ChangeRow) -> Self {
        Change {
            seq: u64::try_from(row.feed_seq).unwrap_or_default(),
            topic: row.topic,
            entity: row.entity,
            surrogate_keys: row.surrogate_keys.0,
        }
    }
}

/// Numbered changes after `after`, oldest first, at most `limit`.
pub async fn changes_after(db: &Db, after: u64, limit: u32) -> Result<Vec<Change>, sqlx::Error> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let rows: Vec<ChangeRow> = with_db!(db, pool => sqlx::query_as(
        "SELECT feed_seq, topic, entity, surrogate_keys FROM outbox \
         WHERE feed_seq > $1 ORDER BY feed_seq LIMIT $2"
    ).bind(after).bind(i64::from(limit)).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(Change::from).collect())
}

/// (lowest retained, highest assigned) `feed_seq`, or `None` for an empty feed.
pub async fn bounds(db: &Db) -> Result<Option<(u64, u64)>, sqlx::Error> {
    // Two subqueries rather than `MIN(..), MAX(..)`: SQLite answers a lone
    // min or max from the index, but scans the table for both together.
    let (first, last): (Option<i64>, Option<i64>) = with_db!(db, pool => sqlx::query_as(
        "SELECT (SELECT MIN(feed_seq) FROM outbox), (SELECT MAX(feed_seq) FROM outbox)"
    ).fetch_one(pool).await)?;
    let to_u64 = |v: i64| u64::try_from(v).unwrap_or_default();
    Ok(first.zip(last).map(|(f, l)| (to_u64(f), to_u64(l))))
}

/// One page of the feed after `after`.
///
/// The changes are read before the bounds, and `first_seq` is never above
/// the first change returned: so a trim between the two reads can make the
/// answer look trimmed when it was not (the edge starts over, which is safe),
/// never the other way round.
pub async fn page_after(db: &Db, after: u64, limit: u32) -> Result<ChangesPage, sqlx::Error> {
    let changes = changes_after(db, after, limit).await?;
    let bounds = bounds(db).await?;
    let mut first_seq = bounds.map(|(first, _)| first);
    let mut last_seq = bounds.map_or(0, |(_, last)| last);
    if let (Some(head), Some(tail)) = (changes.first(), changes.last()) {
        first_seq = Some(first_seq.map_or(head.seq, |f| f.min(head.seq)));
        last_seq = last_seq.max(tail.seq);
    }
    Ok(ChangesPage {
        changes,
        first_seq,
        last_seq,
    })
}
