//! An edge in front of a real origin, following its change feed: a price
//! change purges the product page and every category page that shows it
//! within a second (long poll on the embedded default, the Redis Stream on
//! Postgres + Redis); after Redis restarts empty during changes, no page
//! older than the last change is served. A signed-in shopper's segments,
//! set at the origin, reach the edge in their access token and personalize
//! the one cached category page.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;
use vitrine_edge_config::EdgeConfig;
use vitrine_origin::auth::Role;
use vitrine_runtime::edge::feed::{self, FeedStatus};
use vitrine_runtime::edge::proxy::Edge;
use vitrine_tests::{Backend, EDGE_SECRET, Origin};

struct RunningEdge {
    base: String,
    feed: Arc<FeedStatus>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningEdge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn edge_in_front_of(origin: &Origin, change_feed: &str) -> RunningEdge {
    let text = format!(
        "version = 1\n[edge]\nlisten = \"127.0.0.1:0\"\norigin = \"{}\"\nsigning_secret = \"{EDGE_SECRET}\"\n\
         change_feed = {change_feed}\n",
        origin.base
    );
    let config = EdgeConfig::parse(Path::new("edge-e2e.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let feed_config = config.edge.change_feed.clone();
    let edge = Arc::new(Edge::new(Arc::new(config)));
    let status = feed::spawn(&edge, &feed_config).expect("a feed");
    let (base, task) = vitrine_tests::serve_edge(edge, Some(Arc::clone(&status))).await;
    RunningEdge {
        base,
        feed: status,
        task,
    }
}

async fn get(http: &reqwest::Client, url: &str) -> (String, Value) {
    let r = http.get(url).send().await.expect("get");
    assert_eq!(r.status(), 200, "{url}");
    let cache = r
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (cache, r.json().await.expect("json"))
}

fn price_in_listing(listing: &Value, id: Uuid) -> i64 {
    listing["products"]
        .as_array()
        .or_else(|| listing["items"].as_array())
        .expect("a product list")
        .iter()
        .find(|p| p["id"] == id.to_string())
        .and_then(|p| p["price"]["amount_minor"].as_i64())
        .expect("the product in the listing, with a price")
}

async fn set_price(origin: &Origin, token: &str, id: Uuid, amount_minor: i64) {
    let answer = origin
        .call(
            Method::PUT,
            &format!("/admin/v1/products/{id}/price"),
            Some(&json!({ "amount_minor": amount_minor })),
            Some(token),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

async fn a_price_change_purges_the_product_and_its_category_pages(backend: Backend) {
    let Some(origin) = Origin::start(backend).await else {
        return;
    };
    let drill = origin
        .product(&["tools", "power-tools", "drills"], "Drill", 129_900, 10)
        .await;
    let other = origin
        .product(&["tools", "power-tools", "drills"], "Other drill", 99_900, 10)
        .await;
    let (_, token) = origin.user(Role::StoreManager).await;
    let feed = match backend {
        Backend::Embedded => "{ kind = \"poll\", wait_ms = 5000 }".to_owned(),
        Backend::Services => {
            let config = origin.state.config.clone();
            format!(
                "{{ kind = \"redis\", url = \"{}\", stream = \"{}changes\" }}",
                config.redis_url.clone().expect("redis url"),
                config.redis_prefix
            )
        }
    };
    let edge = edge_in_front_of(&origin, &feed).await;
    let http = reqwest::Client::new();
    let product = format!("{}/api/v1/products/{drill}", edge.base);
    let listing = format!("{}/api/v1/categories/drills/products", edge.base);
    let other_page = format!("{}/api/v1/products/{other}", edge.base);
    for url in [&product, &listing, &other_page] {
        get(&http, url).await;
        assert_eq!(get(&http, url).await.0, "HIT", "{url} is cached");
    }

    let before = edge.feed.applied();
    set_price(&origin, &token, drill, 119_900).await;
    let changed = Instant::now();
    loop {
        let (_, page) = get(&http, &product).await;
        let (_, list) = get(&http, &listing).await;
        if page["price"]["amount_minor"] == 119_900 && price_in_listing(&list, drill) == 119_900 {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "the edge still serves the old price after {:?} (feed applied {} → {})",
            changed.elapsed(),
            before,
            edge.feed.applied()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        get(&http, &other_page).await.0,
        "HIT",
        "a page the change does not touch stays"
    );
    assert_eq!(edge.feed.full_purges(), 0);
    origin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_price_change_purges_the_product_and_its_category_pages_embedded() {
    a_price_change_purges_the_product_and_its_category_pages(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_price_change_purges_the_product_and_its_category_pages_on_services() {
    a_price_change_purges_the_product_and_its_category_pages(Backend::Services).await;
}

/// The origin's access-token secret in the token test; the edge is given it.
const JWT_SECRET: &str = "test-jwt-secret-test-jwt-secret-0123";

async fn a_shoppers_segments_travel_in_their_token_to_the_edge(backend: Backend) {
    let Some(origin) = Origin::start_with(backend, |c| c.jwt_secret = Some(JWT_SECRET.into())).await else {
        return;
    };
    // Popular first by default: the rake (popularity 999) before the drill (1).
    let rake = origin.product(&["outdoor", "garden"], "Rake", 10_999, 5).await;
    let drill = origin
        .product(&["outdoor", "power-tools"], "Yard drill", 20_001, 5)
        .await;
    let plugin = tokio::task::block_in_place(|| vitrine_runtime::testing::first_party_plugin("personalization"))
        .unwrap_or_else(|e| panic!("{e}"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/personalization/vitrine-plugin.toml");
    let text = format!(
        "version = 1\n[edge]\nlisten = \"127.0.0.1:0\"\norigin = \"{}\"\nsigning_secret = \"{EDGE_SECRET}\"\n\
         token_secret = \"{JWT_SECRET}\"\nchange_feed = {{ kind = \"off\" }}\n\n\
         [[routes]]\npath = \"/api/v1/auth/*\"\nmode = \"pass\"\n\n\
         [[routes]]\npath = \"/api/v1/categories/*\"\npersonalize = [\"personalization\"]\n\n\
         [plugins.personalization]\ncomponent = {:?}\nmanifest = {:?}\ngrants = [\"config\"]\n\
         config = {{ segment_categories = \"trade=power-tools\" }}\nlimits = {{ deadline_ms = 10000 }}\n",
        origin.base,
        plugin.display().to_string(),
        manifest.display().to_string(),
    );
    let config = EdgeConfig::parse(Path::new("edge-token.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let host = tokio::task::block_in_place(|| vitrine_runtime::plugins::PluginHost::from_config(&config))
        .unwrap_or_else(|e| panic!("{e}"));
    let edge = Arc::new(Edge::new(Arc::new(config)).with_plugins(Arc::new(host)));
    let (base, task) = vitrine_tests::serve_edge(edge, None).await;
    let _stop = RunningEdge {
        base: base.clone(),
        feed: Arc::new(FeedStatus::default()),
        task,
    };
    let http = reqwest::Client::new();

    // A shopper registers and signs in through the edge.
    let password = "correct horse battery staple";
    let email = format!("trade-{}@example.test", Uuid::new_v4().simple());
    let registered = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({ "email": email, "password": password, "name": "Trade Buyer" }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success(), "register: {}", registered.status());
    let login = || async {
        let answer = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login");
        assert_eq!(answer.status(), 200);
        let body: Value = answer.json().await.expect("json");
        (
            body["user"]["id"].as_str().expect("user id").to_owned(),
            body["access_token"].as_str().expect("token").to_owned(),
        )
    };
    let (user_id, before_segments) = login().await;

    let listing = format!("{base}/api/v1/categories/outdoor/products");
    let first = |page: &Value| page["products"][0]["id"].as_str().expect("a first product").to_owned();
    let page = |token: Option<String>| {
        let http = http.clone();
        let listing = listing.clone();
        async move {
            let mut request = http.get(&listing);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let answer = request.send().await.expect("get listing");
            assert_eq!(answer.status(), 200, "a token never costs a shopper the page");
            let cache = answer
                .headers()
                .get("x-cache")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            (cache.unwrap_or_default(), answer.json::<Value>().await.expect("json"))
        }
    };
    // A guest warms the one cached copy.
    let (_, guest) = page(None).await;
    assert_eq!(first(&guest), rake.to_string(), "the cached order: {guest}");
    let (cache, none_yet) = page(Some(before_segments.clone())).await;
    assert_eq!(cache, "HIT");
    assert_eq!(first(&none_yet), rake.to_string(), "no segments yet");

    // The retailer marks the customer as trade; their next token says so.
    let (_, admin) = origin.user(Role::SuperAdmin).await;
    let set = origin
        .call(
            Method::PUT,
            &format!("/admin/v1/users/{user_id}/segments"),
            Some(&json!({ "segments": ["trade"] })),
            Some(&admin),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let (_, trade) = login().await;
    let (cache, mine) = page(Some(trade.clone())).await;
    assert_eq!(cache, "HIT", "the shared page, personalized, not a fetch per shopper");
    assert_eq!(
        first(&mine),
        drill.to_string(),
        "power tools first for a trade customer: {mine}"
    );
    assert_eq!(
        first(&page(None).await.1),
        rake.to_string(),
        "guests keep the cached order"
    );
    assert_eq!(
        first(&page(Some(before_segments)).await.1),
        rake.to_string(),
        "the token from before the change has no segments"
    );

    // A token signed with anything but the origin's secret is not believed.
    let (head_and_payload, _) = trade.rsplit_once('.').expect("a JWT");
    let forged = format!("{head_and_payload}.{}", "A".repeat(43));
    assert_eq!(first(&page(Some(forged)).await.1), rake.to_string(), "a forged token");
    origin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shoppers_segments_travel_in_their_token_to_the_edge_embedded() {
    a_shoppers_segments_travel_in_their_token_to_the_edge(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shoppers_segments_travel_in_their_token_to_the_edge_on_services() {
    a_shoppers_segments_travel_in_their_token_to_the_edge(Backend::Services).await;
}

/// A Redis server of this test's own, so that restarting it disturbs no
/// other test.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start() -> Option<Self> {
        let port = {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            socket.local_addr().expect("addr").port()
        };
        let mut redis = Self {
            port,
            dir: tempfile::tempdir().expect("dir"),
            child: None,
        };
        if !redis.up() {
            assert!(!vitrine_tests::services_required(), "redis-server could not start");
            eprintln!("SKIPPED: no redis-server binary");
            return None;
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn up(&mut self) -> bool {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Kills it (no persistence: it comes back empty) and starts it again.
    fn restart_empty(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(self.up(), "redis-server came back");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_redis_restart_during_changes_no_page_older_than_the_last_change_is_served() {
    let Some(mut redis) = OwnRedis::start() else { return };
    let url = redis.url();
    let Some(origin) = Origin::start_with(Backend::Services, |config| config.redis_url = Some(url.clone())).await
    else {
        return;
    };
    let drill = origin.product(&["tools", "drills"], "Drill", 100_000, 10).await;
    let (_, token) = origin.user(Role::StoreManager).await;
    let prefix = origin.state.config.redis_prefix.clone();
    let edge = edge_in_front_of(
        &origin,
        &format!("{{ kind = \"redis\", url = \"{url}\", stream = \"{prefix}changes\" }}"),
    )
    .await;
    let http = reqwest::Client::new();
    let product = format!("{}/api/v1/products/{drill}", edge.base);
    let listing = format!("{}/api/v1/categories/drills/products", edge.base);

    let mut last = 100_000;
    for round in 1..=6 {
        for url in [&product, &listing] {
            get(&http, url).await;
        }
        last = 100_000 + round * 100;
        set_price(&origin, &token, drill, last).await;
        if round == 3 {
            // Mid-way: Redis dies and comes back empty; the stream is gone.
            redis.restart_empty();
        }
    }
    // Within a few seconds (reconnect back-off, the relay republishing),
    // every page shows the last price, and stays so.
    let started = Instant::now();
    loop {
        let (_, page) = get(&http, &product).await;
        let (_, list) = get(&http, &listing).await;
        if page["price"]["amount_minor"] == last && price_in_listing(&list, drill) == last {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still an old page after the restart: product {}, listing {}; feed: {}",
            page["price"]["amount_minor"],
            price_in_listing(&list, drill),
            edge.feed.readiness().1
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        edge.feed.failures() >= 1,
        "the edge saw Redis go away: {}",
        edge.feed.readiness().1
    );
    for _ in 0..5 {
        assert_eq!(get(&http, &product).await.1["price"]["amount_minor"], last);
        assert_eq!(price_in_listing(&get(&http, &listing).await.1, drill), last);
    }
    origin.stop().await;
}
