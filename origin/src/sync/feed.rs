//! The catalog feed poller: reads the product-information system's export
//! on an interval, diffs it against the catalog and enqueues only what
//! changed, as [`Source::Feed`] events.
//!
//! # The feed
//!
//! `--catalog-feed` is a file path or an `http://` / `https://` URL. Its
//! format is told by the content type a server sends (`application/x-ndjson`,
//! `application/jsonl`, `text/csv`), else by the name's extension (`.jsonl`,
//! `.ndjson`, `.csv`).
//!
//! - **JSON Lines**: one object per line, `{"sku": "DR-1", "version": 7,
//!   "name": "...", "description": "...", "brand": "...", "category": "drills",
//!   "price_minor": 129900, "stock": 4, "attributes": {"voltage": "18 V"}}`.
//!   Blank lines are ignored; an absent or `null` field is not given.
//! - **CSV** with a header row naming the columns `sku`, `version`, `name`,
//!   `description`, `brand`, `category`, `price_minor`, `stock`, and any
//!   `attr:<name>` (attribute `<name>`). An empty cell is not given. A header
//!   with an unknown or repeated column, or without `sku` and `version`,
//!   fails the run: every row would be read wrong.
//!
//! `sku` and `version` (the PIM's version of the product, ≥ 1) are required.
//! A field not given keeps the stored value, so a price-and-stock feed is a
//! valid feed; a product the catalog does not have yet needs `name`, `brand`,
//! `category`, `price_minor` and `stock`. Attributes, when given, replace the
//! stored ones (a CSV cell `5` equals a stored number `5`).
//!
//! # What a run does
//!
//! 1. Fetches the feed: a file is read in place; a URL is streamed into a
//!    spool file (at most [`MAX_FEED_BYTES`]) and removed afterwards. An HTTP
//!    error, a timeout or an oversized feed fails the run; the next interval
//!    tries again.
//! 2. Hashes it (SHA-256). The job row in `sync_feed_jobs` (named by the
//!    feed's address) says how far the last run of that digest got: a
//!    finished digest is not read again; an unfinished one resumes after
//!    `rows_done`; a new digest starts at row 0.
//! 3. Per batch of [`BATCH_ROWS`] rows, loads the stored products and their
//!    `sync_versions` in one query, and per row: skips it when its version is
//!    not newer than the one applied, or when nothing differs; else enqueues
//!    one event: [`Change::Price`] when only the price differs,
//!    [`Change::Stock`] when only the stock does, [`Change::Product`] with
//!    every field otherwise. Then records `rows_done`, so a crash re-enqueues
//!    at most one batch, which the event ids ([`event_id`]) deduplicate.
//! 4. Marks the digest finished.
//!
//! A malformed row (bad JSON, a missing `version`, a negative price, a cell
//! that is not a number) does not stop the run: it is counted, logged with its
//! line and field, and the first [`MAX_REPORTED_ERRORS`] are in the
//! [`FeedRun`].
//!
//! **Products absent from the feed are left alone**: feeds may be partial, so
//! absence is not deletion (the ERP's webhook sends deletes).
//!
//! One poller per feed is expected; two would enqueue the same events, which
//! the ids deduplicate.
//!
//! ```no_run
//! # async fn run(db: &vitrine_origin::db::Db, queue: &vitrine_origin::sync::SyncQueue) -> anyhow::Result<()> {
//! let mut config = vitrine_origin::sync::SyncConfig::embedded();
//! config.catalog_feed = Some("/srv/pim/catalog.jsonl".into());
//! let run = vitrine_origin::sync::feed::run_once(db, queue, &config).await?;
//! println!("{} events enqueued, {} malformed rows", run.enqueued, run.malformed);
//! # Ok(()) }
//! ```

use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use sqlx::types::Json;
use tokio::sync::mpsc;

use super::SyncQueue;
use super::config::SyncConfig;
use super::event::{Change, Envelope, Event, MAX_SKU_LEN, ProductFields, Source};
use super::queue::{Queue as _, valid_dedup_id};
use crate::db::Db;
use crate::with_db;

/// Largest feed downloaded from a URL, in bytes (2 GiB); a larger one fails the run.
pub const MAX_FEED_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Rows diffed per database query and per recorded step of progress.
pub const BATCH_ROWS: usize = 500;

/// Malformed rows described in a [`FeedRun`] (the rest are only counted).
pub const MAX_REPORTED_ERRORS: usize = 20;

/// Malformed rows logged one by one per run; the rest only at debug level.
const MAX_LOGGED_ERRORS: u64 = 100;

/// Longest JSON Lines row; a longer line is malformed (and skipped unread).
const MAX_LINE_BYTES: u64 = 1024 * 1024;

/// Connecting to the feed's server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Silence from the feed's server mid-download.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A whole download.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The two feed formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    JsonLines,
    /// Comma-separated values with a header row (`.csv`).
    Csv,
}

