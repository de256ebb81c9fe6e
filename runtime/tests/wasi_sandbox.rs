//! What a guest reaches through WASI: millisecond clocks, and no timers to
//! sleep on inside the host (where the deadline and fuel cannot stop it).

#![allow(missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{cart, guest};
use vitrine_runtime::plugins::{EngineConfig, FailureKind, PluginError, PluginHost, PluginSpec, World};

fn host_with_sleeper() -> PluginHost {
    let host = PluginHost::new(EngineConfig::default(), None).expect("host");
    for name in ["sleep", "good"] {
        let plugin = host
            .load(PluginSpec::from_bytes(name, World::Promotion, guest(name)))
            .expect("load");
        host.install(plugin);
    }
    host
}

#[test]
fn a_guest_cannot_sleep_in_the_host() {
    let host = host_with_sleeper();
    let started = Instant::now();
    let error = host
        .call_promotion("sleep", &cart(1))
        .expect_err("a 30 s sleep is refused");
    let took = started.elapsed();
    let PluginError::CapabilityDenied { what, .. } = &error else {
        panic!("expected a denial, got {error:?}")
    };
    assert!(what.contains("timers are not available"), "{what}");
    assert!(took < Duration::from_secs(2), "the call took {took:?}");
    assert_eq!(
        host.counters("sleep")
            .expect("installed")
            .failures(FailureKind::CapabilityDenied),
        1
    );
    // The host serves the next call normally.
    let adjustments = host.call_promotion("good", &cart(2)).expect("good still works");
    assert_eq!(adjustments.len(), 2);
}

#[test]
fn guest_clocks_tell_whole_milliseconds() {
    let host = host_with_sleeper();
    let mut input = cart(1);
    input.coupon_codes = vec!["CLOCK".into()];
    let adjustments = host.call_promotion("sleep", &input).expect("reads the clocks");
    let reason = &adjustments[0].reason;
    let (wall_subsec_nanos, monotonic_step) = reason.split_once(' ').expect("two numbers");
    let wall_subsec_nanos: u64 = wall_subsec_nanos.parse().expect("a number");
    let monotonic_step: u64 = monotonic_step.parse().expect("a number");
    assert_eq!(wall_subsec_nanos % 1_000_000, 0, "wall clock: {reason}");
    assert!(monotonic_step >= 1_000_000, "monotonic clock: {reason}");
    assert_eq!(monotonic_step % 1_000_000, 0, "monotonic clock: {reason}");
}
