//! Calls the origin owes payment providers, and the worker that makes them.
//!
//! An edge authorizes a checkout's payment; everything after that is the
//! origin's, through the same payment plugins (`--plugins-config`):
//!
//! - **capture**: an order placed with an authorized payment is captured
//!   asynchronously; the capture moves the payment to `captured` and the
//!   order from `awaiting_payment` to `paid`, exactly as the provider's
//!   `captured` webhook does ([`crate::sync::payment::apply`]), so whichever
//!   comes first wins and the other changes nothing;
//! - **refund**: a refund a store manager approves is paid out with the
//!   plugin's `refund`; the refund's `payout` goes `pending` → `refunded`
//!   (or `failed`);
//! - **authorize**: an order taken while its provider was down (the edge's
//!   breaker open, and the plugin says the provider supports deferred
//!   authorization) waits as `awaiting_payment` with a `pending` payment;
//!   the worker retries the authorization with backoff until the provider
//!   authorizes it (then it is captured as above), declines it, or the
//!   deadline passes: then the order is cancelled and its stock released.
//!
//! Each obligation is a `payment_tasks` row written in the transaction that
//! creates it (the order, the refund approval), so none is lost when a
//! process dies. Workers on any number of replicas lease due tasks
//! (`FOR UPDATE SKIP LOCKED` on Postgres; SQLite serialises writers), call
//! the plugin with an idempotency key derived from the task (a retried call
//! never charges or refunds twice), and retry failures after base × 2^(n−1)
//! ms with jitter. A provider that is down, or a plugin whose breaker is
//! open, is retried; a refusal (declined, invalid) is final.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use vitrine_runtime::plugins::types::{AuthorizeRequest, CaptureRequest, Money, PaymentStatus, RefundRequest};
use vitrine_runtime::plugins::{GuestError, PaymentAnswer, PaymentCall, PluginError, PluginHost};

use crate::db::{BeginWrite as _, Db};
use crate::outbox::OutboxEvent;
use crate::state::AppState;
use crate::sync::payment::{NoticeKind, PaymentNotice};
use crate::{with_db, write_outbox};

/// The payment worker's settings.
#[derive(Clone, Debug, clap::Args)]
pub struct PaymentsConfig {
    /// First retry delay of a payment call that failed, in ms (doubles per attempt, with jitter).
    #[arg(long, env = "VITRINE_PAYMENT_RETRY_BASE_MS", default_value_t = 1_000)]
    pub payment_retry_base_ms: u64,

    /// Longest delay between two attempts of a payment call, in ms.
    #[arg(long, env = "VITRINE_PAYMENT_RETRY_MAX_MS", default_value_t = 300_000)]
    pub payment_retry_max_ms: u64,

    /// Attempts of a capture or refund before it is marked failed (for an operator to look at).
    #[arg(long, env = "VITRINE_PAYMENT_MAX_ATTEMPTS", default_value_t = 40)]
    pub payment_max_attempts: u32,

    /// How long an order taken while its provider was down waits for its
    /// authorization before it is cancelled, in seconds.
    #[arg(long, env = "VITRINE_DEFERRED_AUTH_TIMEOUT_SECS", default_value_t = 24 * 3600)]
    pub deferred_auth_timeout_secs: u64,

    /// How often the worker looks for due payment calls, in ms.
    #[arg(long, env = "VITRINE_PAYMENT_POLL_MS", default_value_t = 250)]
    pub payment_poll_ms: u64,
}

impl PaymentsConfig {
    /// The defaults.
    pub fn embedded() -> Self {
        Self {
            payment_retry_base_ms: 1_000,
            payment_retry_max_ms: 300_000,
            payment_max_attempts: 40,
            deferred_auth_timeout_secs: 24 * 3600,
            payment_poll_ms: 250,
        }
    }