impl FeedFormat {
    /// The format a file name or URL's extension names.
    pub fn from_address(address: &str) -> Option<Self> {
        let path = address.split(['?', '#']).next().unwrap_or(address);
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" => Some(Self::JsonLines),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    /// The format a `Content-Type` names.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson" | "application/jsonl" | "application/x-jsonlines" => Some(Self::JsonLines),
            "text/csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// How a run fetches and walks the feed (what [`run_once`] takes from the config).
#[derive(Clone, Debug)]
pub struct FeedOptions {
    /// Where a feed downloaded from a URL is kept while it is processed.
    pub spool_dir: PathBuf,
    /// Largest download accepted, in bytes.
    pub max_bytes: u64,
    /// Rows per batch (per query and per progress step), at least 1.
    pub batch_rows: usize,
}

impl FeedOptions {
    /// The options `config` gives, spooling to `--catalog-feed-spool` or else `data_dir`.
    pub fn new(config: &SyncConfig, data_dir: &Path) -> Self {
        Self {
            spool_dir: config
                .catalog_feed_spool
                .clone()
                .unwrap_or_else(|| data_dir.to_path_buf()),
            max_bytes: MAX_FEED_BYTES,
            batch_rows: BATCH_ROWS,
        }
    }
}

/// A row of the feed that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// The line of the feed it starts on (1 is the first; a CSV header is line 1).
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RowError {
    fn new(line: u64, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            line,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}, field `{field}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// What one run of the poller did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FeedRun {
    /// The feed's address.
    pub feed: String,
    /// The format it was read as.
    pub format: FeedFormat,
    /// SHA-256 of the feed, hex.
    pub digest: String,
    /// Bytes in the feed.
    pub bytes: u64,
    /// The feed was processed to its end before: nothing was read.
    pub skipped_unchanged: bool,
    /// Rows skipped because an earlier, interrupted run of the same feed had
    /// enqueued them (0 when the run started from the top).
    pub resumed_from: u64,
    /// Rows read by this run, malformed ones included.
    pub rows_read: u64,
    /// Rows that could not be used.
    pub malformed: u64,
    /// The first [`MAX_REPORTED_ERRORS`] of them.
    pub errors: Vec<RowError>,
    /// Rows newer than the stored version that change nothing.
    pub unchanged: u64,
    /// Events enqueued.
    pub enqueued: u64,
    /// Rows whose version is not newer than the one applied.
    pub skipped_stale: u64,
}

impl FeedRun {
    fn new(feed: &str, format: FeedFormat, digest: String, bytes: u64) -> Self {
        Self {
            feed: feed.to_owned(),
            format,
            digest,
            bytes,
            skipped_unchanged: false,
            resumed_from: 0,
            rows_read: 0,
            malformed: 0,
            errors: Vec::new(),
            unchanged: 0,
            enqueued: 0,
            skipped_stale: 0,
        }
    }

    fn malformed(&mut self, error: RowError) {
        if self.malformed < MAX_LOGGED_ERRORS {
            tracing::warn!(feed = %self.feed, line = error.line, field = error.field.as_deref(), error = %error.message, "malformed catalog feed row");
        } else {
            tracing::debug!(feed = %self.feed, line = error.line, field = error.field.as_deref(), error = %error.message, "malformed catalog feed row");
        }
        self.malformed += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(error);
        }
    }
}

/// The id of the feed's event for version `version` of `sku`:
/// `feed-<sku>-<version>`, or, for a SKU that is not a valid part of a
/// deduplication id (spaces, non-ASCII), `feed-h<first 16 bytes of its
/// SHA-256, hex>-<version>`.
pub fn event_id(sku: &str, version: i64) -> String {
    let plain = format!("feed-{sku}-{version}");
    if valid_dedup_id(&plain) {
        return plain;
    }
    let digest = Sha256::digest(sku.as_bytes());
    format!("feed-h{}-{version}", hex::encode(&digest[..16]))
}

/// Polls `state.config.sync.catalog_feed` every `catalog_feed_interval_secs`
/// forever (returns at once when no feed is configured). A failed run is
/// logged and retried at the next interval.
pub async fn run(state: crate::state::AppState) {
    let config = &state.config.sync;
    let Some(feed) = config.catalog_feed.clone() else {
        return;
    };
    let options = FeedOptions::new(config, &state.config.data_dir);
    let mut ticker = tokio::time::interval(Duration::from_secs(config.catalog_feed_interval_secs.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(feed = %feed, interval_secs = config.catalog_feed_interval_secs, "polling the catalog feed");
    loop {
        ticker.tick().await;
        match run_once_with(&state.db, &state.sync.queue, config, &options).await {
            Ok(run) if run.skipped_unchanged => {
                tracing::debug!(feed = %feed, digest = %run.digest, "catalog feed unchanged");
            }
            Ok(run) => tracing::info!(
                feed = %feed,
                rows = run.rows_read,
                enqueued = run.enqueued,
                unchanged = run.unchanged,
                stale = run.skipped_stale,
                malformed = run.malformed,
                resumed_from = run.resumed_from,
                "catalog feed processed"
            ),
            Err(e) => {
                tracing::warn!(feed = %feed, error = %format!("{e:#}"), "catalog feed run failed; retrying next interval")
            }
        }
    }
}

/// Reads `config.catalog_feed` once, enqueues what changed and returns what it
/// did (see the module docs). A download is spooled to
/// `--catalog-feed-spool`, else the system's temporary directory.
pub async fn run_once(db: &Db, queue: &SyncQueue, config: &SyncConfig) -> anyhow::Result<FeedRun> {
    run_once_with(db, queue, config, &FeedOptions::new(config, &std::env::temp_dir())).await
}

/// [`run_once`] with explicit [`FeedOptions`].
pub async fn run_once_with(
    db: &Db,
    queue: &SyncQueue,
    config: &SyncConfig,
    options: &FeedOptions,
) -> anyhow::Result<FeedRun> {
    let feed = config
        .catalog_feed
        .as_deref()
        .context("no catalog feed is configured (--catalog-feed)")?;
    let result = process(db, queue, feed, options)
        .await
        .with_context(|| format!("while processing catalog feed `{feed}`"));
    let outcome = match &result {
        Ok(run) if run.skipped_unchanged => "unchanged",
        Ok(_) => "ok",
        Err(_) => "failed",
    };
    metrics::counter!("vitrine_sync_feed_runs_total", "result" => outcome).increment(1);
    if result.is_ok() {
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        metrics::gauge!("vitrine_sync_feed_last_success_timestamp_seconds").set(now);
    }
    result
}

/// Counts `n` feed events with `outcome` (`received`, `enqueued`, `malformed`).
fn count_events(outcome: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!("vitrine_sync_events_total", "source" => Source::Feed.as_str(), "outcome" => outcome)
            .increment(n);
    }
}

/// A feed on disk, open at its start, and what is known of it.
struct Fetched {
    file: std::fs::File,
    format: FeedFormat,
    digest: String,
    bytes: u64,
    /// The spool file to remove when done (none for a local feed).
    _spool: Option<Spool>,
}

async fn process(db: &Db, queue: &SyncQueue, feed: &str, options: &FeedOptions) -> anyhow::Result<FeedRun> {
    let fetched = fetch(feed, options).await?;
    let mut run = FeedRun::new(feed, fetched.format, fetched.digest.clone(), fetched.bytes);

    let job = load_job(db, feed).await.context("while loading the feed's job state")?;
    match job {
        Some(job) if job.digest == fetched.digest && job.finished => {
            run.skipped_unchanged = true;
            return Ok(run);
        }
        Some(job) if job.digest == fetched.digest => {
            run.resumed_from = u64::try_from(job.rows_done).unwrap_or(0);
            tracing::info!(feed, digest = %fetched.digest, rows_done = job.rows_done, "resuming an interrupted catalog feed run");
        }
        _ => start_job(db, feed, &fetched.digest)
            .await
            .context("while recording the feed's new digest")?,
    }

    let batch_rows = options.batch_rows.max(1);
    let (tx, mut rx) = mpsc::channel(2);
    let (file, format, skip) = (fetched.file, fetched.format, run.resumed_from);
    let parser = tokio::task::spawn_blocking(move || parse_feed(file, format, skip, batch_rows, &tx));

    let mut rows_done = run.resumed_from;
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        rows_done += batch.len() as u64;
        run.rows_read += batch.len() as u64;
        process_batch(db, queue, batch, &mut run).await?;
        record_progress(db, feed, &fetched.digest, rows_done, false)
            .await
            .context("while recording the feed's progress")?;
    }
    parser.await.context("the feed parser panicked")?;
    record_progress(db, feed, &fetched.digest, rows_done, true)
        .await
        .context("while marking the feed finished")?;
    Ok(run)
}

// ---------------------------------------------------------------------------
// Fetching

async fn fetch(feed: &str, options: &FeedOptions) -> anyhow::Result<Fetched> {
    if feed.starts_with("http://") || feed.starts_with("https://") {
        return download(feed, options).await;
    }
    if let Some((scheme, _)) = feed.split_once("://") {
        anyhow::bail!("unsupported catalog feed scheme `{scheme}`: expected a file path, http:// or https://");
    }
    let format = FeedFormat::from_address(feed)
        .with_context(|| format!("cannot tell the format of `{feed}`: name it .jsonl, .ndjson or .csv"))?;
    let path = PathBuf::from(feed);
    let (file, digest, bytes) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        // One handle for hashing and reading: a feed replaced by rename
        // while it is processed is still read as the one hashed.
        let mut file = std::fs::File::open(&path).with_context(|| format!("while opening {}", path.display()))?;
        let (digest, bytes) = hash(&mut file).with_context(|| format!("while reading {}", path.display()))?;
        file.rewind()
            .with_context(|| format!("while rewinding {}", path.display()))?;
        Ok((file, digest, bytes))
    })
    .await
    .context("the feed hasher panicked")??;
    Ok(Fetched {
        file,
        format,
        digest,
        bytes,
        _spool: None,
    })
}

fn hash(file: &mut std::fs::File) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((hex::encode(hasher.finalize()), bytes));
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
}

