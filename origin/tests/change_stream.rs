//! The change feed published to the Redis stream, against real Postgres and
//! Redis (`VITRINE_TEST_DATABASE_URL`, `VITRINE_TEST_REDIS_URL`; `tests/run`
//! starts both). Without them the tests skip, unless `VITRINE_REQUIRE_SERVICES`
//! or `CI` is set, when they fail.
//!
//! The test that flushes Redis (what an edge sees when Redis restarts empty)
//! does it on a database of its own, 9; the others here use 10, the rest of
//! the suite keeps to 0.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{fresh_postgres, required};
use tokio::sync::oneshot;
use uuid::Uuid;
use vitrine_origin::catalog::{ProductEdit, edit_product};
use vitrine_origin::config::Config;
use vitrine_origin::state::AppState;
use vitrine_origin::with_db;

/// The Redis of `VITRINE_TEST_REDIS_URL` on database `redis_db`, or `None`
/// to skip (see [`common::required`]).
fn redis_on(redis_db: u8) -> Option<String> {
    let redis = required("VITRINE_TEST_REDIS_URL")?;
    // `redis://host:port/` or `redis://host:port/<db>` → database `redis_db`.
    let base = redis.trim_end_matches('/');
    let base = match base.rsplit_once('/') {
        Some((head, db)) if !db.is_empty() && db.bytes().all(|b| b.is_ascii_digit()) && head.contains("//") => head,
        _ => base,
    };
    Some(format!("{base}/{redis_db}"))
}

/// An origin server (relay and publisher included) on `database_url`.
struct Running {
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(database_url: &str, redis_url: &str, prefix: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::embedded(dir.path());
        config.database_url = Some(database_url.to_owned());
        config.redis_url = Some(redis_url.to_owned());
        config.redis_prefix = prefix.to_owned();
        config.db_max_connections = 8;
        let state = AppState::connect(config, true).await.expect("origin state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(vitrine_origin::server::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        Self {
            state,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server");
        }
    }

    fn stream_key(&self) -> String {
        self.state
            .feed
            .stream
            .as_ref()
            .expect("redis is configured")
            .key()
            .to_owned()
    }

    /// A product under `tools/drills/`, written straight to the database (no
    /// outbox row).
    async fn product(&self) -> Uuid {
        let id = Uuid::new_v4();
        let now = chrono::Utc::now();
        with_db!(&self.state.db, pool => {
            for (slug, parent, path) in [("tools", None, "tools/"), ("drills", Some("tools"), "tools/drills/")] {
                sqlx::query("INSERT INTO categories (slug, name, parent_slug, path, position) VALUES ($1, $1, $2, $3, 0) \
                             ON CONFLICT (slug) DO NOTHING")
                    .bind(slug).bind(parent).bind(path).execute(pool).await.expect("category");
            }
            sqlx::query(
                "INSERT INTO products (id, sku, name, description, brand, category_slug, category_path, attributes, \
                 images, price_minor, currency, stock, popularity, version, created_at, updated_at) \
                 VALUES ($1, $2, 'Drill', 'A drill', 'Acme', 'drills', 'tools/drills/', $3, $4, 100000, 'ZAR', 5, 0, 1, $5, $5)",
            )
            .bind(id).bind(format!("T-{}", &id.simple().to_string()[..12]))
            .bind(sqlx::types::Json(serde_json::json!({})))
            .bind(sqlx::types::Json(serde_json::json!([])))
            .bind(now)
            .execute(pool).await.expect("product");
        });
        id
    }
}

async fn redis(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection")
}

type Entry = (String, HashMap<String, String>);

