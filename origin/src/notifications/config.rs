//! Settings of the outgoing webhooks (flattened into the origin's [`Config`](crate::config::Config)).

use std::time::Duration;

/// How deliveries are sent and retried.
///
/// Each argument has an explicit `id`: clap names an argument after its
/// field, and the sync pipeline's config, flattened beside this one, has
/// fields of the same names (`retry_base_ms`, `retry_max_ms`).
#[derive(Clone, Debug, clap::Args)]
pub struct NotificationsConfig {
    /// First retry delay of a failed delivery, in milliseconds; doubled per
    /// attempt, with jitter, up to `--webhook-retry-max-ms`.
    #[arg(
        id = "webhook_retry_base_ms",
        long = "webhook-retry-base-ms",
        env = "VITRINE_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 1_000
    )]
    pub retry_base_ms: u64,

    /// Longest retry delay, in milliseconds.
    #[arg(
        id = "webhook_retry_max_ms",
        long = "webhook-retry-max-ms",
        env = "VITRINE_WEBHOOK_RETRY_MAX_MS",
        default_value_t = 3_600_000
    )]
    pub retry_max_ms: u64,

    /// Attempts of one delivery before it is marked `failed`.
    #[arg(
        id = "webhook_max_attempts",
        long = "webhook-max-attempts",
        env = "VITRINE_WEBHOOK_MAX_ATTEMPTS",
        default_value_t = 12
    )]
    pub max_attempts: u32,

    /// Deadline of one attempt (connect, send, answer), in milliseconds.
    #[arg(
        id = "webhook_timeout_ms",
        long = "webhook-timeout-ms",
        env = "VITRINE_WEBHOOK_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub timeout_ms: u64,

    /// How often the sender looks for new changes and due retries, in
    /// milliseconds (it also looks as soon as this process numbers changes).
    #[arg(
        id = "webhook_poll_interval_ms",
        long = "webhook-poll-interval-ms",
        env = "VITRINE_WEBHOOK_POLL_INTERVAL_MS",
        default_value_t = 500
    )]
    pub poll_interval_ms: u64,

    /// How many endpoints this process sends to at once.
    #[arg(
        id = "webhook_concurrency",
        long = "webhook-concurrency",
        env = "VITRINE_WEBHOOK_CONCURRENCY",
        default_value_t = 16
    )]
    pub concurrency: usize,
}

impl NotificationsConfig {
    /// The defaults.
    pub fn embedded() -> Self {
        Self {
            retry_base_ms: 1_000,
            retry_max_ms: 3_600_000,
            max_attempts: 12,
            timeout_ms: 10_000,
            poll_interval_ms: 500,
            concurrency: 16,
        }
    }

    /// The deadline of one attempt.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The full (unjittered) delay before the retry that follows attempt
    /// number `attempts` (from 1): base × 2^(attempts−1), at most the maximum.
    pub fn backoff_ms(&self, attempts: u32) -> u64 {
        let exp = attempts.saturating_sub(1).min(40);
        self.retry_base_ms.saturating_mul(1u64 << exp).min(self.retry_max_ms)
    }

    /// What is wrong with these settings, if anything.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.retry_base_ms >= 1 && self.retry_base_ms <= self.retry_max_ms,
            "--webhook-retry-base-ms (VITRINE_WEBHOOK_RETRY_BASE_MS) must be at least 1 and not exceed \
             --webhook-retry-max-ms"
        );
        anyhow::ensure!(
            self.max_attempts >= 1,
            "--webhook-max-attempts (VITRINE_WEBHOOK_MAX_ATTEMPTS) must be at least 1"
        );
        anyhow::ensure!(
            (1..=300_000).contains(&self.timeout_ms),
            "--webhook-timeout-ms (VITRINE_WEBHOOK_TIMEOUT_MS) must be between 1 and 300000"
        );
        anyhow::ensure!(
            (1..=60_000).contains(&self.poll_interval_ms),
            "--webhook-poll-interval-ms (VITRINE_WEBHOOK_POLL_INTERVAL_MS) must be between 1 and 60000"
        );
        anyhow::ensure!(
            self.concurrency >= 1,
            "--webhook-concurrency (VITRINE_WEBHOOK_CONCURRENCY) must be at least 1"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let config = NotificationsConfig::embedded();
        assert_eq!(config.backoff_ms(1), 1_000);
        assert_eq!(config.backoff_ms(2), 2_000);
        assert_eq!(config.backoff_ms(11), 1_024_000);
        assert_eq!(config.backoff_ms(13), 3_600_000);
        assert_eq!(config.backoff_ms(u32::MAX), 3_600_000);
        config.validate().expect("the defaults are valid");
    }
}
