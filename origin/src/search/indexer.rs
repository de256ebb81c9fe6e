//! Building generations, and following the change feed into the one in use.
//!
//! Rules the follower keeps:
//! - **Committed changes only, in feed order.** It reads outbox rows by
//!   `feed_seq`, which the relay assigns after commit without holes, so a
//!   row it has not seen yet can only come after its cursor (`seq` would
//!   not do: on Postgres rows commit out of `seq` order).
//! - **The cursor commits with the documents** (the commit payload), so the
//!   index never claims a change it does not hold, and a crash replays at
//!   most the batch in flight. Replays are harmless: each change makes the
//!   indexer re-read the product's current row, delete the product's
//!   document and add the row's (or nothing, if the product is gone).
//! - **A gap means rebuild.** If the next row is not `cursor + 1` (retention
//!   trimmed rows the index never saw), or the feed ends below the cursor
//!   (a new database), the index cannot prove what it holds: it is rebuilt
//!   aside and swapped in. So is it after `catalog.seeded`, which names no
//!   single product.
//! - **Commits are batched**: at most one per `search_commit_interval_ms`
//!   while changes flow, each followed by a reader reload, so a change is
//!   searchable one interval (plus the relay's) after its commit.
//!
//! A build numbers the committed outbox rows, then reads the feed's
//! `last_seq` *before* it scans the products, and records it as the
//! cursor: every change numbered up to it committed before the scan began
//! (so the scan saw it), and every later one is replayed on top.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tantivy::{Index, IndexWriter, TantivyDocument, Term};
use uuid::Uuid;

use super::schema::{self, IndexedProduct};
use super::{BUILDING_PREFIX, GENERATION_PREFIX, Live, SearchIndex, cursor_payload, read_current, write_current};
use crate::db::Db;
use crate::state::AppState;
use crate::with_db;

/// `SELECT` of every column an [`IndexedProduct`] has, then `$rest`.
macro_rules! select_products {
    ($rest:literal) => {
        concat!(
            "SELECT id, sku, name, description, brand, category_slug, category_path, attributes, images, \
             price_minor, currency, stock, popularity FROM products ",
            $rest
        )
    };
}

/// Products read per round trip while building.
const BUILD_PAGE: i64 = 5_000;
/// Changes applied per commit at most.
const FOLLOW_BATCH: i64 = 1_000;
/// Indexing memory of the follower's writer (one thread).
const FOLLOW_WRITER_BYTES: usize = 32 * 1024 * 1024;
/// Indexing memory per thread of a build.
const BUILD_WRITER_BYTES_PER_THREAD: usize = 128 * 1024 * 1024;
/// How often the follower checks that the feed did not start over.
const BOUNDS_EVERY: Duration = Duration::from_secs(5);
/// How long a replaced generation is kept for queries still running on it.
const OLD_GENERATION_GRACE: Duration = Duration::from_secs(10);
/// Longest pause after a failed round.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a build did.
#[derive(Clone, Debug)]
pub struct BuildReport {
    /// The new generation's directory name.
    pub generation: String,
    /// Products indexed.
    pub products: u64,
    /// The `feed_seq` it reflects.
    pub feed_seq: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl std::fmt::Display for BuildReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "built search index {}: {} products in {:.2}s (up to change {})",
            self.generation,
            self.products,
            self.elapsed.as_secs_f64(),
            self.feed_seq
        )
    }
}

/// The feed's highest `feed_seq` (0 when empty).
async fn last_seq(db: &Db) -> Result<u64, sqlx::Error> {
    let top: Option<i64> = with_db!(db, pool => sqlx::query_scalar("SELECT MAX(feed_seq) FROM outbox")
        .fetch_one(pool).await)?;
    Ok(top.and_then(|t| u64::try_from(t).ok()).unwrap_or(0))
}

async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a search indexing thread panicked")?
}