async fn entries(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> Vec<Entry> {
    redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .expect("XRANGE")
}

/// The stream's entries once it holds `n`, or a panic after `within`.
async fn wait_for_entries(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
    n: usize,
    within: Duration,
) -> Vec<Entry> {
    let start = Instant::now();
    loop {
        let got = entries(conn, key).await;
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < within,
            "stream `{key}` has {} entries after {within:?}, expected {n}: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The hot stock count Redis holds for `product` under `prefix`.
async fn hot_count(conn: &mut redis::aio::MultiplexedConnection, prefix: &str, product: Uuid) -> Option<i64> {
    redis::cmd("HGET")
        .arg(format!("{prefix}stock"))
        .arg(product.to_string())
        .query_async(conn)
        .await
        .expect("HGET")
}

/// What `GET /api/v1/stock?ids=…` answers on `state`.
async fn stock_answer(state: &AppState, ids: &[Uuid]) -> serde_json::Value {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let request = axum::http::Request::get(format!("/api/v1/stock?ids={}", ids.join(",")))
        .body(axum::body::Body::empty())
        .expect("request");
    let response = vitrine_origin::http::router(state.clone())
        .oneshot(request)
        .await
        .expect("response");
    assert_eq!(response.status(), axum::http::StatusCode::OK);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("json")
}

fn ids(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stream_gets_each_change_in_order_and_is_rebuilt_after_redis_restarts_empty() {
    let (Some(redis_url), Some(database)) = (redis_on(9), fresh_postgres().await) else {
        return;
    };
    let prefix = format!("test:{}:", Uuid::new_v4().simple());
    let origin = Running::start(&database, &redis_url, &prefix).await;
    let key = origin.stream_key();
    assert_eq!(key, format!("{prefix}changes"));
    let mut conn = redis(&redis_url).await;

    let drill = origin.product().await;
    for edit in [
        ProductEdit::Price(90_000),
        ProductEdit::Stock(4),
        ProductEdit::Price(80_000),
    ] {
        edit_product(&origin.state.db, drill, edit, None).await.expect("edit");
    }
    let published = wait_for_entries(&mut conn, &key, 3, Duration::from_secs(2)).await;
    assert_eq!(ids(&published), vec!["1-0", "2-0", "3-0"]);
    let price_keys = format!("product:{drill} listing:tools listing:drills search");
    let fields = |topic: &str, keys: &str| {
        HashMap::from([
            ("topic".to_owned(), topic.to_owned()),
            ("entity".to_owned(), format!("product:{drill}")),
            ("keys".to_owned(), keys.to_owned()),
        ])
    };
    assert_eq!(published[0].1, fields("product.price_changed", &price_keys));
    assert_eq!(
        published[1].1,
        fields("product.stock_changed", &format!("product:{drill}"))
    );
    assert_eq!(published[2].1, fields("product.price_changed", &price_keys));
    assert_eq!(
        hot_count(&mut conn, &prefix, drill).await,
        Some(4),
        "the hot count came with the stream"
    );

    // Redis restarts empty: the relay remembers nothing, reads the stream
    // (now empty) and publishes again what the database retains, and the
    // hot counts with it.
    let _: () = redis::cmd("FLUSHDB").query_async(&mut conn).await.expect("FLUSHDB");
    let again = wait_for_entries(&mut conn, &key, 3, Duration::from_secs(3)).await;
    assert_eq!(again, published);
    assert_eq!(hot_count(&mut conn, &prefix, drill).await, Some(4));

    // And goes on from there.
    edit_product(&origin.state.db, drill, ProductEdit::Stock(2), None)
        .await
        .expect("edit");
    let more = wait_for_entries(&mut conn, &key, 4, Duration::from_secs(2)).await;
    assert_eq!(ids(&more), vec!["1-0", "2-0", "3-0", "4-0"]);
    assert_eq!(hot_count(&mut conn, &prefix, drill).await, Some(2));

    // A product that is gone loses its count.
    with_db!(&origin.state.db, pool => {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("DELETE FROM products WHERE id = $1").bind(drill).execute(&mut *tx).await.expect("delete");
        vitrine_origin::write_outbox!(&mut *tx, &vitrine_origin::outbox::OutboxEvent {
            topic: "product.deleted",
            entity: format!("product:{drill}"),
            surrogate_keys: vec![format!("product:{drill}")],
            payload: serde_json::json!({}),
        }).expect("outbox");
        tx.commit().await.expect("commit");
    });
    origin.state.feed.wake_relay();
    wait_for_entries(&mut conn, &key, 5, Duration::from_secs(2)).await;
    assert_eq!(hot_count(&mut conn, &prefix, drill).await, None);
    origin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_stream_does_not_hold_up_the_feed_and_catches_up_later() {
    let (Some(redis_url), Some(database)) = (redis_on(10), fresh_postgres().await) else {
        return;
    };
    let prefix = format!("test:{}:", Uuid::new_v4().simple());
    let origin = Running::start(&database, &redis_url, &prefix).await;
    let key = origin.stream_key();
    let mut conn = redis(&redis_url).await;
    // The stream's key holds a string: every XINFO/XADD on it fails.
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("not a stream")
        .query_async(&mut conn)
        .await
        .expect("SET");

    let drill = origin.product().await;
    edit_product(&origin.state.db, drill, ProductEdit::Price(70_000), None)
        .await
        .expect("edit");
    let start = Instant::now();
    loop {
        let page = vitrine_origin::change_feed::page_after(&origin.state.db, 0, 10)
            .await
            .expect("feed");
        if page.last_seq == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the feed stalled while Redis failed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("GET");
    assert_eq!(held, "not a stream");

    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.expect("DEL");
    let published = wait_for_entries(&mut conn, &key, 1, Duration::from_secs(10)).await;
    assert_eq!(ids(&published), vec!["1-0"]);
    origin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_replicas_number_and_publish_each_change_once() {
    let (Some(redis_url), Some(database)) = (redis_on(10), fresh_postgres().await) else {
        return;
    };
    let prefix = format!("test:{}:", Uuid::new_v4().simple());
    let a = Running::start(&database, &redis_url, &prefix).await;
    let b = Running::start(&database, &redis_url, &prefix).await;
    let key = a.stream_key();
    let mut conn = redis(&redis_url).await;

    let drill = a.product().await;
    let writes = (0..40).map(|i| {
        let db = if i % 2 == 0 {
            a.state.db.clone()
        } else {
            b.state.db.clone()
        };
        tokio::spawn(async move {
            edit_product(&db, drill, ProductEdit::Stock(i), None)
                .await
                .expect("edit");
        })
    });
    for write in futures_join(writes.collect()).await {
        write.expect("writer");
    }

    let published = wait_for_entries(&mut conn, &key, 40, Duration::from_secs(5)).await;
    let expected: Vec<String> = (1..=40).map(|n| format!("{n}-0")).collect();
    assert_eq!(ids(&published), expected.iter().map(String::as_str).collect::<Vec<_>>());
    let page = vitrine_origin::change_feed::page_after(&a.state.db, 0, 100)
        .await
        .expect("feed");
    assert_eq!(
        page.changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<u64>>()
    );
    // Nothing more arrives later (no replica publishes a number twice).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(entries(&mut conn, &key).await.len(), 40);
    // Whichever replica published the last change left the product's
    // final stock as its hot count.
    let stored: i64 = with_db!(&a.state.db, pool => sqlx::query_scalar("SELECT stock FROM products WHERE id = $1")
        .bind(drill).fetch_one(pool).await)
    .expect("stock");
    assert_eq!(hot_count(&mut conn, &prefix, drill).await, Some(stored));
    a.stop().await;
    b.stop().await;
}

/// `GET /api/v1/stock` answers from the hot counts where Redis holds them
/// and from the database for the rest, and names ids of no product.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stock_is_read_from_the_hot_counts_and_the_database_for_the_rest() {
    let (Some(redis_url), Some(database)) = (redis_on(10), fresh_postgres().await) else {
        return;
    };
    let prefix = format!("test:{}:", Uuid::new_v4().simple());
    let origin = Running::start(&database, &redis_url, &prefix).await;
    let mut conn = redis(&redis_url).await;
    // Written straight to the database: no change, so no hot count.
    let (held, cold) = (origin.product().await, origin.product().await);
    let nobody = Uuid::new_v4();
    // A count Redis holds answers for its product, even one that (as no
    // publisher would leave it) differs from the database's 5: the answer
    // comes from Redis.
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}stock"))
        .arg(held.to_string())
        .arg(0)
        .query_async(&mut conn)
        .await
        .expect("HSET");
    let answer = stock_answer(&origin.state, &[held, cold, nobody]).await;
    assert_eq!(
        answer,
        serde_json::json!({
            "stock": [
                { "product_id": held, "available": 0, "in_stock": false },
                { "product_id": cold, "available": 5, "in_stock": true },
            ],
            "unknown": [nobody],
        })
    );
    // A change brings the count back in line with the database.
    edit_product(&origin.state.db, held, ProductEdit::Stock(3), None)
        .await
        .expect("edit");
    let start = Instant::now();
    while hot_count(&mut conn, &prefix, held).await != Some(3) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the change never reached the hot count"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = stock_answer(&origin.state, &[held]).await;
    assert_eq!(answer["stock"][0]["available"], 3);
    origin.stop().await;
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await);
    }
    out
}
