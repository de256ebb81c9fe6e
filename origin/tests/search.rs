//! Search as a shopper sees it, on a small catalog built by hand so every
//! count can be checked: typos, search-as-you-type, synonyms, facets,
//! filters, sorts, paging, highlights, refused input; an admin's price
//! change searchable within a second; a rebuild swapped in while queries run.
//!
//! Each test runs on the embedded default and on the Postgres named by
//! `VITRINE_TEST_DATABASE_URL` (`tests/run` starts one). Without it the
//! Postgres tests skip, unless `VITRINE_REQUIRE_SERVICES` or `CI` is set,
//! when they fail.

mod common;

use common::fresh_postgres;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tower::ServiceExt as _;
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_origin::config::Config;
use vitrine_origin::db::Db;
use vitrine_origin::state::AppState;
use vitrine_origin::with_db;

/// One hand-built product.
struct P {
    key: &'static str,
    path: &'static [&'static str],
    name: &'static str,
    brand: &'static str,
    description: &'static str,
    price: i64,
    stock: i64,
    popularity: i64,
}

/// The catalog every test starts with.
const CATALOG: &[P] = &[
    P {
        key: "makita-drill",
        path: &["tools", "power-tools", "drills"],
        name: "Makita 18V Cordless Drill Driver",
        brand: "Makita",
        description: "A compact drill driver for wood, metal and plastic.",
        price: 149_900,
        stock: 5,
        popularity: 900,
    },
    P {
        key: "bosch-hammer",
        path: &["tools", "power-tools", "drills"],
        name: "Bosch Cordless Hammer Drill",
        brand: "Bosch",
        description: "Bores into brick & block as easily as into timber.",
        price: 189_900,
        stock: 0,
        popularity: 500,
    },
    P {
        key: "bosch-impact",
        path: &["tools", "power-tools", "drills"],
        name: "Bosch 1200W Impact Drill",
        brand: "Bosch",
        description: "A corded impact drill with variable speed for masonry and steel.",
        price: 99_900,
        stock: 3,
        popularity: 100,
    },
    P {
        key: "makita-saw",
        path: &["tools", "power-tools", "saws"],
        name: "Makita 185mm Circular Saw",
        brand: "Makita",
        description: "Cuts sheet goods and framing timber straight and square.",
        price: 229_900,
        stock: 2,
        popularity: 700,
    },
    P {
        key: "stanley-hammer",
        path: &["tools", "hand-tools"],
        name: "Stanley Claw Hammer 16oz",
        brand: "Stanley",
        description: "A fibreglass handle that soaks up the shock of every blow.",
        price: 24_900,
        stock: 10,
        popularity: 300,
    },
    P {
        key: "tool-bag",
        path: &["tools", "hand-tools"],
        name: "Stanley Tool Bag 400mm",
        brand: "Stanley",
        description: "Tough canvas with pockets for a cordless drill and its batteries.",
        price: 34_900,
        stock: 6,
        popularity: 9_000,
    },
    P {
        key: "hose",
        path: &["garden", "watering"],
        name: "Gardena Garden Hose 20m",
        brand: "Gardena",
        description: "Kink-free hose for the garden, with fittings.",
        price: 39_900,
        stock: 7,
        popularity: 200,
    },
    P {
        key: "vacuum",
        path: &["cleaning"],
        name: "Karcher Wet and Dry Vacuum Cleaner",
        brand: "Karcher",
        description: "Picks up sawdust, water and rubble from the workshop floor.",
        price: 129_900,
        stock: 4,
        popularity: 400,
    },
];