/// A spool file, removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), error = %e, "could not remove a catalog feed spool file");
        }
    }
}

async fn download(url: &str, options: &FeedOptions) -> anyhow::Result<Fetched> {
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .timeout(DOWNLOAD_TIMEOUT)
        .user_agent(concat!("vitrine-origin/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("while building the feed's http client")?;
    let mut response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("while requesting {url}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    let max = options.max_bytes;
    if let Some(length) = response.content_length() {
        anyhow::ensure!(length <= max, "{url} is {length} bytes, over the {max}-byte limit");
    }
    let format = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(FeedFormat::from_content_type)
        .or_else(|| FeedFormat::from_address(url))
        .with_context(|| {
            format!("cannot tell the format of {url}: serve it as application/x-ndjson or text/csv, or name it .jsonl or .csv")
        })?;

    let path = options.spool_dir.join(format!(
        "catalog-feed-{}-{}.part",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let spool = Spool(path.clone());
    let (tx, rx) = mpsc::channel(8);
    let writer = tokio::task::spawn_blocking(move || write_spool(&path, rx));
    let streamed: anyhow::Result<()> = async {
        let mut received = 0u64;
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("while downloading {url}"))?
        {
            received += chunk.len() as u64;
            anyhow::ensure!(received <= max, "{url} is over the {max}-byte limit");
            if tx.send(chunk).await.is_err() {
                break; // the writer failed; its error says why
            }
        }
        Ok(())
    }
    .await;
    drop(tx);
    let written = writer.await.context("the spool writer panicked")?;
    streamed?;
    let (file, digest, bytes) = written.with_context(|| format!("while spooling to {}", spool.0.display()))?;
    Ok(Fetched {
        file,
        format,
        digest,
        bytes,
        _spool: Some(spool),
    })
}

/// Writes what arrives on `rx` to `path`, hashing it; returns the file
/// reopened at its start, the digest and the size.
fn write_spool<B: AsRef<[u8]>>(path: &Path, mut rx: mpsc::Receiver<B>) -> anyhow::Result<(std::fs::File, String, u64)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        let chunk = chunk.as_ref();
        hasher.update(chunk);
        out.write_all(chunk)?;
        bytes += chunk.len() as u64;
    }
    out.flush()?;
    drop(out);
    Ok((std::fs::File::open(path)?, hex::encode(hasher.finalize()), bytes))
}

// ---------------------------------------------------------------------------
// Parsing

/// One row of the feed, checked field by field.
#[derive(Clone, Debug, Default)]
struct FeedRow {
    line: u64,
    sku: String,
    version: i64,
    name: Option<String>,
    description: Option<String>,
    brand: Option<String>,
    category: Option<String>,
    price_minor: Option<i64>,
    stock: Option<i64>,
    attributes: Option<Map<String, Value>>,
    /// The attributes came as text (CSV): `"5"` is the same as a stored `5`.
    untyped_attributes: bool,
}

type Parsed = Result<FeedRow, RowError>;

/// The fields of a row as read, before the required ones are checked.
#[derive(Default)]
struct RowFields {
    sku: Option<String>,
    version: Option<i64>,
    name: Option<String>,
    description: Option<String>,
    brand: Option<String>,
    category: Option<String>,
    price_minor: Option<i64>,
    stock: Option<i64>,
    attributes: Option<Map<String, Value>>,
}

const FIELDS: &str = "sku, version, name, description, brand, category, price_minor, stock, attributes";

impl RowFields {
    fn finish(self, line: u64, untyped_attributes: bool) -> Parsed {
        let err = |field: &str, message: &str| Err(RowError::new(line, Some(field), message));
        let Some(sku) = self.sku else {
            return err("sku", "missing");
        };
        if sku.is_empty() || sku.len() > MAX_SKU_LEN || sku.chars().any(char::is_control) {
            return Err(RowError::new(
                line,
                Some("sku"),
                format!("must be 1 to {MAX_SKU_LEN} bytes without control characters"),
            ));
        }
        let Some(version) = self.version else {
            return err("version", "missing");
        };
        if version < 1 {
            return err("version", "must be at least 1");
        }
        if self.name.as_ref().is_some_and(|n| n.trim().is_empty() || n.len() > 500) {
            return err("name", "must be 1 to 500 bytes");
        }
        if self.brand.as_ref().is_some_and(|b| b.len() > 200) {
            return err("brand", "must be at most 200 bytes");
        }
        if self.category.as_ref().is_some_and(|c| c.is_empty() || c.len() > 200) {
            return err("category", "must be 1 to 200 bytes");
        }
        if self.description.as_ref().is_some_and(|d| d.len() > 20_000) {
            return err("description", "must be at most 20000 bytes");
        }
        if self.price_minor.is_some_and(|p| p < 0) {
            return err("price_minor", "cannot be negative");
        }
        if self.stock.is_some_and(|s| s < 0) {
            return err("stock", "cannot be negative");
        }
        Ok(FeedRow {
            line,
            sku,
            version,
            name: self.name,
            description: self.description,
            brand: self.brand,
            category: self.category,
            price_minor: self.price_minor,
            stock: self.stock,
            attributes: self.attributes,
            untyped_attributes,
        })
    }
}

fn parse_json_row(line: u64, text: &str) -> Parsed {
    let value: Value =
        serde_json::from_str(text).map_err(|e| RowError::new(line, None, format!("not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(RowError::new(line, None, "a row must be a JSON object"));
    };
    let mut fields = RowFields::default();
    for (key, value) in object {
        let at = |message: &str| RowError::new(line, Some(&key), message);
        let text = |value: Value| match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            _ => Err(at("must be a string")),
        };
        let integer = |value: Value| match value {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| at("must be a whole number")),
            _ => Err(at("must be a whole number")),
        };
        match key.as_str() {
            "sku" => fields.sku = text(value)?,
            "version" => fields.version = integer(value)?,
            "name" => fields.name = text(value)?,
            "description" => fields.description = text(value)?,
            "brand" => fields.brand = text(value)?,
            "category" => fields.category = text(value)?,
            "price_minor" => fields.price_minor = integer(value)?,
            "stock" => fields.stock = integer(value)?,
            "attributes" => {
                fields.attributes = match value {
                    Value::Null => None,
                    Value::Object(map) => Some(map),
                    _ => return Err(at("must be an object")),
                }
            }
            _ => return Err(at(&format!("unknown field: expected {FIELDS}"))),
        }
    }
    fields.finish(line, false)
}

/// A CSV column.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Column {
    Sku,
    Version,
    Name,
    Description,
    Brand,
    Category,
    PriceMinor,
    Stock,
    Attribute(String),
}

impl Column {
    fn parse(header: &str) -> anyhow::Result<Self> {
        Ok(match header {
            "sku" => Self::Sku,
            "version" => Self::Version,
            "name" => Self::Name,
            "description" => Self::Description,
            "brand" => Self::Brand,
            "category" => Self::Category,
            "price_minor" => Self::PriceMinor,
            "stock" => Self::Stock,
            _ => match header.strip_prefix("attr:") {
                Some(name) if !name.is_empty() => Self::Attribute(name.to_owned()),
                _ => anyhow::bail!(
                    "unknown column `{header}` in the CSV header: expected sku, version, name, description, brand, \
                     category, price_minor, stock or attr:<name>"
                ),
            },
        })
    }
}

fn parse_csv_row(line: u64, columns: &[(Column, String)], record: &csv::ByteRecord) -> Parsed {
    if record.len() != columns.len() {
        return Err(RowError::new(
            line,
            None,
            format!("has {} fields where the header has {}", record.len(), columns.len()),
        ));
    }
    let mut fields = RowFields::default();
    let mut attributes = Map::new();
    let has_attributes = columns.iter().any(|(c, _)| matches!(c, Column::Attribute(_)));
    for ((column, header), cell) in columns.iter().zip(record.iter()) {
        let cell = std::str::from_utf8(cell).map_err(|_| RowError::new(line, Some(header), "not UTF-8"))?;
        if cell.is_empty() {
            continue;
        }
        let integer = || {
            cell.parse::<i64>()
                .map_err(|_| RowError::new(line, Some(header), format!("`{cell}` is not a whole number")))
        };
        match column {
            Column::Sku => fields.sku = Some(cell.to_owned()),
            Column::Version => fields.version = Some(integer()?),
            Column::Name => fields.name = Some(cell.to_owned()),
            Column::Description => fields.description = Some(cell.to_owned()),
            Column::Brand => fields.brand = Some(cell.to_owned()),
            Column::Category => fields.category = Some(cell.to_owned()),
            Column::PriceMinor => fields.price_minor = Some(integer()?),
            Column::Stock => fields.stock = Some(integer()?),
            Column::Attribute(name) => {
                attributes.insert(name.clone(), Value::String(cell.to_owned()));
            }
        }
    }
    if has_attributes {
        fields.attributes = Some(attributes);
    }
    fields.finish(line, true)
}

/// The rows of a feed, one at a time.
enum Rows {
    JsonLines {
        reader: BufReader<std::fs::File>,
        line: u64,
        buf: Vec<u8>,
    },
    Csv {
        reader: csv::Reader<std::fs::File>,
        columns: Vec<(Column, String)>,
        record: csv::ByteRecord,
    },
}

impl Rows {
    fn open(file: std::fs::File, format: FeedFormat) -> anyhow::Result<Self> {
        Ok(match format {
            FeedFormat::JsonLines => Self::JsonLines {
                reader: BufReader::with_capacity(256 * 1024, file),
                line: 0,
                buf: Vec::new(),
            },
            FeedFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(file);
                let headers = reader.headers().context("while reading the CSV header")?.clone();
                let mut columns: Vec<(Column, String)> = Vec::with_capacity(headers.len());
                for header in &headers {
                    let column = Column::parse(header)?;
                    anyhow::ensure!(
                        columns.iter().all(|(c, _)| *c != column),
                        "column `{header}` appears twice in the CSV header"
                    );
                    columns.push((column, header.to_owned()));
                }
                for required in [Column::Sku, Column::Version] {
                    anyhow::ensure!(
                        columns.iter().any(|(c, _)| *c == required),
                        "the CSV header has no `{}` column",
                        if required == Column::Sku { "sku" } else { "version" }
                    );
                }
                Self::Csv {
                    reader,
                    columns,
                    record: csv::ByteRecord::new(),
                }
            }
        })
    }

    /// The next row, or `None` at the end. An `Err` is a failure of the
    /// whole feed (reading it); a bad row is an `Ok(Some(Err(..)))`.
    fn next_row(&mut self) -> anyhow::Result<Option<Parsed>> {
        match self {
            Self::JsonLines { reader, line, buf } => loop {
                buf.clear();
                let n = reader
                    .by_ref()
                    .take(MAX_LINE_BYTES + 1)
                    .read_until(b'\n', buf)
                    .context("while reading the feed")?;
                if n == 0 {
                    return Ok(None);
                }
                *line += 1;
                if buf.last() != Some(&b'\n') && n as u64 > MAX_LINE_BYTES {
                    skip_line(reader)?;
                    return Ok(Some(Err(RowError::new(
                        *line,
                        None,
                        format!("longer than {MAX_LINE_BYTES} bytes"),
                    ))));
                }
                let Ok(text) = std::str::from_utf8(buf) else {
                    return Ok(Some(Err(RowError::new(*line, None, "not UTF-8"))));
                };
                let text = text.trim_start_matches('\u{feff}').trim();
                if text.is_empty() {
                    continue;
                }
                return Ok(Some(parse_json_row(*line, text)));
            },
            Self::Csv {
                reader,
                columns,
                record,
            } => match reader.read_byte_record(record) {
                Ok(false) => Ok(None),
                Ok(true) => {
                    let line = record.position().map_or(0, csv::Position::line);
                    Ok(Some(parse_csv_row(line, columns, record)))
                }
                Err(e) => match e.kind() {
                    csv::ErrorKind::Io(_) => Err(anyhow::Error::new(e).context("while reading the feed")),
                    _ => {
                        let line = e.position().map_or(0, csv::Position::line);
                        Ok(Some(Err(RowError::new(line, None, e.to_string()))))
                    }
                },
            },
        }
    }
}

