//! `log`: lines tagged with the plugin's name, rate-limited per plugin.

use std::sync::Mutex;
use std::time::Instant;

use super::HostState;
use crate::plugins::bindings::log::{Host, Level};

/// Longest message kept; the rest is cut.
const MAX_MESSAGE_BYTES: usize = 1024;

/// What a plugin may log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGrant {
    /// Whether lines are written at all (dropped silently otherwise).
    pub enabled: bool,
    /// Sustained lines per second.
    pub lines_per_second: u32,
    /// Lines allowed in a burst.
    pub burst: u32,
}

impl Default for LogGrant {
    fn default() -> Self {
        Self {
            enabled: true,
            lines_per_second: 10,
            burst: 20,
        }
    }
}

/// A token bucket shared by all calls of one plugin.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    grant: LogGrant,
    bucket: Mutex<(f64, Instant)>,
}

impl LogLimiter {
    pub(crate) fn new(grant: LogGrant) -> Self {
        let burst = f64::from(grant.burst);
        Self {
            grant,
            bucket: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn admit(&self) -> bool {
        if !self.grant.enabled {
            return false;
        }
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(bucket.1).as_secs_f64() * f64::from(self.grant.lines_per_second);
        bucket.0 = (bucket.0 + refill).min(f64::from(self.grant.burst));
        bucket.1 = now;
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Host for HostState {
    fn write(&mut self, level: Level, message: String) {
        let plugin = &*self.caps.plugin;
        if !self.caps.log.admit() {
            metrics::counter!("vitrine_plugin_log_dropped_total", "plugin" => plugin.to_owned()).increment(1);
            return;
        }
        let mut message = message;
        if message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        match level {
            Level::Debug => tracing::debug!(target: "vitrine::plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "vitrine::plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "vitrine::plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "vitrine::plugin", plugin, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_empties_after_the_burst() {
        let limiter = LogLimiter::new(LogGrant {
            enabled: true,
            lines_per_second: 1,
            burst: 3,
        });
        let admitted = (0..10).filter(|_| limiter.admit()).count();
        assert_eq!(admitted, 3);
    }

    #[test]
    fn a_disabled_log_admits_nothing() {
        let limiter = LogLimiter::new(LogGrant {
            enabled: false,
            ..LogGrant::default()
        });
        assert!(!limiter.admit());
    }
}
