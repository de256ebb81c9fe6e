//! The origin's one Redis connection: a multiplexed, reconnecting
//! [`ConnectionManager`] that carts, the change stream's publisher and the
//! hot stock counts share (clones are cheap and pipeline on one socket; none
//! of them issues a blocking command or `WATCH`).

use std::time::Duration;

use anyhow::Context as _;
use redis::aio::ConnectionManager;

/// Connects to `url`; fails fast if Redis does not answer. Each command
/// times out after 2 s and is retried twice across a reconnect.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url).with_context(|| format!("while parsing redis url `{url}`"))?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    client
        .get_connection_manager_with_config(config)
        .await
        .context("while connecting to redis")
}
