//! The page cache's storage: responses in memory, bounded by bytes, found
//! by a normalized URL and the request headers they vary on, and purged by
//! surrogate key, by URL, or all at once.
//!
//! - **Bounded by bytes**: a [`quick_cache`] cache whose weight is each
//!   entry's body plus headers, so a few large pages cannot hide behind an
//!   entry count. Its S3-FIFO eviction keeps hot pages over one-hit wonders.
//! - **Variants**: one primary key (the normalized URL, [`cache_key`]) holds
//!   every stored variant of a `Vary` response; a lookup picks the one whose
//!   varied request headers match.
//! - **Surrogate keys**: each entry remembers its `Surrogate-Key`s, and an
//!   index from key to URLs makes a purge by key cost the entries it names,
//!   not a scan. Eviction and replacement keep the index in step.
//! - **Purging everything** is soft: [`PageStore::invalidate_all`] bumps a
//!   generation, and an entry stored before it is treated as stale — it is
//!   revalidated (a cheap 304) instead of refetched, and can still be served
//!   under `stale-if-error` while the origin is down.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};

use super::personalize::ListingPage;
use super::policy::{Stored, vary_matches};

/// A stored response.
#[derive(Debug)]
pub struct CachedResponse {
    /// Its status.
    pub status: StatusCode,
    /// Its end-to-end headers (hop-by-hop ones and `Age` removed).
    pub headers: HeaderMap,
    /// `headers` as a hit sends them: with `Age`, `X-Cache` and
    /// `X-Request-Id` already in place (placeholders each response
    /// overwrites), so a hit copies one map and grows nothing
    /// ([`wire_headers`]).
    pub wire_headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
    /// What it may be used for.
    pub policy: Stored,
    /// The request's values of the headers in `policy.vary`.
    pub vary_values: HeaderMap,
    /// Its surrogate keys.
    pub surrogate_keys: Box<[String]>,
    /// The store's generation when it was stored; older than the store's
    /// current generation means stale, whatever its freshness.
    pub generation: u64,
    /// On a personalized route, the page read as a listing once, when it was
    /// stored (or why it is not one), so each personalized hit starts from
    /// it; counted in the entry's weight.
    pub listing: Option<Result<Arc<ListingPage>, String>>,
}

/// `headers` with placeholders for the headers every response from the
/// cache sets (see [`CachedResponse::wire_headers`]).
pub fn wire_headers(headers: &HeaderMap) -> HeaderMap {
    let mut wire = HeaderMap::with_capacity(headers.len() + 3);
    wire.extend(headers.iter().map(|(name, value)| (name.clone(), value.clone())));
    for name in [http::header::AGE, super::proxy::X_CACHE, super::proxy::X_REQUEST_ID] {
        wire.insert(name, http::HeaderValue::from_static("0"));
    }
    wire
}

impl CachedResponse {
    fn weight(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .chain(self.wire_headers.iter())
            .chain(self.vary_values.iter())
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum();
        let keys: usize = self.surrogate_keys.iter().map(|k| k.len() + 24).sum();
        // The struct itself and the variant list's slot.
        let fixed = std::mem::size_of::<Self>() + 64;
        let listing = match &self.listing {
            Some(Ok(listing)) => listing.weight(),
            Some(Err(reason)) => reason.len(),
            None => 0,
        };
        u64::try_from(self.body.len() + headers + keys + fixed + listing).unwrap_or(u64::MAX)
    }
}

/// Every stored variant of one URL, and the stamp the surrogate index
/// knows this set of variants by.
#[derive(Debug, Clone, Default)]
pub struct Variants(Arc<[Arc<CachedResponse>]>, u64);

impl Variants {
    /// The variant whose varied headers match `request`'s.
    pub fn select(&self, request: &HeaderMap) -> Option<&Arc<CachedResponse>> {
        self.0
            .iter()
            .find(|v| vary_matches(&v.policy.vary, &v.vary_values, request))
    }

    fn weight(&self) -> u64 {
        self.0.iter().map(|v| v.weight()).sum()
    }