/// Reads on to the end of the current line.
fn skip_line(reader: &mut BufReader<std::fs::File>) -> anyhow::Result<()> {
    loop {
        let available = reader.fill_buf().context("while reading the feed")?;
        if available.is_empty() {
            return Ok(());
        }
        if let Some(at) = available.iter().position(|b| *b == b'\n') {
            reader.consume(at + 1);
            return Ok(());
        }
        let len = available.len();
        reader.consume(len);
    }
}

/// Reads the feed on a blocking thread, skipping the first `skip` rows and
/// sending the rest in batches of `batch_rows`. Stops when the receiver goes.
fn parse_feed(
    file: std::fs::File,
    format: FeedFormat,
    skip: u64,
    batch_rows: usize,
    tx: &mpsc::Sender<anyhow::Result<Vec<Parsed>>>,
) {
    let result = (|| -> anyhow::Result<()> {
        let mut rows = Rows::open(file, format)?;
        let mut skipped = 0;
        while skipped < skip && rows.next_row()?.is_some() {
            skipped += 1;
        }
        loop {
            let mut batch = Vec::with_capacity(batch_rows);
            while batch.len() < batch_rows {
                match rows.next_row()? {
                    Some(row) => batch.push(row),
                    None => break,
                }
            }
            let last = batch.len() < batch_rows;
            if !batch.is_empty() && tx.blocking_send(Ok(batch)).is_err() {
                return Ok(());
            }
            if last {
                return Ok(());
            }
        }
    })();
    if let Err(e) = result {
        let _ = tx.blocking_send(Err(e));
    }
}

