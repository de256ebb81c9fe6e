//! Refunds: requested by the customer, approved or rejected by a store
//! manager. Approval moves the order to `refunded` or `partially_refunded` in
//! the same transaction that records the refund, and never lets the refunded
//! amount pass the order total. (Calling the payment provider's refund belongs
//! to the checkout work, which runs the payment plugin.)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{OrderStatus, record_event};
use crate::auth::{Permission, Principal};
use crate::db::BeginWrite as _;
use crate::error::ApiError;
use crate::money::Money;
use crate::outbox::OutboxEvent;
use crate::state::AppState;
use crate::{with_db, write_outbox};

/// State of a refund request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Waiting for a store manager.
    Requested,
    /// Approved and recorded on the order.
    Approved,
    /// Turned down.
    Rejected,
}

impl RefundStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// A refund request.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    /// Refund id.
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// How much.
    pub amount: Money,
    /// Why, in the customer's words.
    pub reason: String,
    /// State.
    pub status: RefundStatus,
    /// Where an approved refund's money is: `pending` until the payment
    /// provider refunded it, then `refunded` (or `failed`); absent for a
    /// refund not approved or of an order with no captured payment.
    pub payout: Option<String>,
    /// Who asked.
    pub requested_by: Option<Uuid>,
    /// Who decided.
    pub decided_by: Option<Uuid>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
}

/// A customer's refund request.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestRefund {
    /// Amount in minor units, > 0 and at most what is left to refund.
    pub amount_minor: i64,
    /// Why, 1 to 500 characters.
    pub reason: String,
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    id: Uuid,
    order_id: Uuid,
    amount_minor: i64,
    reason: String,
    status: String,
    payout: Option<String>,
    requested_by: Option<Uuid>,
    decided_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    currency: String,
}

impl From<RefundRow> for Refund {
    fn from(r: RefundRow) -> Self {
        Refund {
            id: r.id,
            order_id: r.order_id,
            amount: Money::new(r.amount_minor, r.currency),
            reason: r.reason,
            status: match r.status.as_str() {
                "approved" => RefundStatus::Approved,
                "rejected" => RefundStatus::Rejected,
                _ => RefundStatus::Requested,
            },
            payout: r.payout,
            requested_by: r.requested_by,
            decided_by: r.decided_by,
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

/// Files a refund request on the caller's own order.
pub async fn request(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    body: RequestRefund,
) -> Result<Refund, ApiError> {
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "reason must be 1 to 500 characters",
        ));
    }
    if body.amount_minor <= 0 {
        return Err(ApiError::unprocessable(
            "invalid_amount",
            "amount_minor must be positive",
        ));
    }
    let order = super::load(state, order_id).await?;
    let order = order
        .filter(|o| o.customer_id == Some(principal.user_id))
        .ok_or_else(|| ApiError::NotFound(format!("order {order_id}")))?;
    if !order.status.can_become(OrderStatus::PartiallyRefunded) && !order.status.can_become(OrderStatus::Refunded) {
        return Err(ApiError::conflict(
            "not_refundable",
            format!("an order that is {} cannot be refunded", order.status.as_str()),
        ));
    }
    let id = Uuid::new_v4();
    let now = Utc::now();
    let reason = reason.to_owned();
    with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await?;
        let pending: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM refunds WHERE order_id = $1 AND status = 'requested'",
        ).bind(order_id).fetch_one(&mut *tx).await?;
        let refunded: i64 = sqlx::query_scalar("SELECT refunded_minor FROM orders WHERE id = $1")
            .bind(order_id).fetch_one(&mut *tx).await?;
        let left = order.total.amount_minor - refunded - pending;
        if body.amount_minor > left {
            return Err(ApiError::unprocessable(
                "refund_exceeds_total",
                format!("at most {left} can still be requested on this order"),
            ));
        }
        sqlx::query(
            "INSERT INTO refunds (id, order_id, amount_minor, reason, status, requested_by, created_at) \
             VALUES ($1, $2, $3, $4, 'requested', $5, $6)",
        ).bind(id).bind(order_id).bind(body.amount_minor).bind(&reason).bind(principal.user_id).bind(now)
        .execute(&mut *tx).await?;
        tx.commit().await?;
        Ok::<(), ApiError>(())
    })?;
    get(state, id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("refund {id} vanished")))
}

