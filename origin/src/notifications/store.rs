//! Endpoints and the delivery log in the database: registration (with its
//! checks), listing, deletion (which cancels what is pending) and redelivery.

use chrono::{DateTime, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{BeginWrite as _, Db, Engine, now_ms};
use crate::error::ApiError;
use crate::with_db;

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Most patterns one endpoint subscribes with.
pub const MAX_EVENTS: usize = 32;
/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// A registered endpoint, as the admin API shows it (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The topics and `<prefix>.*` patterns it receives.
    pub events: Vec<String>,
    /// For people.
    pub description: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// A newly registered endpoint with its signing secret, shown only here.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` and 64 hex digits: the HMAC-SHA256 key of its signatures
    /// (the whole string, as UTF-8). Not shown again.
    pub secret: String,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// Its endpoint was deleted before it was delivered.
    Cancelled,
}

impl DeliveryStatus {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self, ApiError> {
        Ok(match s {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "webhook delivery status `{other}` is not one this origin writes"
                )));
            }
        })
    }
}

/// One entry of the delivery log.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// Its id, sent as `X-Vitrine-Delivery`.
    pub id: Uuid,
    /// The event's id, the body's `id`.
    pub event_id: String,
    /// The event's topic.
    pub topic: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// The HTTP status of the last attempt, if it got an answer.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed (truncated), if it did.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the endpoint accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was made from its change.
    pub created_at: DateTime<Utc>,
}

/// A page of the delivery log, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryPage {
    /// Deliveries on this page.
    pub deliveries: Vec<Delivery>,
    /// Deliveries matching the filter in all.
    pub total: i64,
    /// This page's number, from 1.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A URL the sender may POST to: http or https, a host, no user or
