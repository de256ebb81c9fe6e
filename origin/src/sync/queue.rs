//! The queue between ingestion and the command handlers.
//!
//! # The contract
//!
//! Both implementations, [`DbQueue`](super::db_queue::DbQueue) (the embedded
//! default, a table in the database) and [`SqsQueue`](super::sqs::SqsQueue)
//! (Amazon SQS FIFO, or any SQS-compatible server), promise the same:
//!
//! - **Ordering per group.** Messages with the same [`Outgoing::group`] are
//!   delivered in the order they were sent, and a group's next message is not
//!   delivered while an earlier one is in flight (received and neither
//!   deleted nor past its visibility timeout). Different groups go in
//!   parallel. Vitrine's group is the entity (`sku:<sku>`).
//! - **Deduplication.** A message sent again with the same
//!   [`Outgoing::dedup_id`] while the first is still known to the queue is
//!   dropped (SQS keeps ids five minutes; the database queue as long as the
//!   message is in the queue or its dead letters). The handlers are
//!   idempotent anyway, so a duplicate that slips through changes nothing.
//! - **At least once.** A received message that is not [`Queue::delete`]d
//!   before its visibility timeout runs out is delivered again, with a
//!   higher [`Delivery::receive_count`]. A handler that needs longer
//!   [`Queue::extend`]s the timeout while it works.
//! - **Dead letters.** A message received more than the configured number of
//!   times without being deleted moves to the dead letters instead of being
//!   delivered again, and its group moves on. [`Queue::dead_letters`] lists
//!   them; [`Queue::redrive`] puts them back at the end of the queue.
//! - **Batches.** [`Queue::send`] takes any number of messages (it sends them
//!   ten at a time where the server limits batches); [`Queue::receive`]
//!   returns at most ten, waiting up to `wait` for the first (long polling).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Most messages one receive returns, and one send batch holds (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// A message to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The ordering group: messages of one group are delivered in order.
    pub group: String,
    /// Duplicates of this id are dropped (1 to 128 printable ASCII characters).
    pub dedup_id: String,
    /// The message, a JSON [`Envelope`](super::event::Envelope).
    pub body: String,
}

/// A received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message's group.
    pub group: String,
    /// The message's deduplication id.
    pub dedup_id: String,
    /// The message as sent.
    pub body: String,
    /// Names this delivery to [`Queue::delete`] and [`Queue::extend`]; a later
    /// delivery of the same message has another one.
    pub receipt: String,
    /// How many times the message has been received, this time included (1 first).
    pub receive_count: u32,
    /// When the message was first sent.
    pub sent_at: DateTime<Utc>,
}

/// A message that was received too often and moved to the dead letters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DeadLetter {
    /// The message's deduplication id (Vitrine's event id): what
    /// [`Queue::redrive`] takes.
    pub id: String,
    /// The message's group.
    pub group: String,
    /// The message as sent.
    pub body: String,
    /// How many times it was received before it moved.
    pub receive_count: u32,
    /// When it was first sent.
    pub sent_at: DateTime<Utc>,
}

/// How full the queue is.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// Messages waiting to be received (not in flight, not dead).
    pub backlog: u64,
    /// Messages received and not yet deleted.
    pub in_flight: u64,
    /// Dead letters.
    pub dead: u64,
    /// Age of the oldest message not yet deleted, in seconds, where the
    /// server tells it (the database queue does; SQS only through CloudWatch).
    pub oldest_age_secs: Option<f64>,
}

/// A queue operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The server could not be reached or refused the call; worth retrying.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The call itself is wrong (a receipt that is no longer valid, a
    /// message the server refuses); retrying the same call will not help.
    #[error("queue refused the call: {0}")]
    Refused(String),
}

impl From<sqlx::Error> for QueueError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// The queue contract (see the module docs).
pub trait Queue: Send + Sync {
    /// Enqueues `messages`, in order.
    fn send(&self, messages: &[Outgoing]) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Receives up to `max` (at most [`MAX_BATCH`]) messages, waiting up to
    /// `wait` for the first; each stays invisible for `visibility`.
    fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, QueueError>> + Send;

    /// Makes the delivery named by `receipt` invisible for `visibility` from
    /// now (longer to keep working on it, or shorter to have it back sooner).
    fn extend(&self, receipt: &str, visibility: Duration) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Deletes the delivered message named by `receipt`: it was handled.
    fn delete(&self, receipt: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// How full the queue is.
    fn stats(&self) -> impl Future<Output = Result<QueueStats, QueueError>> + Send;

    /// Up to `limit` dead letters, oldest first.
    fn dead_letters(&self, limit: usize) -> impl Future<Output = Result<Vec<DeadLetter>, QueueError>> + Send;

    /// Puts the dead letter `id` (or, with `None`, every dead letter) back at
    /// the end of the queue with a fresh receive count; returns how many moved.
    fn redrive(&self, id: Option<&str>) -> impl Future<Output = Result<u64, QueueError>> + Send;
}

/// Whether `id` can be a deduplication id: 1 to 128 printable ASCII
/// characters without spaces (SQS's rule, kept for both queues).
pub fn valid_dedup_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}
