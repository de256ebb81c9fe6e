//! The sender: fans out new changes, claims due deliveries, POSTs them and
//! records each outcome.
//!
//! A claim is one `UPDATE` that leases up to [`PER_ENDPOINT`] due deliveries
//! of each endpoint that has none leased already (oldest first), so an
//! endpoint's deliveries go out one at a time, in feed order, from one
//! sender, while other endpoints' go out in parallel. Postgres re-checks the
//! `status` and `lease_until_ms` conditions on a row another replica leased
//! meanwhile, so two replicas never claim one row. An outcome is recorded only
//! while the lease is still this sender's (`lease_until_ms` unchanged) and the
//! delivery still pending (not cancelled by a delete).
//!
//! 2xx is delivered. Anything else (another status, a connect error, the
//! deadline) is retried after base × 2^(attempts−1), at most the maximum,
//! times a random 50–100 %, until `max_attempts`, then it is `failed`. After
//! a failure the endpoint's other claimed deliveries are released untried:
//! the next round takes them, and a dead endpoint costs one attempt per round.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::NotificationsConfig;
use crate::db::{Db, now_ms};
use crate::state::AppState;
use crate::with_db;

/// Deliveries of one endpoint claimed at once.
pub const PER_ENDPOINT: i64 = 5;

/// Longest `last_error` kept, in characters.
pub const MAX_ERROR_CHARS: usize = 300;

/// Most bytes of a refusing answer's body read into `last_error`.
const ERROR_BODY_BYTES: usize = 256;

/// How often the pending gauge is refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(1);

/// A leased delivery.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    /// The delivery.
    pub id: Uuid,
    /// Its endpoint.
    pub endpoint_id: Uuid,
    /// Its change's feed number (the order of an endpoint's deliveries).
    pub feed_seq: i64,
    /// The topic.
    pub topic: String,
    /// The bytes to sign and send.
    pub body: String,
    /// Attempts before this one.
    pub attempts: i64,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The answer's status, if there was one.
    pub status_code: Option<u16>,
    /// Why it failed, if it did (truncated).
    pub error: Option<String>,
}

impl Attempt {
    fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Leases up to [`PER_ENDPOINT`] due deliveries of each endpoint without a
/// live lease, at most `limit` in all, until `lease_until_ms`; returns them
/// by endpoint, each endpoint's in feed order.
pub async fn claim(db: &Db, now: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<Vec<Claimed>>, sqlx::Error> {
    let claimed: Vec<Claimed> = with_db!(db, pool => sqlx::query_as(
        "UPDATE webhook_deliveries SET lease_until_ms = $1 \
         WHERE id IN ( \
           SELECT id FROM ( \
             SELECT d.id, d.feed_seq, \
                    ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.feed_seq) AS n \
             FROM webhook_deliveries d \
             WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $2 AND d.lease_until_ms <= $2 \
               AND d.endpoint_id NOT IN ( \
                 SELECT endpoint_id FROM webhook_deliveries WHERE status = 'pending' AND lease_until_ms > $2) \
           ) ranked WHERE n <= $3 ORDER BY feed_seq LIMIT $4) \
         AND status = 'pending' AND lease_until_ms <= $2 \
         RETURNING id, endpoint_id, feed_seq, topic, body, attempts"
    ).bind(lease_until_ms).bind(now).bind(PER_ENDPOINT).bind(limit).fetch_all(pool).await)?;
    let mut by_endpoint: BTreeMap<Uuid, Vec<Claimed>> = BTreeMap::new();
    for delivery in claimed {
        by_endpoint.entry(delivery.endpoint_id).or_default().push(delivery);
    }
    Ok(by_endpoint
        .into_values()
        .map(|mut group| {
            group.sort_by_key(|d| d.feed_seq);
            group
        })
        .collect())
}

/// Whether a delivery is due and unleased (a read, so idle rounds take no
/// write lock).
async fn anything_due(db: &Db, now: i64) -> Result<bool, sqlx::Error> {
    with_db!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries \
         WHERE status = 'pending' AND next_attempt_at_ms <= $1 AND lease_until_ms <= $1)"
    ).bind(now).fetch_one(pool).await)
}

