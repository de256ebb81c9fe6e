//! Publishing the change feed to a Redis stream, the production path edges
//! follow (`XREAD BLOCK`).
//!
//! The stream is `<redis prefix>changes` (`vitrine:changes` by default). Each
//! numbered change is one entry with the explicit id `<feed_seq>-0` and the
//! fields `topic`, `entity` and `keys` (the surrogate keys joined by one
//! space), added in `feed_seq` order after the numbering transaction
//! committed, with approximate trimming (`MAXLEN ~ feed_stream_maxlen`).
//!
//! The publisher remembers nothing: each round reads the stream's last id and
//! publishes the numbered rows above it. So a Redis that restarted empty gets
//! the newest rows again (at most `MAXLEN` of them, and only those the
//! database still retains); an edge then sees a gap in the ids and starts
//! over, which is what it must do. Entries are added by a script that skips
//! ids the stream already has, so two replicas publishing at once add each
//! entry exactly once and in order; with each entry it adds, the script sets
//! the changed product's hot stock count ([`crate::stock`]). When Redis is
//! down the database side goes on; publishing is retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::db::Db;
use crate::state::AppState;

/// Entries added per script call.
const BATCH: u32 = 500;

/// Batches per round, so one round cannot hold the task for long.
const MAX_BATCHES_PER_ROUND: usize = 20;

/// Longest pause between attempts while Redis fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The stream's last generated id, `"0-0"` when there is no stream. Read from
/// `XINFO STREAM`, not from the last entry: a stream trimmed empty still
/// refuses ids at or below the last one it generated.
const LAST_ID_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return '0-0'
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then
    return info[i + 1]
  end
end
return '0-0'
";

/// Adds entries (`ARGV[2..]`: id, topic, entity, keys, stock, repeated) to
/// stream `KEYS[1]` trimmed to about `ARGV[1]`, skipping ids the stream
/// already has (another replica published them); any other error stops the
/// script. With each entry it adds, it sets the hot stock count of the
/// entry's product in hash `KEYS[2]` (`stock` is `id=count`, or `id=` for a
/// product that is gone; empty for a change to no product), so a count is
/// written with its change and by whoever adds the change. Returns how many
/// entries it added.
const XADD_SCRIPT: &str = r"
local added = 0
for i = 2, #ARGV, 5 do
  local r = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[i],
                        'topic', ARGV[i + 1], 'entity', ARGV[i + 2], 'keys', ARGV[i + 3])
  if type(r) == 'table' and r.err then
    if not string.find(r.err, 'equal or smaller', 1, true) then
      return r
    end
  else
    added = added + 1
    local stock = ARGV[i + 4]
    if stock ~= '' then
      local eq = string.find(stock, '=', 1, true)
      local product = string.sub(stock, 1, eq - 1)
      local count = string.sub(stock, eq + 1)
      if count == '' then
        redis.call('HDEL', KEYS[2], product)
      else
        redis.call('HSET', KEYS[2], product, count)
      end
    end
  end
end
return added
";

/// Publishes numbered changes to the Redis stream.
#[derive(Clone)]
pub struct StreamPublisher {
    conn: redis::aio::ConnectionManager,
    key: String,
    stock_key: String,
    maxlen: u64,
    last_id: Arc<redis::Script>,
    xadd: Arc<redis::Script>,
}

impl std::fmt::Debug for StreamPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamPublisher")
            .field("key", &self.key)
            .field("maxlen", &self.maxlen)
            .finish_non_exhaustive()
    }
}

impl StreamPublisher {
    /// Publishes through `conn` to the stream `<prefix>changes`.
    pub fn new(conn: redis::aio::ConnectionManager, prefix: &str, maxlen: u64) -> Self {
        Self {
            conn,
            key: format!("{prefix}changes"),
            stock_key: crate::stock::hash_key(prefix),
            maxlen,
            last_id: Arc::new(redis::Script::new(LAST_ID_SCRIPT)),
            xadd: Arc::new(redis::Script::new(XADD_SCRIPT)),
        }
    }