// ---------------------------------------------------------------------------
// Diffing

/// What the origin holds of a SKU.
struct Stored {
    /// The newest version applied (0 when none).
    version: i64,
    /// The product, unless there is none (or it was deleted).
    product: Option<ProductFields>,
}

#[derive(sqlx::FromRow)]
struct StoredRow {
    sku: String,
    name: Option<String>,
    description: Option<String>,
    brand: Option<String>,
    category_slug: Option<String>,
    attributes: Option<Json<Map<String, Value>>>,
    price_minor: Option<i64>,
    stock: Option<i64>,
    sync_version: Option<i64>,
    deleted: Option<bool>,
}

impl StoredRow {
    fn into_stored(self) -> (String, Stored) {
        let deleted = self.deleted.unwrap_or(false);
        let product = match (self.name, self.brand, self.category_slug, self.price_minor, self.stock) {
            (Some(name), Some(brand), Some(category), Some(price_minor), Some(stock)) if !deleted => {
                Some(ProductFields {
                    name,
                    description: self.description.unwrap_or_default(),
                    brand,
                    category,
                    price_minor,
                    stock,
                    attributes: self.attributes.map(|a| a.0).unwrap_or_default(),
                })
            }
            _ => None,
        };
        (
            self.sku,
            Stored {
                version: self.sync_version.unwrap_or(0),
                product,
            },
        )
    }
}

