//! # vitrine-tests
//!
//! The harness for end-to-end tests. [`Origin::start`] runs a real origin
//! server on a loopback port against one of two backends:
//!
//! - [`Backend::Embedded`]: a SQLite file in a temp dir, carts in the database
//!   (what the README's first command runs);
//! - [`Backend::Services`]: a fresh database on the PostgreSQL named by
//!   `VITRINE_TEST_DATABASE_URL`, carts in the Redis named by
//!   `VITRINE_TEST_REDIS_URL` under a key prefix of its own.
//!
//! `tests/run` starts throwaway Postgres and Redis servers and sets those
//! variables. When a variable is missing, a services test fails if
//! `VITRINE_REQUIRE_SERVICES` or `CI` is set (so CI never skips silently), and
//! otherwise prints that it skipped.
//!
//! [`both_backends!`] turns one test body into a test per backend.
//!
//! [`testpay::TestPay`] is a test double of the TestPay payment provider,
//! for the `testpay` payment plugin.

pub mod testpay;

use anyhow::Context as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_origin::config::Config;
use vitrine_origin::db::Db;
use vitrine_origin::state::AppState;
use vitrine_origin::with_db;

/// Where an origin keeps its state in a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file and database carts.
    Embedded,
    /// PostgreSQL and Redis.
    Services,
}

/// The shared secret tests sign edge requests with.
pub const EDGE_SECRET: &str = "test-edge-secret-test-edge-secret";

/// A running origin.
pub struct Origin {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The server's state, for direct database checks.
    pub state: AppState,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// Which backend.
    pub backend: Backend,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body parsed as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// Body bytes.
    pub raw: Vec<u8>,
}

impl Answer {
    /// A header as text, or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The error code of an error envelope, or `""`.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Whether missing services fail tests instead of skipping them.
pub fn services_required() -> bool {
    env("VITRINE_REQUIRE_SERVICES").is_some() || env("CI").is_some()
}

impl Origin {
    /// Starts an origin on `backend`, or `None` when its services are absent
    /// and not required (the test should then return).
    pub async fn start(backend: Backend) -> Option<Origin> {
        Self::start_with(backend, |_| {}).await
    }