/// Builds a new generation under `root` from every product in `db`, beside
/// the one in use, and returns it without putting it in use.
pub async fn build(db: &Db, root: &Path) -> anyhow::Result<BuildReport> {
    let started = Instant::now();
    // Number what has committed first, so the cursor covers it: a change
    // committed before the scan but not yet numbered (the seed's
    // `catalog.seeded` just before the first build) would otherwise be
    // replayed on top, and `catalog.seeded` replayed means a second build.
    // Another replica's relay holding the numbering lock leaves some rows
    // unnumbered; they are replayed, which is harmless.
    crate::change_feed::relay::sequence_all(db)
        .await
        .context("while numbering committed changes before the build")?;
    let feed_seq = last_seq(db).await.context("while reading the change feed's position")?;
    let building = format!(
        "{BUILDING_PREFIX}{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let dir = root.join(&building);
    std::fs::create_dir_all(&dir).with_context(|| format!("while creating {}", dir.display()))?;
    let index = Index::create_in_dir(&dir, schema::schema())
        .with_context(|| format!("while creating a search index in {}", dir.display()))?;
    schema::register(&index);
    let fields = schema::Fields::of(&index.schema())?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let writer: IndexWriter<TantivyDocument> = index
        .writer_with_num_threads(threads, threads * BUILD_WRITER_BYTES_PER_THREAD)
        .context("while opening the search index writer")?;
    let writer = Arc::new(writer);

    let mut products = 0u64;
    let mut after: Option<Uuid> = None;
    loop {
        let page: Vec<IndexedProduct> = with_db!(db, pool => match after {
            None => sqlx::query_as(select_products!("ORDER BY id LIMIT $1"))
                .bind(BUILD_PAGE).fetch_all(pool).await,
            Some(after) => sqlx::query_as(select_products!("WHERE id > $1 ORDER BY id LIMIT $2"))
                .bind(after).bind(BUILD_PAGE).fetch_all(pool).await,
        })
        .context("while reading products to index")?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let full = page.len() as i64 == BUILD_PAGE;
        products += page.len() as u64;
        let writer = writer.clone();
        run_blocking(move || {
            for product in &page {
                writer.add_document(schema::document(&fields, product))?;
            }
            Ok(())
        })
        .await?;
        if !full {
            break;
        }
    }

    let mut writer = Arc::into_inner(writer).context("the search index writer is still shared")?;
    run_blocking(move || {
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&cursor_payload(feed_seq));
        commit.commit()?;
        // One segment answers queries fastest; merging now costs the build a
        // little and every query nothing.
        let segments = index.searchable_segment_ids()?;
        if segments.len() > 1 {
            writer.merge(&segments).wait()?;
        }
        writer.wait_merging_threads()?;
        Ok(())
    })
    .await
    .with_context(|| format!("while committing the search index in {}", dir.display()))?;

    let generation = building.replacen(BUILDING_PREFIX, GENERATION_PREFIX, 1);
    std::fs::rename(&dir, root.join(&generation))
        .with_context(|| format!("while renaming {} to {generation}", dir.display()))?;
    let report = BuildReport {
        generation,
        products,
        feed_seq,
        elapsed: started.elapsed(),
    };
    metrics::histogram!("vitrine_search_build_seconds").record(report.elapsed.as_secs_f64());
    tracing::info!(generation = %report.generation, products, feed_seq, elapsed_ms = report.elapsed.as_millis() as u64, "search index built");
    Ok(report)
}

/// Builds a new generation and puts it in `CURRENT`: a running server
/// notices, catches it up and swaps it in (this is `vitrine-origin reindex`).
pub async fn rebuild(db: &Db, root: &Path) -> anyhow::Result<BuildReport> {
    let report = build(db, root).await?;
    write_current(root, &report.generation)?;
    Ok(report)
}

/// Builds the first index when there is none, and puts it in use. The
/// server calls it before it listens, so search answers from the start.
pub async fn ensure_ready(state: &AppState) -> anyhow::Result<()> {
    let index = &state.search;
    let root = index.root().to_owned();
    if let Some(live) = index.live() {
        // Left behind by a crash or a stop before the grace period ended.
        super::remove_stale_generations(&root, &live.generation);
        return Ok(());
    }
    let name = match read_current(&root)? {
        // Another process may have built it since this one opened the directory.
        Some(name) if Live::open(&root, &name).is_ok() => name,
        _ => {
            metrics::counter!("vitrine_search_rebuilds_total", "cause" => "missing").increment(1);
            rebuild(&state.db, &root).await?.generation
        }
    };
    index.install(Arc::new(Live::open(&root, &name)?))?;
    super::remove_stale_generations(&root, &name);
    Ok(())
}