/// The stored products and applied versions of `skus`, in one query.
async fn load_stored(db: &Db, skus: &[&str]) -> Result<HashMap<String, Stored>, sqlx::Error> {
    if skus.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<StoredRow> = with_db!(db, pool => {
        // The newest version applied to any of the SKU's fields; SQLite's
        // many-argument MAX is Postgres's GREATEST.
        let greatest = if matches!(db, crate::db::Db::Postgres(_)) { "GREATEST" } else { "MAX" };
        let mut query = sqlx::QueryBuilder::new(format!(
            "SELECT k.sku, p.name, p.description, p.brand, p.category_slug, p.attributes, p.price_minor, p.stock, \
             {greatest}(v.stock_version, v.price_version, v.fields_version, v.deleted_version) AS sync_version, \
             (v.deleted_version > {greatest}(v.stock_version, v.price_version, v.fields_version)) AS deleted \
             FROM (SELECT sku FROM products WHERE sku IN ("
        ));
        let mut list = query.separated(", ");
        for sku in skus {
            list.push_bind(*sku);
        }
        query.push(") UNION SELECT sku FROM sync_versions WHERE sku IN (");
        let mut list = query.separated(", ");
        for sku in skus {
            list.push_bind(*sku);
        }
        query.push(
            ")) k LEFT JOIN products p ON p.sku = k.sku LEFT JOIN sync_versions v ON v.sku = k.sku",
        );
        query.build_query_as::<StoredRow>().fetch_all(pool).await?
    });
    Ok(rows.into_iter().map(StoredRow::into_stored).collect())
}

/// What to do with one row.
#[derive(Debug, PartialEq)]
enum Decision {
    Stale,
    Unchanged,
    Enqueue(Change),
    Invalid(RowError),
}

