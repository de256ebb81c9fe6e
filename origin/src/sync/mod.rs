//! The sync pipeline: what the ERP, the catalog feed and payment providers
//! send comes in through [`webhook`], [`feed`] and [`payment`], goes on a
//! [`queue`] grouped by entity (so one SKU's or one payment's events apply in
//! order, different ones in parallel), and is applied by the [`handler`]s,
//! idempotently and in the same transaction as its outbox row. The change
//! feed's relay then publishes the change to the edges and the search index.
//!
//! ```text
//! POST /webhooks/erp ─────────────────┐
//! catalog feed poll ──────────────────┼─> queue ─> worker ─> handler: one transaction of
//! POST /webhooks/payments/{provider} ─┘  (FIFO      │         the change, sync_processed
//!   (verified by the provider's plugin)   per group) │         and the outbox row
//!                                                    └─> dead letters (admin: list, redrive)
//! ```

pub mod config;
pub mod db_queue;
pub mod event;
pub mod feed;
pub mod handler;
pub mod http;
pub mod payment;
pub mod queue;
pub mod sqs;
pub mod webhook;
pub mod worker;

use std::time::Duration;

pub use config::{QueueKind, SyncConfig};
use db_queue::DbQueue;
use queue::{DeadLetter, Delivery, Outgoing, Queue, QueueError, QueueStats};
use sqs::SqsQueue;

/// The configured queue: one of the two implementations of [`Queue`].
#[derive(Clone, Debug)]
pub enum SyncQueue {
    /// The database queue (embedded default).
    Db(DbQueue),
    /// Amazon SQS FIFO or an SQS-compatible server.
    Sqs(SqsQueue),
}

impl SyncQueue {
    /// The queue `config` names, over `db` for the database queue.
    pub async fn connect(config: &SyncConfig, db: crate::db::Db) -> anyhow::Result<Self> {
        Ok(match config.queue {
            QueueKind::Db => Self::Db(DbQueue::new(db, config.max_receives)),
            QueueKind::Sqs => Self::Sqs(SqsQueue::connect(config).await?),
        })
    }

    /// `db` or `sqs`, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Db(_) => "db",
            Self::Sqs(_) => "sqs",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $q:ident => $body:expr) => {
        match $self {
            SyncQueue::Db($q) => $body,
            SyncQueue::Sqs($q) => $body,
        }
    };
}

impl Queue for SyncQueue {
    async fn send(&self, messages: &[Outgoing]) -> Result<(), QueueError> {
        delegate!(self, q => q.send(messages).await)
    }

    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        delegate!(self, q => q.receive(max, wait, visibility).await)
    }

    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        delegate!(self, q => q.extend(receipt, visibility).await)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        delegate!(self, q => q.delete(receipt).await)
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        delegate!(self, q => q.stats().await)
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        delegate!(self, q => q.dead_letters(limit).await)
    }

    async fn redrive(&self, id: Option<&str>) -> Result<u64, QueueError> {
        delegate!(self, q => q.redrive(id).await)
    }
}