/// The generation the follower writes to.
struct Following {
    live: Arc<Live>,
    writer: Arc<Mutex<IndexWriter<TantivyDocument>>>,
    cursor: u64,
}

impl Following {
    fn open(live: Arc<Live>) -> anyhow::Result<Self> {
        let writer = live
            .index
            .writer_with_num_threads(1, FOLLOW_WRITER_BYTES)
            .with_context(|| format!("while opening a writer on search index {}", live.generation))?;
        let cursor = live.cursor()?;
        Ok(Self {
            live,
            writer: Arc::new(Mutex::new(writer)),
            cursor,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    feed_seq: i64,
    entity: String,
    created_at: DateTime<Utc>,
}

async fn changes_after(db: &Db, after: u64, limit: i64) -> Result<Vec<ChangeRow>, sqlx::Error> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    with_db!(db, pool => sqlx::query_as(
        "SELECT feed_seq, entity, created_at FROM outbox WHERE feed_seq > $1 ORDER BY feed_seq LIMIT $2"
    ).bind(after).bind(limit).fetch_all(pool).await)
}

async fn products_by_id(db: &Db, ids: &[Uuid]) -> Result<Vec<IndexedProduct>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    with_db!(db, pool => {
        let mut query = sqlx::QueryBuilder::new(select_products!("WHERE id IN ("));
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        list.push_unseparated(")");
        query.build_query_as::<IndexedProduct>().fetch_all(pool).await
    })
}

/// What one round of the follower did.
enum Round {
    /// Nothing new: wait for the relay.
    Idle,
    /// Did something: go again at once.
    Busy,
    /// Started a new generation: `CURRENT` moved.
    Rebuilt,
}

struct Follower {
    state: AppState,
    following: Option<Following>,
    interval: Duration,
    last_commit: Option<Instant>,
    last_bounds: Option<Instant>,
}

impl Follower {
    fn index(&self) -> &SearchIndex {
        &self.state.search
    }

    /// Starts a rebuild aside; the next round sees `CURRENT` move.
    async fn rebuild(&mut self, cause: &'static str) -> anyhow::Result<Round> {
        tracing::info!(cause, "rebuilding the search index");
        metrics::counter!("vitrine_search_rebuilds_total", "cause" => cause).increment(1);
        rebuild(&self.state.db, self.index().root()).await?;
        Ok(Round::Rebuilt)
    }

