//! Payment providers' webhooks: `POST /webhooks/payments/{provider}`.
//!
//! Each provider signs its webhooks its own way, so the origin does not
//! check them itself: the provider's payment plugin (installed from the
//! operator's config, `--plugins-config`) verifies the raw body and headers
//! in `verify-webhook` (signature, timestamp window) and turns them into a
//! typed payment event. The event goes on the sync queue in the payment's
//! own group (`payment:<provider>:<reference>`), deduplicated by the
//! provider's event id, and the answer is 202. A forged or replayed webhook
//! (the plugin's `bad-signature`) is refused with 401 and enqueues nothing.
//!
//! The handler moves the payment forward only: `pending → authorized →
//! captured`, and `pending | authorized → voided | failed`. An event that
//! would move it back (a late `authorized` after `captured`) changes nothing
//! and is recorded as stale, so duplicated and reordered deliveries are
//! harmless. A capture also moves an order that is awaiting payment to
//! `paid`. A `refunded` event does not change the payment's status (refunds
//! are approved at the origin, which calls the plugin's `refund`): it is
//! recorded and published on the change feed as `payment.refunded`. An event
//! for a payment the origin does not know yet (the webhook overtook the
//! order) is retried with backoff and ends in the dead letters if the
//! payment never appears.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use vitrine_runtime::plugins::types::{EventKind, Webhook};
use vitrine_runtime::plugins::{GuestError, PaymentAnswer, PaymentCall, PluginError, PluginHost, World};

use super::event::Envelope;
use super::handler::{HandleError, Outcome, claim_processed, mark_stale};
use super::queue::{Outgoing, Queue as _, valid_dedup_id};
use super::webhook::Accepted;
use crate::db::{BeginWrite as _, Db};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::outbox::OutboxEvent;
use crate::state::AppState;
use crate::{with_db, write_outbox};

/// Longest provider reference or event id accepted from a plugin.
const MAX_ID_LEN: usize = 200;

/// What a payment event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The provider authorised the payment.
    Authorized,
    /// The provider captured it.
    Captured,
    /// The authorisation was released.
    Voided,
    /// Money went back to the shopper.
    Refunded,
    /// The payment failed for good.
    Failed,
}

impl NoticeKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Refunded => "refunded",
            Self::Failed => "failed",
        }
    }
}

impl From<EventKind> for NoticeKind {
    fn from(kind: EventKind) -> Self {
        match kind {
            EventKind::Authorized => Self::Authorized,
            EventKind::Captured => Self::Captured,
            EventKind::Voided => Self::Voided,
            EventKind::Refunded => Self::Refunded,
            EventKind::Failed => Self::Failed,
        }
    }
}

/// A verified payment event, as it travels on the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentNotice {
    /// The payment plugin (provider) that verified it.
    pub provider: String,
    /// The provider's id of this event.
    pub event_id: String,
    /// What happened.
    pub kind: NoticeKind,
    /// The provider's reference of the payment.
    pub reference: String,
    /// The amount the event is about, in minor units, when it names one.
    pub amount_minor: Option<i64>,
    /// Its ISO 4217 currency, with `amount_minor`.
    pub currency: Option<String>,
}

impl PaymentNotice {
    /// The ordering group: one payment's events apply in order.
    pub fn group(&self) -> String {
        self.queue_id(&self.reference)
    }

    /// The id that makes a redelivery a duplicate: the provider's event id,
    /// scoped to the provider.
    pub fn dedup_id(&self) -> String {
        self.queue_id(&self.event_id)
    }

    /// `payment:<provider>:<id>`, or `payment:` and its hex SHA-256 when
    /// that is not a valid queue id (within 128 printable characters).
    fn queue_id(&self, id: &str) -> String {
        let scoped = format!("payment:{}:{id}", self.provider);
        if valid_dedup_id(&scoped) {
            scoped
        } else {
            format!("payment:{}", hex::encode(Sha256::digest(scoped.as_bytes())))
        }
    }

    /// The queue message carrying this notice.
    pub fn to_outgoing(&self, received_at: chrono::DateTime<Utc>) -> Outgoing {
        Envelope::payment(received_at, self.clone()).to_outgoing()
    }
}

/// The plugin's event, checked: ids are short printable text, an amount has
/// a currency of three capital letters.
fn notice(provider: &str, event: vitrine_runtime::plugins::types::PaymentEvent) -> Result<PaymentNotice, String> {
    let printable = |s: &str| !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic());
    if !printable(&event.event_id) {
        return Err(format!("the event id must be 1 to {MAX_ID_LEN} printable characters"));
    }
    if !printable(&event.reference) {
        return Err(format!(
            "the payment reference must be 1 to {MAX_ID_LEN} printable characters"
        ));
    }
    let (amount_minor, currency) = match event.amount {
        Some(money) => {
            if money.amount_minor < 0 {
                return Err("the amount is negative".into());
            }
            if money.currency.len() != 3 || !money.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!("`{}` is not an ISO 4217 currency", money.currency));
            }
            (Some(money.amount_minor), Some(money.currency))
        }
        None => (None, None),
    };
    Ok(PaymentNotice {
        provider: provider.to_owned(),
        event_id: event.event_id,
        kind: event.kind.into(),
        reference: event.reference,
        amount_minor,
        currency,
    })
}

