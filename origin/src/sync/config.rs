//! Settings of the sync pipeline (flattened into the origin's [`Config`](crate::config::Config)).

use std::path::PathBuf;
use std::time::Duration;

/// Which queue carries the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueKind {
    /// A table in the origin's database (the embedded default).
    Db,
    /// Amazon SQS FIFO, or an SQS-compatible server at `--sqs-endpoint`.
    Sqs,
}

/// Settings of ingestion, the queue and the command handlers.
#[derive(Clone, Debug, clap::Args)]
pub struct SyncConfig {
    /// Which queue carries ingested events to the handlers.
    #[arg(long = "sync-queue", env = "VITRINE_SYNC_QUEUE", value_enum, default_value = "db")]
    pub queue: QueueKind,

    /// URL of the SQS FIFO queue (`.fifo`), with `--sync-queue sqs`.
    #[arg(long, env = "VITRINE_SQS_QUEUE_URL")]
    pub sqs_queue_url: Option<String>,

    /// URL of the SQS FIFO dead-letter queue that the main queue's redrive
    /// policy names, for listing and redriving dead letters.
    #[arg(long, env = "VITRINE_SQS_DLQ_URL")]
    pub sqs_dlq_url: Option<String>,

    /// AWS region of the queues.
    #[arg(long, env = "VITRINE_SQS_REGION", default_value = "us-east-1")]
    pub sqs_region: String,

    /// Endpoint of an SQS-compatible server (e.g. `http://127.0.0.1:9324`);
    /// unset means AWS's endpoint for the region. Credentials come from the
    /// usual AWS environment variables.
    #[arg(long, env = "VITRINE_SQS_ENDPOINT")]
    pub sqs_endpoint: Option<String>,

    /// Receives of one message before it moves to the dead letters. On SQS
    /// this is the queue's redrive policy, set where the queue is created;
    /// the database queue reads it from here.
    #[arg(long = "sync-max-receives", env = "VITRINE_SYNC_MAX_RECEIVES", default_value_t = 5)]
    pub max_receives: u32,

    /// How long a received event stays invisible to other workers, in
    /// seconds; a handler still working extends it.
    #[arg(
        long = "sync-visibility-secs",
        env = "VITRINE_SYNC_VISIBILITY_SECS",
        default_value_t = 30
    )]
    pub visibility_secs: u64,

    /// How many workers receive and handle events at once.
    #[arg(long = "sync-workers", env = "VITRINE_SYNC_WORKERS", default_value_t = 4)]
    pub workers: usize,

    /// First retry delay of a failed event, in milliseconds; doubled per
    /// receive, with jitter, up to `--sync-retry-max-ms`.
    #[arg(
        long = "sync-retry-base-ms",
        env = "VITRINE_SYNC_RETRY_BASE_MS",
        default_value_t = 500
    )]
    pub retry_base_ms: u64,

    /// Longest retry delay, in milliseconds.
    #[arg(
        long = "sync-retry-max-ms",
        env = "VITRINE_SYNC_RETRY_MAX_MS",
        default_value_t = 60_000
    )]
    pub retry_max_ms: u64,

    /// How many waiting events the pipeline is sized for; exported as
    /// `vitrine_sync_queue_capacity`, the alert rules fire at 10 % of it.
    #[arg(
        long = "sync-queue-capacity",
        env = "VITRINE_SYNC_QUEUE_CAPACITY",
        default_value_t = 100_000
    )]
    pub queue_capacity: u64,

    /// Shared secret of `POST /webhooks/erp` (HMAC-SHA256); unset means the
    /// endpoint refuses everything.
    #[arg(long, env = "VITRINE_ERP_WEBHOOK_SECRET", hide_env_values = true)]
    pub erp_webhook_secret: Option<String>,

    /// How far a webhook's timestamp may be from now, in seconds; older or
    /// newer ones are refused as replays.
    #[arg(long, env = "VITRINE_WEBHOOK_TOLERANCE_SECS", default_value_t = 300)]
    pub webhook_tolerance_secs: u64,

    /// A catalog feed to poll: a file path or an `http://`/`https://` URL,
    /// JSON Lines (`.jsonl`, `.ndjson`, or that content type) or CSV (`.csv`,
    /// `text/csv`); unset means no polling.
    #[arg(long, env = "VITRINE_CATALOG_FEED")]
    pub catalog_feed: Option<String>,

    /// How often the catalog feed is read, in seconds.
    #[arg(long, env = "VITRINE_CATALOG_FEED_INTERVAL_SECS", default_value_t = 300)]
    pub catalog_feed_interval_secs: u64,

    /// Where a catalog feed read from a URL is kept while it is processed;
    /// unset means the data directory.
    #[arg(long, env = "VITRINE_CATALOG_FEED_SPOOL")]
    pub catalog_feed_spool: Option<PathBuf>,
}

impl SyncConfig {
    /// The defaults (the embedded default: the database queue, no webhook
    /// secret, no feed).
    pub fn embedded() -> Self {
        Self {
            queue: QueueKind::Db,
            sqs_queue_url: None,
            sqs_dlq_url: None,
            sqs_region: "us-east-1".into(),
            sqs_endpoint: None,
            max_receives: 5,
            visibility_secs: 30,
            workers: 4,
            retry_base_ms: 500,
            retry_max_ms: 60_000,
            queue_capacity: 100_000,
            erp_webhook_secret: None,
            webhook_tolerance_secs: 300,
            catalog_feed: None,
            catalog_feed_interval_secs: 300,
            catalog_feed_spool: None,
        }
    }

    /// The visibility timeout.
    pub fn visibility(&self) -> Duration {
        Duration::from_secs(self.visibility_secs.max(1))
    }

    /// What is wrong with these settings, if anything.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.queue == QueueKind::Sqs {
            anyhow::ensure!(
                self.sqs_queue_url.is_some(),
                "--sync-queue sqs needs --sqs-queue-url (VITRINE_SQS_QUEUE_URL)"
            );
        }
        anyhow::ensure!(
            self.max_receives >= 1,
            "--sync-max-receives (VITRINE_SYNC_MAX_RECEIVES) must be at least 1"
        );
        anyhow::ensure!(
            self.workers >= 1,
            "--sync-workers (VITRINE_SYNC_WORKERS) must be at least 1"
        );
        anyhow::ensure!(
            self.retry_base_ms <= self.retry_max_ms,
            "--sync-retry-base-ms must not exceed --sync-retry-max-ms"
        );
        if let Some(secret) = &self.erp_webhook_secret {
            anyhow::ensure!(
                secret.len() >= 32,
                "VITRINE_ERP_WEBHOOK_SECRET must be at least 32 bytes"
            );
        }
        Ok(())
    }
}