/// Deliveries waiting to be sent.
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    with_db!(db, pool => sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
        .fetch_one(pool).await)
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// `err` with its causes, for `last_error`.
fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = if err.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// POSTs `delivery` to `url`, signed with `secret`.
pub async fn attempt(
    client: &reqwest::Client,
    timeout: Duration,
    url: &str,
    secret: &str,
    delivery: &Claimed,
) -> Attempt {
    let signed_at = chrono::Utc::now().timestamp();
    let signature = crate::sync::webhook::sign(secret.as_bytes(), signed_at, delivery.body.as_bytes());
    let sent = client
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(super::EVENT_HEADER, &delivery.topic)
        .header(super::DELIVERY_HEADER, delivery.id.to_string())
        .header(super::SIGNATURE_HEADER, signature)
        .body(delivery.body.clone())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => {
            return Attempt {
                status_code: None,
                error: Some(truncate(&describe(&e, timeout))),
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt {
            status_code: Some(status.as_u16()),
            error: None,
        };
    }
    // A few bytes of the refusal, for the log; the rest is not read.
    let mut head = Vec::new();
    while head.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    head.truncate(ERROR_BODY_BYTES);
    let snippet = String::from_utf8_lossy(&head);
    let snippet = snippet.trim();
    let error = if snippet.is_empty() {
        format!("answered {status}")
    } else {
        format!("answered {status}: {snippet}")
    };
    Attempt {
        status_code: Some(status.as_u16()),
        error: Some(truncate(&error)),
    }
}

/// The jittered delay before the retry after attempt number `attempts`.
pub fn retry_delay_ms(config: &NotificationsConfig, attempts: u32) -> u64 {
    let full = config.backoff_ms(attempts);
    rand::thread_rng().gen_range(full / 2..=full.max(1))
}

/// Records `outcome` of attempt number `attempts` of `delivery`, if the lease
/// `lease_until_ms` is still held; returns the outcome's metric label, or
/// `None` when the lease was lost (or the delivery cancelled).
pub async fn record(
    db: &Db,
    config: &NotificationsConfig,
    delivery: &Claimed,
    lease_until_ms: i64,
    outcome: &Attempt,
) -> Result<Option<&'static str>, sqlx::Error> {
    let attempts = delivery.attempts + 1;
    let now = now_ms();
    let code = outcome.status_code.map(i64::from);
    let (label, status, next_attempt_at_ms, delivered_at_ms) = if outcome.delivered() {
        ("delivered", "delivered", now, Some(now))
    } else if attempts >= i64::from(config.max_attempts) {
        ("failed", "failed", now, None)
    } else {
        let tried = u32::try_from(attempts).unwrap_or(u32::MAX);
        let delay = i64::try_from(retry_delay_ms(config, tried)).unwrap_or(i64::MAX / 2);
        ("retried", "pending", now.saturating_add(delay), None)
    };
    let updated = with_db!(db, pool => sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, attempts = $2, last_status_code = $3, last_error = $4, \
         next_attempt_at_ms = $5, delivered_at_ms = $6, lease_until_ms = 0 \
         WHERE id = $7 AND status = 'pending' AND lease_until_ms = $8"
    )
    .bind(status).bind(attempts).bind(code).bind(outcome.error.as_deref()).bind(next_attempt_at_ms)
    .bind(delivered_at_ms).bind(delivery.id).bind(lease_until_ms)
    .execute(pool).await.map(|done| done.rows_affected()))?;
    Ok((updated == 1).then_some(label))
}

/// Gives back the leases of `deliveries`, untried.
async fn release(db: &Db, deliveries: &[Claimed], lease_until_ms: i64) {
    for delivery in deliveries {
        let released = with_db!(db, pool => sqlx::query(
            "UPDATE webhook_deliveries SET lease_until_ms = 0 WHERE id = $1 AND lease_until_ms = $2"
        ).bind(delivery.id).bind(lease_until_ms).execute(pool).await.map(drop));
        if let Err(e) = released {
            // The lease runs out by itself.
            tracing::debug!(error = %e, delivery = %delivery.id, "releasing a webhook delivery failed");
        }
    }
}

struct Sender {
    db: Db,
    config: NotificationsConfig,
    client: reqwest::Client,
}