/// Takes a payment provider's webhook onto the queue, after its plugin
/// verified it.
#[utoipa::path(
    post,
    path = "/webhooks/payments/{provider}",
    tag = "webhooks",
    params(("provider" = String, Path, description = "The payment plugin's name, e.g. `testpay`")),
    request_body(content = String, description = "The provider's webhook, as it sends it; its plugin reads it"),
    responses(
        (status = 202, description = "The event is on the queue", body = Accepted),
        (status = 401, description = "The plugin found the signature forged, missing or stale", body = ErrorBody),
        (status = 404, description = "No payment plugin of that name is installed", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "The plugin could not read the webhook, or its event is invalid", body = ErrorBody),
        (status = 503, description = "The plugin failed or is switched off, or the queue is unavailable; retry", body = ErrorBody),
    )
)]
pub async fn payments(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Accepted>), ApiError> {
    let unknown = || ApiError::NotFound(format!("payment provider `{provider}`"));
    let Some(host) = state.payments.clone() else {
        return Err(unknown());
    };
    if !host
        .plugins()
        .get(&provider)
        .is_some_and(|p| p.world() == World::Payment)
    {
        return Err(unknown());
    }
    let webhook = Webhook {
        headers: headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    let verified = verify(host, provider.clone(), webhook).await;
    let refused = |reason: &'static str| {
        metrics::counter!("vitrine_sync_webhooks_refused_total", "source" => "payment", "reason" => reason)
            .increment(1);
    };
    let event = match verified {
        Ok(event) => event,
        Err(PluginError::Guest {
            error: GuestError::BadSignature,
            ..
        }) => {
            refused("invalid");
            return Err(ApiError::Unauthorized(format!(
                "`{provider}` did not verify the webhook's signature (forged, missing or outside its time window)"
            )));
        }
        Err(PluginError::Guest {
            error: GuestError::InvalidInput(message),
            ..
        }) => {
            refused("malformed");
            return Err(ApiError::unprocessable("invalid_webhook", message));
        }
        Err(e) => {
            tracing::warn!(provider = %provider, error = %e, "a payment plugin could not verify a webhook");
            return Err(ApiError::Unavailable(format!(
                "`{provider}` could not verify the webhook now; retry"
            )));
        }
    };
    let notice = notice(&provider, event).map_err(|e| {
        refused("malformed");
        ApiError::unprocessable("invalid_payment_event", format!("`{provider}`'s event: {e}"))
    })?;
    metrics::counter!("vitrine_sync_events_total", "source" => "payment", "outcome" => "received").increment(1);
    let message = notice.to_outgoing(Utc::now());
    state.sync.queue.send(&[message]).await.map_err(|e| {
        tracing::warn!(error = %e, "enqueueing a payment event failed");
        ApiError::Unavailable("the event queue is unavailable; retry".into())
    })?;
    metrics::counter!("vitrine_sync_events_total", "source" => "payment", "outcome" => "enqueued").increment(1);
    Ok((StatusCode::ACCEPTED, axum::Json(Accepted { accepted: 1 })))
}

/// Runs the plugin's `verify-webhook` on a blocking thread (plugin calls
/// block: outbound http is synchronous).
async fn verify(
    host: Arc<PluginHost>,
    provider: String,
    webhook: Webhook,
) -> Result<vitrine_runtime::plugins::types::PaymentEvent, PluginError> {
    let call = PaymentCall::VerifyWebhook(webhook);
    let plugin = provider.clone();
    let answer = tokio::task::spawn_blocking(move || host.call_payment(&provider, &call))
        .await
        .map_err(|e| PluginError::Trap {
            plugin: plugin.clone(),
            message: format!("the plugin thread failed: {e}"),
        })??;
    match answer {
        PaymentAnswer::Event(event) => Ok(event),
        _ => Err(PluginError::InvalidOutput {
            plugin,
            reason: "verify-webhook answered something other than an event".into(),
        }),
    }
}

/// Where a payment is: its status's rank along the only way it moves.
fn rank(status: &str) -> Option<u8> {
    match status {
        "pending" => Some(0),
        "authorized" => Some(1),
        "captured" => Some(2),
        // Terminal: nothing moves a payment out of these.
        "voided" | "failed" => Some(3),
        _ => None,
    }
}

/// The status `kind` moves a payment in `from` to, if it moves it at all.
fn next_status(from: &str, kind: NoticeKind) -> Option<&'static str> {
    let from = rank(from)?;
    match kind {
        NoticeKind::Authorized if from < 1 => Some("authorized"),
        NoticeKind::Captured if from < 2 => Some("captured"),
        NoticeKind::Voided if from < 2 => Some("voided"),
        NoticeKind::Failed if from < 2 => Some("failed"),
        _ => None,
    }
}