    /// The stream's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `feed_seq` of the stream's last entry, 0 when it has none.
    pub async fn last_seq(&self) -> anyhow::Result<u64> {
        let mut conn = self.conn.clone();
        let id: String = self
            .last_id
            .key(&self.key)
            .invoke_async(&mut conn)
            .await
            .with_context(|| format!("while reading the last id of stream `{}`", self.key))?;
        let seq = id.split_once('-').map_or(id.as_str(), |(ms, _)| ms);
        seq.parse()
            .with_context(|| format!("stream `{}` has last id `{id}`, not `<feed_seq>-0`", self.key))
    }

    /// Publishes what the stream lacks, up to a bounded amount; returns how
    /// many entries it added and whether it caught up.
    pub async fn publish_round(&self, db: &Db) -> anyhow::Result<(u64, bool)> {
        let mut published = 0;
        for _ in 0..MAX_BATCHES_PER_ROUND {
            let last = self.last_seq().await?;
            let Some((_, top)) = super::bounds(db).await.context("while reading the feed's bounds")? else {
                return Ok((published, true));
            };
            if top == last {
                return Ok((published, true));
            }
            // Publishing on would add nothing until the database caught up,
            // and edges at the stream's ids would never see its new rows.
            anyhow::ensure!(
                top > last,
                "stream `{}` is at {last}, ahead of the database's feed at {top}: was the database replaced?",
                self.key
            );
            // A stream far behind (an empty Redis) gets only what it would
            // hold anyway.
            let from = last.max(top.saturating_sub(self.maxlen));
            let changes = super::changes_after(db, from, BATCH)
                .await
                .context("while reading changes to publish")?;
            if changes.is_empty() {
                return Ok((published, true));
            }
            // Read after the changes committed: each count is at least as
            // new as the last change to its product in this batch.
            let products: Vec<uuid::Uuid> = changes
                .iter()
                .filter_map(|c| c.entity.strip_prefix("product:"))
                .filter_map(|id| id.parse().ok())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let counts = crate::stock::from_database(db, &products)
                .await
                .context("while reading the stock of changed products")?;
            let mut invocation = self.xadd.key(&self.key);
            invocation.key(&self.stock_key).arg(self.maxlen);
            for change in &changes {
                let stock = match change.entity.strip_prefix("product:").and_then(|id| id.parse().ok()) {
                    Some(id) => match counts.get(&id) {
                        Some(count) => format!("{id}={count}"),
                        None => format!("{id}="),
                    },
                    None => String::new(),
                };
                invocation
                    .arg(format!("{}-0", change.seq))
                    .arg(&change.topic)
                    .arg(&change.entity)
                    .arg(change.surrogate_keys.join(" "))
                    .arg(stock);
            }
            let mut conn = self.conn.clone();
            let added: u64 = invocation
                .invoke_async(&mut conn)
                .await
                .with_context(|| format!("while adding {} entries to stream `{}`", changes.len(), self.key))?;
            published += added;
            metrics::counter!("vitrine_feed_published_total").increment(added);
        }
        Ok((published, false))
    }
}

/// The publishing loop: after every numbering round and every
/// `feed_relay_interval_ms`; backs off while Redis fails. Never returns;
/// abort it to stop.
pub async fn run(state: AppState, publisher: StreamPublisher) {
    let feed = state.feed.clone();
    let interval = Duration::from_millis(state.config.feed_relay_interval_ms);
    let mut backoff = interval;
    let mut failing = false;
    let mut behind = false;
    loop {
        if !behind {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = feed.inner.sequenced.notified() => {}
            }
        }
        match publisher.publish_round(&state.db).await {
            Ok((_, caught_up)) => {
                if failing {
                    tracing::info!(stream = publisher.key(), "publishing the change stream resumed");
                }
                failing = false;
                backoff = interval;
                behind = !caught_up;
            }
            Err(e) => {
                metrics::counter!("vitrine_feed_publish_errors_total").increment(1);
                if failing {
                    tracing::debug!(error = format!("{e:#}"), "publishing the change stream still fails");
                } else {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        stream = publisher.key(),
                        "publishing the change stream failed; retrying"
                    );
                }
                failing = true;
                behind = false;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
