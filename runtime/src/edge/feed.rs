//! Following the origin's change feed, and purging what it names.
//!
//! Every change at the origin carries a feed sequence number; the numbers
//! have no holes (the origin's relay assigns them one by one). The follower
//! remembers the last number it applied and applies the next ones in order,
//! purging each change's surrogate keys. That contiguity is the proof that
//! nothing was missed:
//!
//! - after a disconnect, it resumes after the last number it applied;
//! - when the next change it sees is not last + 1 (the feed was trimmed, a
//!   Redis that restarted empty got only newer entries), or the feed's end
//!   is now before its position (the origin's database was replaced), it
//!   cannot prove what it missed: it marks every stored page stale
//!   ([`PageStore::invalidate_all`]: revalidated before its next use,
//!   still servable under `stale-if-error`) and goes on from there.
//!
//! Two transports, one contract: the origin's long-poll endpoint
//! (`GET /internal/v1/changes?after=N&wait_ms=W`, signed like every request
//! the edge sends), or the origin's Redis Stream (`vitrine:changes` by
//! default), whose entry ids are `<seq>-0`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;

use super::proxy::Edge;
use super::store::PageStore;

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Change {
    /// Its feed sequence number.
    pub seq: u64,
    /// What happened (`product.price_changed`, …).
    #[serde(default)]
    pub topic: String,
    /// The entity (`product:<id>`).
    #[serde(default)]
    pub entity: String,
    /// The keys of the pages it invalidates.
    pub surrogate_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Page {
    changes: Vec<Change>,
    #[serde(default)]
    last_seq: u64,
}

/// Where the follower is, for `/readyz`, metrics and tests.
#[derive(Debug, Default)]
pub struct FeedStatus {
    last: AtomicU64,
    synced: AtomicBool,
    connected: AtomicBool,
    full_purges: AtomicU64,
    applied: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl FeedStatus {
    /// The last sequence number applied (0 before the first sync).
    pub fn last_applied(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// How many times it could not prove it missed nothing and marked
    /// every page stale.
    pub fn full_purges(&self) -> u64 {
        self.full_purges.load(Ordering::Relaxed)
    }

    /// How many changes it applied.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// How many times a request to the feed (or the connection) failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether the last request to the feed succeeded.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Ready once it has synced with the feed; the detail says where it is.
    pub fn readiness(&self) -> (bool, String) {
        let synced = self.synced.load(Ordering::Acquire);
        let error = self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let detail = format!(
            "change feed: {}, last applied {}, {} full purges{}",
            if self.connected() { "connected" } else { "disconnected" },
            self.last_applied(),
            self.full_purges(),
            error.map(|e| format!(", last error: {e}")).unwrap_or_default()
        );
        (synced, detail)
    }

    fn failed(&self, error: String) {
        self.connected.store(false, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vitrine_edge_feed_failures_total").increment(1);
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    fn ok(&self) {
        self.connected.store(true, Ordering::Relaxed);
    }
}

/// Applies changes to a store, keeping the contiguity proof.
pub struct Applier<'a> {
    store: &'a PageStore,
    status: &'a FeedStatus,
}

impl<'a> Applier<'a> {
    /// An applier for `store`, recording in `status`.
    pub fn new(store: &'a PageStore, status: &'a FeedStatus) -> Self {
        Self { store, status }
    }

    fn full_purge(&self, why: &str) {
        tracing::warn!(
            reason = why,
            last_applied = self.status.last_applied(),
            "change feed: cannot prove nothing was missed; every page marked stale"
        );
        self.store.invalidate_all();
        self.status.full_purges.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vitrine_edge_purges_total", "cause" => "feed_gap").increment(1);
    }

    /// The first answer after (re)starting without a position: start at the
    /// feed's end. The store is assumed to hold nothing older than the
    /// feed's end (it is empty at start); a resync marks it all stale.
    pub fn start_at(&self, last_seq: u64, resync: bool) {
        if resync {
            self.full_purge("resynchronizing");
        }
        self.status.last.store(last_seq, Ordering::Release);
        self.status.synced.store(true, Ordering::Release);
    }

    /// Applies `changes` (in order) given the feed's end `last_seq`.
    pub fn apply(&self, changes: &[Change], last_seq: u64) {
        let mut last = self.status.last_applied();
        if last_seq < last {
            self.full_purge("the feed's end is before this edge's position");
            last = last_seq;
        }
        for change in changes {
            if change.seq <= last {
                continue; // Seen before (at-least-once delivery).
            }
            if change.seq != last + 1 {
                self.full_purge("a gap in the sequence");
            }
            let mut purged = 0;
            for key in &change.surrogate_keys {
                purged += self.store.purge_key(key);
            }
            metrics::counter!("vitrine_edge_purges_total", "cause" => "feed").increment(1);
            tracing::debug!(seq = change.seq, entity = %change.entity, keys = ?change.surrogate_keys, purged, "change applied");
            last = change.seq;
            self.status.applied.fetch_add(1, Ordering::Relaxed);
        }
        self.status.last.store(last, Ordering::Release);
        self.status.synced.store(true, Ordering::Release);
    }
}

/// Starts following `feed` for `edge` on the current runtime; the status to
/// watch, or `None` when the feed is off.
pub fn spawn(edge: &Arc<Edge>, feed: &vitrine_edge_config::ChangeFeed) -> Option<Arc<FeedStatus>> {
    use vitrine_edge_config::ChangeFeed;
    let status = Arc::new(FeedStatus::default());
    match feed {
        ChangeFeed::Off => return None,
        ChangeFeed::Poll { wait } => {
            tokio::spawn(follow_poll(Arc::clone(edge), Arc::clone(&status), *wait));
        }
        ChangeFeed::Redis { url, stream } => {
            tokio::spawn(follow_redis(
                Arc::clone(edge),
                Arc::clone(&status),
                url.expose().to_owned(),
                stream.clone(),
            ));
        }
    }
    Some(status)
}

/// Follows the origin's long-poll endpoint until the process ends.
pub async fn follow_poll(edge: Arc<Edge>, status: Arc<FeedStatus>, wait: Duration) {
    let mut position: Option<u64> = None;
    let mut resync = false;
    let mut backoff = Duration::from_millis(100);
    loop {
        let target = match position {
            None => format!("/internal/v1/changes?after={}&limit=1", i64::MAX),
            Some(after) => format!(
                "/internal/v1/changes?after={after}&limit=500&wait_ms={}",
                wait.as_millis()
            ),
        };
        // The origin holds a poll for up to `wait`: allow that on top of
        // the usual deadline.
        let deadline = edge.config.edge.origin_timeout + if position.is_some() { wait } else { Duration::ZERO };
        let answer = edge
            .origin
            .send_within(deadline, Method::GET, &target, HeaderMap::new(), Bytes::new())
            .await;
        let page = match answer {
            Ok(r) if r.status == StatusCode::OK => serde_json::from_slice::<Page>(&r.body).map_err(|e| e.to_string()),
            Ok(r) => Err(format!("the origin answered {}", r.status)),
            Err(e) => Err(e.to_string()),
        };
        let applier = Applier::new(&edge.store, &status);
        match page {
            Ok(page) => {
                status.ok();
                backoff = Duration::from_millis(100);
                match position {
                    None => {
                        applier.start_at(page.last_seq, resync);
                        resync = false;
                    }
                    Some(_) => applier.apply(&page.changes, page.last_seq),
                }
                position = Some(status.last_applied());
            }
            Err(error) => {
                tracing::warn!(error = %error, "change feed: request failed; retrying");
                status.failed(error);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Follows the Redis Stream until the process ends.
pub async fn follow_redis(edge: Arc<Edge>, status: Arc<FeedStatus>, url: String, stream: String) {
    let mut backoff = Duration::from_millis(100);
    let mut started = false;
    loop {
        match redis_session(&edge, &status, &url, &stream, &mut started).await {
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(error = %error, "change feed (redis): connection lost; reconnecting");
                status.failed(error.to_string());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn redis_session(
    edge: &Edge,
    status: &FeedStatus,
    url: &str,
    stream: &str,
    started: &mut bool,
) -> Result<(), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(2)));
    let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
    let applier = Applier::new(&edge.store, status);
    if !*started {
        // Start at the stream's end.
        applier.start_at(stream_end(&mut connection, stream).await?, false);
        *started = true;
    }
    status.ok();
    loop {
        let after = status.last_applied();
        let reply: redis::Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(500)
            .arg("BLOCK")
            .arg(5000)
            .arg("STREAMS")
            .arg(stream)
            .arg(format!("{after}-0"))
            .query_async(&mut connection)
            .await?;
        let changes = match &reply {
            redis::Value::Nil => Vec::new(),
            redis::Value::Array(streams) => streams
                .iter()
                .filter_map(|s| match s {
                    redis::Value::Array(pair) if pair.len() == 2 => Some(stream_entries(&pair[1])),
                    _ => None,
                })
                .flatten()
                .collect(),
            redis::Value::Map(streams) => streams.iter().flat_map(|(_, v)| stream_entries(v)).collect(),
            _ => Vec::new(),
        };
        if changes.is_empty() {
            // Nothing new: make sure the stream did not go backwards (a
            // Redis restarted empty whose relay has not caught up yet).
            let end = stream_end(&mut connection, stream).await?;
            if end < after && end > 0 {
                applier.apply(&[], end);
            }
            continue;
        }
        let end = changes.last().map_or(after, |c| c.seq);
        applier.apply(&changes, end);
    }
}

/// The sequence number of the stream's newest entry (0 when empty).
async fn stream_end(
    connection: &mut redis::aio::MultiplexedConnection,
    stream: &str,
) -> Result<u64, redis::RedisError> {
    let last: redis::Value = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(connection)
        .await?;
    Ok(stream_entries(&last).first().map_or(0, |c| c.seq))
}

/// The entries of an `XRANGE`/`XREAD` reply: `[[id, [field, value, ...]], ...]`.
fn stream_entries(value: &redis::Value) -> Vec<Change> {
    let redis::Value::Array(entries) = value else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let redis::Value::Array(parts) = entry else { return None };
            let id = text(parts.first()?)?;
            let seq = id.split('-').next()?.parse().ok()?;
            let mut change = Change {
                seq,
                topic: String::new(),
                entity: String::new(),
                surrogate_keys: Vec::new(),
            };
            if let Some(redis::Value::Array(fields)) = parts.get(1) {
                for pair in fields.chunks(2) {
                    let (Some(name), Some(value)) = (pair.first().and_then(text), pair.get(1).and_then(text)) else {
                        continue;
                    };
                    match name.as_str() {
                        "topic" => change.topic = value,
                        "entity" => change.entity = value,
                        "keys" => change.surrogate_keys = value.split_whitespace().map(str::to_owned).collect(),
                        _ => {}
                    }
                }
            }
            Some(change)
        })
        .collect()
}

fn text(value: &redis::Value) -> Option<String> {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: u64, key: &str) -> Change {
        Change {
            seq,
            topic: "product.price_changed".into(),
            entity: key.into(),
            surrogate_keys: vec![key.into()],
        }
    }

    #[test]
    fn contiguous_changes_purge_their_keys_and_a_gap_marks_everything_stale() {
        let store = PageStore::new(1 << 20);
        let status = FeedStatus::default();
        let applier = Applier::new(&store, &status);
        applier.start_at(10, false);
        assert_eq!(status.last_applied(), 10);

        applier.apply(&[change(11, "product:1"), change(12, "product:2")], 12);
        assert_eq!(
            (status.last_applied(), status.full_purges(), status.applied()),
            (12, 0, 2)
        );

        // Delivered again (at least once): skipped, no purge of everything.
        applier.apply(&[change(12, "product:2"), change(13, "product:3")], 13);
        assert_eq!((status.last_applied(), status.full_purges()), (13, 0));

        // 14 and 15 never came: everything stale, then on from 16.
        let generation = store.generation();
        applier.apply(&[change(16, "product:4")], 16);
        assert_eq!((status.last_applied(), status.full_purges()), (16, 1));
        assert!(store.generation() > generation);

        // The feed's end went backwards (a new database): stale again.
        applier.apply(&[], 3);
        assert_eq!((status.last_applied(), status.full_purges()), (3, 2));
    }
}