/// password, at most [`MAX_URL_LEN`] bytes.
pub fn check_url(url: &str) -> Result<(), ApiError> {
    let invalid = |why: &str| ApiError::unprocessable("invalid_url", format!("url `{url}` {why}"));
    if url.len() > MAX_URL_LEN {
        return Err(ApiError::unprocessable(
            "invalid_url",
            format!("url is {} bytes long, more than {MAX_URL_LEN}", url.len()),
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not carry a user or password"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    Ok(())
}

/// The subscription patterns, checked and without repeats (in the order given).
pub fn check_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(ApiError::unprocessable(
            "invalid_events",
            format!("events lists 1 to {MAX_EVENTS} topics, not {}", events.len()),
        ));
    }
    let mut kept: Vec<String> = Vec::with_capacity(events.len());
    for event in events {
        if !super::is_known_pattern(event) {
            return Err(ApiError::unprocessable(
                "invalid_events",
                format!(
                    "`{event}` is not a topic or `<prefix>.*` of one; topics are {}",
                    super::TOPICS.join(", ")
                ),
            ));
        }
        if !kept.contains(event) {
            kept.push(event.clone());
        }
    }
    Ok(kept)
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Registers an endpoint after checking every field; nothing is written
/// when one is refused.
pub async fn create(
    db: &Db,
    url: &str,
    events: &[String],
    description: Option<&str>,
) -> Result<CreatedEndpoint, ApiError> {
    check_url(url)?;
    let events = check_events(events)?;
    if let Some(description) = description
        && description.chars().count() > MAX_DESCRIPTION_CHARS
    {
        return Err(ApiError::unprocessable(
            "invalid_description",
            format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let id = Uuid::new_v4();
    let secret = new_secret();
    let created_at_ms = now_ms();
    with_db!(db, pool => sqlx::query(
        "INSERT INTO webhook_endpoints (id, url, events, description, secret, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(id).bind(url).bind(sqlx::types::Json(&events)).bind(description).bind(&secret).bind(created_at_ms)
    .execute(pool).await.map(drop))?;
    Ok(CreatedEndpoint {
        endpoint: Endpoint {
            id,
            url: url.to_owned(),
            events,
            description: description.map(str::to_owned),
            created_at: time(created_at_ms),
        },
        secret,
    })
}

type EndpointRow = (Uuid, String, sqlx::types::Json<Vec<String>>, Option<String>, i64);

fn endpoint(row: EndpointRow) -> Endpoint {
    let (id, url, events, description, created_at_ms) = row;
    Endpoint {
        id,
        url,
        events: events.0,
        description,
        created_at: time(created_at_ms),
    }
}

/// Every endpoint not deleted, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Endpoint>, ApiError> {
    let rows: Vec<EndpointRow> = with_db!(db, pool => sqlx::query_as(
        "SELECT id, url, events, description, created_at_ms FROM webhook_endpoints \
         WHERE deleted_at_ms IS NULL ORDER BY created_at_ms, id"
    ).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(endpoint).collect())
}

/// The endpoint `id`, unless it does not exist or was deleted.
pub async fn get(db: &Db, id: Uuid) -> Result<Endpoint, ApiError> {
    let row: Option<EndpointRow> = with_db!(db, pool => sqlx::query_as(
        "SELECT id, url, events, description, created_at_ms FROM webhook_endpoints \
         WHERE id = $1 AND deleted_at_ms IS NULL"
    ).bind(id).fetch_optional(pool).await)?;
    row.map(endpoint)
        .ok_or_else(|| ApiError::NotFound(format!("webhook endpoint {id}")))
}

/// Deletes endpoint `id`: it gets nothing more, and what was pending for it
/// is cancelled. Returns how many deliveries were cancelled.
///
/// On Postgres the transaction first locks the fan-out's cursor, so a fan-out
/// round running at the same time cannot add deliveries for the endpoint
/// after they were cancelled (SQLite's write lock serialises the two anyway).
pub async fn delete(db: &Db, id: Uuid) -> Result<u64, ApiError> {
    let postgres = db.engine() == Engine::Postgres;
    let now = now_ms();
    with_db!(db, pool => {
        let mut tx = pool.begin_write().await?;
        if postgres {
            sqlx::query("SELECT last_feed_seq FROM webhook_fanout WHERE id = 1 FOR UPDATE")
                .execute(&mut *tx).await?;
        }
        let deleted = sqlx::query(
            "UPDATE webhook_endpoints SET deleted_at_ms = $1 WHERE id = $2 AND deleted_at_ms IS NULL"
        ).bind(now).bind(id).execute(&mut *tx).await?.rows_affected();
        if deleted == 0 {
            tx.rollback().await?;
            return Err(ApiError::NotFound(format!("webhook endpoint {id}")));
        }
        let cancelled = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled', lease_until_ms = 0 \
             WHERE endpoint_id = $1 AND status = 'pending'"
        ).bind(id).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(cancelled)
    })
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    event_id: String,
    topic: String,
    status: String,
    attempts: i64,
    last_status_code: Option<i64>,
    last_error: Option<String>,
    next_attempt_at_ms: i64,
    delivered_at_ms: Option<i64>,
    created_at_ms: i64,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery, ApiError> {
        let status = DeliveryStatus::parse(&self.status)?;
        Ok(Delivery {
            id: self.id,
            event_id: self.event_id,
            topic: self.topic,
            status,
            attempts: self.attempts,
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            next_attempt_at: (status == DeliveryStatus::Pending).then(|| time(self.next_attempt_at_ms)),
            delivered_at: self.delivered_at_ms.map(time),
            created_at: time(self.created_at_ms),
        })
    }
}

/// The columns of a [`DeliveryRow`], as a literal for `concat!`.
macro_rules! delivery_columns {
    () => {
        "id, event_id, topic, status, attempts, last_status_code, last_error, next_attempt_at_ms, \
         delivered_at_ms, created_at_ms"
    };
}

/// A page of endpoint `id`'s delivery log, newest first, only `status` if given.
pub async fn deliveries(
    db: &Db,
    id: Uuid,
    status: Option<DeliveryStatus>,
    page: u32,
    per_page: u32,
) -> Result<DeliveryPage, ApiError> {
    debug_assert!(page >= 1 && per_page >= 1, "pages and page sizes start at 1");
    get(db, id).await?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let status = status.map(DeliveryStatus::as_str);
    let list = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries WHERE endpoint_id = $1 \
         AND ($2 IS NULL OR status = $2) ORDER BY feed_seq DESC LIMIT $3 OFFSET $4"
    );
    let (total, rows): (i64, Vec<DeliveryRow>) = with_db!(db, pool => {
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 IS NULL OR status = $2)"
        ).bind(id).bind(status).fetch_one(pool).await?;
        let rows = sqlx::query_as(list)
            .bind(id).bind(status).bind(i64::from(per_page)).bind(offset)
            .fetch_all(pool).await?;
        (total, rows)
    });
    Ok(DeliveryPage {
        deliveries: rows
            .into_iter()
            .map(DeliveryRow::into_delivery)
            .collect::<Result<_, _>>()?,
        total,
        page,
        per_page,
    })
}

/// Puts a delivered or failed delivery of endpoint `id` back to pending,
/// due now, with its attempts counted from zero again.
pub async fn redeliver(db: &Db, id: Uuid, delivery_id: Uuid) -> Result<Delivery, ApiError> {
    get(db, id).await?;
    let now = now_ms();
    let select = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2"
    );
    let row: Option<DeliveryRow> = with_db!(db, pool => {
        let moved = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at_ms = $1, \
             lease_until_ms = 0, delivered_at_ms = NULL \
             WHERE id = $2 AND endpoint_id = $3 AND status IN ('delivered', 'failed')"
        ).bind(now).bind(delivery_id).bind(id).execute(pool).await?.rows_affected();
        let row: Option<DeliveryRow> = sqlx::query_as(select)
            .bind(delivery_id).bind(id).fetch_optional(pool).await?;
        if moved == 0 && let Some(row) = &row {
            return Err(ApiError::conflict(
                "not_redeliverable",
                format!("delivery {delivery_id} is {}; only delivered or failed ones are sent again", row.status),
            ));
        }
        row
    });
    row.ok_or_else(|| ApiError::NotFound(format!("delivery {delivery_id}")))?
        .into_delivery()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        for good in ["https://example.test/hooks", "http://127.0.0.1:8080/x?y=1"] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.test/hooks",
            "https://user:pw@example.test/",
            "https://user@example.test/",
            "http://",
            "mailto:ops@example.test",
            "not a url",
            "",
        ] {
            let err = check_url(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_url", "{bad}");
        }
        let long = format!("https://example.test/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long).expect_err("too long").code(), "invalid_url");
    }

    #[test]
    fn events_are_known_and_kept_once() {
        let events = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            check_events(&events(&["payment.*", "order.created", "payment.*"])).expect("valid"),
            events(&["payment.*", "order.created"])
        );
        assert!(check_events(&[]).is_err());
        assert!(check_events(&events(&["order.created", "product.stock_changed"])).is_err());
    }

    #[test]
    fn secrets_are_prefixed_random_hex() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let hex_part = a.strip_prefix("whsec_").expect("prefix");
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