fn decide(row: &FeedRow, stored: Option<&Stored>) -> Decision {
    if row.version <= stored.map_or(0, |s| s.version) {
        return Decision::Stale;
    }
    let Some(current) = stored.and_then(|s| s.product.as_ref()) else {
        return match row.complete() {
            Ok(product) => Decision::Enqueue(Change::Product { product }),
            Err(e) => Decision::Invalid(e),
        };
    };
    let merged = row.merged_over(current);
    let price = merged.price_minor != current.price_minor;
    let stock = merged.stock != current.stock;
    let rest = merged.name != current.name
        || merged.description != current.description
        || merged.brand != current.brand
        || merged.category != current.category
        || merged.attributes != current.attributes;
    match (rest, price, stock) {
        (false, false, false) => Decision::Unchanged,
        (false, true, false) => Decision::Enqueue(Change::Price {
            price_minor: merged.price_minor,
        }),
        (false, false, true) => Decision::Enqueue(Change::Stock { stock: merged.stock }),
        _ => Decision::Enqueue(Change::Product { product: merged }),
    }
}

impl FeedRow {
    /// The row as a whole product (one the catalog does not have).
    fn complete(&self) -> Result<ProductFields, RowError> {
        let need =
            |field: &str| RowError::new(self.line, Some(field), "missing: a product not in the catalog needs it");
        Ok(ProductFields {
            name: self.name.clone().ok_or_else(|| need("name"))?,
            description: self.description.clone().unwrap_or_default(),
            brand: self.brand.clone().ok_or_else(|| need("brand"))?,
            category: self.category.clone().ok_or_else(|| need("category"))?,
            price_minor: self.price_minor.ok_or_else(|| need("price_minor"))?,
            stock: self.stock.ok_or_else(|| need("stock"))?,
            attributes: self.attributes.clone().unwrap_or_default(),
        })
    }

    /// The stored product with this row's fields over it.
    fn merged_over(&self, current: &ProductFields) -> ProductFields {
        let attributes = match &self.attributes {
            None => current.attributes.clone(),
            Some(given) => given
                .iter()
                .map(|(key, value)| {
                    let value = match (value, current.attributes.get(key)) {
                        (Value::String(text), Some(old)) if self.untyped_attributes && same_text(text, old) => {
                            old.clone()
                        }
                        _ => value.clone(),
                    };
                    (key.clone(), value)
                })
                .collect(),
        };
        ProductFields {
            name: self.name.clone().unwrap_or_else(|| current.name.clone()),
            description: self.description.clone().unwrap_or_else(|| current.description.clone()),
            brand: self.brand.clone().unwrap_or_else(|| current.brand.clone()),
            category: self.category.clone().unwrap_or_else(|| current.category.clone()),
            price_minor: self.price_minor.unwrap_or(current.price_minor),
            stock: self.stock.unwrap_or(current.stock),
            attributes,
        }
    }
}

/// Whether a CSV cell says what a stored (typed) attribute says.
fn same_text(text: &str, stored: &Value) -> bool {
    match stored {
        Value::String(s) => s == text,
        Value::Number(n) => n.to_string() == text,
        Value::Bool(b) => text == if *b { "true" } else { "false" },
        _ => false,
    }
}

/// Diffs and enqueues one batch, counting it in `run` and the metrics (as it
/// goes, so a run that fails later still counts what it enqueued).
async fn process_batch(db: &Db, queue: &SyncQueue, batch: Vec<Parsed>, run: &mut FeedRun) -> anyhow::Result<()> {
    count_events("received", batch.len() as u64);
    let malformed_before = run.malformed;
    let result = diff_and_enqueue(db, queue, batch, run).await;
    count_events("malformed", run.malformed - malformed_before);
    result
}