    fn retry_delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let ms = self
            .payment_retry_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.payment_retry_max_ms);
        // ±20 % so replicas retrying one provider do not move in step.
        let jitter = rand::thread_rng().gen_range(0.8..=1.2);
        Duration::from_millis((ms as f64 * jitter) as u64)
    }
}

/// What an edge sends with an order taken while its payment provider was
/// down: what the worker needs to authorize it later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeferredAuthorization {
    /// The shopper's payment method as the provider's front-end tokenised it.
    pub payment_token: String,
    /// The idempotency key the edge used (or would have used) to authorize
    /// it, so a first attempt that did reach the provider is not repeated.
    pub idempotency_key: String,
}

impl DeferredAuthorization {
    /// `Ok` when both fields are well-formed.
    pub fn check(&self) -> Result<(), crate::error::ApiError> {
        let ok = |s: &str| (1..=256).contains(&s.len()) && !s.chars().any(char::is_control);
        if ok(&self.payment_token) && ok(&self.idempotency_key) {
            Ok(())
        } else {
            Err(crate::error::ApiError::unprocessable(
                "invalid_payment",
                "deferred authorization needs a payment token and an idempotency key of 1 to 256 printable characters",
            ))
        }
    }
}

/// The kind of a payment task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// Authorize an order taken while the provider was down.
    Authorize,
    /// Capture an authorized payment.
    Capture,
    /// Pay out an approved refund.
    Refund,
}

impl TaskKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Capture => "capture",
            Self::Refund => "refund",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "authorize" => Some(Self::Authorize),
            "capture" => Some(Self::Capture),
            "refund" => Some(Self::Refund),
            _ => None,
        }
    }
}

/// Inserts a due `payment_tasks` row in transaction `$tx`:
/// `enqueue_task!(tx, kind, order_id, payment_id, refund_id, amount, payload, give_up_at_ms)`.
macro_rules! enqueue_task {
    ($tx:expr, $kind:expr, $order:expr, $payment:expr, $refund:expr, $amount:expr, $payload:expr, $give_up:expr) => {{
        let now = chrono::Utc::now();
        let kind: $crate::payments::TaskKind = $kind;
        let refund: Option<uuid::Uuid> = $refund;
        let give_up: Option<i64> = $give_up;
        sqlx::query(
            "INSERT INTO payment_tasks (id, kind, order_id, payment_id, refund_id, amount_minor, payload, status, \
             next_attempt_at_ms, give_up_at_ms, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $10)",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(kind.as_str())
        .bind($order)
        .bind($payment)
        .bind(refund)
        .bind($amount)
        .bind($payload)
        .bind(now.timestamp_millis())
        .bind(give_up)
        .bind(now)
        .execute($tx)
        .await
    }};
}
pub(crate) use enqueue_task;

/// A task as a worker holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Task {
    id: Uuid,
    kind: String,
    order_id: Uuid,
    payment_id: Uuid,
    refund_id: Option<Uuid>,
    amount_minor: i64,
    payload: String,
    attempts: i32,
    give_up_at_ms: Option<i64>,
}

/// The payment a task is about.
#[derive(Debug, Clone, sqlx::FromRow)]
struct PaymentRow {
    provider: String,
    reference: String,
    status: String,
    currency: String,
}

/// How one attempt ended.
#[derive(Debug)]
enum Attempt {
    /// Done.
    Done,
    /// Refused for good (declined, invalid): no retry.
    Refused(String),
    /// Failed in a way a later attempt may not (provider down, breaker open,
    /// a timeout, a database error).
    Retry(String),
}

/// A lease longer than any plugin call's deadline, so a task is never
/// handed out twice while its call runs.
const LEASE: Duration = Duration::from_secs(120);