    fn surrogate_keys(&self) -> HashSet<&str> {
        self.0
            .iter()
            .flat_map(|v| v.surrogate_keys.iter().map(String::as_str))
            .collect()
    }
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Arc<str>, Variants> for ByBytes {
    fn weight(&self, _key: &Arc<str>, value: &Variants) -> u64 {
        value.weight().max(1)
    }
}

/// Surrogate key → the URLs whose entries carry it, each with the stamp of
/// the [`Variants`] that carried it when it was added.
///
/// The stamp is what keeps a replaced page indexed: quick_cache reports the
/// value an insert replaces as evicted (0.7 calls `on_evict` for it), after
/// the new value's keys were added under the same URL. Removing by URL
/// alone would then unindex the new page, which no purge would reach again
/// (every revalidated or refreshed page, until it was evicted or expired).
/// Removing only the entries still stamped with the evicted value removes
/// just the keys the new value no longer has.
#[derive(Default)]
struct SurrogateIndex(Mutex<HashMap<String, HashMap<Arc<str>, u64>>>);

impl SurrogateIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<Arc<str>, u64>>> {
        // A panic while holding the lock leaves the map consistent (each
        // operation is one insert or remove), so a poisoned lock is usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add<'a>(&self, url: &Arc<str>, stamp: u64, keys: impl IntoIterator<Item = &'a str>) {
        let mut map = self.lock();
        for key in keys {
            map.entry(key.to_owned()).or_default().insert(Arc::clone(url), stamp);
        }
    }

    /// Unindexes `url` under `keys` where the index still has it with `stamp`.
    fn remove<'a>(&self, url: &str, stamp: u64, keys: impl IntoIterator<Item = &'a str>) {
        let mut map = self.lock();
        for key in keys {
            if let Some(urls) = map.get_mut(key) {
                if urls.get(url) == Some(&stamp) {
                    urls.remove(url);
                }
                if urls.is_empty() {
                    map.remove(key);
                }
            }
        }
    }

    fn take(&self, key: &str) -> Vec<Arc<str>> {
        self.lock()
            .remove(key)
            .map(|urls| urls.into_keys().collect())
            .unwrap_or_default()
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

#[derive(Clone)]
struct Unindex(Arc<SurrogateIndex>);

impl Lifecycle<Arc<str>, Variants> for Unindex {
    type RequestState = ();

    fn on_evict(&self, _state: &mut (), key: Arc<str>, value: Variants) {
        self.0.remove(&key, value.1, value.surrogate_keys());
    }
}

/// What [`PageStore::insert_unless_purged`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored.
    Stored,
    /// Not stored: a purge named it while it was fetched.
    PurgedInFlight,
    /// Not stored: larger than an eighth of the store.
    TooLarge,
}

/// The page cache's storage. Cheap to share behind an `Arc`; every method
/// takes `&self`.
pub struct PageStore {
    entries: Cache<Arc<str>, Variants, ByBytes, DefaultHashBuilder, Unindex>,
    index: Arc<SurrogateIndex>,
    /// Held by every change to `entries` and `index` (not by reads), so the
    /// two change together: without it, a purge that had just taken a URL's
    /// old copy out could unindex the copy stored in between, which no later
    /// purge would then reach. Evictions run inside `entries.insert`, under
    /// it too. Misses and purges take it; hits never do.
    writes: Mutex<()>,
    /// The last stamp given to a [`Variants`].
    stamps: AtomicU64,
    generation: AtomicU64,
    max_entry_bytes: u64,
    purges: Mutex<PurgeLog>,
}

/// The latest purges, so that a response fetched while one happened is not
/// stored (it may predate the change that caused the purge).
#[derive(Default)]
struct PurgeLog {
    /// How many purges there have been.
    count: u64,
    /// The latest ones, oldest first, with their number.
    recent: std::collections::VecDeque<(u64, Purged)>,
}

enum Purged {
    Key(String),
    Url(String),
    All,
}

/// How many purges [`PurgeLog`] remembers; older fetches count as purged.
const PURGE_LOG: usize = 4096;

impl std::fmt::Debug for PageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageStore")
            .field("entries", &self.entries.len())
            .field("bytes", &self.entries.weight())
            .finish_non_exhaustive()
    }
}