async fn diff_and_enqueue(db: &Db, queue: &SyncQueue, batch: Vec<Parsed>, run: &mut FeedRun) -> anyhow::Result<()> {
    let mut rows = Vec::with_capacity(batch.len());
    for parsed in batch {
        match parsed {
            Ok(row) => rows.push(row),
            Err(e) => run.malformed(e),
        }
    }
    let mut seen = HashSet::new();
    let skus: Vec<&str> = rows
        .iter()
        .map(|r| r.sku.as_str())
        .filter(|s| seen.insert(*s))
        .collect();
    let stored = load_stored(db, &skus)
        .await
        .context("while loading the stored products of a batch")?;

    let received_at = chrono::Utc::now();
    let mut outgoing = Vec::new();
    for row in rows {
        match decide(&row, stored.get(&row.sku)) {
            Decision::Stale => run.skipped_stale += 1,
            Decision::Unchanged => run.unchanged += 1,
            Decision::Invalid(e) => run.malformed(e),
            Decision::Enqueue(change) => {
                let event = Event {
                    id: event_id(&row.sku, row.version),
                    sku: row.sku,
                    version: row.version,
                    change,
                };
                if let Some(problem) = event.problem() {
                    run.malformed(RowError::new(row.line, None, problem));
                    continue;
                }
                outgoing.push(Envelope::event(Source::Feed, received_at, event).to_outgoing());
            }
        }
    }
    if !outgoing.is_empty() {
        queue
            .send(&outgoing)
            .await
            .context("while enqueueing the feed's events")?;
        run.enqueued += outgoing.len() as u64;
        count_events("enqueued", outgoing.len() as u64);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Job state

#[derive(sqlx::FromRow)]
struct Job {
    digest: String,
    rows_done: i64,
    finished: bool,
}

async fn load_job(db: &Db, feed: &str) -> Result<Option<Job>, sqlx::Error> {
    with_db!(db, pool => sqlx::query_as::<_, Job>(
        "SELECT digest, rows_done, finished FROM sync_feed_jobs WHERE name = $1"
    ).bind(feed).fetch_optional(pool).await)
}

async fn start_job(db: &Db, feed: &str, digest: &str) -> Result<(), sqlx::Error> {
    let now = chrono::Utc::now().timestamp_millis();
    with_db!(db, pool => sqlx::query(
        "INSERT INTO sync_feed_jobs (name, digest, rows_done, finished, updated_at_ms) VALUES ($1, $2, 0, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, rows_done = 0, finished = excluded.finished, \
         updated_at_ms = excluded.updated_at_ms"
    ).bind(feed).bind(digest).bind(false).bind(now).execute(pool).await.map(|_| ()))
}

async fn record_progress(db: &Db, feed: &str, digest: &str, rows_done: u64, finished: bool) -> Result<(), sqlx::Error> {
    let now = chrono::Utc::now().timestamp_millis();
    let rows_done = i64::try_from(rows_done).unwrap_or(i64::MAX);
    with_db!(db, pool => sqlx::query(
        "UPDATE sync_feed_jobs SET rows_done = $1, finished = $2, updated_at_ms = $3 WHERE name = $4 AND digest = $5"
    ).bind(rows_done).bind(finished).bind(now).bind(feed).bind(digest).execute(pool).await.map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> ProductFields {
        ProductFields {
            name: "Drill".into(),
            description: "Cordless".into(),
            brand: "Bosch".into(),
            category: "drills".into(),
            price_minor: 1000,
            stock: 5,
            attributes: serde_json::from_str(r#"{"voltage":"18 V","weight_kg":2}"#).expect("attributes"),
        }
    }

    fn stored(version: i64) -> Stored {
        Stored {
            version,
            product: Some(product()),
        }
    }

    fn row(json: &str) -> FeedRow {
        parse_json_row(1, json).expect("row")
    }

    #[test]
    fn a_row_becomes_the_smallest_change_that_says_what_differs() {
        let s = stored(3);
        assert_eq!(
            decide(&row(r#"{"sku":"A","version":3,"price_minor":1}"#), Some(&s)),
            Decision::Stale
        );
        assert_eq!(
            decide(&row(r#"{"sku":"A","version":4,"price_minor":1000}"#), Some(&s)),
            Decision::Unchanged
        );
        assert_eq!(
            decide(
                &row(r#"{"sku":"A","version":4,"price_minor":900,"name":"Drill"}"#),
                Some(&s)
            ),
            Decision::Enqueue(Change::Price { price_minor: 900 })
        );
        assert_eq!(
            decide(&row(r#"{"sku":"A","version":4,"stock":0}"#), Some(&s)),
            Decision::Enqueue(Change::Stock { stock: 0 })
        );
        let Decision::Enqueue(Change::Product { product: p }) =
            decide(&row(r#"{"sku":"A","version":4,"stock":1,"price_minor":2}"#), Some(&s))
        else {
            panic!("price and stock together are a product change");
        };
        assert_eq!((p.name.as_str(), p.price_minor, p.stock), ("Drill", 2, 1));
        let new = decide(&row(r#"{"sku":"B","version":1,"price_minor":2}"#), None);
        assert!(
            matches!(new, Decision::Invalid(RowError { field: Some(ref f), .. }) if f == "name"),
            "{new:?}"
        );
    }

    #[test]
    fn csv_attributes_equal_stored_numbers_written_as_text() {
        let columns = vec![
            (Column::Sku, "sku".to_owned()),
            (Column::Version, "version".to_owned()),
            (Column::Attribute("voltage".into()), "attr:voltage".to_owned()),
            (Column::Attribute("weight_kg".into()), "attr:weight_kg".to_owned()),
        ];
        let record = csv::ByteRecord::from(vec!["A", "9", "18 V", "2"]);
        let row = parse_csv_row(2, &columns, &record).expect("row");
        assert_eq!(decide(&row, Some(&stored(1))), Decision::Unchanged);
        let record = csv::ByteRecord::from(vec!["A", "x9", "18 V", "2"]);
        let bad = parse_csv_row(2, &columns, &record).expect_err("bad version");
        assert_eq!(bad.field.as_deref(), Some("version"));
    }

    #[test]
    fn event_ids_are_valid_dedup_ids_for_any_sku() {
        assert_eq!(event_id("DR-1", 7), "feed-DR-1-7");
        let odd = event_id("Bohrer 18 V Ü", 7);
        assert!(
            valid_dedup_id(&odd) && odd.starts_with("feed-h") && odd.ends_with("-7"),
            "{odd}"
        );
        assert_eq!(odd, event_id("Bohrer 18 V Ü", 7));
        assert!(valid_dedup_id(&event_id(&"X".repeat(MAX_SKU_LEN), i64::MAX)));
    }

    #[test]
    fn formats_come_from_the_content_type_or_the_name() {
        assert_eq!(
            FeedFormat::from_address("https://pim/export.ndjson?x=1"),
            Some(FeedFormat::JsonLines)
        );
        assert_eq!(FeedFormat::from_address("/srv/feed.CSV"), Some(FeedFormat::Csv));
        assert_eq!(FeedFormat::from_address("https://pim.example.com/export"), None);
        assert_eq!(
            FeedFormat::from_content_type("text/csv; charset=utf-8"),
            Some(FeedFormat::Csv)
        );
        assert_eq!(
            FeedFormat::from_content_type("application/x-ndjson"),
            Some(FeedFormat::JsonLines)
        );
    }
}