    /// As [`Origin::start`], letting `tweak` adjust the config first.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<Origin> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::embedded(dir.path());
        config.edge_secret = Some(EDGE_SECRET.into());
        config.db_max_connections = 8;
        if backend == Backend::Services {
            let (Some(pg), Some(redis)) = (env("VITRINE_TEST_DATABASE_URL"), env("VITRINE_TEST_REDIS_URL")) else {
                assert!(
                    !services_required(),
                    "VITRINE_TEST_DATABASE_URL and VITRINE_TEST_REDIS_URL must be set: run tests through `tests/run`"
                );
                eprintln!("SKIPPED: no Postgres/Redis configured (run `tests/run` to start them)");
                return None;
            };
            config.database_url = Some(fresh_database(&pg).await.expect("create test database"));
            config.redis_url = Some(redis);
            config.redis_prefix = format!("test:{}:", Uuid::new_v4().simple());
        }
        tweak(&mut config);
        let state = AppState::connect(config, true).await.expect("origin state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(vitrine_origin::server::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        Some(Origin {
            base,
            state,
            // No pooled connections: after the origin refuses a body early
            // (413) it closes the connection, and a pooled client may send
            // the next request on it before it sees the close
            // (`IncompleteMessage`, seen in a CI run).
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
            backend,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        })
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server");
        }
    }

    /// Sends `method path` with an optional JSON body and bearer token.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>, token: Option<&str>) -> Answer {
        self.send(method, path, body, token, &[]).await
    }

    /// As [`Origin::call`] with extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.expect("request")).await
    }

    /// Sends raw bytes with a content type.
    pub async fn send_raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        self.send_raw_with(method, path, content_type, body, &[]).await
    }

    /// As [`Origin::send_raw`] with extra headers.
    pub async fn send_raw_with(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.expect("request")).await
    }

    /// Sends `method path` with `body` signed as an edge would.
    pub async fn send_signed(&self, method: Method, path: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
        let bytes = serde_json::to_vec(body).expect("json");
        let now = chrono::Utc::now().timestamp();
        let sig = vitrine_origin::http::signature::sign(EDGE_SECRET.as_bytes(), method.as_str(), path, now, &bytes);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header(vitrine_origin::http::signature::HEADER, sig)
            .body(bytes);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.expect("request")).await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(body), None).await
    }

    /// Adds a category (and its parents as given) and returns its slug.
    pub async fn category(&self, path: &[&str]) -> String {
        let now = chrono::Utc::now();
        for depth in 1..=path.len() {
            let slug = path[depth - 1];
            let parent = if depth > 1 { Some(path[depth - 2]) } else { None };
            let full = format!("{}/", path[..depth].join("/"));
            with_db!(&self.state.db, pool => sqlx::query(
                "INSERT INTO categories (slug, name, parent_slug, path, position) VALUES ($1, $2, $3, $4, 0) \
                 ON CONFLICT (slug) DO NOTHING"
            ).bind(slug).bind(slug.to_uppercase()).bind(parent).bind(full).execute(pool).await.map(drop))
            .expect("insert category");
            let _ = now;
        }
        path.last().expect("non-empty path").to_string()
    }

    /// Adds a product under category path `path` and returns its id.
    pub async fn product(&self, path: &[&str], name: &str, price_minor: i64, stock: i64) -> Uuid {
        self.category(path).await;
        let id = Uuid::new_v4();
        let now = chrono::Utc::now();
        let sku = format!("T-{}", &id.simple().to_string()[..12]);
        with_db!(&self.state.db, pool => sqlx::query(
            "INSERT INTO products (id, sku, name, description, brand, category_slug, category_path, attributes, \
             images, price_minor, currency, stock, popularity, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14)"
        )
        .bind(id).bind(&sku).bind(name).bind(format!("{name}, for tests")).bind("Acme")
        .bind(*path.last().expect("path")).bind(format!("{}/", path.join("/")))
        .bind(sqlx::types::Json(json!({ "colour": "white" })))
        .bind(sqlx::types::Json(json!([{ "url": format!("/images/{sku}.jpg"), "alt": name }])))
        .bind(price_minor).bind("ZAR").bind(stock).bind(price_minor % 1000).bind(now)
        .execute(pool).await.map(drop))
        .expect("insert product");
        id
    }

    /// Current stock of a product.
    pub async fn stock(&self, id: Uuid) -> i64 {
        with_db!(&self.state.db, pool => sqlx::query_scalar("SELECT stock FROM products WHERE id = $1")
            .bind(id).fetch_one(pool).await)
        .expect("stock")
    }

    /// Rows in `table` (one of a fixed list, so no SQL is built from input).
    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "products" => "SELECT count(*) FROM products",
            "orders" => "SELECT count(*) FROM orders",
            "order_lines" => "SELECT count(*) FROM order_lines",
            "users" => "SELECT count(*) FROM users",
            "refunds" => "SELECT count(*) FROM refunds",
            "payments" => "SELECT count(*) FROM payments",
            "outbox" => "SELECT count(*) FROM outbox",
            "categories" => "SELECT count(*) FROM categories",
            other => panic!("no count query for table {other}"),
        };
        with_db!(&self.state.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).expect("count")
    }

    /// Sum of all stock, version and price columns: changes when any product changes.
    pub async fn catalog_fingerprint(&self) -> (i64, i64, i64) {
        with_db!(&self.state.db, pool => sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(stock), 0) AS BIGINT), CAST(COALESCE(SUM(version), 0) AS BIGINT), \
             CAST(COALESCE(SUM(price_minor), 0) AS BIGINT) FROM products"
        ).fetch_one(pool).await)
        .expect("fingerprint")
    }

    /// The password of every user made by [`account`](Self::account).
    pub const PASSWORD: &'static str = "correct horse battery staple";

    /// Creates a user with `role`, not signed in; returns (id, email). The
    /// password is [`Origin::PASSWORD`].
    pub async fn account(&self, role: Role) -> (Uuid, String) {
        let email = format!("{}-{}@example.test", role.as_str(), Uuid::new_v4().simple());
        let user =
            vitrine_origin::auth::service::create_user(&self.state.db, &email, Self::PASSWORD, "Test User", role)
                .await
                .expect("create user");
        (user.id, email)
    }

    /// Creates a user with `role` and returns (id, access token).
    pub async fn user(&self, role: Role) -> (Uuid, String) {
        let (id, email) = self.account(role).await;
        let login = self
            .post(
                "/api/v1/auth/login",
                &json!({ "email": email, "password": Self::PASSWORD }),
            )
            .await;
        assert_eq!(login.status, StatusCode::OK, "login: {:?}", login.body);
        (
            id,
            login.body["access_token"].as_str().expect("access token").to_owned(),
        )
    }

    /// A new guest cart id.
    pub async fn cart(&self, token: Option<&str>) -> Uuid {
        let a = self.call(Method::POST, "/api/v1/carts", None, token).await;
        assert!(a.status.is_success(), "create cart: {:?}", a.body);
        a.body["id"].as_str().expect("cart id").parse().expect("uuid")
    }

    /// Adds `quantity` of `product` to `cart`.
    pub async fn add(&self, cart: Uuid, product: Uuid, quantity: i64, token: Option<&str>) -> Answer {
        let body = json!({ "product_id": product, "quantity": quantity });
        self.call(Method::POST, &format!("/api/v1/carts/{cart}/lines"), Some(&body), token)
            .await
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        raw,
    }
}

