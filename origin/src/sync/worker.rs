//! The workers: receive a batch, handle each group's events in order (groups
//! in parallel), delete what was handled, and back off what failed.
//!
//! While a batch is worked on, a heartbeat extends the visibility of every
//! message of it not yet handled, so neither a slow handler's message nor
//! one waiting behind it is handed to a second worker. A failed event is made
//! visible again after an exponential delay with jitter (base × 2^(receives−1),
//! at most the configured maximum, times a random 50–100 %); the rest of its
//! group in the same batch waits with it, so the group keeps its order. Its
//! last error is kept in `sync_failures` for the admin's dead-letter list.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng as _;

use super::SyncQueue;
use super::event::Envelope;
use super::handler::{self, HandleError, Outcome};
use super::queue::{Delivery, MAX_BATCH, Queue as _};
use crate::db::Db;
use crate::state::AppState;
use crate::with_db;

/// How long one receive waits for messages (long polling).
const RECEIVE_WAIT: Duration = Duration::from_secs(5);

/// What the workers need.
#[derive(Clone, Debug)]
pub struct Worker {
    /// Where events come from.
    pub queue: SyncQueue,
    /// Where they are applied.
    pub db: Db,
    /// The store's currency (of products the ERP creates).
    pub currency: String,
    /// The pipeline's settings.
    pub config: super::SyncConfig,
}

impl Worker {
    /// The worker of `state`.
    pub fn of(state: &AppState) -> Self {
        Self {
            queue: state.sync.queue.clone(),
            db: state.db.clone(),
            currency: state.config.currency.clone(),
            config: state.config.sync.clone(),
        }
    }

    /// Receives and handles batches until the task is dropped.
    pub async fn run(self) {
        let (_never, stop) = tokio::sync::watch::channel(false);
        self.run_until(stop).await;
    }