impl PageStore {
    /// A store holding at most `capacity_bytes`; a single response larger
    /// than an eighth of that is not stored (it would evict too much).
    pub fn new(capacity_bytes: u64) -> Self {
        let index = Arc::new(SurrogateIndex::default());
        // Catalog pages are ~5–50 KB: estimate entries from 16 KB each.
        let estimated_items = usize::try_from(capacity_bytes / (16 << 10))
            .unwrap_or(usize::MAX)
            .max(64);
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated_items)
            .weight_capacity(capacity_bytes.max(1))
            .build()
            .unwrap_or_else(|_| unreachable!("estimated items and weight capacity are set"));
        Self {
            entries: Cache::with_options(
                options,
                ByBytes,
                DefaultHashBuilder::default(),
                Unindex(Arc::clone(&index)),
            ),
            index,
            writes: Mutex::new(()),
            stamps: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            max_entry_bytes: capacity_bytes / 8,
            purges: Mutex::new(PurgeLog::default()),
        }
    }

    fn log_purge(&self, purged: Purged) {
        let mut log = self.purges.lock().unwrap_or_else(PoisonError::into_inner);
        log.count += 1;
        let count = log.count;
        if log.recent.len() == PURGE_LOG {
            log.recent.pop_front();
        }
        log.recent.push_back((count, purged));
    }

    /// A mark to take before fetching a page from the origin; see
    /// [`insert_unless_purged`](Self::insert_unless_purged).
    pub fn purge_mark(&self) -> u64 {
        self.purges.lock().unwrap_or_else(PoisonError::into_inner).count
    }

    /// Whether, since `mark`, a purge named `url` or one of `keys`, or
    /// purged everything. A response fetched across such a purge may be
    /// older than the change behind it, so it must not be stored.
    fn purged_since(&self, mark: u64, url: &str, keys: &[String]) -> bool {
        let log = self.purges.lock().unwrap_or_else(PoisonError::into_inner);
        if log.count == mark {
            return false;
        }
        if log.recent.front().is_none_or(|(first, _)| *first > mark + 1) {
            // The log no longer reaches back to the mark.
            return true;
        }
        log.recent
            .iter()
            .filter(|(n, _)| *n > mark)
            .any(|(_, purged)| match purged {
                Purged::All => true,
                Purged::Url(u) => u == url,
                Purged::Key(k) => keys.iter().any(|key| key == k),
            })
    }

    /// The current generation (see [`invalidate_all`](Self::invalidate_all)).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The variants stored for `url`.
    pub fn get(&self, url: &str) -> Option<Variants> {
        self.entries.get(url)
    }

    /// Whether `entry` was stored before the last [`invalidate_all`](Self::invalidate_all).
    pub fn is_invalidated(&self, entry: &CachedResponse) -> bool {
        entry.generation < self.generation()
    }

    /// Stores `response` for `url` in place of the variant it matches (the
    /// same values of the same varied headers), keeping the others. Returns
    /// `false` when it is too large to store.
    pub fn insert(&self, url: &str, response: CachedResponse) -> bool {
        let _writing = self.writing();
        self.insert_locked(url, Arc::new(response))
    }

    /// Call with [`writing`](Self::writing) held.
    fn insert_locked(&self, url: &str, response: Arc<CachedResponse>) -> bool {
        if response.weight() > self.max_entry_bytes {
            return false;
        }
        let url: Arc<str> = Arc::from(url);
        let old = self.entries.get(&*url).unwrap_or_default();
        let mut next: Vec<Arc<CachedResponse>> = old
            .0
            .iter()
            .filter(|v| {
                !(v.policy.vary == response.policy.vary
                    && vary_matches(&v.policy.vary, &v.vary_values, &response.vary_values))
            })
            .cloned()
            .collect();
        next.push(Arc::clone(&response));
        // Under `writes`: stamps only grow.
        let stamp = self.stamps.fetch_add(1, Ordering::Relaxed) + 1;
        let next = Variants(next.into(), stamp);
        self.index.add(&url, stamp, next.surrogate_keys());
        // Replacing `old` reports it evicted: that unindexes the keys only
        // it had (the others are stamped `stamp` now).
        self.entries.insert(url, next);
        true
    }

    /// Removes everything stored for `url`; returns whether anything was.
    pub fn purge_url(&self, url: &str) -> bool {
        let _writing = self.writing();
        self.log_purge(Purged::Url(url.to_owned()));
        self.remove_url(url)
    }

    /// Stores `response` for `url` as [`insert`](Self::insert) does, unless
    /// a purge since `mark` named its URL or one of its keys, or purged
    /// everything: a response fetched across such a purge may be older than
    /// the change behind it. The check and the store are one step: a purge
    /// lands wholly before (and the response is not stored) or wholly after
    /// (and takes it out).
    pub fn insert_unless_purged(&self, url: &str, response: Arc<CachedResponse>, mark: u64) -> StoreOutcome {
        let _writing = self.writing();
        if self.purged_since(mark, url, &response.surrogate_keys) {
            return StoreOutcome::PurgedInFlight;
        }
        if self.insert_locked(url, response) {
            StoreOutcome::Stored
        } else {
            StoreOutcome::TooLarge
        }
    }

    fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Call with [`writing`](Self::writing) held.
    fn remove_url(&self, url: &str) -> bool {
        match self.entries.remove(url) {
            Some((url, variants)) => {
                self.index.remove(&url, variants.1, variants.surrogate_keys());
                true
            }
            None => false,
        }
    }

    /// Removes every entry carrying surrogate key `key`; returns how many URLs.
    pub fn purge_key(&self, key: &str) -> usize {
        let _writing = self.writing();
        self.log_purge(Purged::Key(key.to_owned()));
        self.index
            .take(key)
            .into_iter()
            .filter(|url| self.remove_url(url))
            .count()
    }

    /// Marks everything stored so far as stale (a soft purge): entries are
    /// revalidated before their next use instead of being dropped.
    pub fn invalidate_all(&self) {
        self.log_purge(Purged::All);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops everything.
    pub fn clear(&self) {
        let _writing = self.writing();
        self.entries.clear();
        self.index.clear();
    }

    /// How many URLs are stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// Bytes stored, as weighed.
    pub fn bytes(&self) -> u64 {
        self.entries.weight()
    }

    /// Surrogate keys in the index (for metrics and tests).
    pub fn indexed_keys(&self) -> usize {
        self.index.lock().len()
    }
}

