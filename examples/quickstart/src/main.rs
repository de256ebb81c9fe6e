//! The README's first command:
//!
//! ```text
//! cargo run --release -p vitrine-quickstart
//! ```
//!
//! Starts the storefront on the embedded default, with nothing to install:
//! the origin's state lives in `./vitrine-data` (a SQLite file), the demo DIY
//! catalog of 50,000 products is generated on the first run, and the origin
//! serves on 127.0.0.1:8081. Set `VITRINE_DATA_DIR`, `DATABASE_URL` or
//! `REDIS_URL` to move it elsewhere. Ctrl-C stops it gracefully.

use anyhow::Context as _;
use vitrine_origin::config::Config;
use vitrine_origin::seed::SeedArgs;
use vitrine_origin::state::AppState;
use vitrine_origin::with_db;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vitrine_origin::server::init_tracing(false);
    let data_dir = std::env::var("VITRINE_DATA_DIR").unwrap_or_else(|_| "./vitrine-data".into());
    let mut config = Config::embedded(&data_dir);
    config.database_url = std::env::var("DATABASE_URL").ok();
    config.redis_url = std::env::var("REDIS_URL").ok();
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
    let base = format!("http://{}", listener.local_addr()?);
    println!();
    println!("Vitrine origin on the embedded default, data in {data_dir}");
    println!("  catalog     {base}/api/v1/categories");
    if let Some((id, name)) = sample {
        println!("  a product   {base}/api/v1/products/{id}   ({name})");
    }
    println!("  listing     {base}/api/v1/categories/tools/products?sort=price_asc");
    println!("  API docs    {base}/openapi.json");
    println!("  health      {base}/readyz   metrics {base}/metrics");
    println!("Ctrl-C to stop.");
    vitrine_origin::server::serve(state, listener, vitrine_origin::server::shutdown_signal()).await
}