/// An origin serving the catalog, with its indexer running.
struct Shop {
    state: AppState,
    app: Router,
    ids: Vec<(&'static str, Uuid)>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Shop {
    /// Fills the database first, so the server's first index is built from it.
    async fn start(database_url: Option<String>) -> Self {
        Self::start_with(database_url, |_| {}).await
    }

    /// As [`Shop::start`], letting `tweak` adjust the config first.
    async fn start_with(database_url: Option<String>, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::embedded(dir.path());
        config.database_url = database_url;
        config.db_max_connections = 8;
        config.search_synonyms = "sprinkler=hose".into();
        config.feed_relay_interval_ms = 50;
        tweak(&mut config);
        let state = AppState::connect(config, true).await.expect("origin state");
        let mut ids = Vec::new();
        for p in CATALOG {
            ids.push((p.key, insert(&state.db, p, false).await));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(vitrine_origin::server::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        // The server builds the first index before it listens.
        let deadline = Instant::now() + Duration::from_secs(30);
        while state.search.live().is_none() {
            assert!(Instant::now() < deadline, "the first search index was never built");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let app = vitrine_origin::http::router(state.clone());
        Self {
            state,
            app,
            ids,
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

    fn id(&self, key: &str) -> Uuid {
        self.ids.iter().find(|(k, _)| *k == key).expect("known product").1
    }

    fn key_of(&self, id: &str) -> &'static str {
        self.ids
            .iter()
            .find(|(_, i)| i.to_string() == id)
            .map_or("?", |(k, _)| k)
    }

    async fn request(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = self.app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
        self.request(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    /// A search that must succeed.
    async fn search(&self, query: &[(&str, &str)]) -> Value {
        let (status, _, body) = self.get(&search_path(query)).await;
        assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
        body
    }

    /// The keys of the products of a search, in order.
    async fn keys(&self, query: &[(&str, &str)]) -> Vec<&'static str> {
        let body = self.search(query).await;
        self.keys_of(&body)
    }

    fn keys_of(&self, body: &Value) -> Vec<&'static str> {
        body["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| self.key_of(p["id"].as_str().expect("id")))
            .collect()
    }

    async fn manager_token(&self) -> String {
        let email = format!("manager-{}@example.test", Uuid::new_v4().simple());
        let password = "correct horse battery staple";
        vitrine_origin::auth::service::create_user(&self.state.db, &email, password, "Manager", Role::StoreManager)
            .await
            .expect("create user");
        let login = Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(json!({ "email": email, "password": password }).to_string()))
            .expect("request");
        let (status, _, body) = self.request(login).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().expect("token").to_owned()
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn search_path(query: &[(&str, &str)]) -> String {
    let params: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    format!("/api/v1/search?{}", params.join("&"))
}

/// Inserts `p` (and its categories); with `outbox`, also the outbox row an
/// upsert commits with it, as the sync pipeline writes.
async fn insert(db: &Db, p: &P, outbox: bool) -> Uuid {
    let id = Uuid::new_v4();
    let now = chrono::Utc::now();
    let sku = format!("T-{}", &id.simple().to_string()[..8].to_uppercase());
    let path = format!("{}/", p.path.join("/"));
    with_db!(db, pool => {
        for depth in 1..=p.path.len() {
            let slug = p.path[depth - 1];
            let parent = (depth > 1).then(|| p.path[depth - 2]);
            sqlx::query("INSERT INTO categories (slug, name, parent_slug, path, position) VALUES ($1, $1, $2, $3, 0) \
                         ON CONFLICT (slug) DO NOTHING")
                .bind(slug).bind(parent).bind(format!("{}/", p.path[..depth].join("/")))
                .execute(pool).await.expect("category");
        }
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query(
            "INSERT INTO products (id, sku, name, description, brand, category_slug, category_path, attributes, \
             images, price_minor, currency, stock, popularity, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'ZAR', $11, $12, 1, $13, $13)",
        )
        .bind(id).bind(&sku).bind(p.name).bind(p.description).bind(p.brand)
        .bind(*p.path.last().expect("path")).bind(&path)
        .bind(sqlx::types::Json(json!({ "colour": "blue" })))
        .bind(sqlx::types::Json(json!([{ "url": format!("/images/{sku}.jpg"), "alt": p.name }])))
        .bind(p.price).bind(p.stock).bind(p.popularity).bind(now)
        .execute(&mut *tx).await.expect("product");
        if outbox {
            vitrine_origin::write_outbox!(&mut *tx, &vitrine_origin::outbox::OutboxEvent {
                topic: "product.created",
                entity: format!("product:{id}"),
                surrogate_keys: vitrine_origin::catalog::product_surrogate_keys(id, &path, true),
                payload: json!({ "product_id": id }),
            }).expect("outbox");
        }
        tx.commit().await.expect("commit");
    });
    id
}

fn set(keys: &[&'static str]) -> BTreeSet<&'static str> {
    keys.iter().copied().collect()
}

fn facet(body: &Value, name: &str) -> Vec<(String, u64)> {
    body["facets"][name]
        .as_array()
        .expect("facet list")
        .iter()
        .map(|f| {
            (
                f["value"].as_str().expect("value").to_owned(),
                f["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect()
}

async fn what_a_shopper_sees(shop: &Shop) {
    // Typos: one edit forgiven from four letters, a swap counts as one.
    let found = shop.keys(&[("q", "drlil")]).await;
    assert_eq!(
        set(&found[..3]),
        set(&["makita-drill", "bosch-hammer", "bosch-impact"]),
        "drills first: {found:?}"
    );
    assert_eq!(
        found.last(),
        Some(&"tool-bag"),
        "a drill named only in the description comes after: {found:?}"
    );
    assert_eq!(set(&shop.keys(&[("q", "hammr drlil ")]).await), set(&["bosch-hammer"]));
    assert!(
        shop.keys(&[("q", "saq")]).await.is_empty(),
        "no typo allowed in three letters"
    );

    // Search as you type: the last word, still being typed, is a prefix.
    assert_eq!(
        set(&shop.keys(&[("q", "cordl")]).await),
        set(&["makita-drill", "bosch-hammer"])
    );
    assert_eq!(
        set(&shop.keys(&[("q", "bosch dri")]).await),
        set(&["bosch-hammer", "bosch-impact"])
    );
    assert!(
        shop.keys(&[("q", "cordl ")]).await.is_empty(),
        "a finished word is not a prefix"
    );

    // Synonyms: a default one, and one from config.
    assert_eq!(shop.keys(&[("q", "hoover")]).await, vec!["vacuum"]);
    assert_eq!(shop.keys(&[("q", "sprinkler")]).await, vec!["hose"]);

    // SKUs, whole.
    let sku = shop.search(&[("q", "hose")]).await["products"][0]["sku"]
        .as_str()
        .expect("sku")
        .to_owned();
    assert_eq!(shop.keys(&[("q", &sku.to_lowercase())]).await, vec!["hose"]);

    // Everything, with facets over all of it.
    let all = shop.search(&[]).await;
    assert_eq!(all["total"], 8);
    assert_eq!(
        facet(&all, "categories"),
        pairs(&[("tools", 6), ("cleaning", 1), ("garden", 1)])
    );
    assert_eq!(
        facet(&all, "brands"),
        pairs(&[
            ("Bosch", 2),
            ("Makita", 2),
            ("Stanley", 2),
            ("Gardena", 1),
            ("Karcher", 1)
        ])
    );
    assert_eq!(
        all["facets"]["price_ranges"],
        json!([
            { "min_minor": 10_000, "max_minor": 25_000, "count": 1 },
            { "min_minor": 25_000, "max_minor": 50_000, "count": 2 },
            { "min_minor": 50_000, "max_minor": 100_000, "count": 1 },
            { "min_minor": 100_000, "max_minor": 250_000, "count": 4 },
        ])
    );
    assert_eq!(all["facets"]["in_stock"], 7);

    // In a category: its sub-categories, counted under the words.
    let power = shop.search(&[("category", "power-tools")]).await;
    assert_eq!(facet(&power, "categories"), pairs(&[("drills", 3), ("saws", 1)]));
    let makita = shop.search(&[("q", "makita"), ("category", "power-tools")]).await;
    assert_eq!(facet(&makita, "categories"), pairs(&[("drills", 1), ("saws", 1)]));
    assert_eq!(facet(&makita, "brands"), pairs(&[("Makita", 2)]));

    // Filters.
    assert_eq!(
        set(&shop.keys(&[("q", "drill"), ("brand", "Bosch")]).await),
        set(&["bosch-hammer", "bosch-impact"])
    );
    assert_eq!(
        set(&shop
            .keys(&[("q", "drill"), ("min_price", "100000"), ("max_price", "189900")])
            .await),
        set(&["makita-drill", "bosch-hammer"]),
        "price bounds are inclusive"
    );
    assert!(
        !shop
            .keys(&[("q", "drill"), ("in_stock", "true")])
            .await
            .contains(&"bosch-hammer")
    );
    assert_eq!(
        shop.keys(&[("q", "drill"), ("in_stock", "false")]).await,
        vec!["bosch-hammer"]
    );
    assert_eq!(shop.search(&[("category", "garden")]).await["total"], 1);

    // Sorts.
    let drills = [("q", "drill"), ("category", "drills")];
    let sorted = |sort: &'static str| {
        let mut q = drills.to_vec();
        q.push(("sort", sort));
        q
    };
    assert_eq!(
        shop.keys(&sorted("price_asc")).await,
        vec!["bosch-impact", "makita-drill", "bosch-hammer"]
    );
    assert_eq!(
        shop.keys(&sorted("price_desc")).await,
        vec!["bosch-hammer", "makita-drill", "bosch-impact"]
    );
    assert_eq!(
        shop.keys(&sorted("popularity")).await,
        vec!["makita-drill", "bosch-hammer", "bosch-impact"]
    );
    let prices: Vec<i64> = shop.search(&[("sort", "price_asc")]).await["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["price"]["amount_minor"].as_i64().expect("price"))
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");

    // Paging: three pages of three make the whole list once.
    let mut paged = Vec::new();
    for page in ["1", "2", "3"] {
        let body = shop
            .search(&[("sort", "price_asc"), ("per_page", "3"), ("page", page)])
            .await;
        assert_eq!(body["total"], 8);
        assert_eq!(body["per_page"], 3);
        paged.extend(shop.keys_of(&body));
    }
    assert_eq!(paged, shop.keys(&[("sort", "price_asc")]).await);
    assert_eq!(set(&paged).len(), 8);

    // The listing's product shape, with highlights beside it.
    let body = shop.search(&[("q", "drlil")]).await;
    let drill = shop.id("makita-drill").to_string();
    let first = body["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["id"] == drill.as_str())
        .expect("the drill");
    assert_eq!(first["price"], json!({ "amount_minor": 149_900, "currency": "ZAR" }));
    assert_eq!(first["category"], "drills");
    assert_eq!(first["brand"], "Makita");
    assert_eq!(first["in_stock"], true);
    assert!(first["image"]["url"].as_str().is_some_and(|u| u.ends_with(".jpg")));
    assert_eq!(
        body["highlights"][&drill]["name"],
        "Makita 18V Cordless <em>Drill</em> Driver"
    );
    assert_eq!(
        body["highlights"][&drill]["description"],
        "A compact <em>drill</em> driver for wood, metal and plastic."
    );
    let bag = shop.id("tool-bag").to_string();
    assert!(
        body["highlights"][&bag]["description"]
            .as_str()
            .is_some_and(|d| d.contains("cordless <em>drill</em>")),
        "{}",
        body["highlights"][&bag]
    );
    let hammer = shop.search(&[("q", "brick")]).await;
    let hammer_id = shop.id("bosch-hammer").to_string();
    assert_eq!(
        hammer["highlights"][&hammer_id]["description"],
        "Bores into <em>brick</em> &amp; block as easily as into timber.",
        "the rest is HTML-escaped"
    );

    // Query syntax is only text.
    let plain = shop.keys(&[("q", "drill ")]).await;
    for hostile in [
        "\"drill\"",
        "(drill)",
        "drill*",
        "drill~",
        "drill^",
        "+drill -",
        "drill\\",
    ] {
        assert_eq!(shop.keys(&[("q", hostile)]).await, plain, "{hostile}");
    }
    assert_eq!(
        shop.keys(&[("q", "name:drill")]).await,
        shop.keys(&[("q", "name drill")]).await
    );
    assert_eq!(shop.search(&[("q", "\"():*~^[]{}")]).await["total"], 8);
    assert_eq!(shop.search(&[("q", "'; DROP TABLE products; --")]).await["total"], 0);

    // Cacheable briefly, tagged so changes purge it.
    let (status, headers, body) = shop.get(&search_path(&[("q", "hose")])).await;
    assert_eq!(status, StatusCode::OK);
    let cc = headers["cache-control"].to_str().expect("ascii");
    assert!(cc.contains("public") && cc.contains("s-maxage=30"), "{cc}");
    let keys = headers["surrogate-key"].to_str().expect("ascii");
    let hose = shop.id("hose");
    assert!(
        keys.split(' ').any(|k| k == "search") && keys.contains(&format!("product:{hose}")),
        "{keys}"
    );
    assert!(headers.contains_key("etag"));
    assert_eq!(body["q"], "hose");
}

async fn bad_input_is_a_clear_400(shop: &Shop) {
    let long = "a".repeat(201);
    for (query, expect) in [
        (vec![("per_page", "0")], "per_page"),
        (vec![("per_page", "101")], "per_page"),
        (vec![("page", "0")], "page"),
        (vec![("page", "500"), ("per_page", "100")], "10000"),
        (vec![("per_page", "lots")], "per_page"),
        (vec![("min_price", "5000"), ("max_price", "100")], "min_price"),
        (vec![("min_price", "-1")], "min_price"),
        (vec![("q", long.as_str())], "200 characters"),
        (vec![("q", "a b c d e f g h i j k l m")], "12 words"),
        (vec![("sort", "cheapest")], "cheapest"),
        (vec![("in_stock", "maybe")], "in_stock"),
        (vec![("colour", "red")], "colour"),
        (vec![("brand", "")], "brand"),
    ] {
        let (status, _, body) = shop.get(&search_path(&query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{query:?}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(expect), "{query:?}: `{message}` should name {expect}");
    }
    let (status, _, body) = shop.get(&search_path(&[("category", "no-such-thing")])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("no-such-thing")
    );
}

/// Polls `query` until `done` holds for its answer, and returns how long it took.
async fn until(shop: &Shop, query: &[(&str, &str)], done: impl Fn(&Value) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let body = shop.search(query).await;
        if done(&body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not searchable after 5 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn changes_are_searchable_within_a_second(shop: &Shop) {
    let token = shop.manager_token().await;
    let saw = shop.id("makita-saw");
    let price_of = |body: &Value| body["products"][0]["price"]["amount_minor"].as_i64();
    assert_eq!(price_of(&shop.search(&[("q", "circular saw")]).await), Some(229_900));

    let edit = Request::put(format!("/admin/v1/products/{saw}/price"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(json!({ "amount_minor": 199_900 }).to_string()))
        .expect("request");
    let (status, _, body) = shop.request(edit).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lag = until(shop, &[("q", "circular saw")], |b| price_of(b) == Some(199_900)).await;
    assert!(
        lag < Duration::from_secs(1),
        "the new price took {lag:?} to be searchable"
    );
    // And the filters see it too.
    assert_eq!(
        shop.keys(&[("q", "saw"), ("max_price", "199900")]).await,
        vec!["makita-saw"]
    );

    // Out of stock: the in-stock filter drops it.
    let edit = Request::put(format!("/admin/v1/products/{saw}/stock"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(json!({ "stock": 0 }).to_string()))
        .expect("request");
    assert_eq!(shop.request(edit).await.0, StatusCode::OK);
    let lag = until(shop, &[("q", "circular saw"), ("in_stock", "true")], |b| {
        b["total"] == 0
    })
    .await;
    assert!(lag < Duration::from_secs(1), "{lag:?}");

    // A new product, committed with its outbox row.
    let new = P {
        key: "new",
        path: &["tools", "power-tools", "sanders"],
        name: "Ryobi Random Orbit Sander",
        brand: "Ryobi",
        description: "Sands flat and smooth.",
        price: 89_900,
        stock: 3,
        popularity: 10,
    };
    let started = Instant::now();
    insert(&shop.state.db, &new, true).await;
    shop.state.feed.wake_relay();
    until(shop, &[("q", "ryobi sander")], |b| b["total"] == 1).await;
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    let all = shop.search(&[("category", "power-tools")]).await;
    assert_eq!(
        facet(&all, "categories"),
        pairs(&[("drills", 3), ("sanders", 1), ("saws", 1)])
    );
}

/// The highest `feed_seq` numbered so far.
async fn feed_top(shop: &Shop) -> i64 {
    with_db!(&shop.state.db, pool => sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(feed_seq) FROM outbox")
        .fetch_one(pool).await.expect("feed top"))
    .unwrap_or(0)
}

/// An edge purges a search answer as soon as a change is numbered, and asks
/// again at once: with the index committing only every 1.5 s, that answer
/// must still show the change if the edge may cache it.
async fn an_answer_is_cacheable_only_with_the_changes_it_shows(shop: &Shop) {
    let token = shop.manager_token().await;
    let saw = shop.id("makita-saw");
    let query = search_path(&[("q", "circular saw")]);
    for (i, price) in [199_900_i64, 189_900, 179_900].into_iter().enumerate() {
        let before = feed_top(shop).await;
        let edit = Request::put(format!("/admin/v1/products/{saw}/price"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(json!({ "amount_minor": price }).to_string()))
            .expect("request");
        assert_eq!(shop.request(edit).await.0, StatusCode::OK);
        let deadline = Instant::now() + Duration::from_secs(5);
        while feed_top(shop).await <= before {
            assert!(Instant::now() < deadline, "the change was never numbered");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (status, headers, body) = shop.get(&query).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cache = headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let shown = body["products"][0]["price"]["amount_minor"].as_i64();
        assert!(
            shown == Some(price) || cache == vitrine_origin::search::http::BEHIND_CACHE_CONTROL,
            "change {i}: a cacheable answer (`{cache}`) shows {shown:?}, the price is {price}"
        );
        assert!(
            cache.contains("s-maxage"),
            "change {i}: the index caught up within its wait, so the answer is cacheable: `{cache}`"
        );
    }
}

async fn a_rebuild_is_swapped_in_while_queries_run(shop: &Shop) {
    let before = shop.state.search.generation().expect("a generation");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let queries = {
        let app = shop.app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut answered = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let request = Request::get(search_path(&[("q", "drlil"), ("category", "drills")]))
                    .body(Body::empty())
                    .expect("request");
                let response = app.clone().oneshot(request).await.expect("response");
                let status = response.status();
                let bytes = response.into_body().collect().await.expect("body").to_bytes();
                let body: Value = serde_json::from_slice(&bytes).expect("json");
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["total"], 3, "every answer during the swap is whole");
                answered += 1;
                tokio::task::yield_now().await;
            }
            answered
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // What `vitrine-origin reindex` does, from another process or this one.
    let report = vitrine_origin::search::indexer::rebuild(&shop.state.db, shop.state.search.root())
        .await
        .expect("rebuild");
    assert_eq!(report.products, 8);
    let deadline = Instant::now() + Duration::from_secs(5);
    while shop.state.search.generation().as_deref() != Some(report.generation.as_str()) {
        assert!(Instant::now() < deadline, "the new generation was never swapped in");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(before, report.generation);
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = queries.await.expect("queries never failed");
    assert!(answered > 5, "queries ran during the swap ({answered})");

    // The new generation follows changes too.
    let token = shop.manager_token().await;
    let impact = shop.id("bosch-impact");
    let edit = Request::put(format!("/admin/v1/products/{impact}/price"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(json!({ "amount_minor": 88_800 }).to_string()))
        .expect("request");
    assert_eq!(shop.request(edit).await.0, StatusCode::OK);
    until(shop, &[("q", "impact drill")], |b| {
        b["products"][0]["price"]["amount_minor"] == 88_800
    })
    .await;
}

macro_rules! on_both_engines {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let shop = super::Shop::start(None).await;
                super::$body(&shop).await;
                shop.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(url) = super::fresh_postgres().await else {
                    return;
                };
                let shop = super::Shop::start(Some(url)).await;
                super::$body(&shop).await;
                shop.stop().await;
            }
        }
    };
}

on_both_engines!(shopper, what_a_shopper_sees);
on_both_engines!(bad_input, bad_input_is_a_clear_400);
on_both_engines!(freshness, changes_are_searchable_within_a_second);
on_both_engines!(reindex, a_rebuild_is_swapped_in_while_queries_run);

mod cacheable_only_when_current {
    async fn slow_commits(url: Option<String>) -> super::Shop {
        super::Shop::start_with(url, |c| c.search_commit_interval_ms = 1_500).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded() {
        let shop = slow_commits(None).await;
        super::an_answer_is_cacheable_only_with_the_changes_it_shows(&shop).await;
        shop.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let Some(url) = super::fresh_postgres().await else {
            return;
        };
        let shop = slow_commits(Some(url)).await;
        super::an_answer_is_cacheable_only_with_the_changes_it_shows(&shop).await;
        shop.stop().await;
    }
}

/// A catalog seeded just before the first build is built once: the build's
/// cursor covers the seed's `catalog.seeded` change, so the follower has
/// nothing to replay (replaying it would mean a second full build, during
/// which no change becomes searchable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_right_after_a_seed_covers_the_seed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = AppState::connect(Config::embedded(dir.path()), true)
        .await
        .expect("state");
    let seeded = vitrine_origin::seed::run(&state, &vitrine_origin::seed::SeedArgs { products: 40, seed: 7 })
        .await
        .expect("seed");
    assert_eq!(seeded.products_created, 40);
    let report = vitrine_origin::search::indexer::build(&state.db, state.search.root())
        .await
        .expect("build");
    assert_eq!(report.products, 40);
    let after: i64 = with_db!(&state.db, pool => sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE feed_seq IS NULL OR feed_seq > $1"
    ).bind(i64::try_from(report.feed_seq).expect("seq")).fetch_one(pool).await)
    .expect("count");
    assert!(report.feed_seq >= 1, "the seed's change is numbered and covered");
    assert_eq!(after, 0, "no change is left for the follower to replay");
}
