//! What the origin's integration tests share: the services `tests/run`
//! starts, found through the environment.

#![allow(dead_code)] // each test binary uses its own part

use vitrine_origin::db::Db;

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A service's variable, or `None` (the test skips) when it is unset and
/// no service is required; under `tests/run` or CI a missing one fails.
pub fn required(name: &str) -> Option<String> {
    let value = env(name);
    if value.is_none() {
        assert!(
            env("VITRINE_REQUIRE_SERVICES").is_none() && env("CI").is_none(),
            "{name} must be set: run tests through `tests/run`"
        );
        eprintln!("SKIPPED: {name} is not set (run `tests/run` to start the services)");
    }
    value
}

/// A new, empty database on the Postgres of `VITRINE_TEST_DATABASE_URL`.
pub async fn fresh_postgres() -> Option<String> {
    let admin = required("VITRINE_TEST_DATABASE_URL")?;
    let name = format!("vt_{}", uuid::Uuid::new_v4().simple());
    let Db::Postgres(pool) = Db::connect(&admin, 1).await.expect("admin connection") else {
        panic!("VITRINE_TEST_DATABASE_URL is not a postgres url")
    };
    // The name is hex digits generated here, never input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create database");
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}