/// Runs the payment worker until `stop` turns true. Without payment plugins
/// it only logs that tasks wait, once.
pub async fn run_until(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(host) = state.payments.clone() else {
        tracing::info!("no payment plugins installed: captures, refunds and deferred authorizations wait");
        return;
    };
    let poll = Duration::from_millis(state.config.payments.payment_poll_ms.max(10));
    loop {
        match run_due(&state, &host).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "payment worker: claiming tasks failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Claims the due tasks (up to 16) and runs each once. Returns how many ran.
pub async fn run_due(state: &AppState, host: &Arc<PluginHost>) -> Result<usize, sqlx::Error> {
    let tasks = claim(&state.db, 16).await?;
    let n = tasks.len();
    for task in tasks {
        let outcome = attempt(state, host, &task).await;
        if let Err(e) = finish(state, &task, outcome).await {
            // The lease runs out and another attempt picks the task up.
            tracing::warn!(task = %task.id, error = %e, "payment worker: recording an outcome failed");
        }
    }
    Ok(n)
}

async fn claim(db: &Db, limit: i64) -> Result<Vec<Task>, sqlx::Error> {
    let now_ms = Utc::now().timestamp_millis();
    let lease_ms = now_ms + i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
    let lock = if matches!(db, Db::Postgres(_)) {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE payment_tasks SET lease_until_ms = $1, attempts = attempts + 1, updated_at = $2 \
         WHERE id IN (SELECT id FROM payment_tasks WHERE status = 'pending' AND next_attempt_at_ms <= $3 \
         AND lease_until_ms <= $3 ORDER BY next_attempt_at_ms LIMIT $4{lock}) \
         RETURNING id, kind, order_id, payment_id, refund_id, amount_minor, payload, attempts, give_up_at_ms"
    );
    with_db!(db, pool => sqlx::query_as::<_, Task>(sqlx::AssertSqlSafe(sql))
        .bind(lease_ms).bind(Utc::now()).bind(now_ms).bind(limit)
        .fetch_all(pool).await)
}

async fn payment_row(db: &Db, id: Uuid) -> Result<Option<PaymentRow>, sqlx::Error> {
    with_db!(db, pool => sqlx::query_as::<_, PaymentRow>(
        "SELECT provider, reference, status, currency FROM payments WHERE id = $1"
    ).bind(id).fetch_optional(pool).await)
}

/// One plugin call for `task`.
async fn attempt(state: &AppState, host: &Arc<PluginHost>, task: &Task) -> Attempt {
    let Some(kind) = TaskKind::parse(&task.kind) else {
        return Attempt::Refused(format!("unknown task kind `{}`", task.kind));
    };
    let payment = match payment_row(&state.db, task.payment_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Attempt::Refused(format!("payment {} is gone", task.payment_id)),
        Err(e) => return Attempt::Retry(format!("database: {e}")),
    };
    let amount = Money {
        amount_minor: task.amount_minor,
        currency: payment.currency.clone(),
    };
    let call = match kind {
        TaskKind::Capture => {
            if payment.status == "captured" {
                // The provider's webhook got here first.
                return Attempt::Done;
            }
            PaymentCall::Capture(CaptureRequest {
                idempotency_key: format!("capture-{}", task.payment_id),
                reference: payment.reference.clone(),
                amount,
            })
        }
        TaskKind::Refund => PaymentCall::Refund(RefundRequest {
            idempotency_key: format!("refund-{}", task.refund_id.unwrap_or(task.id)),
            reference: payment.reference.clone(),
            amount,
            reason: "refund approved by the store".into(),
        }),
        TaskKind::Authorize => {
            let Ok(deferred) = serde_json::from_str::<DeferredAuthorization>(&task.payload) else {
                return Attempt::Refused("the deferred authorization's payload is unreadable".into());
            };
            PaymentCall::Authorize(AuthorizeRequest {
                idempotency_key: deferred.idempotency_key,
                order_reference: task.order_id.to_string(),
                amount,
                payment_token: deferred.payment_token,
                customer_id: None,
            })
        }
    };
    let provider = payment.provider.clone();
    let host = Arc::clone(host);
    let answer = match tokio::task::spawn_blocking(move || host.call_payment(&provider, &call)).await {
        Ok(answer) => answer,
        Err(e) => return Attempt::Retry(format!("the plugin call panicked: {e}")),
    };
    metrics::counter!("vitrine_payment_calls_total", "kind" => kind.as_str(), "outcome" => match &answer {
        Ok(_) => "ok",
        Err(e) if is_refusal(e) => "refused",
        Err(_) => "failed",
    })
    .increment(1);
    let authorization = match answer {
        Ok(PaymentAnswer::Authorization(a)) => a,
        Ok(other) => return Attempt::Refused(format!("the plugin answered {other:?} to {}", kind.as_str())),
        Err(e) if is_refusal(&e) => return Attempt::Refused(e.to_string()),
        Err(e) => return Attempt::Retry(e.to_string()),
    };
    let applied = match (kind, authorization.status) {
        (_, PaymentStatus::Declined) => return Attempt::Refused(format!("declined by {}", payment.provider)),
        (TaskKind::Refund, _) => refunded(state, task, &payment)
            .await
            .map_err(|e| format!("database: {e}")),
        (TaskKind::Capture, _) | (TaskKind::Authorize, PaymentStatus::Captured) => {
            let notice = PaymentNotice {
                provider: payment.provider.clone(),
                event_id: format!("{}-{}", kind.as_str(), task.id),
                kind: NoticeKind::Captured,
                reference: if kind == TaskKind::Authorize {
                    authorization.reference.clone()
                } else {
                    payment.reference.clone()
                },
                amount_minor: Some(task.amount_minor),
                currency: Some(payment.currency.clone()),
            };
            if kind == TaskKind::Authorize
                && let Err(e) = authorized(state, task, &payment, &authorization.reference, false).await
            {
                return Attempt::Retry(format!("database: {e}"));
            }
            crate::sync::payment::apply(&state.db, &notice, &notice.dedup_id())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        (TaskKind::Authorize, _) => authorized(state, task, &payment, &authorization.reference, true)
            .await
            .map_err(|e| e.to_string()),
    };
    match applied {
        Ok(()) => Attempt::Done,
        Err(e) => Attempt::Retry(e),
    }
}

/// Whether a plugin error is the provider's (or the request's) final word.
fn is_refusal(e: &PluginError) -> bool {
    matches!(
        e,
        PluginError::Guest {
            error: GuestError::Declined(_) | GuestError::InvalidInput(_) | GuestError::BadSignature,
            ..
        }
    )
}

/// A deferred authorization went through: the payment takes the provider's
/// reference and moves to `authorized`; with `then_capture`, a capture task
/// is queued in the same transaction.
async fn authorized(
    state: &AppState,
    task: &Task,
    payment: &PaymentRow,
    reference: &str,
    then_capture: bool,
) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE payments SET reference = $1, status = 'authorized', updated_at = $2 WHERE id = $3 AND status = 'pending'",
        ).bind(reference).bind(now).bind(task.payment_id).execute(&mut *tx).await?.rows_affected();
        if moved == 1 {
            write_outbox!(&mut *tx, &OutboxEvent {
                topic: "payment.status_changed",
                entity: format!("order:{}", task.order_id),
                surrogate_keys: vec![],
                payload: serde_json::json!({
                    "order_id": task.order_id, "payment_id": task.payment_id, "provider": payment.provider,
                    "from": "pending", "to": "authorized", "cause": "deferred_authorization",
                }),
            })?;
            if then_capture {
                enqueue_task!(&mut *tx, TaskKind::Capture, task.order_id, task.payment_id, None, task.amount_minor, "{}", None)?;
            }
        }
        tx.commit().await
    })
}