    /// Receives and handles batches until `stop` turns true, then returns
    /// once the batch in hand is handled: a receive in progress is given up
    /// (what it would have got stays in the queue), a batch received is
    /// finished and deleted, so a graceful stop redelivers nothing.
    pub async fn run_until(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            let batch = tokio::select! {
                biased;
                _ = stop.changed() => break,
                batch = self.queue.receive(MAX_BATCH, RECEIVE_WAIT, self.config.visibility()) => batch,
            };
            match batch {
                Ok(batch) => self.handle_batch(batch).await,
                Err(e) => {
                    tracing::warn!(error = %e, "receiving sync events failed; retrying shortly");
                    tokio::select! {
                        _ = stop.changed() => {}
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        tracing::debug!("sync worker stopped");
    }

    /// One receive and the handling of what it got; returns how many
    /// messages it received.
    pub async fn round(&self, wait: Duration) -> Result<usize, super::queue::QueueError> {
        let batch = self.queue.receive(MAX_BATCH, wait, self.config.visibility()).await?;
        let received = batch.len();
        self.handle_batch(batch).await;
        Ok(received)
    }

    /// Handles a received batch: each group in order, groups in parallel.
    async fn handle_batch(&self, batch: Vec<Delivery>) {
        let mut groups: Vec<Vec<Delivery>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for delivery in batch {
            let slot = *index.entry(delivery.group.clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[slot].push(delivery);
        }
        // Every message of the batch stays ours until it is handled: the
        // heartbeat extends all that are still held, not just the running
        // ones, or a group's later message, waiting behind a slow one, could
        // time out and go to another worker, which would apply it first.
        let held: std::sync::Mutex<Vec<String>> =
            std::sync::Mutex::new(groups.iter().flatten().map(|d| d.receipt.clone()).collect());
        let work = futures_util::future::join_all(groups.into_iter().map(|group| self.handle_group(group, &held)));
        let visibility = self.config.visibility();
        let heartbeat = async {
            let every = visibility / 3;
            loop {
                tokio::time::sleep(every).await;
                let receipts = held.lock().map(|h| h.clone()).unwrap_or_default();
                for receipt in receipts {
                    if let Err(e) = self.queue.extend(&receipt, visibility).await {
                        // Most often handled and deleted a moment ago.
                        tracing::debug!(error = %e, "extending a held event's visibility failed");
                    }
                }
            }
        };
        tokio::select! {
            _ = work => {}
            () = heartbeat => {}
        }
    }

    async fn handle_group(&self, group: Vec<Delivery>, held: &std::sync::Mutex<Vec<String>>) {
        let release = |receipt: &str| {
            if let Ok(mut held) = held.lock() {
                held.retain(|r| r != receipt);
            }
        };
        let mut rest = group.into_iter();
        while let Some(delivery) = rest.next() {
            let handled = self.handle(&delivery).await;
            release(&delivery.receipt);
            if let Err(delay) = handled {
                // The group's later events wait for this one: SQS would not
                // hand them out before it anyway, and the database queue
                // must not apply them first.
                for later in std::iter::once(&delivery).chain(rest.by_ref().collect::<Vec<_>>().iter()) {
                    release(&later.receipt);
                    if let Err(e) = self.queue.extend(&later.receipt, delay).await {
                        tracing::debug!(error = %e, event = %later.dedup_id, "could not set the retry delay");
                    }
                }
                return;
            }
        }
    }

    /// Handles one delivery; `Err` carries the delay before it is retried.
    async fn handle(&self, delivery: &Delivery) -> Result<(), Duration> {
        let started = Instant::now();
        let envelope: Envelope = match serde_json::from_str(&delivery.body) {
            Ok(envelope) => envelope,
            Err(e) => {
                let error = format!("the message is not an event: {e}");
                return Err(self.failed(delivery, "unknown", &error).await);
            }
        };
        let source = envelope.source.as_str();
        let result = handler::apply(&self.db, &self.currency, &envelope).await;
        metrics::histogram!("vitrine_sync_handler_seconds", "source" => source).record(started.elapsed());
        match result {
            Ok(outcome) => {
                metrics::counter!("vitrine_sync_events_total", "source" => source, "outcome" => outcome.as_str())
                    .increment(1);
                if outcome == Outcome::Applied {
                    let lag = (chrono::Utc::now() - envelope.received_at).num_milliseconds().max(0);
                    metrics::histogram!("vitrine_sync_apply_lag_seconds", "source" => source)
                        .record(lag as f64 / 1000.0);
                }
                if let Err(e) = self.queue.delete(&delivery.receipt).await {
                    // Redelivered later, then a duplicate: harmless.
                    tracing::info!(error = %e, event = %delivery.dedup_id, "a handled event could not be deleted");
                }
                Ok(())
            }
            Err(e) => {
                let error = match &e {
                    HandleError::Rejected(why) => why.clone(),
                    HandleError::Database(e) => format!("database: {e}"),
                };
                Err(self.failed(delivery, source, &error).await)
            }
        }
    }

    /// Records a failure and works out the retry delay.
    async fn failed(&self, delivery: &Delivery, source: &'static str, error: &str) -> Duration {
        let last = delivery.receive_count >= self.config.max_receives;
        let outcome = if last { "dead_lettered" } else { "retried" };
        metrics::counter!("vitrine_sync_events_total", "source" => source, "outcome" => outcome).increment(1);
        tracing::warn!(event = %delivery.dedup_id, receives = delivery.receive_count, error, outcome, "a sync event failed");
        let attempts = i64::from(delivery.receive_count);
        let now = chrono::Utc::now().timestamp_millis();
        let recorded = with_db!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO sync_failures (event_id, last_error, attempts, failed_at_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (event_id) DO UPDATE SET last_error = excluded.last_error, \
                 attempts = excluded.attempts, failed_at_ms = excluded.failed_at_ms",
            )
            .bind(&delivery.dedup_id)
            .bind(error)
            .bind(attempts)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        });
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "recording a sync failure failed");
        }
        self.backoff(delivery.receive_count)
    }

    /// The delay before the `receives`-th retry.
    pub fn backoff(&self, receives: u32) -> Duration {
        let exp = receives.saturating_sub(1).min(20);
        let full = self
            .config
            .retry_base_ms
            .saturating_mul(1 << exp)
            .min(self.config.retry_max_ms);
        let jittered = rand::thread_rng().gen_range(full / 2..=full.max(1));
        Duration::from_millis(jittered)
    }
}

/// Publishes the queue's fill as gauges every few seconds.
pub async fn watch(queue: SyncQueue, capacity: u64) {
    metrics::gauge!("vitrine_sync_queue_capacity", "queue" => queue.kind()).set(capacity as f64);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        match queue.stats().await {
            Ok(stats) => {
                let kind = queue.kind();
                metrics::gauge!("vitrine_sync_queue_backlog", "queue" => kind).set(stats.backlog as f64);
                metrics::gauge!("vitrine_sync_queue_in_flight", "queue" => kind).set(stats.in_flight as f64);
                metrics::gauge!("vitrine_sync_dead_letters", "queue" => kind).set(stats.dead as f64);
                if let Some(age) = stats.oldest_age_secs {
                    metrics::gauge!("vitrine_sync_queue_oldest_age_seconds", "queue" => kind).set(age);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the sync queue's stats failed"),
        }
    }
}
