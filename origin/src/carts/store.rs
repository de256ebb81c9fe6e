//! Where carts are kept: Redis when configured, else the database.
//!
//! Contract of every backend ([`CartStore`]):
//! - `load` returns the last cart `save`d under that id, or `None` once it has
//!   expired or been deleted; expiry is the cart TTL from the last save.
//! - `save` is compare-and-set on `version`: it writes only if the stored
//!   version equals `expected` (`0` meaning "must not exist yet") and reports
//!   whether it wrote. Two concurrent writers of one cart never both succeed,
//!   so no update is lost; the loser reloads and retries.
//! - The user → cart pointer (`user_cart`) changes only by compare-and-set
//!   too (`swap_user_cart`), so two devices creating a user's cart at the
//!   same moment end up sharing one cart rather than holding one each.

use std::time::Duration;

use redis::AsyncCommands as _;
use uuid::Uuid;

use super::Cart;
use crate::db::{Db, now_ms};
use crate::error::ApiError;
use crate::with_db;

/// A backend that keeps carts; see the module docs for the contract.
pub trait CartStore {
    /// The cart with `id`, unless missing or expired.
    fn load(&self, id: Uuid) -> impl Future<Output = Result<Option<Cart>, ApiError>> + Send;
    /// Writes `cart` if the stored version is `expected`; `Ok(false)` if not.
    fn save(&self, cart: &Cart, expected: i64) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// The id of `user`'s current cart, if any.
    fn user_cart(&self, user: Uuid) -> impl Future<Output = Result<Option<Uuid>, ApiError>> + Send;
    /// Points `user` at `cart` (or at none) if it points at `expected` now
    /// (`None`: at nothing); reports whether it did.
    fn swap_user_cart(
        &self,
        user: Uuid,
        expected: Option<Uuid>,
        cart: Option<Uuid>,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
}

/// The configured cart backend.
#[derive(Clone)]
pub enum Carts {
    /// Redis, as a hash per cart.
    Redis(RedisCarts),
    /// The relational store's `carts` table.
    Sql(SqlCarts),
}

impl std::fmt::Debug for Carts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis(r) => write!(f, "Carts::Redis(prefix={:?})", r.prefix),
            Self::Sql(_) => f.write_str("Carts::Sql"),
        }
    }
}

impl Carts {
    /// Redis through `redis` when it is given (`config.redis_url` is set),
    /// else the database.
    pub fn new(config: &crate::config::Config, db: Db, redis: Option<redis::aio::ConnectionManager>) -> Self {
        let ttl = Duration::from_secs(config.cart_ttl_secs);
        match redis {
            Some(conn) => Self::Redis(RedisCarts::new(conn, &config.redis_prefix, ttl)),
            None => Self::Sql(SqlCarts { db, ttl }),
        }
    }

    /// `"redis"` or `"database"`, for logs.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Redis(_) => "redis",
            Self::Sql(_) => "database",
        }
    }

    /// Whether the backend answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        match self {
            Self::Redis(r) => {
                let mut conn = r.conn.clone();
                redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            }
            Self::Sql(s) => s.db.ping().await,
        }
    }
}

impl CartStore for Carts {
    async fn load(&self, id: Uuid) -> Result<Option<Cart>, ApiError> {
        match self {
            Self::Redis(r) => r.load(id).await,
            Self::Sql(s) => s.load(id).await,
        }
    }
    async fn save(&self, cart: &Cart, expected: i64) -> Result<bool, ApiError> {
        match self {
            Self::Redis(r) => r.save(cart, expected).await,
            Self::Sql(s) => s.save(cart, expected).await,
        }
    }
    async fn user_cart(&self, user: Uuid) -> Result<Option<Uuid>, ApiError> {
        match self {
            Self::Redis(r) => r.user_cart(user).await,
            Self::Sql(s) => s.user_cart(user).await,
        }
    }
    async fn swap_user_cart(&self, user: Uuid, expected: Option<Uuid>, cart: Option<Uuid>) -> Result<bool, ApiError> {
        match self {
            Self::Redis(r) => r.swap_user_cart(user, expected, cart).await,
            Self::Sql(s) => s.swap_user_cart(user, expected, cart).await,
        }
    }
}

fn encode(cart: &Cart) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(cart).map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("while encoding a cart")))
}

fn decode(id: Uuid, body: &[u8]) -> Result<Cart, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context(format!("while decoding stored cart {id}"))))
}

/// Carts in Redis: `<prefix>cart:<id>` is a hash `{v, body}` with a TTL, and
/// `<prefix>user-cart:<user>` holds a user's cart id. Compare-and-set runs as
/// one Lua script, so it is atomic on the server.
#[derive(Clone)]
pub struct RedisCarts {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    ttl: Duration,
    cas: std::sync::Arc<redis::Script>,
    swap: std::sync::Arc<redis::Script>,
}

const CAS_SCRIPT: &str = r"
local current = redis.call('HGET', KEYS[1], 'v')
if (current == false and ARGV[1] == '0') or current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'body', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0
";

/// Compare-and-set of a user's cart pointer: `ARGV[1]` the expected id (''
/// for none), `ARGV[2]` the new one ('' for none), `ARGV[3]` its TTL in ms.
const SWAP_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
";

