//! A consecutive-failure circuit breaker, one per loaded plugin.
//!
//! Closed: calls go through; `threshold` misbehaving calls in a row open it.
//! Open: calls are refused with [`PluginError::Disabled`](super::PluginError)
//! until `cool_down` has passed. Then one probe call goes through (half-open):
//! its success closes the breaker, its failure opens it for another cool-down.
//! Only failures whose [`FailureKind::trips_breaker`](super::FailureKind) is
//! true count; any success resets the count.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a plugin's breaker opens and for how long: the operator config's
/// own type, so the two cannot drift apart.
pub use vitrine_edge_config::BreakerConfig;

#[derive(Debug)]
enum State {
    Closed { consecutive: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// The breaker itself.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::Closed { consecutive: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain enum; a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Ok` if a call may go through now, else how long until it may.
    pub(crate) fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Ok(())
            }
            State::Open { until } => Err(until - now),
            // A probe is in flight: refuse others until it answers.
            State::HalfOpen => Err(Duration::ZERO),
        }
    }

    /// Records the outcome of an admitted call. Returns true if this call opened the breaker.
    pub(crate) fn record(&self, now: Instant, misbehaved: bool) -> bool {
        let mut state = self.lock();
        if !misbehaved {
            *state = State::Closed { consecutive: 0 };
            return false;
        }
        let open = match *state {
            State::Closed { consecutive } => consecutive + 1 >= self.config.threshold,
            State::HalfOpen => true,
            // A call admitted before another opened the breaker: keep it open.
            State::Open { .. } => return false,
        };
        *state = if open {
            State::Open {
                until: now + self.config.cool_down,
            }
        } else {
            match *state {
                State::Closed { consecutive } => State::Closed {
                    consecutive: consecutive + 1,
                },
                _ => State::Closed { consecutive: 1 },
            }
        };
        open
    }

    /// Whether the breaker is open (or half-open) now.
    pub(crate) fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cool_down() {
        let breaker = Breaker::new(BreakerConfig {
            threshold: 3,
            cool_down: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(breaker.admit(t0).is_ok());
            assert!(!breaker.record(t0, true));
        }
        assert!(breaker.admit(t0).is_ok());
        assert!(breaker.record(t0, true), "third failure opens");
        assert!(breaker.admit(t0 + Duration::from_secs(5)).is_err());
        // After the cool-down, exactly one probe is let through.
        let later = t0 + Duration::from_secs(11);
        assert!(breaker.admit(later).is_ok());
        assert!(breaker.admit(later).is_err());
        // The probe fails: open again.
        assert!(breaker.record(later, true));
        assert!(breaker.admit(later).is_err());
        // The next probe succeeds: closed.
        let much_later = later + Duration::from_secs(11);
        assert!(breaker.admit(much_later).is_ok());
        breaker.record(much_later, false);
        assert!(!breaker.is_open());
        assert!(breaker.admit(much_later).is_ok());
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = Breaker::new(BreakerConfig {
            threshold: 2,
            cool_down: Duration::from_secs(1),
        });
        let t = Instant::now();
        breaker.record(t, true);
        breaker.record(t, false);
        assert!(!breaker.record(t, true));
        assert!(!breaker.is_open());
    }
}
