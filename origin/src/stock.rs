//! Hot stock counts: how many of each product are available, kept in Redis
//! beside the change stream, and `GET /api/v1/stock?ids=…` that reads them.
//!
//! The counts live in the hash `<redis prefix>stock` (`vitrine:stock` by
//! default), field = product id, value = the available quantity. The change
//! stream's publisher ([`crate::change_feed::stream`]) keeps it: for every
//! numbered change to a product it reads the product's current stock after
//! that change committed, and the same Redis script that adds the change to
//! the stream sets the count (or removes it, for a product that is gone).
//! So a count is written exactly when its change is, never apart from it:
//! - a publisher that dies between the two cannot leave the stream ahead of
//!   the counts (there is no "between");
//! - two replicas publishing at once write the counts of each change once,
//!   in feed order, as they add its entry;
//! - the count after a product's last change is read after that change
//!   committed, so it is at least as new as the change.
//!
//! The hash is a cache, not a record: a product it does not hold (seeded
//! before Redis was there, its changes trimmed from the stream, Redis
//! restarted empty or evicted the key) is read from the database. Without
//! Redis (the embedded default) every read goes to the database.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::http::cache::cacheable_json;
use crate::state::AppState;
use crate::with_db;

/// Most products one request may ask about.
pub const MAX_IDS: usize = 100;

/// The hash that holds the counts, for a Redis key prefix.
pub fn hash_key(prefix: &str) -> String {
    format!("{prefix}stock")
}

/// Reads counts from Redis.
#[derive(Clone)]
pub struct HotStock {
    conn: redis::aio::ConnectionManager,
    key: String,
}

impl std::fmt::Debug for HotStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotStock")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl HotStock {
    /// Reads the counts under `prefix` through `conn`.
    pub fn new(conn: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            key: hash_key(prefix),
        }
    }

    /// The counts Redis holds for `ids`, in order (`None`: not held).
    pub async fn get(&self, ids: &[Uuid]) -> redis::RedisResult<Vec<Option<i64>>> {
        let mut conn = self.conn.clone();
        let fields: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        redis::cmd("HMGET")
            .arg(&self.key)
            .arg(&fields)
            .query_async(&mut conn)
            .await
    }
}

/// Products' current stock from the database.
pub async fn from_database(db: &Db, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64)> = with_db!(db, pool => {
        let mut query = sqlx::QueryBuilder::new("SELECT id, stock FROM products WHERE id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        list.push_unseparated(")");
        query.build_query_as().fetch_all(pool).await
    })?;
    Ok(rows.into_iter().collect())
}

/// Stock routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stock))
}

/// Which products.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StockQuery {
    /// Product ids separated by commas, 1 to 100 of them.
    pub ids: String,
}

/// One product's availability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Availability {
    /// The product.
    pub product_id: Uuid,
    /// How many can be ordered now.
    pub available: i64,
    /// Whether any can.
    pub in_stock: bool,
}

/// The products asked about, in the order asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockAnswer {
    /// The products that exist.
    pub stock: Vec<Availability>,
    /// Ids asked about that name no product.
    pub unknown: Vec<Uuid>,
}

fn parse_ids(raw: &str) -> Result<Vec<Uuid>, ApiError> {
    let mut ids = Vec::new();
    for part in raw.split(',') {
        let part = part.trim();
        let id: Uuid = part.parse().map_err(|_| {
            ApiError::bad_request(
                "invalid_parameter",
                format!(
                    "`ids`: `{}` is not a product id",
                    part.chars().take(60).collect::<String>()
                ),
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > MAX_IDS {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("`ids`: at most {MAX_IDS} products per request"),
            ));
        }
    }
    Ok(ids)
}

/// Availability of up to 100 products, from the hot counts in Redis where
/// it holds them and from the database for the rest.
#[utoipa::path(
    get,
    path = "/api/v1/stock",
    tag = "catalog",
    params(StockQuery),
    responses(
        (status = 200, description = "Each product's availability; cacheable like catalog pages and tagged \
            `product:<id>` for each product asked about, so any change to one purges it", body = StockAnswer),
        (status = 304, description = "The client's `If-None-Match` matches"),
        (status = 400, description = "No ids, an id that is not a UUID, or more than 100", body = ErrorBody),
    )
)]
async fn stock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StockQuery>,
) -> Result<Response, ApiError> {
    let ids = parse_ids(&query.ids)?;
    let mut counts: HashMap<Uuid, i64> = HashMap::with_capacity(ids.len());
    if let Some(hot) = &state.stock {
        match hot.get(&ids).await {
            Ok(held) => {
                for (id, count) in ids.iter().zip(held) {
                    if let Some(count) = count {
                        counts.insert(*id, count);
                    }
                }
                metrics::counter!("vitrine_stock_reads_total", "source" => "redis").increment(counts.len() as u64);
            }
            // The database answers instead; slower, still right.
            Err(e) => tracing::warn!(error = %e, "reading hot stock counts failed"),
        }
    }
    let missing: Vec<Uuid> = ids.iter().copied().filter(|id| !counts.contains_key(id)).collect();
    if !missing.is_empty() {
        let found = from_database(&state.db, &missing).await?;
        metrics::counter!("vitrine_stock_reads_total", "source" => "database").increment(missing.len() as u64);
        counts.extend(found);
    }
    let mut answer = StockAnswer {
        stock: Vec::with_capacity(ids.len()),
        unknown: Vec::new(),
    };
    for id in &ids {
        match counts.get(id) {
            Some(&available) => answer.stock.push(Availability {
                product_id: *id,
                available,
                in_stock: available > 0,
            }),
            None => answer.unknown.push(*id),
        }
    }
    let keys: Vec<String> = ids.iter().map(|id| format!("product:{id}")).collect();
    cacheable_json(&headers, &state.config, &keys, &answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_and_deduplicated() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        assert_eq!(parse_ids(&format!("{a}, {b},{a}")).expect("ids"), vec![a, b]);
        assert!(parse_ids("").is_err(), "no ids");
        assert!(
            parse_ids(&format!("{a},1 OR 1=1")).is_err(),
            "an injection string is not an id"
        );
        let many: Vec<String> = (0..=MAX_IDS).map(|_| Uuid::new_v4().to_string()).collect();
        assert!(parse_ids(&many.join(",")).is_err(), "101 ids");
        let enough: Vec<String> = (0..MAX_IDS).map(|_| Uuid::new_v4().to_string()).collect();
        assert_eq!(parse_ids(&enough.join(",")).expect("100 ids").len(), MAX_IDS);
    }
}
