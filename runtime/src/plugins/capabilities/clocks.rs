//! Time, as plugins see it: milliseconds, and no timers.
//!
//! WASI's clocks are replaced by ones that only tell whole milliseconds
//! (a finer clock helps timing side channels and nothing a plugin does),
//! and `wasi:clocks/monotonic-clock`'s `subscribe-duration` and
//! `subscribe-instant` are refused: a pollable timer would let a guest sleep
//! inside the host (`std::thread::sleep` in a Rust guest), where neither the
//! epoch deadline nor fuel can stop it. A guest that asks for one is stopped
//! with [`PluginError::CapabilityDenied`](crate::plugins::PluginError).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::Linker;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

use super::HostState;

const MS: Duration = Duration::from_millis(1);
const MS_NANOS: u64 = 1_000_000;

/// Wall-clock time since the Unix epoch, truncated to the millisecond.
pub(crate) struct MillisWallClock;

impl HostWallClock for MillisWallClock {
    fn resolution(&self) -> Duration {
        MS
    }

    fn now(&self) -> Duration {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Duration::from_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

/// Monotonic nanoseconds since the store's first use of it, truncated to
/// the millisecond.
pub(crate) struct MillisMonotonicClock {
    start: Instant,
}

impl MillisMonotonicClock {
    pub(crate) fn new() -> Self {
        Self { start: Instant::now() }
    }
}

impl HostMonotonicClock for MillisMonotonicClock {
    fn resolution(&self) -> u64 {
        MS_NANOS
    }

    fn now(&self) -> u64 {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        nanos - nanos % MS_NANOS
    }
}

/// The monotonic clock as wasmtime-wasi defines it; imports of earlier 0.2.x
/// versions resolve to it.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Redefines the timer functions of WASI's monotonic clock to stop the guest.
pub(crate) fn deny_timers(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    for name in ["subscribe-duration", "subscribe-instant"] {
        clock.func_new(name, move |mut store, _ty, _params, _results| {
            Err(store.data_mut().deny(format!(
                "wasi:clocks/monotonic-clock.{name}: timers are not available to plugins"
            )))
        })?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_tell_whole_milliseconds() {
        let wall = MillisWallClock.now();
        assert_eq!(wall.subsec_nanos() % 1_000_000, 0);
        assert!(
            wall > Duration::from_secs(1_700_000_000),
            "{wall:?} is not a time since the epoch"
        );
        let mono = MillisMonotonicClock::new();
        std::thread::sleep(Duration::from_millis(3));
        let now = mono.now();
        assert_eq!(now % MS_NANOS, 0);
        assert!(now >= 3 * MS_NANOS, "{now}");
        assert_eq!(mono.resolution(), MS_NANOS);
    }
}
