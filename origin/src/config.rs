//! The origin's settings: flags with environment overrides (`vitrine-origin
//! serve --help` lists them all). Nothing here is required: with no settings at
//! all the origin runs on the embedded default under `./vitrine-data`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one origin process.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Where the embedded default keeps its state (SQLite file, signing key).
    #[arg(long, env = "VITRINE_DATA_DIR", default_value = "./vitrine-data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL (`postgres://...`) or SQLite URL (`sqlite://...`);
    /// unset means the SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Redis URL for carts; unset keeps carts in the database.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key this origin writes, so several deployments
    /// (or tests) can share one Redis.
    #[arg(long, env = "VITRINE_REDIS_PREFIX", default_value = "vitrine:")]
    pub redis_prefix: String,

    /// Maximum pooled database connections.
    #[arg(long, env = "VITRINE_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Secret for signing access tokens (HS256), at least 32 bytes; unset means
    /// a random one generated once and kept in the data directory.
    #[arg(long, env = "VITRINE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "VITRINE_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Lifetime of a refresh token, in seconds.
    #[arg(long, env = "VITRINE_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,

    /// How long an `Idempotency-Key` and its stored response are kept, in seconds.
    #[arg(long, env = "VITRINE_IDEMPOTENCY_TTL_SECS", default_value_t = 24 * 3600)]
    pub idempotency_ttl_secs: u64,

    /// How long an untouched cart lives, in seconds.
    #[arg(long, env = "VITRINE_CART_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub cart_ttl_secs: u64,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "VITRINE_BODY_LIMIT_BYTES", default_value_t = 64 * 1024)]
    pub body_limit_bytes: usize,

    /// Largest total size of a request's headers, in bytes; larger gets 431.
    #[arg(long, env = "VITRINE_HEADER_LIMIT_BYTES", default_value_t = 16 * 1024)]
    pub header_limit_bytes: usize,

    /// Deadline for one request, in seconds.
    #[arg(long, env = "VITRINE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// The store's currency (ISO 4217); carts and orders are in it.
    #[arg(long, env = "VITRINE_CURRENCY", default_value = "ZAR")]
    pub currency: String,

    /// Flat shipping fee in minor units, charged on every order below the
    /// free-shipping threshold.
    #[arg(long, env = "VITRINE_SHIPPING_FEE_MINOR", default_value_t = 9_900)]
    pub shipping_fee_minor: i64,

    /// Secret shared with the edges, for verifying signed requests; unset
    /// means requests claiming to be signed by an edge are refused.
    #[arg(long, env = "VITRINE_EDGE_SECRET", hide_env_values = true)]
    pub edge_secret: Option<String>,

    /// How far an edge signature's timestamp may be from now, in seconds.
    #[arg(long, env = "VITRINE_EDGE_SIGNATURE_MAX_AGE_SECS", default_value_t = 30)]
    pub edge_signature_max_age_secs: u64,

    /// `s-maxage` of catalog responses, in seconds.
    #[arg(long, env = "VITRINE_CATALOG_S_MAXAGE", default_value_t = 300)]
    pub catalog_s_maxage: u64,

    /// `stale-while-revalidate` of catalog responses, in seconds.
    #[arg(long, env = "VITRINE_CATALOG_SWR", default_value_t = 60)]
    pub catalog_stale_while_revalidate: u64,

    /// `stale-if-error` of catalog responses, in seconds.
    #[arg(long, env = "VITRINE_CATALOG_SIE", default_value_t = 86_400)]
    pub catalog_stale_if_error: u64,

    /// How often the change-feed relay numbers new outbox rows (and publishes
    /// them to the Redis stream), in milliseconds. It also runs right after
    /// every write this process answers.
    #[arg(long, env = "VITRINE_FEED_RELAY_INTERVAL_MS", default_value_t = 50)]
    pub feed_relay_interval_ms: u64,

    /// How long numbered changes stay in the database's change feed, in
    /// seconds; an edge further behind than this starts over with an empty cache.
    #[arg(long, env = "VITRINE_FEED_RETENTION_SECS", default_value_t = 7 * 24 * 3600)]
    pub feed_retention_secs: u64,

    /// Approximate length the Redis change stream is trimmed to (`MAXLEN ~`).
    #[arg(long, env = "VITRINE_FEED_STREAM_MAXLEN", default_value_t = 100_000)]
    pub feed_stream_maxlen: u64,

    /// Where the search index lives (on this machine's disk, also with
    /// Postgres); unset means `<data-dir>/search`.
    #[arg(long, env = "VITRINE_SEARCH_DIR")]
    pub search_dir: Option<PathBuf>,

    /// Search synonyms on top of the defaults: `word=alternative|alternative,…`,
    /// an alternative may be several words (`flex=extension lead`).
    #[arg(long, env = "VITRINE_SEARCH_SYNONYMS", default_value = "")]
    pub search_synonyms: String,

    /// `s-maxage` (and `stale-while-revalidate`) of search answers, in seconds.
    #[arg(long, env = "VITRINE_SEARCH_S_MAXAGE", default_value_t = 30)]
    pub search_s_maxage: u64,

    /// Shortest time between two commits of the search index while changes
    /// flow, in milliseconds: a change is searchable about this long (plus
    /// the relay interval) after its commit.
    #[arg(long, env = "VITRINE_SEARCH_COMMIT_INTERVAL_MS", default_value_t = 100)]
    pub search_commit_interval_ms: u64,

    /// The operator's plugin config (the edge's format, e.g.
    /// `edge-config/vitrine.toml`): the origin installs its payment plugins,
    /// which verify `POST /webhooks/payments/{provider}`. Unset: no payment
    /// provider's webhooks are accepted.
    #[arg(long, env = "VITRINE_PLUGINS_CONFIG")]
    pub plugins_config: Option<PathBuf>,

    /// The sync pipeline: queue, handlers, webhooks, catalog feed.
    #[command(flatten)]
    pub sync: crate::sync::SyncConfig,

    /// The payment worker: captures, refunds, deferred authorizations.
    #[command(flatten)]
    pub payments: crate::payments::PaymentsConfig,
    /// Outgoing webhooks: retries, deadline, polling.
    #[command(flatten)]
    pub notifications: crate::notifications::NotificationsConfig,
}