/// Applies a verified payment event, idempotently: the payment's new status,
/// a paid order, the processed id and the outbox row in one transaction.
pub async fn apply(db: &Db, notice: &PaymentNotice, event_id: &str) -> Result<Outcome, HandleError> {
    let now = Utc::now();
    let now_ms = now.timestamp_millis();
    with_db!(db, pool => {
        let mut tx = pool.begin_write().await?;
        if !claim_processed!(&mut *tx, event_id, now_ms)? {
            return Ok(Outcome::Duplicate);
        }
        let lock = if matches!(db, Db::Postgres(_)) { " FOR UPDATE" } else { "" };
        let payment: Option<(Uuid, Uuid, String, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, order_id, status, amount_minor, currency FROM payments WHERE provider = $1 AND reference = $2{lock}"
        )))
        .bind(&notice.provider)
        .bind(&notice.reference)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((payment_id, order_id, status, amount_minor, currency)) = payment else {
            return Err(HandleError::Rejected(format!(
                "no payment has provider `{}` and reference `{}` (yet)",
                notice.provider, notice.reference
            )));
        };
        if let (Some(amount), Some(cur)) = (notice.amount_minor, notice.currency.as_deref())
            && notice.kind != NoticeKind::Refunded
            && (amount != amount_minor || cur != currency)
        {
            return Err(HandleError::Rejected(format!(
                "`{}` {} {amount} {cur} for payment {payment_id}, which is {amount_minor} {currency}",
                notice.provider,
                notice.kind.as_str(),
            )));
        }
        if notice.kind == NoticeKind::Refunded {
            write_outbox!(&mut *tx, &OutboxEvent {
                topic: "payment.refunded",
                entity: format!("order:{order_id}"),
                surrogate_keys: vec![],
                payload: serde_json::json!({
                    "order_id": order_id, "payment_id": payment_id, "provider": notice.provider,
                    "reference": notice.reference, "event_id": notice.event_id,
                    "amount_minor": notice.amount_minor, "currency": notice.currency,
                }),
            })?;
            tx.commit().await?;
            return Ok(Outcome::Applied);
        }
        let Some(to) = next_status(&status, notice.kind) else {
            mark_stale!(&mut *tx, event_id)?;
            tx.commit().await?;
            return Ok(Outcome::Stale);
        };
        sqlx::query("UPDATE payments SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(to)
            .bind(now)
            .bind(payment_id)
            .execute(&mut *tx)
            .await?;
        write_outbox!(&mut *tx, &OutboxEvent {
            topic: "payment.status_changed",
            entity: format!("order:{order_id}"),
            surrogate_keys: vec![],
            payload: serde_json::json!({
                "order_id": order_id, "payment_id": payment_id, "provider": notice.provider,
                "from": status, "to": to, "event_id": notice.event_id,
            }),
        })?;
        if to == "captured" {
            let paid = sqlx::query(
                "UPDATE orders SET status = 'paid', version = version + 1, updated_at = $1 \
                 WHERE id = $2 AND status = 'awaiting_payment'",
            )
            .bind(now)
            .bind(order_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if paid == 1 {
                let note = format!("payment captured ({} webhook {})", notice.provider, notice.event_id);
                crate::orders::record_transition!(
                    tx, order_id, "awaiting_payment", "paid", None::<Uuid>, Some(note.as_str()), now
                );
            }
        }
        tx.commit().await?;
        Ok(Outcome::Applied)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_only_moves_forward() {
        assert_eq!(next_status("pending", NoticeKind::Authorized), Some("authorized"));
        assert_eq!(next_status("pending", NoticeKind::Captured), Some("captured"));
        assert_eq!(next_status("authorized", NoticeKind::Captured), Some("captured"));
        assert_eq!(
            next_status("captured", NoticeKind::Authorized),
            None,
            "a late authorization is stale"
        );
        assert_eq!(
            next_status("captured", NoticeKind::Voided),
            None,
            "a capture cannot be voided"
        );
        assert_eq!(next_status("voided", NoticeKind::Captured), None, "voided is final");
        assert_eq!(next_status("failed", NoticeKind::Authorized), None, "failed is final");
        assert_eq!(next_status("authorized", NoticeKind::Failed), Some("failed"));
        assert_eq!(next_status("bogus", NoticeKind::Captured), None);
    }

    #[test]
    fn ids_fit_the_queue_whatever_the_provider_sends() {
        let mut n = PaymentNotice {
            provider: "testpay".into(),
            event_id: "evt_1".into(),
            kind: NoticeKind::Captured,
            reference: "pay_1".into(),
            amount_minor: Some(100),
            currency: Some("ZAR".into()),
        };
        assert_eq!(n.group(), "payment:testpay:pay_1");
        assert_eq!(n.dedup_id(), "payment:testpay:evt_1");
        n.event_id = "e".repeat(200);
        n.reference = "r".repeat(200);
        assert!(valid_dedup_id(&n.dedup_id()) && valid_dedup_id(&n.group()));
        assert_ne!(n.dedup_id(), n.group());
    }
}