/// Which query parameters a cache key leaves out.
#[derive(Debug, Clone, Default)]
pub struct IgnoredParams {
    exact: HashSet<String>,
    prefixes: Vec<String>,
}

impl IgnoredParams {
    /// From patterns: a name (`gclid`) or a prefix ending in `*` (`utm_*`).
    pub fn new<S: AsRef<str>>(patterns: impl IntoIterator<Item = S>) -> Self {
        let mut ignored = Self::default();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            match pattern.strip_suffix('*') {
                Some(prefix) => ignored.prefixes.push(prefix.to_owned()),
                None => {
                    ignored.exact.insert(pattern.to_owned());
                }
            }
        }
        ignored
    }

    fn ignores(&self, name: &str) -> bool {
        self.exact.contains(name) || self.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    }
}

/// The cache key of a request target: the path, then the query parameters
/// sorted by name and value, without the ignored ones. Bytes are kept as
/// sent (no percent-decoding): two spellings of one URL are two keys, never
/// two URLs one key.
pub fn cache_key(path_and_query: &str, ignored: &IgnoredParams) -> String {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| !ignored.ignores(p.split_once('=').map_or(*p, |(name, _)| name)))
        .collect();
    if params.is_empty() {
        return path.to_owned();
    }
    params.sort_unstable();
    let mut key = String::with_capacity(path_and_query.len());
    key.push_str(path);
    key.push('?');
    key.push_str(&params.join("&"));
    key
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod purge_log_tests {
    use super::*;

    #[test]
    fn a_fetch_across_a_purge_of_its_keys_is_not_stored() {
        let store = PageStore::new(1 << 20);
        let keys = vec!["product:1".to_owned(), "category:drills".to_owned()];
        let mark = store.purge_mark();
        assert!(!store.purged_since(mark, "/p/1", &keys));
        store.purge_key("product:2");
        assert!(!store.purged_since(mark, "/p/1", &keys), "another product's purge");
        store.purge_key("category:drills");
        assert!(store.purged_since(mark, "/p/1", &keys));
        let mark = store.purge_mark();
        store.purge_url("/p/1");
        assert!(store.purged_since(mark, "/p/1", &keys));
        let mark = store.purge_mark();
        store.invalidate_all();
        assert!(store.purged_since(mark, "/anything", &[]));
        // A mark older than the log reaches counts as purged.
        let mark = store.purge_mark();
        for i in 0..=PURGE_LOG {
            store.purge_key(&format!("k{i}"));
        }
        assert!(store.purged_since(mark, "/p/1", &keys));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use std::time::{Duration, SystemTime};

    use http::{HeaderName, HeaderValue, header};

    use super::*;

    fn response(body: &str, keys: &[&str], vary: &[(&str, &str)]) -> CachedResponse {
        let mut vary_values = HeaderMap::new();
        for (name, value) in vary {
            vary_values.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        CachedResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            wire_headers: wire_headers(&HeaderMap::new()),
            body: Bytes::from(body.to_owned()),
            policy: Stored {
                lifetime: Duration::from_secs(60),
                initial_age: Duration::ZERO,
                response_time: SystemTime::now(),
                always_validate: false,
                never_stale: false,
                stale_while_revalidate: Duration::ZERO,
                stale_if_error: Duration::ZERO,
                vary: vary
                    .iter()
                    .map(|(n, _)| HeaderName::from_bytes(n.as_bytes()).unwrap())
                    .collect(),
            },
            vary_values,
            surrogate_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            generation: 0,
            listing: None,
        }
    }

    fn body(store: &PageStore, url: &str, request: &HeaderMap) -> Option<String> {
        let variants = store.get(url)?;
        let entry = variants.select(request)?;
        Some(String::from_utf8(entry.body.to_vec()).unwrap())
    }

    #[test]
    fn keys_sort_parameters_and_drop_tracking_ones() {
        let ignored = IgnoredParams::new(["utm_*", "gclid"]);
        assert_eq!(
            cache_key("/api/v1/search?q=drill&utm_source=news&page=2&gclid=x", &ignored),
            "/api/v1/search?page=2&q=drill"
        );
        assert_eq!(cache_key("/p?b=2&a=1", &ignored), cache_key("/p?a=1&b=2", &ignored));
        assert_eq!(cache_key("/p?utm_campaign=x", &ignored), "/p");
        assert_eq!(cache_key("/p?", &ignored), "/p");
        // Repeated parameters keep both values; encoded bytes are not decoded.
        assert_eq!(cache_key("/p?a=2&a=1&q=a%20b", &ignored), "/p?a=1&a=2&q=a%20b");
        assert_ne!(cache_key("/p?q=a%20b", &ignored), cache_key("/p?q=a+b", &ignored));
    }

    #[test]
    fn variants_are_selected_by_the_varied_headers() {
        let store = PageStore::new(1 << 20);
        store.insert("/p", response("english", &["product:1"], &[("accept-language", "en")]));
        store.insert(
            "/p",
            response("afrikaans", &["product:1"], &[("accept-language", "af")]),
        );
        let mut en = HeaderMap::new();
        en.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en"));
        let mut af = HeaderMap::new();
        af.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("af"));
        assert_eq!(body(&store, "/p", &en).as_deref(), Some("english"));
        assert_eq!(body(&store, "/p", &af).as_deref(), Some("afrikaans"));
        assert_eq!(body(&store, "/p", &HeaderMap::new()), None);
        // A new English copy replaces the old one and keeps the Afrikaans one.
        store.insert(
            "/p",
            response("english 2", &["product:1"], &[("accept-language", "en")]),
        );
        assert_eq!(body(&store, "/p", &en).as_deref(), Some("english 2"));
        assert_eq!(body(&store, "/p", &af).as_deref(), Some("afrikaans"));
        assert_eq!(store.get("/p").unwrap().0.len(), 2);
    }

    /// A page stored again (revalidated, refreshed in the background, or a
    /// new variant) is still reached by a purge of its keys.
    #[test]
    fn a_page_stored_again_is_still_purged_by_its_keys() {
        let store = PageStore::new(1 << 20);
        store.insert("/p", response("v1", &["product:1", "search"], &[]));
        store.insert("/p", response("v2", &["product:1", "search"], &[]));
        assert_eq!(store.purge_key("search"), 1, "the replaced page is still indexed");
        assert!(store.get("/p").is_none());

        // A key only the old copy had is dropped from the index; the others stay.
        store.insert("/q", response("v1", &["product:1", "listing:drills"], &[]));
        store.insert("/q", response("v2", &["product:1"], &[]));
        assert_eq!(store.purge_key("listing:drills"), 0);
        assert!(store.get("/q").is_some());
        assert_eq!(store.purge_key("product:1"), 1);
        assert!(store.get("/q").is_none());
    }

    /// A page stored while a purge of one of its keys runs stays purgeable:
    /// the purge must not unindex the new copy after taking the old one out
    /// (that left a search answer at the edge that no later purge reached).
    #[test]
    fn a_page_stored_during_a_purge_is_purged_by_the_next_one() {
        let store = std::sync::Arc::new(PageStore::new(64 << 20));
        let urls: Vec<String> = (0..8).map(|i| format!("/api/v1/search?q={i}")).collect();
        for round in 0..300 {
            let storing = {
                let (store, urls) = (std::sync::Arc::clone(&store), urls.clone());
                std::thread::spawn(move || {
                    for url in &urls {
                        store.insert(url, response("page", &["search", "product:1"], &[]));
                    }
                })
            };
            let purging = {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..8 {
                        store.purge_key("search");
                    }
                })
            };
            storing.join().unwrap();
            purging.join().unwrap();
            // Whatever survived the race is still reached by its keys.
            store.purge_key("search");
            for url in &urls {
                assert!(
                    store.get(url).is_none(),
                    "round {round}: {url} outlived a purge of its key"
                );
            }
        }
    }

    #[test]
    fn purge_by_surrogate_key_takes_exactly_the_pages_that_carry_it() {
        let store = PageStore::new(1 << 20);
        let none = HeaderMap::new();
        store.insert("/products/1", response("p1", &["product:1", "category:drills"], &[]));
        store.insert("/products/2", response("p2", &["product:2", "category:drills"], &[]));
        store.insert(
            "/categories/drills",
            response("c", &["category:drills", "product:1", "product:2"], &[]),
        );
        store.insert("/products/3", response("p3", &["product:3"], &[]));

        assert_eq!(store.purge_key("product:1"), 2);
        assert_eq!(body(&store, "/products/1", &none), None);
        assert_eq!(body(&store, "/categories/drills", &none), None);
        assert_eq!(body(&store, "/products/2", &none).as_deref(), Some("p2"));
        assert_eq!(body(&store, "/products/3", &none).as_deref(), Some("p3"));
        assert_eq!(store.purge_key("product:1"), 0);
        assert_eq!(store.purge_key("category:drills"), 1);
        assert_eq!(store.len(), 1);
        // Nothing left in the index for purged pages.
        assert_eq!(store.indexed_keys(), 1);
    }

    #[test]
    fn a_replaced_page_drops_the_keys_it_no_longer_carries() {
        let store = PageStore::new(1 << 20);
        store.insert("/products/1", response("old", &["product:1", "category:drills"], &[]));
        store.insert("/products/1", response("new", &["product:1", "category:saws"], &[]));
        assert_eq!(store.purge_key("category:drills"), 0);
        assert_eq!(body(&store, "/products/1", &HeaderMap::new()).as_deref(), Some("new"));
        assert_eq!(store.purge_key("category:saws"), 1);
    }

    #[test]
    fn bounded_by_bytes_and_evictions_leave_the_index() {
        let store = PageStore::new(256 << 10);
        let page = "x".repeat(10 << 10);
        for i in 0..200 {
            store.insert(&format!("/p/{i}"), response(&page, &[&format!("product:{i}")], &[]));
        }
        assert!(store.bytes() <= 256 << 10, "{} bytes stored", store.bytes());
        assert!(store.len() < 200 && store.len() > 10, "{} entries", store.len());
        assert_eq!(store.indexed_keys(), store.len());
        // Too large for one entry (over 1/8 of the capacity): refused.
        assert!(!store.insert("/big", response(&"y".repeat(40 << 10), &[], &[])));
        assert!(store.get("/big").is_none());
    }

    #[test]
    fn invalidate_all_marks_every_earlier_entry() {
        let store = PageStore::new(1 << 20);
        store.insert("/a", response("a", &[], &[]));
        let before = store.get("/a").unwrap().select(&HeaderMap::new()).cloned().unwrap();
        assert!(!store.is_invalidated(&before));
        store.invalidate_all();
        assert!(store.is_invalidated(&before));
        let mut fresh = response("a2", &[], &[]);
        fresh.generation = store.generation();
        store.insert("/a", fresh);
        let after = store.get("/a").unwrap().select(&HeaderMap::new()).cloned().unwrap();
        assert!(!store.is_invalidated(&after));
    }
}