/// The refund with `id`.
pub async fn get(state: &AppState, id: Uuid) -> Result<Option<Refund>, ApiError> {
    const SQL: &str = "SELECT r.id, r.order_id, r.amount_minor, r.reason, r.status, r.payout, r.requested_by, \
         r.decided_by, r.created_at, r.decided_at, o.currency FROM refunds r JOIN orders o ON o.id = r.order_id \
         WHERE r.id = $1";
    let row: Option<RefundRow> = with_db!(&state.db, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)?;
    Ok(row.map(Refund::from))
}

/// Refunds in `status`, oldest first.
pub async fn list(state: &AppState, status: RefundStatus, page: u32, per_page: u32) -> Result<Vec<Refund>, ApiError> {
    const SQL: &str = "SELECT r.id, r.order_id, r.amount_minor, r.reason, r.status, r.payout, r.requested_by, \
         r.decided_by, r.created_at, r.decided_at, o.currency FROM refunds r JOIN orders o ON o.id = r.order_id \
         WHERE r.status = $1 ORDER BY r.created_at, r.id LIMIT $2 OFFSET $3";
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let rows: Vec<RefundRow> = with_db!(&state.db, pool => sqlx::query_as(SQL)
        .bind(status.as_str()).bind(i64::from(per_page)).bind(offset).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(Refund::from).collect())
}

/// Approves (`approve = true`) or rejects a requested refund.
pub async fn decide(state: &AppState, principal: &Principal, id: Uuid, approve: bool) -> Result<Refund, ApiError> {
    principal.require(Permission::ApproveRefunds)?;
    let now = Utc::now();
    let to = if approve {
        RefundStatus::Approved
    } else {
        RefundStatus::Rejected
    };
    with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await?;
        let claimed: Option<(Uuid, i64)> = sqlx::query_as(
            "UPDATE refunds SET status = $1, decided_by = $2, decided_at = $3 \
             WHERE id = $4 AND status = 'requested' RETURNING order_id, amount_minor",
        ).bind(to.as_str()).bind(principal.user_id).bind(now).bind(id).fetch_optional(&mut *tx).await?;
        let Some((order_id, amount)) = claimed else {
            tx.rollback().await?;
            let exists = get(state, id).await?;
            return Err(match exists {
                None => ApiError::NotFound(format!("refund {id}")),
                Some(r) => ApiError::conflict("refund_decided", format!("refund {id} is already {}", r.status.as_str())),
            });
        };
        if approve {
            let (status, total, refunded): (String, i64, i64) = sqlx::query_as(
                "SELECT status, total_minor, refunded_minor FROM orders WHERE id = $1",
            ).bind(order_id).fetch_one(&mut *tx).await?;
            let from = OrderStatus::parse(&status)?;
            let refunded = refunded + amount;
            let next = if refunded >= total { OrderStatus::Refunded } else { OrderStatus::PartiallyRefunded };
            if refunded > total || !from.can_become(next) {
                tx.rollback().await?;
                return Err(ApiError::conflict(
                    "not_refundable",
                    format!("order {order_id} is {} with {} left to refund", from.as_str(), total - (refunded - amount)),
                ));
            }
            sqlx::query(
                "UPDATE orders SET refunded_minor = $1, status = $2, version = version + 1, updated_at = $3 WHERE id = $4",
            ).bind(refunded).bind(next.as_str()).bind(now).bind(order_id).execute(&mut *tx).await?;
            // The money goes back through the provider that took it: the
            // payment worker calls the plugin's refund (origin/src/payments.rs).
            let captured: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM payments WHERE order_id = $1 AND status = 'captured'",
            ).bind(order_id).fetch_optional(&mut *tx).await?;
            if let Some(payment_id) = captured {
                sqlx::query("UPDATE refunds SET payout = 'pending' WHERE id = $1").bind(id).execute(&mut *tx).await?;
                crate::payments::enqueue_task!(
                    &mut *tx, crate::payments::TaskKind::Refund, order_id, payment_id, Some(id), amount, "{}", None
                )?;
            }
            let position: i32 = sqlx::query_scalar("SELECT COALESCE(MAX(position), -1) + 1 FROM order_events WHERE order_id = $1")
                .bind(order_id).fetch_one(&mut *tx).await?;
            record_event!(&mut *tx, order_id, position, Some(from.as_str()), next.as_str(), Some(principal.user_id), Some("refund approved"), now)?;
            write_outbox!(&mut *tx, &OutboxEvent {
                topic: "order.refunded",
                entity: format!("order:{order_id}"),
                surrogate_keys: vec![],
                payload: json!({ "order_id": order_id, "refund_id": id, "amount_minor": amount, "status": next.as_str() }),
            })?;
        }
        tx.commit().await?;
        Ok::<(), ApiError>(())
    })?;
    get(state, id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("refund {id} vanished")))
}