impl RedisCarts {
    /// Carts under `prefix` through `conn`, expiring `ttl` after their last write.
    pub fn new(conn: redis::aio::ConnectionManager, prefix: &str, ttl: Duration) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            ttl,
            cas: std::sync::Arc::new(redis::Script::new(CAS_SCRIPT)),
            swap: std::sync::Arc::new(redis::Script::new(SWAP_SCRIPT)),
        }
    }

    fn cart_key(&self, id: Uuid) -> String {
        format!("{}cart:{id}", self.prefix)
    }

    fn user_key(&self, user: Uuid) -> String {
        format!("{}user-cart:{user}", self.prefix)
    }
}

impl CartStore for RedisCarts {
    async fn load(&self, id: Uuid) -> Result<Option<Cart>, ApiError> {
        let mut conn = self.conn.clone();
        let body: Option<Vec<u8>> = conn.hget(self.cart_key(id), "body").await?;
        body.map(|b| decode(id, &b)).transpose()
    }

    async fn save(&self, cart: &Cart, expected: i64) -> Result<bool, ApiError> {
        let mut conn = self.conn.clone();
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let written: i64 = self
            .cas
            .key(self.cart_key(cart.id))
            .arg(expected)
            .arg(cart.version)
            .arg(encode(cart)?)
            .arg(ttl_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(written == 1)
    }

    async fn user_cart(&self, user: Uuid) -> Result<Option<Uuid>, ApiError> {
        let mut conn = self.conn.clone();
        let id: Option<String> = conn.get(self.user_key(user)).await?;
        Ok(id.and_then(|s| s.parse().ok()))
    }

    async fn swap_user_cart(&self, user: Uuid, expected: Option<Uuid>, cart: Option<Uuid>) -> Result<bool, ApiError> {
        let mut conn = self.conn.clone();
        let id = |c: Option<Uuid>| c.map(|c| c.to_string()).unwrap_or_default();
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let swapped: i64 = self
            .swap
            .key(self.user_key(user))
            .arg(id(expected))
            .arg(id(cart))
            .arg(ttl_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(swapped == 1)
    }
}

/// Carts in the relational store, for deployments without Redis.
#[derive(Clone)]
pub struct SqlCarts {
    db: Db,
    ttl: Duration,
}

impl SqlCarts {
    fn expiry(&self) -> i64 {
        now_ms() + i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX / 4)
    }

    /// Deletes expired carts; returns how many.
    pub async fn sweep(db: &Db) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        with_db!(db, pool => sqlx::query("DELETE FROM carts WHERE expires_at_ms <= $1")
            .bind(now).execute(pool).await.map(|r| r.rows_affected()))
    }
}

impl CartStore for SqlCarts {
    async fn load(&self, id: Uuid) -> Result<Option<Cart>, ApiError> {
        let now = now_ms();
        let body: Option<sqlx::types::Json<Cart>> = with_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT body FROM carts WHERE id = $1 AND expires_at_ms > $2"
        ).bind(id).bind(now).fetch_optional(pool).await)?;
        Ok(body.map(|b| b.0))
    }

    async fn save(&self, cart: &Cart, expected: i64) -> Result<bool, ApiError> {
        let body = sqlx::types::Json(cart);
        let expires = self.expiry();
        let now = now_ms();
        let affected = if expected == 0 {
            // An expired row with the same id counts as absent.
            with_db!(&self.db, pool => sqlx::query(
                "INSERT INTO carts (id, body, version, expires_at_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, version = excluded.version, \
                 expires_at_ms = excluded.expires_at_ms WHERE carts.expires_at_ms <= $5"
            ).bind(cart.id).bind(body).bind(cart.version).bind(expires).bind(now).execute(pool).await.map(|r| r.rows_affected()))?
        } else {
            with_db!(&self.db, pool => sqlx::query(
                "UPDATE carts SET body = $1, version = $2, expires_at_ms = $3 \
                 WHERE id = $4 AND version = $5 AND expires_at_ms > $6"
            ).bind(body).bind(cart.version).bind(expires).bind(cart.id).bind(expected).bind(now).execute(pool).await.map(|r| r.rows_affected()))?
        };
        Ok(affected == 1)
    }

    async fn user_cart(&self, user: Uuid) -> Result<Option<Uuid>, ApiError> {
        Ok(
            with_db!(&self.db, pool => sqlx::query_scalar("SELECT cart_id FROM user_carts WHERE user_id = $1")
            .bind(user).fetch_optional(pool).await)?,
        )
    }

    async fn swap_user_cart(&self, user: Uuid, expected: Option<Uuid>, cart: Option<Uuid>) -> Result<bool, ApiError> {
        let affected = match (expected, cart) {
            (None, None) => return Ok(self.user_cart(user).await?.is_none()),
            (None, Some(cart)) => with_db!(&self.db, pool => sqlx::query(
                "INSERT INTO user_carts (user_id, cart_id) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING"
            ).bind(user).bind(cart).execute(pool).await.map(|r| r.rows_affected()))?,
            (Some(old), Some(cart)) => with_db!(&self.db, pool => sqlx::query(
                "UPDATE user_carts SET cart_id = $1 WHERE user_id = $2 AND cart_id = $3"
            ).bind(cart).bind(user).bind(old).execute(pool).await.map(|r| r.rows_affected()))?,
            (Some(old), None) => with_db!(&self.db, pool => sqlx::query(
                "DELETE FROM user_carts WHERE user_id = $1 AND cart_id = $2"
            ).bind(user).bind(old).execute(pool).await.map(|r| r.rows_affected()))?,
        };
        Ok(affected == 1)
    }
}
