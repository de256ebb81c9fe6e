//! The README's first command:
//!
//! ```text
//! cargo run --release -p vitrine-quickstart
//! ```
//!
//! Starts the whole storefront on the embedded default, with nothing to
//! install but Rust: builds the first-party plugins (`plugins/build.sh`,
//! which adds the `wasm32-wasip2` target when missing), keeps the origin's
//! state in `./vitrine-data` (a SQLite file), generates the demo DIY catalog
//! of 50,000 products on the first run, serves the origin on
//! 127.0.0.1:8081, and an edge in front of it on 127.0.0.1:8080 with the
//! sample config `edge-config/vitrine.toml` (its plugins loaded, following
//! the origin's change feed), which serves the storefront page at `/`. The
//! two share a signing secret made for this run. The `testpay` payment
//! plugin talks to the TestPay provider double (`vitrine_tests::testpay`),
//! started where the config sends it (127.0.0.1:8099 by default) and
//! accepting the API key the config grants, so checkout works with nothing
//! else running. Set `VITRINE_DATA_DIR`, `DATABASE_URL` or `REDIS_URL` to
//! move the origin's state elsewhere. Ctrl-C stops everything gracefully.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rand::RngCore;
use vitrine_edge_config::EdgeConfig;
use vitrine_origin::config::Config;
use vitrine_origin::seed::SeedArgs;
use vitrine_origin::state::AppState;
use vitrine_origin::with_db;
use vitrine_runtime::edge::feed;
use vitrine_runtime::edge::proxy::Edge;
use vitrine_runtime::edge::server::{self, Extras};
use vitrine_runtime::plugins::reload::ConfigWatcher;
use vitrine_runtime::plugins::{ArtifactCache, EngineConfig, PluginHost};
use vitrine_tests::testpay::{self, TestPay};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vitrine_origin::server::init_tracing(false);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");

    println!("building the first-party plugins...");
    let status = std::process::Command::new("bash")
        .arg(root.join("plugins/build.sh"))
        .current_dir(&root)
        .status()
        .context("running plugins/build.sh")?;
    anyhow::ensure!(status.success(), "plugins/build.sh failed ({status})");

    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let secret = hex::encode(secret);

    let data_dir = std::env::var("VITRINE_DATA_DIR").unwrap_or_else(|_| "./vitrine-data".into());
    let mut config = Config::embedded(&data_dir);
    config.database_url = std::env::var("DATABASE_URL").ok();
    config.redis_url = std::env::var("REDIS_URL").ok();
    config.edge_secret = Some(secret.clone());
    // The origin verifies payment providers' webhooks with the payment
    // plugins of the same operator config the edge runs.
    config.plugins_config = Some(root.join("edge-config/vitrine.toml"));
    // The edge reads signed-in shoppers' segments from their access tokens,
    // so it gets the origin's token secret (kept in the data directory).
    let token_secret = vitrine_origin::state::token_secret(&config)?;
    config.jwt_secret = Some(token_secret.clone());
    let listen = std::env::var("VITRINE_ORIGIN_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());

    let state = AppState::connect(config, true).await?;
    let products: i64 = with_db!(&state.db, pool => sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(pool).await)?;
    if products == 0 {
        println!("seeding the demo catalog (first run only)...");
        let report = vitrine_origin::seed::run(
            &state,
            &SeedArgs {
                products: 50_000,
                seed: 42,
            },
        )
        .await?;
        println!("{report}");
    }
    let sample: Option<(uuid::Uuid, String)> = with_db!(&state.db, pool => sqlx::query_as(
        "SELECT id, name FROM products WHERE stock > 0 ORDER BY popularity DESC LIMIT 1"
    ).fetch_optional(pool).await)?;

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("while binding {listen} (is another origin running?)"))?;
    let origin_addr = listener.local_addr()?;
    let origin = tokio::spawn(vitrine_origin::server::serve(
        state,
        listener,
        vitrine_origin::server::shutdown_signal(),
    ));

    // The edge, on the sample config, pointed at this origin with this
    // run's secret.
    let config_path = root.join("edge-config/vitrine.toml");
    let text = std::fs::read_to_string(&config_path).with_context(|| format!("reading {}", config_path.display()))?;
    let origin_url = format!("http://{origin_addr}");
    let env = |name: &str| match name {
        "VITRINE_EDGE_SECRET" => Some(secret.clone()),
        "VITRINE_JWT_SECRET" => Some(token_secret.clone()),
        "VITRINE_ORIGIN_URL" => Some(origin_url.clone()),
        _ => std::env::var(name).ok(),
    };
    let edge_config = EdgeConfig::parse(&config_path, &text, &env)?;
    let provider = start_testpay(&edge_config).await?;
    let cache = edge_config.plugin_host.artifact_cache.clone().map(ArtifactCache::new);
    let host = Arc::new(PluginHost::new(
        EngineConfig::from_config(&edge_config.plugin_host),
        cache,
    )?);
    tokio::task::block_in_place(|| host.apply_config(&edge_config))?;
    // Plugin changes in the file are picked up while serving; the watcher
    // reads the file with the process's environment.
    let _watcher = match ConfigWatcher::start(Arc::clone(&host), &config_path, edge_config.plugin_host.reload_interval)
    {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            eprintln!("plugin config not watched: {e}");
            None
        }
    };
    let edge_listen = edge_config.edge.listen;
    let client_timeout = edge_config.edge.client_timeout;
    let feed_config = edge_config.edge.change_feed.clone();
    let edge = Arc::new(Edge::new(Arc::new(edge_config)).with_plugins(Arc::clone(&host)));
    let feed = feed::spawn(&edge, &feed_config);
    let edge_listener = server::bind(edge_listen)
        .await
        .with_context(|| format!("while binding {edge_listen} (is another edge running?)"))?;
    let base = format!("http://{}", edge_listener.local_addr()?);
    let router = server::router(edge, Extras { metrics: None, feed });

    println!();
    println!("Vitrine on the embedded default, data in {data_dir}");
    println!("  storefront  {base}/   (open it in a browser)");
    println!("  origin      http://{origin_addr}   (API docs http://{origin_addr}/openapi.json)");
    println!("  edge        {base}   ({} plugins loaded)", host.plugins().len());
    if let Some(provider) = &provider {
        println!(
            "  payments    {}   (the TestPay double: tok_visa pays, tok_declined is declined)",
            provider.base_url()
        );
    }
    println!("  catalog     {base}/api/v1/categories");
    if let Some((id, name)) = sample {
        println!("  a product   {base}/api/v1/products/{id}   ({name})");
    }
    println!("  listing     {base}/api/v1/categories/tools/products?sort=price_asc");
    println!("  try         curl -si {base}/api/v1/categories | grep -i -e x-cache -e age");
    println!("Ctrl-C to stop.");
    server::serve(
        edge_listener,
        router,
        client_timeout,
        Duration::from_secs(10),
        vitrine_origin::server::shutdown_signal(),
    )
    .await?;
    origin.await.context("the origin task")??;
    drop(provider);
    Ok(())
}

/// Starts the TestPay double where the config's `testpay` plugin sends its
/// requests (its granted host), accepting the API key the config gives it.
/// The plugins' settings are read with the process environment here, as
/// the config watcher and the origin read them, so all three agree; a
/// `testpay` granted a host that is not a loopback address is talking to a
/// real provider, and no double is started.
async fn start_testpay(config: &EdgeConfig) -> anyhow::Result<Option<TestPay>> {
    let Some(plugin) = config.plugins.iter().find(|p| p.name == "testpay") else {
        return Ok(None);
    };
    let Some(addr) = plugin
        .http
        .as_ref()
        .and_then(|http| http.hosts.first())
        .and_then(|host| host.parse::<SocketAddr>().ok())
        .filter(|addr| addr.ip().is_loopback())
    else {
        return Ok(None);
    };
    let api_key = plugin
        .secrets
        .get("api_key")
        .map_or(testpay::API_KEY, |key| key.expose());
    let provider = TestPay::start_on(addr, api_key)
        .await
        .with_context(|| format!("while starting the TestPay double on {addr} (is another quickstart running?)"))?;
    Ok(Some(provider))
}
