//! The catalog feed poller against a real database and the database queue:
//! what a feed enqueues, what it skips, what it reports, and that an
//! interrupted run resumes where it stopped. SQLite always; the diffing and
//! resuming tests also on Postgres when `VITRINE_TEST_DATABASE_URL` is set
//! (`tests/run` sets it).

mod common;

use common::fresh_postgres;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sha2::Digest as _;
use sqlx::types::Json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use vitrine_origin::db::Db;
use vitrine_origin::sync::db_queue::DbQueue;
use vitrine_origin::sync::event::{Body, Change, Envelope, Event, ProductFields, Source};
use vitrine_origin::sync::feed::{self, FeedOptions, FeedRun};
use vitrine_origin::sync::queue::Queue as _;
use vitrine_origin::sync::{SyncConfig, SyncQueue};
use vitrine_origin::with_db;

/// A migrated database with two categories, the database queue over it, and
/// a directory for feeds.
struct Sandbox {
    dir: tempfile::TempDir,
    db: Db,
    queue: SyncQueue,
}

impl Sandbox {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = Db::embedded_url(dir.path());
        Self::over(dir, &url).await
    }

    async fn postgres() -> Option<Self> {
        let url = fresh_postgres().await?;
        Some(Self::over(tempfile::tempdir().expect("temp dir"), &url).await)
    }

    async fn over(dir: tempfile::TempDir, url: &str) -> Self {
        let db = Db::connect(url, 4).await.expect("database");
        db.migrate().await.expect("migrate");
        for slug in ["drills", "saws"] {
            with_db!(&db, pool => sqlx::query(
                "INSERT INTO categories (slug, name, parent_slug, path, position) VALUES ($1, $1, NULL, $1, 0)",
            )
            .bind(slug)
            .execute(pool)
            .await
            .map(|_| ()))
            .expect("category");
        }
        let queue = SyncQueue::Db(DbQueue::new(db.clone(), 5));
        Self { dir, db, queue }
    }

    /// Stores product `sku` as `drill(sku)` describes it.
    async fn product(&self, sku: &str) {
        let p = drill(sku);
        let now = chrono::Utc::now();
        with_db!(&self.db, pool => sqlx::query(
            "INSERT INTO products (id, sku, name, description, brand, category_slug, category_path, attributes, images, \
             price_minor, currency, stock, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, '[]', $8, 'ZAR', $9, $10, $10)",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(sku)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.brand)
        .bind(&p.category)
        .bind(Json(&p.attributes))
        .bind(p.price_minor)
        .bind(p.stock)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
        .expect("product");
    }

    /// Records that version `version` of `sku` was applied.
    async fn applied(&self, sku: &str, version: i64) {
        with_db!(&self.db, pool => sqlx::query(
            "INSERT INTO sync_versions (sku, stock_version, price_version, fields_version) VALUES ($1, $2, $2, $2)",
        )
            .bind(sku)
            .bind(version)
            .execute(pool)
            .await
            .map(|_| ()))
        .expect("sync version");
    }

    /// What a crash after `rows_done` rows of the feed with `digest` leaves behind.
    async fn interrupted_job(&self, feed: &str, digest: &str, rows_done: i64) {
        with_db!(&self.db, pool => sqlx::query(
            "INSERT INTO sync_feed_jobs (name, digest, rows_done, finished, updated_at_ms) VALUES ($1, $2, $3, FALSE, 0)",
        )
        .bind(feed)
        .bind(digest)
        .bind(rows_done)
        .execute(pool)
        .await
        .map(|_| ()))
        .expect("job");
    }

    /// (rows_done, finished) of the job of `feed`.
    async fn job(&self, feed: &str) -> (i64, bool) {
        with_db!(&self.db, pool => sqlx::query_as("SELECT rows_done, finished FROM sync_feed_jobs WHERE name = $1")
            .bind(feed)
            .fetch_one(pool)
            .await)
        .expect("job")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write feed");
        path
    }

    fn options(&self) -> FeedOptions {
        FeedOptions {
            spool_dir: self.dir.path().join("spool"),
            ..FeedOptions::new(&SyncConfig::embedded(), self.dir.path())
        }
    }

    async fn run(&self, feed: &str) -> anyhow::Result<FeedRun> {
        self.run_with(feed, &self.options()).await
    }

    async fn run_with(&self, feed: &str, options: &FeedOptions) -> anyhow::Result<FeedRun> {
        let mut config = SyncConfig::embedded();
        config.catalog_feed = Some(feed.to_owned());
        feed::run_once_with(&self.db, &self.queue, &config, options).await
    }

    /// Every event on the queue (received and deleted), by SKU.
    async fn drain(&self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let batch = self
                .queue
                .receive(10, Duration::from_millis(100), Duration::from_secs(30))
                .await
                .expect("receive");
            if batch.is_empty() {
                break;
            }
            for delivery in batch {
                let envelope: Envelope = serde_json::from_str(&delivery.body).expect("an envelope");
                assert_eq!(envelope.source, Source::Feed);
                let Body::Event(event) = envelope.body else {
                    panic!("a feed enqueues product events, not {:?}", envelope.body);
                };
                assert_eq!(delivery.dedup_id, event.id);
                assert_eq!(delivery.group, format!("sku:{}", event.sku));
                events.push(event);
                self.queue.delete(&delivery.receipt).await.expect("delete");
            }
        }
        events.sort_by(|a, b| a.sku.cmp(&b.sku));
        events
    }
}