impl Config {
    /// The settings a process gets with no flags and no environment, rooted at
    /// `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            redis_url: None,
            redis_prefix: "vitrine:".into(),
            db_max_connections: 16,
            jwt_secret: None,
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            idempotency_ttl_secs: 24 * 3600,
            cart_ttl_secs: 30 * 24 * 3600,
            body_limit_bytes: 64 * 1024,
            header_limit_bytes: 16 * 1024,
            request_timeout_secs: 30,
            currency: "ZAR".into(),
            shipping_fee_minor: 9_900,
            edge_secret: None,
            edge_signature_max_age_secs: 30,
            catalog_s_maxage: 300,
            catalog_stale_while_revalidate: 60,
            catalog_stale_if_error: 86_400,
            feed_relay_interval_ms: 50,
            feed_retention_secs: 7 * 24 * 3600,
            feed_stream_maxlen: 100_000,
            search_dir: None,
            search_synonyms: String::new(),
            search_s_maxage: 30,
            search_commit_interval_ms: 100,
            plugins_config: None,
            sync: crate::sync::SyncConfig::embedded(),
            payments: crate::payments::PaymentsConfig::embedded(),
            notifications: crate::notifications::NotificationsConfig::embedded(),
        }
    }

    /// The database URL in effect: the configured one, else the embedded file.
    pub fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::db::Db::embedded_url(&self.data_dir))
    }

    /// Checks values that flags alone cannot constrain.
    pub fn validate(&self) -> anyhow::Result<()> {
        let currency_ok = self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase());
        anyhow::ensure!(
            currency_ok,
            "currency `{}` is not an ISO 4217 code such as ZAR",
            self.currency
        );
        anyhow::ensure!(self.shipping_fee_minor >= 0, "shipping fee must not be negative");
        anyhow::ensure!(
            self.body_limit_bytes >= 1024,
            "body limit below 1024 bytes would refuse ordinary requests"
        );
        anyhow::ensure!(
            (1..=60_000).contains(&self.feed_relay_interval_ms),
            "feed relay interval must be between 1 and 60000 ms"
        );
        anyhow::ensure!(self.feed_stream_maxlen >= 1, "feed stream maxlen must be at least 1");
        anyhow::ensure!(
            (1..=10_000).contains(&self.search_commit_interval_ms),
            "search commit interval must be between 1 and 10000 ms"
        );
        crate::search::query::Synonyms::parse(&crate::search::schema::analyzer(), &self.search_synonyms)
            .map_err(|e| anyhow::anyhow!("VITRINE_SEARCH_SYNONYMS: {e}"))?;
        if let Some(secret) = &self.edge_secret {
            anyhow::ensure!(secret.len() >= 32, "edge secret must be at least 32 bytes");
        }
        self.sync.validate()?;
        self.notifications.validate()?;
        if let Some(secret) = &self.jwt_secret {
            anyhow::ensure!(secret.len() >= 32, "jwt secret must be at least 32 bytes");
        }
        Ok(())
    }

    /// Access token lifetime.
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }
}

/// Where the server listens.
#[derive(Clone, Debug, clap::Args)]
pub struct Listen {
    /// Address to listen on.
    #[arg(long, env = "VITRINE_ORIGIN_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
}
