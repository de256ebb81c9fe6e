//! The sync pipeline end to end: events on the queue (the database queue on
//! SQLite and Postgres, and SQS FIFO on the local SQS server), applied by the
//! workers. Postgres and the SQS server come from `tests/run`
//! (`VITRINE_TEST_DATABASE_URL`, `VITRINE_TEST_SQS_ENDPOINT`); without them
//! those variants skip, unless `VITRINE_REQUIRE_SERVICES` or `CI` is set,
//! when they fail.

mod common;

use common::{fresh_postgres, required};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_origin::config::Config;
use vitrine_origin::state::AppState;
use vitrine_origin::sync::event::{Change, Envelope, Event, Source};
use vitrine_origin::sync::queue::{Outgoing, Queue as _};
use vitrine_origin::sync::worker::Worker;
use vitrine_origin::sync::{QueueKind, SyncQueue};
use vitrine_origin::with_db;

const SECRET: &str = "erp-webhook-secret-of-32-bytes-at-least";

#[derive(Clone, Copy, Debug)]
enum Setup {
    Sqlite,
    PostgresDbQueue,
    PostgresSqs,
}

/// An origin's state with `skus` products (`SKU-0`…) in category `tools`, at
/// price 1000 and stock 10.
struct Shop {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Shop {
    async fn start(setup: Setup, skus: usize, max_receives: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::embedded(dir.path());
        config.db_max_connections = 12;
        config.sync.max_receives = max_receives;
        // Short, so the kill test sees killed workers' messages again soon; on the
        // local SQS server long enough that a handler slowed by a loaded
        // machine is not overtaken by its own redelivery (moto mishandles a
        // message deleted while another receive hands it out again).
        config.sync.visibility_secs = if matches!(setup, Setup::PostgresSqs) { 30 } else { 2 };
        config.sync.retry_base_ms = 50;
        config.sync.retry_max_ms = 200;
        config.sync.erp_webhook_secret = Some(SECRET.into());
        match setup {
            Setup::Sqlite => {}
            Setup::PostgresDbQueue => config.database_url = Some(fresh_postgres().await?),
            Setup::PostgresSqs => {
                let endpoint = required("VITRINE_TEST_SQS_ENDPOINT")?;
                config.database_url = Some(fresh_postgres().await?);
                config.sync.queue = QueueKind::Sqs;
                config.sync.sqs_endpoint = Some(endpoint);
                let name = format!("vt-{}", Uuid::new_v4().simple());
                let (queue, dlq) = vitrine_origin::sync::sqs::create_fifo_pair(&config.sync, &name, max_receives)
                    .await
                    .expect("create the queues");
                config.sync.sqs_queue_url = Some(queue);
                config.sync.sqs_dlq_url = Some(dlq);
            }
        }
        let state = AppState::connect(config, true).await.expect("origin state");
        let now = chrono::Utc::now();
        with_db!(&state.db, pool => {
            sqlx::query("INSERT INTO categories (slug, name, parent_slug, path, position) VALUES ('tools', 'Tools', NULL, 'tools/', 0)")
                .execute(pool).await.expect("category");
            for chunk in (0..skus).collect::<Vec<_>>().chunks(200) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO products (id, sku, name, description, brand, category_slug, category_path, attributes, \
                     images, price_minor, currency, stock, created_at, updated_at) ",
                );
                insert.push_values(chunk, |mut row, i| {
                    row.push_bind(Uuid::new_v4()).push_bind(format!("SKU-{i}")).push_bind(format!("Drill {i}"))
                        .push_bind("").push_bind("Bosch").push_bind("tools").push_bind("tools/")
                        .push_bind(sqlx::types::Json(json!({}))).push_bind(sqlx::types::Json(json!([])))
                        .push_bind(1000_i64).push_bind("ZAR").push_bind(10_i64).push_bind(now).push_bind(now);
                });
                insert.build().execute(pool).await.expect("products");
            }
        });
        Some(Self { state, _dir: dir })
    }

    fn queue(&self) -> &SyncQueue {
        &self.state.sync.queue
    }

    fn workers(&self, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
        (0..n).map(|_| tokio::spawn(Worker::of(&self.state).run())).collect()
    }

    async fn send(&self, events: &[Event]) {
        let received_at = chrono::Utc::now();
        let messages: Vec<Outgoing> = events
            .iter()
            .map(|event| Envelope::event(Source::Erp, received_at, event.clone()).to_outgoing())
            .collect();
        self.queue().send(&messages).await.expect("send");
    }

    async fn scalar(&self, sql: &'static str) -> i64 {
        with_db!(&self.state.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.expect(sql))
    }

    /// (price, stock) by SKU.
    async fn products(&self) -> HashMap<String, (i64, i64)> {
        let rows: Vec<(String, i64, i64)> = with_db!(&self.state.db, pool => {
            sqlx::query_as("SELECT sku, price_minor, stock FROM products").fetch_all(pool).await.expect("products")
        });
        rows.into_iter()
            .map(|(sku, price, stock)| (sku, (price, stock)))
            .collect()
    }

    /// The event ids of every outbox row the handlers wrote.
    async fn applied_ids(&self) -> Vec<String> {
        let rows: Vec<sqlx::types::Json<Value>> = with_db!(&self.state.db, pool => {
            sqlx::query_scalar("SELECT payload FROM outbox WHERE topic LIKE 'product.%'")
                .fetch_all(pool).await.expect("outbox")
        });
        rows.into_iter()
            .filter_map(|p| p.0.get("event_id").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Waits until `n` events are processed and the queue is empty.
    async fn drained(&self, n: i64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let processed = self.scalar("SELECT COUNT(*) FROM sync_processed").await;
            let stats = self.queue().stats().await.expect("stats");
            if processed >= n && stats.backlog == 0 && stats.in_flight == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{processed} of {n} events processed, queue {stats:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Each of `total` distinct events was applied once (one outbox row,
    /// no duplicates) or, on the local SQS server only, found stale.
    async fn each_event_handled_once(&self, setup: Setup, total: i64) {
        let applied = self.applied_ids().await;
        assert_eq!(
            applied.iter().collect::<HashSet<_>>().len(),
            applied.len(),
            "no event applied twice"
        );
        let recorded = self
            .scalar("SELECT COUNT(*) FROM sync_processed WHERE outcome = 'applied'")
            .await;
        assert_eq!(recorded, applied.len() as i64, "one outbox row per applied event");
        let stale = self
            .scalar("SELECT COUNT(*) FROM sync_processed WHERE outcome = 'stale'")
            .await;
        assert_eq!(applied.len() as i64 + stale, total, "every event handled once");
        if !matches!(setup, Setup::PostgresSqs) {
            // In order, nothing is stale. The local SQS server (moto 5.2.5)
            // can hand out a group's second timed-out message before its
            // first (it frees a group only when its scan reaches the group's
            // last timed-out message); the handlers' per-field versions keep
            // the state right, and the older event is then stale.
            assert_eq!(stale, 0, "events applied out of order");
        }
    }

    async fn call(&self, request: Request<Body>) -> (StatusCode, Value) {
        let app = vitrine_origin::http::router(self.state.clone());
        let response = app.oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn manager_token(&self) -> String {
        let email = format!("manager-{}@example.test", Uuid::new_v4().simple());
        let password = "correct horse battery staple";
        vitrine_origin::auth::service::create_user(&self.state.db, &email, password, "Manager", Role::StoreManager)
            .await
            .expect("create user");
        let (status, body) = self
            .call(
                Request::post("/api/v1/auth/login")
                    .header("content-type", "application/json")
                    .body(Body::from(json!({ "email": email, "password": password }).to_string()))
                    .expect("request"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().expect("token").to_owned()
    }
}

/// `per_sku` events for each of `skus` SKUs, versions 1, 2, … per SKU, each a
/// random stock or price; and the (price, stock) applying them in order gives.
fn history(skus: usize, per_sku: usize, seed: u64) -> (Vec<Vec<Event>>, HashMap<String, (i64, i64)>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut expected = HashMap::new();
    let mut all = Vec::new();
    for s in 0..skus {
        let sku = format!("SKU-{s}");
        let (mut price, mut stock) = (1000_i64, 10_i64);
        let mut events = Vec::new();
        for v in 1..=per_sku {
            let change = if rng.gen_bool(0.5) {
                stock = rng.gen_range(0..500);
                Change::Stock { stock }
            } else {
                price = rng.gen_range(100..100_000);
                Change::Price { price_minor: price }
            };
            events.push(Event {
                id: format!("e-{s}-{v}"),
                sku: sku.clone(),
                version: v as i64,
                change,
            });
        }
        expected.insert(sku, (price, stock));
        all.push(events);
    }
    (all, expected)
}

/// Every event once, each SKU's in order, SKUs interleaved at random.
fn interleaved(groups: &[Vec<Event>], rng: &mut impl rand::Rng) -> Vec<Event> {
    let mut next = vec![0_usize; groups.len()];
    let mut open: Vec<usize> = (0..groups.len()).collect();
    let mut out = Vec::new();
    while !open.is_empty() {
        let pick = rng.gen_range(0..open.len());
        let g = open[pick];
        out.push(groups[g][next[g]].clone());
        next[g] += 1;
        if next[g] == groups[g].len() {
            open.swap_remove(pick);
        }
    }
    out
}

async fn duplicated_and_shuffled_events_leave_the_in_order_state(setup: Setup) {
    let (skus, per_sku) = (500, 20);
    let Some(shop) = Shop::start(setup, skus, 5).await else {
        return;
    };
    let (groups, expected) = history(skus, per_sku, 7);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let workers = shop.workers(4);
    // Everything twice, the second time in another interleaving.
    let first = interleaved(&groups, &mut rng);
    let second = interleaved(&groups, &mut rng);
    // In waves, as an ERP sends through a day, so the queue holds at most
    // about a thousand at once (the local SQS server's receive reads its
    // whole queue each time).
    for batch in first.chunks(500).chain(second.chunks(500)) {
        shop.send(batch).await;
        while shop.queue().stats().await.expect("stats").backlog > 500 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let total = (skus * per_sku) as i64;
    shop.drained(total, Duration::from_secs(600)).await;
    for w in workers {
        w.abort();
    }
    assert_eq!(shop.products().await, expected);
    shop.each_event_handled_once(setup, total).await;
}

async fn workers_killed_mid_batch_lose_and_duplicate_nothing(setup: Setup) {
    let (skus, per_sku) = (100, 10);
    let Some(shop) = Shop::start(setup, skus, 20).await else {
        return;
    };
    let (groups, expected) = history(skus, per_sku, 3);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    shop.send(&interleaved(&groups, &mut rng)).await;
    let total = (skus * per_sku) as i64;
    let workers = shop.workers(4);
    let deadline = Instant::now() + Duration::from_secs(120);
    while shop.scalar("SELECT COUNT(*) FROM sync_processed").await < total / 3 {
        assert!(Instant::now() < deadline, "the workers never got a third of the way");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Killed in the middle of their batches and transactions.
    for w in workers {
        w.abort();
    }
    let cut = shop.scalar("SELECT COUNT(*) FROM sync_processed").await;
    assert!(cut < total, "the kill came after everything was done");
    let workers = shop.workers(4);
    shop.drained(total, Duration::from_secs(300)).await;
    for w in workers {
        w.abort();
    }
    assert_eq!(shop.products().await, expected);
    shop.each_event_handled_once(setup, total).await;
}

async fn a_poison_event_is_dead_lettered_then_redriven_after_the_fix(setup: Setup) {
    let Some(shop) = Shop::start(setup, 2, 3).await else {
        return;
    };
    let token = shop.manager_token().await;
    let workers = shop.workers(2);
    let poison = Event {
        id: "new-product-1".into(),
        sku: "NEW-1".into(),
        version: 1,
        change: Change::Product {
            product: serde_json::from_value(json!({
                "name": "Rain barrel", "brand": "Gardena", "category": "garden",
                "price_minor": 89_900, "stock": 4, "attributes": { "litres": "200" }
            }))
            .expect("fields"),
        },
    };
    let healthy = Event {
        id: "stock-1".into(),
        sku: "SKU-1".into(),
        version: 1,
        change: Change::Stock { stock: 77 },
    };
    shop.send(&[poison.clone(), healthy]).await;

    let list = || {
        Request::get("/admin/v1/sync/dead-letters")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let letters = loop {
        let (status, body) = shop.call(list()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body.as_array().is_some_and(|a| !a.is_empty()) {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the poison event never reached the dead letters"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(letters[0]["id"], "new-product-1");
    assert_eq!(letters[0]["group"], "sku:NEW-1");
    assert!(
        letters[0]["last_error"]
            .as_str()
            .expect("error")
            .contains("no category has slug `garden`"),
        "{letters}"
    );
    assert_eq!(letters[0]["attempts"], 3);
    assert_eq!(shop.products().await["SKU-1"].1, 77, "other products are not held up");
    assert!(!shop.products().await.contains_key("NEW-1"));

    // Nobody but a manager redrives.
    let (status, _) = shop
        .call(
            Request::post("/admin/v1/sync/dead-letters/new-product-1/redrive")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    with_db!(&shop.state.db, pool => {
        sqlx::query("INSERT INTO categories (slug, name, parent_slug, path, position) VALUES ('garden', 'Garden', NULL, 'garden/', 1)")
            .execute(pool).await.expect("the fix");
    });
    let (status, body) = shop
        .call(
            Request::post("/admin/v1/sync/dead-letters/new-product-1/redrive")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!((status, &body["redriven"]), (StatusCode::OK, &json!(1)), "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !shop.products().await.contains_key("NEW-1") {
        assert!(Instant::now() < deadline, "the redriven event was never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shop.products().await["NEW-1"], (89_900, 4));
    let (_, body) = shop.call(list()).await;
    assert_eq!(body, json!([]));
    for w in workers {
        w.abort();
    }
}

fn webhook(body: &str, signature: Option<String>) -> Request<Body> {
    let mut request = Request::post("/webhooks/erp").header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header(vitrine_origin::sync::webhook::HEADER, signature);
    }
    request.body(Body::from(body.to_owned())).expect("request")
}

async fn forged_replayed_and_invalid_webhooks_enqueue_nothing(setup: Setup) {
    let Some(shop) = Shop::start(setup, 2, 5).await else {
        return;
    };
    let sign = |body: &str, at: i64| vitrine_origin::sync::webhook::sign(SECRET.as_bytes(), at, body.as_bytes());
    let now = chrono::Utc::now().timestamp();
    let body = json!({ "events": [
        { "id": "w-1", "sku": "SKU-0", "version": 4, "type": "price", "price_minor": 1299 },
        { "id": "w-2", "sku": "SKU-1", "version": 9, "type": "stock", "stock": 0 },
    ]})
    .to_string();

    let refused = [
        (webhook(&body, None), StatusCode::UNAUTHORIZED, "unsigned"),
        (
            webhook(
                &body,
                Some(vitrine_origin::sync::webhook::sign(
                    b"not the secret at all, 32 bytes!",
                    now,
                    body.as_bytes(),
                )),
            ),
            StatusCode::UNAUTHORIZED,
            "forged",
        ),
        (
            webhook(&body, Some(sign(&body, now - 600))),
            StatusCode::UNAUTHORIZED,
            "replayed ten minutes later",
        ),
        (
            webhook(&body.replace("1299", "1"), Some(sign(&body, now))),
            StatusCode::UNAUTHORIZED,
            "tampered",
        ),
        (
            webhook("{\"events\": [", Some(sign("{\"events\": [", now))),
            StatusCode::BAD_REQUEST,
            "not JSON",
        ),
    ];
    for (request, status, what) in refused {
        let (got, body) = shop.call(request).await;
        assert_eq!(got, status, "{what}: {body}");
    }
    let bad = json!({ "events": [
        { "id": "w-3", "sku": "SKU-0", "version": 5, "type": "price", "price_minor": 10 },
        { "id": "w-4", "sku": "SKU-0", "version": 6, "type": "price", "price_minor": -10 },
    ]})
    .to_string();
    let (status, err) = shop.call(webhook(&bad, Some(sign(&bad, now)))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["error"]["message"].as_str().expect("message").contains("event 1"),
        "{err}"
    );
    let stats = shop.queue().stats().await.expect("stats");
    assert_eq!((stats.backlog, stats.in_flight), (0, 0), "nothing refused was enqueued");

    // An injection string is only a SKU nobody has.
    let sneaky =
        json!({ "id": "w-5", "sku": "x'); DROP TABLE products; --", "version": 1, "type": "stock", "stock": 1 })
            .to_string();
    let (status, answer) = shop.call(webhook(&sneaky, Some(sign(&sneaky, now)))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, answer) = shop.call(webhook(&body, Some(String::new()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an empty signature: {answer}");

    let (status, answer) = shop.call(webhook(&body, Some(sign(&body, now)))).await;
    assert_eq!(
        (status, &answer["accepted"]),
        (StatusCode::ACCEPTED, &json!(2)),
        "{answer}"
    );
    // The same request again (a replay inside the window) changes nothing.
    let (status, _) = shop.call(webhook(&body, Some(sign(&body, now)))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let workers = shop.workers(2);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let products = shop.products().await;
        if products["SKU-0"].0 == 1299 && products["SKU-1"].1 == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the webhook's events were never applied: {products:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for w in workers {
        w.abort();
    }
    let mut applied = shop.applied_ids().await;
    applied.sort();
    assert_eq!(
        applied,
        ["w-1", "w-2"],
        "each event applied once, the injection nowhere"
    );
    assert_eq!(shop.products().await.len(), 2, "the products table is intact");
}

async fn without_a_secret_the_webhook_is_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = AppState::connect(Config::embedded(dir.path()), true)
        .await
        .expect("state");
    let app = vitrine_origin::http::router(state.clone());
    let body = r#"{"id":"w-1","sku":"SKU-0","version":1,"type":"stock","stock":1}"#;
    let at = chrono::Utc::now().timestamp();
    let response = app
        .oneshot(webhook(
            body,
            Some(vitrine_origin::sync::webhook::sign(b"", at, body.as_bytes())),
        ))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(state.sync.queue.stats().await.expect("stats").backlog, 0);
}

/// A worker told to stop while it handles a batch finishes the batch first:
/// the event is applied and deleted, not left in flight to be redelivered.
async fn a_stopping_worker_finishes_the_batch_it_holds(setup: Setup) {
    let Some(shop) = Shop::start(setup, 1, 5).await else {
        return;
    };
    // Held open so the handler waits on the product's row until the test
    // lets it go.
    let blocker = with_db!(&shop.state.db, pool => {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("UPDATE products SET name = name WHERE sku = 'SKU-0'")
            .execute(&mut *tx).await.expect("lock the product");
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = released.await;
            tx.rollback().await.expect("release the product");
        });
        release
    });
    shop.send(&[Event {
        id: "e-drain".into(),
        sku: "SKU-0".into(),
        version: 1,
        change: Change::Price { price_minor: 4_321 },
    }])
    .await;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::of(&shop.state).run_until(stopping));
    let start = Instant::now();
    while shop.queue().stats().await.expect("stats").in_flight == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the worker never received the event"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).expect("stop");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!worker.is_finished(), "the worker waits for the handler it runs");
    let _ = blocker.send(());
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("the worker stops once its batch is handled")
        .expect("worker task");
    assert_eq!(shop.products().await["SKU-0"].0, 4_321, "the event was applied");
    let stats = shop.queue().stats().await.expect("stats");
    assert_eq!((stats.backlog, stats.in_flight), (0, 0), "and deleted: {stats:?}");
    assert_eq!(shop.applied_ids().await, vec!["e-drain".to_owned()]);
}

macro_rules! on_every_queue {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Setup::Sqlite).await })*
        }
        mod postgres_db_queue {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Setup::PostgresDbQueue).await })*
        }
        mod postgres_sqs {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Setup::PostgresSqs).await })*
        }
    };
}

on_every_queue!(
    duplicated_and_shuffled_events_leave_the_in_order_state,
    workers_killed_mid_batch_lose_and_duplicate_nothing,
    a_poison_event_is_dead_lettered_then_redriven_after_the_fix,
    forged_replayed_and_invalid_webhooks_enqueue_nothing,
);

// Postgres only: the test holds a product's row lock to keep the handler
// busy, and on SQLite that lock would stop the queue's own writes too.
mod drain {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_db_queue() {
        super::a_stopping_worker_finishes_the_batch_it_holds(super::Setup::PostgresDbQueue).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_sqs() {
        super::a_stopping_worker_finishes_the_batch_it_holds(super::Setup::PostgresSqs).await;
    }
}

#[tokio::test]
async fn a_webhook_without_a_configured_secret_is_refused() {
    without_a_secret_the_webhook_is_closed().await;
}