/// What the catalog holds of `sku` before a feed runs.
fn drill(sku: &str) -> ProductFields {
    ProductFields {
        name: format!("Drill {sku}"),
        description: "Cordless, two batteries".into(),
        brand: "Bosch".into(),
        category: "drills".into(),
        price_minor: 1000,
        stock: 5,
        attributes: serde_json::from_value(json!({"voltage": "18 V", "weight_kg": 2})).expect("attributes"),
    }
}

fn jsonl(rows: &[serde_json::Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

fn full_row(sku: &str, version: i64) -> serde_json::Value {
    let p = drill(sku);
    json!({
        "sku": sku, "version": version, "name": p.name, "description": p.description, "brand": p.brand,
        "category": p.category, "price_minor": p.price_minor, "stock": p.stock, "attributes": p.attributes,
    })
}

fn with(mut row: serde_json::Value, changes: serde_json::Value) -> serde_json::Value {
    for (k, v) in changes.as_object().expect("object") {
        row[k] = v.clone();
    }
    row
}

async fn seed_catalog(sandbox: &Sandbox) {
    for sku in ["P-PRICE", "P-STOCK", "P-FULL", "P-SAME", "P-STALE"] {
        sandbox.product(sku).await;
    }
    sandbox.applied("P-STALE", 9).await;
}

fn assert_three_changes(events: &[Event], full: ProductFields) {
    let got: Vec<(&str, &str, i64, &Change)> = events
        .iter()
        .map(|e| (e.sku.as_str(), e.id.as_str(), e.version, &e.change))
        .collect();
    assert_eq!(
        got,
        vec![
            ("P-FULL", "feed-P-FULL-2", 2, &Change::Product { product: full }),
            ("P-PRICE", "feed-P-PRICE-2", 2, &Change::Price { price_minor: 899 }),
            ("P-STOCK", "feed-P-STOCK-2", 2, &Change::Stock { stock: 0 }),
        ]
    );
}

#[tokio::test]
async fn a_jsonl_feed_enqueues_only_what_changed_and_the_same_file_again_nothing() {
    jsonl_feed(Sandbox::sqlite().await).await;
    if let Some(postgres) = Sandbox::postgres().await {
        jsonl_feed(postgres).await;
    }
}

async fn jsonl_feed(sandbox: Sandbox) {
    seed_catalog(&sandbox).await;
    let path = sandbox.write(
        "catalog.jsonl",
        &jsonl(&[
            with(full_row("P-PRICE", 2), json!({"price_minor": 899})),
            // A partial row: only what it gives is compared.
            json!({"sku": "P-STOCK", "version": 2, "stock": 0}),
            with(
                full_row("P-FULL", 2),
                json!({"name": "Drill P-FULL (2025)", "price_minor": 1200, "attributes": {"voltage": "12 V"}}),
            ),
            full_row("P-SAME", 2),
            with(full_row("P-STALE", 5), json!({"price_minor": 1})),
        ]),
    );
    let feed = path.to_str().expect("utf-8 path");

    let run = sandbox.run(feed).await.expect("first run");
    assert_eq!(
        (
            run.rows_read,
            run.enqueued,
            run.unchanged,
            run.skipped_stale,
            run.malformed
        ),
        (5, 3, 1, 1, 0),
        "{run:?}"
    );
    assert!(!run.skipped_unchanged);
    assert_eq!(
        run.digest,
        hex::encode(sha2::Sha256::digest(std::fs::read(&path).expect("read")))
    );
    let full = ProductFields {
        name: "Drill P-FULL (2025)".into(),
        price_minor: 1200,
        attributes: serde_json::from_value(json!({"voltage": "12 V"})).expect("attributes"),
        ..drill("P-FULL")
    };
    assert_three_changes(&sandbox.drain().await, full);

    let again = sandbox.run(feed).await.expect("second run");
    assert!(again.skipped_unchanged, "{again:?}");
    assert_eq!((again.rows_read, again.enqueued), (0, 0));
    assert!(sandbox.drain().await.is_empty(), "the same feed again enqueues nothing");
}

#[tokio::test]
async fn a_csv_feed_enqueues_only_what_changed() {
    csv_feed(Sandbox::sqlite().await).await;
    if let Some(postgres) = Sandbox::postgres().await {
        csv_feed(postgres).await;
    }
}

async fn csv_feed(sandbox: Sandbox) {
    seed_catalog(&sandbox).await;
    let header = "sku,version,name,description,brand,category,price_minor,stock,attr:voltage,attr:weight_kg";
    let row = |sku: &str, version: i64, name: &str, category: &str, price: i64, stock: i64, volts: &str| {
        format!("{sku},{version},{name},\"Cordless, two batteries\",Bosch,{category},{price},{stock},{volts},2")
    };
    let text = [
        header.to_owned(),
        row("P-PRICE", 2, "Drill P-PRICE", "drills", 899, 5, "18 V"),
        row("P-STOCK", 2, "Drill P-STOCK", "drills", 1000, 0, "18 V"),
        row("P-FULL", 2, "Drill P-FULL", "saws", 1000, 5, "18 V"),
        row("P-SAME", 2, "Drill P-SAME", "drills", 1000, 5, "18 V"),
        row("P-STALE", 3, "Drill P-STALE", "drills", 1, 5, "18 V"),
    ]
    .join("\r\n");
    let path = sandbox.write("catalog.csv", &text);

    let run = sandbox.run(path.to_str().expect("utf-8 path")).await.expect("run");
    assert_eq!(
        (
            run.rows_read,
            run.enqueued,
            run.unchanged,
            run.skipped_stale,
            run.malformed
        ),
        (5, 3, 1, 1, 0),
        "a CSV cell `2` is the stored number 2: {run:?}"
    );
    let full = ProductFields {
        category: "saws".into(),
        ..drill("P-FULL")
    };
    assert_three_changes(&sandbox.drain().await, full);
}

#[tokio::test]
async fn malformed_rows_are_named_by_line_and_field_and_the_rest_is_processed() {
    let sandbox = Sandbox::sqlite().await;
    let good = |sku: &str| full_row(sku, 1).to_string();
    let text = [
        good("N-1"),
        r#"{"sku":"N-2","version":"#.to_owned(),
        json!({"sku": "N-3", "name": "No version"}).to_string(),
        with(full_row("N-4", 1), json!({"price_minor": -5})).to_string(),
        String::new(),
        json!({"sku": "N-6", "version": 1, "price_minor": 5}).to_string(),
        good("N-7"),
    ]
    .join("\n");
    let path = sandbox.write("catalog.ndjson", &text);
    let run = sandbox.run(path.to_str().expect("utf-8 path")).await.expect("run");
    assert_eq!((run.rows_read, run.enqueued, run.malformed), (6, 2, 4), "{run:?}");
    let named: Vec<(u64, Option<&str>)> = run.errors.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(
        named,
        vec![
            (2, None),
            (3, Some("version")),
            (4, Some("price_minor")),
            (6, Some("name"))
        ],
        "{:#?}",
        run.errors
    );
    assert!(run.errors[0].message.contains("JSON"), "{}", run.errors[0]);
    assert!(run.errors[2].to_string().contains("negative"), "{}", run.errors[2]);
    let skus: Vec<String> = sandbox.drain().await.into_iter().map(|e| e.sku).collect();
    assert_eq!(skus, ["N-1", "N-7"]);

    let text = [
        "sku,version,name,description,brand,category,price_minor,stock",
        "C-1,1,Saw,\"Two lines:\nfine\",Makita,saws,100,1",
        "C-2,1,Saw,x,Makita,saws,100,lots",
        "C-3,,Saw,x,Makita,saws,100,1",
        "C-4,1,Saw,x,Makita,saws,100",
        "C-5,1,Saw,x,Makita,saws,100,2",
    ]
    .join("\n");
    let path = sandbox.write("catalog.csv", &text);
    let run = sandbox.run(path.to_str().expect("utf-8 path")).await.expect("csv run");
    assert_eq!((run.rows_read, run.enqueued, run.malformed), (5, 2, 3), "{run:?}");
    let named: Vec<(u64, Option<&str>)> = run.errors.iter().map(|e| (e.line, e.field.as_deref())).collect();
    assert_eq!(
        named,
        vec![(4, Some("stock")), (5, Some("version")), (6, None)],
        "{:#?}",
        run.errors
    );
    assert!(run.errors[0].message.contains("`lots`"), "{}", run.errors[0]);
    let skus: Vec<String> = sandbox.drain().await.into_iter().map(|e| e.sku).collect();
    assert_eq!(skus, ["C-1", "C-5"]);

    let path = sandbox.write("bad-header.csv", "sku,version,colour\nX,1,red\n");
    let err = sandbox
        .run(path.to_str().expect("utf-8 path"))
        .await
        .expect_err("unknown column");
    assert!(format!("{err:#}").contains("unknown column `colour`"), "{err:#}");
}

#[tokio::test]
async fn an_interrupted_run_resumes_after_the_rows_it_had_enqueued() {
    resumed_feed(Sandbox::sqlite().await).await;
    if let Some(postgres) = Sandbox::postgres().await {
        resumed_feed(postgres).await;
    }
}

async fn resumed_feed(sandbox: Sandbox) {
    let rows: Vec<_> = (1..=1200).map(|i| full_row(&format!("R-{i:04}"), 1)).collect();
    let text = jsonl(&rows);
    let path = sandbox.write("big.jsonl", &text);
    let feed = path.to_str().expect("utf-8 path");
    // What a crash after the first batch leaves behind.
    let digest = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    sandbox.interrupted_job(feed, &digest, 500).await;

    let run = sandbox.run(feed).await.expect("resumed run");
    assert_eq!(
        (run.resumed_from, run.rows_read, run.enqueued),
        (500, 700, 700),
        "{run:?}"
    );
    let skus: Vec<String> = sandbox.drain().await.into_iter().map(|e| e.sku).collect();
    assert_eq!(skus.len(), 700);
    assert_eq!((skus[0].as_str(), skus[699].as_str()), ("R-0501", "R-1200"));

    let (rows_done, finished) = sandbox.job(feed).await;
    assert_eq!((rows_done, finished), (1200, true));
    assert!(sandbox.run(feed).await.expect("again").skipped_unchanged);

    // A different feed at the same address starts from the top.
    let text = jsonl(&[full_row("R-0001", 2)]);
    sandbox.write("big.jsonl", &text);
    let run = sandbox.run(feed).await.expect("new digest");
    assert_eq!((run.resumed_from, run.rows_read, run.enqueued), (0, 1, 1), "{run:?}");
    assert_eq!(sandbox.drain().await[0].id, "feed-R-0001-2");
}

/// Serves `routes` on 127.0.0.1; returns the base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A server that answers once with `body` and no `Content-Length`, ending
/// the body by closing the connection.
async fn serve_unsized(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n";
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(body.as_bytes()).await;
        let _ = socket.shutdown().await;
    });
    format!("http://{addr}/feed")
}

