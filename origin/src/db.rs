//! The relational store: PostgreSQL in production, a SQLite file on the
//! embedded default.
//!
//! Both engines run the same SQL. Code that touches the database is written
//! once inside [`with_db!`], which type-checks the body against each engine's
//! own pool, so each engine gets its native types (Postgres `uuid`, `jsonb`,
//! `timestamptz`) without a lowest-common-denominator driver. The schema is the
//! only place the engines differ: `migrations/postgres` and
//! `migrations/sqlite` hold the same tables with each engine's storage types.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, SqlSafeStr};

/// A pool on one of the two supported engines.
#[derive(Clone, Debug)]
pub enum Db {
    /// PostgreSQL (production and CI).
    Postgres(PgPool),
    /// A SQLite file (the embedded default).
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of whichever engine
/// `$db` is. The body is compiled once per engine.
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Postgres($pool) => $body,
            $crate::db::Db::Sqlite($pool) => $body,
        }
    };
}

/// Opening a write transaction, per engine.
///
/// SQLite upgrades a deferred transaction's read lock to a write lock lazily,
/// and two connections that both read first deadlock with `SQLITE_BUSY` no
/// matter the busy timeout; `BEGIN IMMEDIATE` takes the write lock up front.
pub trait BeginWrite {
    /// The engine.
    type Database: sqlx::Database;
    /// Begins a transaction that will write.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

/// Which engine a database URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `postgres://` or `postgresql://`
    Postgres,
    /// `sqlite:`
    Sqlite,
}

impl Engine {
    /// The engine for `url`, or an error naming the scheme.
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            anyhow::bail!("unsupported database url scheme `{scheme}`: expected postgres:// or sqlite:")
        }
    }
}

impl Db {
    /// Connects to `url` with at most `max_connections` pooled connections.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        match Engine::of_url(url)? {
            Engine::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await
                    .context("while connecting to postgres")?;
                Ok(Self::Postgres(pool))
            }
            Engine::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .with_context(|| format!("while parsing sqlite url `{url}`"))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections.max(1))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .with_context(|| format!("while opening sqlite database `{url}`"))?;
                Ok(Self::Sqlite(pool))
            }
        }
    }

    /// The SQLite URL for the embedded default's database file in `data_dir`.
    pub fn embedded_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("vitrine.db").display())
    }

    /// The engine behind this pool.
    pub fn engine(&self) -> Engine {
        match self {
            Self::Postgres(_) => Engine::Postgres,
            Self::Sqlite(_) => Engine::Sqlite,
        }
    }

    /// Applies every migration not applied yet. Safe to run concurrently from
    /// several processes: sqlx takes an advisory lock on Postgres.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        match self {
            Self::Postgres(pool) => migrator(POSTGRES_MIGRATIONS)
                .run(pool)
                .await
                .context("while migrating postgres")?,
            Self::Sqlite(pool) => migrator(SQLITE_MIGRATIONS)
                .run(pool)
                .await
                .context("while migrating sqlite")?,
        }
        Ok(())
    }

    /// Whether the database answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> bool {
        with_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// (connections open, connections idle) for the pool gauge.
    pub fn pool_usage(&self) -> (u32, usize) {
        with_db!(self, pool => (pool.size(), pool.num_idle()))
    }

    /// Closes every connection, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        with_db!(self, pool => pool.close().await)
    }
}

/// (version, description, sql) of each migration, in order.
type MigrationSource = &'static [(i64, &'static str, &'static str)];

const POSTGRES_MIGRATIONS: MigrationSource = &[
    (
        1,
        "commerce core",
        include_str!("../migrations/postgres/0001_commerce_core.sql"),
    ),
    (
        2,
        "listing indexes",
        include_str!("../migrations/postgres/0002_listing_indexes.sql"),
    ),
    (
        3,
        "change feed",
        include_str!("../migrations/postgres/0003_change_feed.sql"),
    ),
    (4, "sync", include_str!("../migrations/postgres/0004_sync.sql")),
    (
        5,
        "notifications",
        include_str!("../migrations/postgres/0005_notifications.sql"),
    ),
    (
        6,
        "payment tasks",
        include_str!("../migrations/postgres/0006_payment_tasks.sql"),
    ),
    (
        7,
        "customer segments",
        include_str!("../migrations/postgres/0007_customer_segments.sql"),
    ),
];

const SQLITE_MIGRATIONS: MigrationSource = &[
    (
        1,
        "commerce core",
        include_str!("../migrations/sqlite/0001_commerce_core.sql"),
    ),
    (
        2,
        "listing indexes",
        include_str!("../migrations/sqlite/0002_listing_indexes.sql"),
    ),
    (
        3,
        "change feed",
        include_str!("../migrations/sqlite/0003_change_feed.sql"),
    ),
    (4, "sync", include_str!("../migrations/sqlite/0004_sync.sql")),
    (
        5,
        "notifications",
        include_str!("../migrations/sqlite/0005_notifications.sql"),
    ),
    (
        6,
        "payment tasks",
        include_str!("../migrations/sqlite/0006_payment_tasks.sql"),
    ),
    (
        7,
        "customer segments",
        include_str!("../migrations/sqlite/0007_customer_segments.sql"),
    ),
];

fn migrator(source: MigrationSource) -> Migrator {
    let migrations = source
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                AssertSqlSafe(sql).into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Whether `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Milliseconds since the Unix epoch, the unit of every time SQL compares.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_chosen_by_scheme() {
        assert_eq!(Engine::of_url("postgres://u@h/db").unwrap(), Engine::Postgres);
        assert_eq!(Engine::of_url("postgresql://u@h/db").unwrap(), Engine::Postgres);
        assert_eq!(Engine::of_url("sqlite://x.db").unwrap(), Engine::Sqlite);
        let err = Engine::of_url("mysql://h/db").unwrap_err().to_string();
        assert!(err.contains("`mysql`"), "{err}");
    }

    #[tokio::test]
    async fn sqlite_migrates_twice_without_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&Db::embedded_url(dir.path()), 2).await.unwrap();
        db.migrate().await.unwrap();
        db.migrate().await.unwrap();
        assert!(db.ping().await);
    }
}