/// A refund was paid out.
async fn refunded(state: &AppState, task: &Task, payment: &PaymentRow) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let refund_id = task.refund_id;
    with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query("UPDATE refunds SET payout = 'refunded' WHERE id = $1")
            .bind(refund_id).execute(&mut *tx).await?;
        write_outbox!(&mut *tx, &OutboxEvent {
            topic: "payment.refunded",
            entity: format!("order:{}", task.order_id),
            surrogate_keys: vec![],
            payload: serde_json::json!({
                "order_id": task.order_id, "payment_id": task.payment_id, "refund_id": refund_id,
                "provider": payment.provider, "reference": payment.reference,
                "amount_minor": task.amount_minor, "currency": payment.currency, "at": now,
            }),
        })?;
        tx.commit().await
    })
}

/// Records how an attempt ended: done, retried later, or failed for good
/// (which, for a deferred authorization, cancels the order).
async fn finish(state: &AppState, task: &Task, outcome: Attempt) -> Result<(), crate::error::ApiError> {
    let config = &state.config.payments;
    let now = Utc::now();
    let now_ms = now.timestamp_millis();
    let attempts = u32::try_from(task.attempts).unwrap_or(u32::MAX);
    let (status, error, next_ms) = match &outcome {
        Attempt::Done => ("done", None, now_ms),
        Attempt::Refused(e) => ("failed", Some(e.clone()), now_ms),
        Attempt::Retry(e) => {
            let next = now_ms + i64::try_from(config.retry_delay(attempts).as_millis()).unwrap_or(i64::MAX);
            let out_of_time = task.give_up_at_ms.is_some_and(|at| next > at);
            let out_of_attempts = task.give_up_at_ms.is_none() && attempts >= config.payment_max_attempts;
            if out_of_time || out_of_attempts {
                let why = if out_of_time {
                    "the deadline passed"
                } else {
                    "no attempts left"
                };
                ("failed", Some(format!("{e} ({why})")), now_ms)
            } else {
                ("pending", Some(e.clone()), next)
            }
        }
    };
    let kind = TaskKind::parse(&task.kind);
    metrics::counter!("vitrine_payment_tasks_total", "kind" => kind.map_or("unknown", TaskKind::as_str), "outcome" => match status {
        "pending" => "retried",
        other => other,
    })
    .increment(1);
    match status {
        "failed" => {
            tracing::warn!(task = %task.id, kind = %task.kind, order = %task.order_id, error = ?error, "payment task failed for good")
        }
        "pending" => {
            tracing::info!(task = %task.id, kind = %task.kind, attempts, error = ?error, "payment task will be retried")
        }
        _ => {}
    }
    let error = error.map(|e| e.chars().take(500).collect::<String>());
    with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await?;
        sqlx::query(
            "UPDATE payment_tasks SET status = $1, last_error = $2, next_attempt_at_ms = $3, lease_until_ms = 0, \
             updated_at = $4 WHERE id = $5",
        ).bind(status).bind(&error).bind(next_ms).bind(now).bind(task.id).execute(&mut *tx).await?;
        if status == "failed" && kind == Some(TaskKind::Refund) {
            sqlx::query("UPDATE refunds SET payout = 'failed' WHERE id = $1")
                .bind(task.refund_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<(), crate::error::ApiError>(())
    })?;
    if status == "failed" && kind == Some(TaskKind::Authorize) {
        // No payment will come: the payment failed, the order is cancelled
        // and its stock goes back on sale.
        with_db!(&state.db, pool => sqlx::query(
            "UPDATE payments SET status = 'failed', updated_at = $1 WHERE id = $2 AND status = 'pending'"
        ).bind(now).bind(task.payment_id).execute(pool).await.map(|_| ()))?;
        let note = format!("payment not authorized: {}", error.as_deref().unwrap_or("unknown"));
        let note: String = note.chars().take(200).collect();
        match crate::orders::move_order(
            state,
            None,
            task.order_id,
            crate::orders::OrderStatus::Cancelled,
            Some(&note),
        )
        .await
        {
            Ok(_) => {}
            Err(crate::error::ApiError::Conflict { .. }) => {
                tracing::info!(order = %task.order_id, "order was no longer awaiting payment; not cancelled");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