fn spool_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

#[tokio::test]
async fn a_url_feed_is_downloaded_and_http_errors_and_oversized_feeds_fail_the_run() {
    use axum::http::{StatusCode, header};
    use axum::routing::get;

    let sandbox = Sandbox::sqlite().await;
    sandbox.product("U-1").await;
    let feed_text = jsonl(&[
        with(full_row("U-1", 2), json!({"price_minor": 750})),
        full_row("U-2", 1),
    ]);
    let csv_text = "sku,version,stock\nU-1,3,9\n".to_owned();
    let big = "x".repeat(64 * 1024);
    let router = axum::Router::new()
        .route("/export", {
            let feed_text = feed_text.clone();
            get(move || async move { ([(header::CONTENT_TYPE, "application/x-ndjson")], feed_text) })
        })
        .route("/catalog.csv", get(move || async move { csv_text }))
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "pim is down") }),
        )
        .route("/big.jsonl", get(move || async move { big }));
    let base = serve(router).await;
    let options = FeedOptions {
        max_bytes: 16 * 1024,
        ..sandbox.options()
    };

    // No extension: the content type tells the format.
    let run = sandbox
        .run_with(&format!("{base}/export"), &options)
        .await
        .expect("url feed");
    assert_eq!(
        (run.rows_read, run.enqueued, run.bytes),
        (2, 2, feed_text.len() as u64),
        "{run:?}"
    );
    let events = sandbox.drain().await;
    assert_eq!(events[0].change, Change::Price { price_minor: 750 });
    assert_eq!(events[1].sku, "U-2");
    assert!(spool_is_empty(&options.spool_dir), "the spool file is removed");

    // No content type: the extension tells it.
    let run = sandbox
        .run_with(&format!("{base}/catalog.csv"), &options)
        .await
        .expect("csv url feed");
    assert_eq!(run.enqueued, 1, "{run:?}");
    assert_eq!(sandbox.drain().await[0].change, Change::Stock { stock: 9 });

    let err = sandbox
        .run_with(&format!("{base}/broken"), &options)
        .await
        .expect_err("a 500");
    assert!(format!("{err:#}").contains("500"), "{err:#}");

    let err = sandbox
        .run_with(&format!("{base}/big.jsonl"), &options)
        .await
        .expect_err("too big");
    assert!(format!("{err:#}").contains("limit"), "{err:#}");

    let url = serve_unsized(jsonl(&vec![full_row("U-3", 1); 200])).await;
    let err = sandbox.run_with(&url, &options).await.expect_err("too big, streamed");
    assert!(format!("{err:#}").contains("limit"), "{err:#}");
    assert!(
        spool_is_empty(&options.spool_dir),
        "a refused download leaves no spool file"
    );
    assert!(sandbox.drain().await.is_empty());

    let err = sandbox
        .run_with("http://127.0.0.1:1/feed.jsonl", &options)
        .await
        .expect_err("nobody listens");
    assert!(format!("{err:#}").contains("127.0.0.1:1"), "{err:#}");
}