    /// Follows `CURRENT`: opens the generation it names when it is not the
    /// one followed, catches it up and puts it in use.
    async fn follow_current(&mut self) -> anyhow::Result<Option<Round>> {
        let root = self.index().root().to_owned();
        let Some(name) = read_current(&root)? else {
            return self.rebuild("missing").await.map(Some);
        };
        if self.following.as_ref().is_some_and(|f| f.live.generation == name) {
            return Ok(None);
        }
        let live = match self.index().live() {
            Some(live) if live.generation == name => live,
            _ => match Live::open(&root, &name) {
                Ok(live) => Arc::new(live),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), generation = %name, "search index unreadable");
                    return self.rebuild("unreadable").await.map(Some);
                }
            },
        };
        let replaced = self.index().generation().filter(|g| *g != name);
        // Release the old writer first: nothing more goes into it.
        self.following = None;
        self.following = Some(Following::open(live.clone())?);
        // Catch up before queries see it, so a swap never goes back in time.
        loop {
            match self.apply_changes(true).await? {
                Round::Busy => {}
                Round::Idle => break,
                // Gave up on this generation for a new one: follow that.
                Round::Rebuilt => return Ok(Some(Round::Busy)),
            }
        }
        self.index().install(live)?;
        if let Some(old) = replaced {
            let root = root.clone();
            tokio::spawn(async move {
                tokio::time::sleep(OLD_GENERATION_GRACE).await;
                let path = root.join(&old);
                match tokio::task::spawn_blocking(move || std::fs::remove_dir_all(path)).await {
                    Ok(Ok(())) => tracing::info!(generation = %old, "replaced search index generation deleted"),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, generation = %old, "deleting a replaced search index generation failed")
                    }
                    Err(_) => {}
                }
            });
        }
        Ok(Some(Round::Busy))
    }

    /// Applies the next batch of changes to the followed generation.
    /// `catching_up` skips the commit pacing (nobody queries it yet).
    async fn apply_changes(&mut self, catching_up: bool) -> anyhow::Result<Round> {
        let Some(following) = &self.following else {
            return Ok(Round::Busy);
        };
        let cursor = following.cursor;
        let changes = changes_after(&self.state.db, cursor, FOLLOW_BATCH).await?;
        let Some(first) = changes.first() else {
            if self.last_bounds.is_none_or(|t| t.elapsed() >= BOUNDS_EVERY) {
                self.last_bounds = Some(Instant::now());
                if last_seq(&self.state.db).await? < cursor {
                    return self.rebuild("feed_restarted").await;
                }
            }
            return Ok(Round::Idle);
        };
        if u64::try_from(first.feed_seq).ok() != cursor.checked_add(1) {
            return self.rebuild("feed_gap").await;
        }
        if !catching_up && let Some(last) = self.last_commit {
            let wait = self.interval.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                // Let more changes gather into this commit.
                tokio::time::sleep(wait).await;
                return Ok(Round::Busy);
            }
        }
        if changes.iter().any(|c| c.entity == "catalog") {
            return self.rebuild("catalog_changed").await;
        }
        let mut ids: Vec<Uuid> = changes
            .iter()
            .filter_map(|c| c.entity.strip_prefix("product:"))
            .filter_map(|id| id.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let products = products_by_id(&self.state.db, &ids).await?;
        let new_cursor = changes
            .last()
            .and_then(|c| u64::try_from(c.feed_seq).ok())
            .unwrap_or(cursor);
        let writer = following.writer.clone();
        let live = following.live.clone();
        let indexed = products.len() as u64;
        run_blocking(move || {
            let mut writer = writer
                .lock()
                .map_err(|_| anyhow::anyhow!("the search index writer's lock is poisoned"))?;
            for id in &ids {
                writer.delete_term(Term::from_field_text(live.fields.id, &id.to_string()));
            }
            for product in &products {
                writer.add_document(schema::document(&live.fields, product))?;
            }
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&cursor_payload(new_cursor));
            commit.commit()?;
            live.reader.reload()?;
            Ok(())
        })
        .await
        .context("while committing changes to the search index")?;
        if let Some(following) = &mut self.following {
            following.cursor = new_cursor;
        }
        self.last_commit = Some(Instant::now());
        if !catching_up {
            self.index().set_searchable_seq(new_cursor);
        }
        let now = Utc::now();
        for change in &changes {
            let lag = (now - change.created_at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
            metrics::histogram!("vitrine_search_index_lag_seconds").record(lag);
        }
        metrics::counter!("vitrine_search_changes_applied_total").increment(changes.len() as u64);
        metrics::counter!("vitrine_search_documents_indexed_total").increment(indexed);
        metrics::counter!("vitrine_search_commits_total").increment(1);
        tracing::debug!(
            changes = changes.len(),
            products = indexed,
            feed_seq = new_cursor,
            "search index updated"
        );
        Ok(Round::Busy)
    }

    async fn round(&mut self) -> anyhow::Result<Round> {
        if let Some(round) = self.follow_current().await? {
            return Ok(round);
        }
        self.apply_changes(false).await
    }
}

/// The follower: keeps the generation in use up to date with the change
/// feed and swaps in new generations when `CURRENT` moves. Never returns;
/// abort it to stop.
pub async fn run(state: AppState) {
    let poll = Duration::from_millis(state.config.feed_relay_interval_ms);
    let mut follower = Follower {
        interval: Duration::from_millis(state.config.search_commit_interval_ms),
        state,
        following: None,
        last_commit: None,
        last_bounds: None,
    };
    let mut backoff = poll;
    loop {
        let feed = follower.state.feed.clone();
        // Registered before the round reads, so a numbering that lands in
        // between still wakes the wait.
        let sequenced = feed.sequenced();
        tokio::pin!(sequenced);
        sequenced.as_mut().enable();
        match follower.round().await {
            Ok(Round::Busy | Round::Rebuilt) => backoff = poll,
            Ok(Round::Idle) => {
                backoff = poll;
                // Other replicas' relays number rows too: poll as well.
                tokio::select! {
                    () = &mut sequenced => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_ms = backoff.as_millis() as u64,
                    "updating the search index failed"
                );
                metrics::counter!("vitrine_search_index_errors_total").increment(1);
                // Start from what is on disk again.
                follower.following = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
