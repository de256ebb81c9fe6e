//! What every handler shares, and how it is assembled from a [`Config`].

use std::sync::Arc;

use anyhow::Context as _;
use rand::RngCore as _;

use crate::auth::TokenKeys;
use crate::carts::Carts;
use crate::change_feed::ChangeFeed;
use crate::change_feed::stream::StreamPublisher;
use crate::config::Config;
use crate::db::Db;
use crate::search::SearchIndex;
use vitrine_edge_config::EdgeConfig;
use vitrine_runtime::plugins::PluginHost;

/// Shared state of one origin process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The relational store.
    pub db: Db,
    /// Where carts live: Redis, or the database.
    pub carts: Carts,
    /// Access token keys.
    pub tokens: Arc<TokenKeys>,
    /// The settings this process runs with.
    pub config: Arc<Config>,
    /// The change feed's signals and its Redis stream publisher.
    pub feed: ChangeFeed,
    /// The product search index.
    pub search: SearchIndex,
    /// The sync pipeline's queue.
    pub sync: SyncPipeline,
    /// The payment plugins of `--plugins-config`, if given.
    pub payments: Option<Arc<PluginHost>>,
    /// The hot stock counts in Redis, when Redis is configured.
    pub stock: Option<crate::stock::HotStock>,
}

/// What the sync pipeline shares.
#[derive(Clone, Debug)]
pub struct SyncPipeline {
    /// Where ingested events wait for the handlers.
    pub queue: crate::sync::SyncQueue,
}

impl AppState {
    /// Connects to every configured backend. Runs migrations first when
    /// `migrate` is set (always, on the embedded default: there is nobody else
    /// to run them).
    pub async fn connect(config: Config, migrate: bool) -> anyhow::Result<Self> {
        config.validate()?;
        let embedded = config.database_url.is_none();
        if embedded {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("while creating data directory {}", config.data_dir.display()))?;
        }
        let db = Db::connect(&config.effective_database_url(), config.db_max_connections).await?;
        if migrate || embedded {
            db.migrate().await?;
        }
        let redis = match &config.redis_url {
            Some(url) => Some(crate::redis_conn::connect(url).await?),
            None => None,
        };
        let carts = Carts::new(&config, db.clone(), redis.clone());
        let stream = redis
            .clone()
            .map(|conn| StreamPublisher::new(conn, &config.redis_prefix, config.feed_stream_maxlen));
        let stock = redis.map(|conn| crate::stock::HotStock::new(conn, &config.redis_prefix));
        let secret = token_secret(&config)?.into_bytes();
        let search = SearchIndex::open(&config)?;
        let queue = crate::sync::SyncQueue::connect(&config.sync, db.clone()).await?;
        let payments = match &config.plugins_config {
            Some(path) => {
                // Loading compiles components: off the async threads.
                let path = path.clone();
                let host = tokio::task::spawn_blocking(move || payment_plugins(&path))
                    .await
                    .context("while loading the payment plugins")??;
                Some(Arc::new(host))
            }
            None => None,
        };
        Ok(Self {
            sync: SyncPipeline { queue },
            payments,
            stock,
            search,
            db,
            carts,
            tokens: Arc::new(TokenKeys::from_secret(&secret)),
            config: Arc::new(config),
            feed: ChangeFeed::new(stream),
        })
    }
}

/// A plugin host with the payment plugins of the operator's config at
/// `path` installed (the origin runs no promotion or personalization).
fn payment_plugins(path: &std::path::Path) -> Result<PluginHost, vitrine_edge_config::ConfigError> {
    let mut config = EdgeConfig::load(path)?;
    config
        .plugins
        .retain(|p| p.world() == vitrine_edge_config::World::Payment);
    config.promotions.clear();
    let host = PluginHost::from_config(&config)?;
    tracing::info!(config = %path.display(), plugins = host.plugins().len(), "payment plugins installed");
    Ok(host)
}

/// The embedded default's signing secret: generated on first start and kept in
/// the data directory, so tokens survive a restart.
/// The secret access tokens are signed with: `config.jwt_secret`, or else
/// the one kept in the data directory (`jwt.secret`, created on first use).
/// An edge given it (`[edge] token_secret`) reads shoppers' segments from
/// their tokens.
pub fn token_secret(config: &Config) -> anyhow::Result<String> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.clone());
    }
    let path = config.data_dir.join("jwt.secret");
    if let Ok(existing) = std::fs::read(&path) {
        anyhow::ensure!(existing.len() >= 32, "{} holds fewer than 32 bytes", path.display());
        return String::from_utf8(existing).with_context(|| format!("{} is not text", path.display()));
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("while creating data directory {}", config.data_dir.display()))?;
    let mut secret = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let encoded = hex::encode(&secret);
    write_private(&path, encoded.as_bytes()).with_context(|| format!("while writing {}", path.display()))?;
    Ok(encoded)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