/// Creates a uniquely named database on the server of `admin_url` and
/// returns its URL.
pub async fn fresh_database(admin_url: &str) -> anyhow::Result<String> {
    let name = format!("vt_{}", Uuid::new_v4().simple());
    let admin = Db::connect(admin_url, 1)
        .await
        .context("while connecting to the admin database")?;
    let Db::Postgres(pool) = &admin else {
        anyhow::bail!("VITRINE_TEST_DATABASE_URL is not a postgres url")
    };
    // The name is generated here from hex digits, never from input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(pool)
        .await?;
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

/// Defines `$name::embedded` and `$name::postgres_redis`, each running
/// `$body` (an `async fn(&Origin)`) against a fresh origin on that backend,
/// started by [`Origin::start`] or by `$start` (an `async fn(Backend) ->
/// Option<Origin>`, named from inside the generated module: `super::start`).
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        $crate::both_backends!($name, $body, $crate::Origin::start);
    };
    ($name:ident, $body:ident, $start:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                let origin = $start($crate::Backend::Embedded).await.expect("embedded origin");
                super::$body(&origin).await;
                origin.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_redis() {
                let Some(origin) = $start($crate::Backend::Services).await else {
                    return;
                };
                super::$body(&origin).await;
                origin.stop().await;
            }
        }
    };
}

/// Serves `edge` on a free loopback port as `vitrine-edge` does (the same
/// router and connection handling), and with a change feed waits up to
/// 10 s until the edge has followed it. Returns the base URL and the
/// server's task (abort it to stop the edge).
pub async fn serve_edge(
    edge: std::sync::Arc<vitrine_runtime::edge::proxy::Edge>,
    feed: Option<std::sync::Arc<vitrine_runtime::edge::feed::FeedStatus>>,
) -> (String, tokio::task::JoinHandle<()>) {
    use std::time::{Duration, Instant};
    use vitrine_runtime::edge::server::{self, Extras};

    let router = server::router(
        edge,
        Extras {
            metrics: None,
            feed: feed.clone(),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = server::serve(
            listener,
            router,
            Duration::from_secs(10),
            Duration::from_secs(1),
            std::future::pending(),
        )
        .await;
    });
    if let Some(status) = feed {
        let started = Instant::now();
        while !status.readiness().0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the edge never followed the feed: {}",
                status.readiness().1
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    (base, task)
}
