//! Product search: a tantivy index on the origin's disk, kept near real
//! time from the change feed, answering `GET /api/v1/search`.
//!
//! - [`schema`]: the fields and the analyzer; [`query`]: how a shopper's
//!   words become a query (typos, prefixes, synonyms, boosts), facets and
//!   highlights; [`indexer`]: building an index and following the feed;
//!   [`http`]: the endpoint.
//!
//! **On disk.** `<search dir>/CURRENT` names the generation in use (a
//! directory `gen-…` beside it, a complete tantivy index). A rebuild
//! (`vitrine-origin reindex`, a `catalog.seeded` change, a feed the index
//! cannot catch up with) writes a new generation under `building-…`,
//! renames it to `gen-…` when done, and only then replaces `CURRENT`
//! (write aside, rename: atomic). The serving process notices, opens the
//! new generation, catches it up, and swaps it in between two queries;
//! queries running on the old one finish on it. Nothing stops serving.
//!
//! **Freshness.** Each generation's last commit carries, as its payload, the
//! `feed_seq` of the last change it reflects. The indexer reads the changes
//! after it (the relay numbers them only once committed, without holes),
//! re-reads the products they name, and commits and reloads at most every
//! `search_commit_interval_ms`, so a change is searchable well within a
//! second of its commit. Because the cursor commits with the documents, a
//! crash loses nothing and replays at most one batch (re-reading a product
//! is idempotent). See [`indexer`] for the rules.
//!
//! ```no_run
//! # fn run(index: &vitrine_origin::search::SearchIndex) -> anyhow::Result<()> {
//! use vitrine_origin::search::query::SearchRequest;
//! let results = index.search(&SearchRequest { q: "cordless drlil".into(), page: 1, per_page: 24, ..Default::default() })?;
//! println!("{} results", results.total);
//! # Ok(()) }
//! ```

pub mod http;
pub mod indexer;
pub mod query;
pub mod schema;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use arc_swap::ArcSwapOption;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, ReloadPolicy};

use self::query::{SearchRequest, SearchResults, Synonyms};
use self::schema::Fields;
use crate::config::Config;

/// The file naming the generation in use.
const CURRENT: &str = "CURRENT";
/// Prefix of complete generations.
const GENERATION_PREFIX: &str = "gen-";
/// Prefix of generations being built.
const BUILDING_PREFIX: &str = "building-";

/// Why a search could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// No index is open yet (the first build has not finished).
    #[error("the search index is not built yet")]
    NotReady,
    /// tantivy failed.
    #[error("searching the index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// One open generation: what queries read.
pub struct Live {
    /// Its directory name, `gen-…`.
    pub generation: String,
    /// The index.
    pub index: Index,
    /// Reloaded by the indexer after each commit.
    pub reader: IndexReader,
    /// Field handles.
    pub fields: Fields,
}

impl Live {
    /// Opens generation `name` under `root`.
    pub fn open(root: &Path, name: &str) -> anyhow::Result<Self> {
        let dir = root.join(name);
        let index =
            Index::open_in_dir(&dir).with_context(|| format!("while opening search index {}", dir.display()))?;
        schema::register(&index);
        let fields = Fields::of(&index.schema())
            .with_context(|| format!("search index {} has another schema", dir.display()))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .with_context(|| format!("while opening a reader on {}", dir.display()))?;
        Ok(Self {
            generation: name.to_owned(),
            index,
            reader,
            fields,
        })
    }

    /// The `feed_seq` its last commit reflects (0 for none).
    pub fn cursor(&self) -> anyhow::Result<u64> {
        let metas = self
            .index
            .load_metas()
            .context("while reading the search index's metadata")?;
        Ok(parse_cursor(metas.payload.as_deref()))
    }
}

/// The commit payload holding a generation's cursor.
fn cursor_payload(feed_seq: u64) -> String {
    serde_json::json!({ "feed_seq": feed_seq }).to_string()
}

fn parse_cursor(payload: Option<&str>) -> u64 {
    payload
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|v| v["feed_seq"].as_u64())
        .unwrap_or(0)
}

struct Inner {
    root: PathBuf,
    live: ArcSwapOption<Live>,
    analyzer: TextAnalyzer,
    synonyms: Synonyms,
    /// The `feed_seq` up to which changes are searchable.
    searchable_seq: AtomicU64,
    /// Woken whenever `searchable_seq` moves.
    moved: tokio::sync::Notify,
}

/// The search index of this process: the generation queries read, swapped
/// atomically. Cheap to clone.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

impl fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchIndex")
            .field("root", &self.inner.root)
            .field("generation", &self.generation())
            .finish()
    }
}

/// The search directory in effect: the configured one, else `<data dir>/search`.
pub fn search_dir(config: &Config) -> PathBuf {
    config
        .search_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("search"))
}