impl Sender {
    /// Sends one endpoint's claimed deliveries in order, stopping at the
    /// first failure or when `stop` turns true.
    async fn send_group(self: Arc<Self>, group: Vec<Claimed>, lease_until_ms: i64, stop: watch::Receiver<bool>) {
        let Some(endpoint_id) = group.first().map(|d| d.endpoint_id) else {
            return;
        };
        let target: Result<Option<(String, String)>, sqlx::Error> = with_db!(&self.db, pool => sqlx::query_as(
            "SELECT url, secret FROM webhook_endpoints WHERE id = $1 AND deleted_at_ms IS NULL"
        ).bind(endpoint_id).fetch_optional(pool).await);
        let (url, secret) = match target {
            Ok(Some(target)) => target,
            Ok(None) => return, // Deleted: its deliveries are cancelled.
            Err(e) => {
                tracing::warn!(error = %e, endpoint = %endpoint_id, "loading a webhook endpoint failed");
                return release(&self.db, &group, lease_until_ms).await;
            }
        };
        let timeout = self.config.timeout();
        for (i, delivery) in group.iter().enumerate() {
            if *stop.borrow() {
                return release(&self.db, &group[i..], lease_until_ms).await;
            }
            let started = Instant::now();
            let outcome = attempt(&self.client, timeout, &url, &secret, delivery).await;
            metrics::histogram!("vitrine_webhook_delivery_seconds").record(started.elapsed().as_secs_f64());
            match record(&self.db, &self.config, delivery, lease_until_ms, &outcome).await {
                Ok(Some(label)) => {
                    metrics::counter!("vitrine_webhook_deliveries_total", "outcome" => label).increment(1);
                    if label == "delivered" {
                        tracing::debug!(delivery = %delivery.id, endpoint = %endpoint_id, topic = %delivery.topic, "webhook delivered");
                    } else {
                        tracing::info!(
                            delivery = %delivery.id,
                            endpoint = %endpoint_id,
                            attempts = delivery.attempts + 1,
                            error = outcome.error.as_deref().unwrap_or_default(),
                            outcome = label,
                            "a webhook delivery failed"
                        );
                    }
                }
                Ok(None) => {
                    tracing::info!(delivery = %delivery.id, "a webhook delivery's lease ran out or it was cancelled before its outcome was recorded");
                }
                Err(e) => {
                    // The lease runs out and the delivery is sent again.
                    tracing::warn!(error = %e, delivery = %delivery.id, "recording a webhook delivery failed");
                }
            }
            if !outcome.delivered() {
                return release(&self.db, &group[i + 1..], lease_until_ms).await;
            }
        }
    }
}

/// The lease of a claim: long enough to send [`PER_ENDPOINT`] deliveries
/// one after another, each up to the deadline.
fn lease_ms(config: &NotificationsConfig) -> i64 {
    let per = i64::try_from(config.timeout_ms).unwrap_or(i64::MAX / 64) + 1_000;
    per.saturating_mul(PER_ENDPOINT) + 5_000
}

/// Fans out and sends until `stop` turns true, then lets the attempts in
/// flight finish (each within the deadline) and gives back the leases of
/// the rest. Fan-out and claims run every `poll_interval_ms` and whenever
/// this process's relay numbers new changes.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let config = state.config.notifications.clone();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vitrine-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "building the webhook http client failed; no webhooks are sent");
            return;
        }
    };
    let sender = Arc::new(Sender {
        db: state.db.clone(),
        config: config.clone(),
        client,
    });
    let feed = state.feed.clone();
    let mut tick = tokio::time::interval(Duration::from_millis(config.poll_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut last_gauge: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = tick.tick() => {}
            () = feed.sequenced() => {}
        }
        if *stop.borrow() {
            break;
        }
        match super::fanout::fan_out_all(&state.db).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deliveries = n, "webhook deliveries made"),
            Err(e) => tracing::warn!(error = %e, "fanning out webhook deliveries failed"),
        }
        while in_flight.try_join_next().is_some() {}
        let free = config.concurrency.saturating_sub(in_flight.len());
        let now = now_ms();
        if free > 0 && anything_due(&state.db, now).await.unwrap_or(false) {
            let lease_until_ms = now + lease_ms(&config);
            let limit = i64::try_from(free).unwrap_or(i64::MAX);
            match claim(&state.db, now, lease_until_ms, limit).await {
                Ok(groups) => {
                    for group in groups {
                        in_flight.spawn(sender.clone().send_group(group, lease_until_ms, stop.clone()));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        if last_gauge.is_none_or(|t| t.elapsed() >= GAUGE_EVERY) {
            last_gauge = Some(Instant::now());
            if let Ok(n) = pending(&state.db).await {
                metrics::gauge!("vitrine_webhook_pending").set(n as f64);
            }
        }
    }
    while in_flight.join_next().await.is_some() {}
    tracing::debug!("webhook sender stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_ERROR_CHARS + 10);
        let cut = truncate(&long);
        assert_eq!(
            cut.chars().count(),
            MAX_ERROR_CHARS + 1,
            "the kept characters and an ellipsis"
        );
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn retry_delays_are_jittered_within_half_to_the_full_backoff() {
        let config = NotificationsConfig::embedded();
        for attempts in 1..=14 {
            let full = config.backoff_ms(attempts);
            let delay = retry_delay_ms(&config, attempts);
            assert!((full / 2..=full).contains(&delay), "{attempts}: {delay} of {full}");
        }
    }
}