impl SearchIndex {
    /// Opens the generation `CURRENT` names under the configured search
    /// directory, if any (the server builds one when there is none). A
    /// generation that cannot be opened is logged and treated as missing.
    pub fn open(config: &Config) -> anyhow::Result<Self> {
        let root = search_dir(config);
        std::fs::create_dir_all(&root)
            .with_context(|| format!("while creating the search directory {}", root.display()))?;
        let analyzer = schema::analyzer();
        let synonyms = Synonyms::with_defaults(&analyzer, &config.search_synonyms)
            .map_err(|e| anyhow::anyhow!("search synonyms: {e}"))?;
        let live = match read_current(&root)? {
            None => None,
            Some(name) => match Live::open(&root, &name) {
                Ok(live) => Some(Arc::new(live)),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), generation = %name, "search index unreadable, it will be rebuilt");
                    None
                }
            },
        };
        let index = Self {
            inner: Arc::new(Inner {
                root,
                live: ArcSwapOption::new(None),
                analyzer,
                synonyms,
                searchable_seq: AtomicU64::new(0),
                moved: tokio::sync::Notify::new(),
            }),
        };
        if let Some(live) = live {
            index.install(live)?;
        }
        Ok(index)
    }

    /// The directory holding `CURRENT` and the generations.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The generation queries read now, if any.
    pub fn generation(&self) -> Option<String> {
        self.inner.live.load().as_ref().map(|l| l.generation.clone())
    }

    /// The generation queries read now.
    pub fn live(&self) -> Option<Arc<Live>> {
        self.inner.live.load_full()
    }

    /// The `feed_seq` up to which changes are searchable.
    pub fn searchable_seq(&self) -> u64 {
        self.inner.searchable_seq.load(Ordering::Acquire)
    }

    pub(crate) fn set_searchable_seq(&self, seq: u64) {
        self.inner.searchable_seq.store(seq, Ordering::Release);
        self.inner.moved.notify_waiters();
        metrics::gauge!("vitrine_search_searchable_seq").set(seq as f64);
    }

    /// Waits until changes up to `seq` are searchable, at most `timeout`;
    /// whether they are.
    pub async fn wait_searchable(&self, seq: u64, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let moved = self.inner.moved.notified();
            tokio::pin!(moved);
            // Registered before the check, so a move in between is not missed.
            moved.as_mut().enable();
            if self.searchable_seq() >= seq {
                return true;
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                return self.searchable_seq() >= seq;
            }
        }
    }

    /// Makes `live` the generation queries read.
    pub(crate) fn install(&self, live: Arc<Live>) -> anyhow::Result<()> {
        let cursor = live.cursor()?;
        tracing::info!(generation = %live.generation, feed_seq = cursor, docs = live.reader.searcher().num_docs(), "search index generation in use");
        self.inner.live.store(Some(live));
        self.set_searchable_seq(cursor);
        Ok(())
    }

    /// The analyzer queries and documents share.
    pub fn analyzer(&self) -> &TextAnalyzer {
        &self.inner.analyzer
    }

    /// Runs `request` (already validated) on the generation in use. CPU-bound:
    /// call it from a blocking thread in async code.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let live = self.inner.live.load_full().ok_or(SearchError::NotReady)?;
        let searcher = live.reader.searcher();
        Ok(query::run(
            &searcher,
            &live.fields,
            &self.inner.analyzer,
            &self.inner.synonyms,
            request,
        )?)
    }
}

/// The generation `CURRENT` under `root` names, if any.
pub fn read_current(root: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(root.join(CURRENT)) {
        Ok(name) => {
            let name = name.trim();
            anyhow::ensure!(
                name.starts_with(GENERATION_PREFIX) && !name.contains(['/', '\\']) && name != GENERATION_PREFIX,
                "{} names `{name}`, not a search index generation",
                root.join(CURRENT).display()
            );
            Ok(Some(name.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("while reading {}", root.join(CURRENT).display())),
    }
}

/// Points `CURRENT` under `root` at generation `name`, atomically (written
/// aside, synced, renamed over).
pub fn write_current(root: &Path, name: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let tmp = root.join(format!("{CURRENT}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::File::create(&tmp).with_context(|| format!("while writing {}", tmp.display()))?;
    file.write_all(name.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("while writing {}", tmp.display()))?;
    std::fs::rename(&tmp, root.join(CURRENT))
        .with_context(|| format!("while replacing {}", root.join(CURRENT).display()))?;
    if let Ok(dir) = std::fs::File::open(root) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Deletes generations other than `keep`, and unfinished builds older than
/// an hour (a build that crashed; a younger one may still be running in
/// another process).
pub fn remove_stale_generations(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = if name.starts_with(GENERATION_PREFIX) {
            name != keep
        } else if name.starts_with(BUILDING_PREFIX) {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600))
        } else {
            false
        };
        if stale {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => tracing::info!(generation = %name, "old search index generation deleted"),
                Err(e) => {
                    tracing::warn!(error = %e, generation = %name, "deleting an old search index generation failed")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_names_only_generations() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(read_current(dir.path()).expect("read"), None);
        write_current(dir.path(), "gen-1").expect("write");
        assert_eq!(read_current(dir.path()).expect("read").as_deref(), Some("gen-1"));
        std::fs::write(dir.path().join(CURRENT), "../../etc").expect("write");
        assert!(read_current(dir.path()).is_err());
    }

    #[test]
    fn cursor_payload_round_trips() {
        assert_eq!(parse_cursor(Some(&cursor_payload(42))), 42);
        assert_eq!(parse_cursor(None), 0);
        assert_eq!(parse_cursor(Some("garbage")), 0);
    }
}
