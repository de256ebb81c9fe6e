//! The plugin host against real guest components, hostile ones included.
//! After every failure the same host serves the next call normally.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cart, expected_discounts, guest};
use vitrine_runtime::plugins::types::Level;
use vitrine_runtime::plugins::{
    ArtifactCache, BreakerConfig, ConfigGrant, EngineConfig, FailureKind, Grants, Limits, PluginError, PluginHost,
    PluginSpec, World,
};

fn host() -> PluginHost {
    PluginHost::new(EngineConfig::default(), None).expect("host")
}

fn install(host: &PluginHost, spec: PluginSpec) {
    host.install(host.load(spec).expect("load"));
}

/// A host with `good` and `name` installed, `name` under `limits`.
fn host_with(name: &str, limits: Limits) -> PluginHost {
    let host = host();
    install(&host, PluginSpec::from_bytes("good", World::Promotion, guest("good")));
    install(
        &host,
        PluginSpec::from_bytes(name, World::Promotion, guest(name)).with_limits(limits),
    );
    host
}

fn assert_good_still_works(host: &PluginHost) {
    let cart = cart(3);
    let adjustments = host.call_promotion("good", &cart).expect("the next call succeeds");
    let amounts: Vec<i64> = adjustments.iter().map(|a| a.amount_minor).collect();
    assert_eq!(amounts, expected_discounts(&cart, 10));
}

#[test]
fn a_well_behaved_promotion_takes_ten_percent_off_every_line() {
    let host = host();
    install(&host, PluginSpec::from_bytes("good", World::Promotion, guest("good")));
    let cart = cart(10);
    let adjustments = host.call_promotion("good", &cart).expect("call");
    assert_eq!(adjustments.len(), 10);
    for (i, a) in (0u32..).zip(&adjustments) {
        assert_eq!(a.level, Level::Line);
        assert_eq!(a.line, Some(i));
        assert_eq!(a.reason, "10% off");
    }
    let amounts: Vec<i64> = adjustments.iter().map(|a| a.amount_minor).collect();
    assert_eq!(amounts, expected_discounts(&cart, 10));
    let counters = host.counters("good").expect("installed");
    assert_eq!((counters.calls, counters.ok, counters.total_failures()), (1, 1, 0));
}

#[test]
fn config_values_reach_only_their_plugin() {
    let host = host();
    let grants = Grants {
        config: ConfigGrant {
            values: BTreeMap::from([("percent".into(), "25".into())]),
            ..ConfigGrant::default()
        },
        ..Grants::default()
    };
    install(
        &host,
        PluginSpec::from_bytes("quarter", World::Promotion, guest("good")).with_grants(grants),
    );
    install(&host, PluginSpec::from_bytes("tenth", World::Promotion, guest("good")));
    let cart = cart(2);
    let quarter: Vec<i64> = host
        .call_promotion("quarter", &cart)
        .expect("call")
        .iter()
        .map(|a| a.amount_minor)
        .collect();
    let tenth: Vec<i64> = host
        .call_promotion("tenth", &cart)
        .expect("call")
        .iter()
        .map(|a| a.amount_minor)
        .collect();
    assert_eq!(quarter, expected_discounts(&cart, 25));
    assert_eq!(tenth, expected_discounts(&cart, 10));
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline() {
    let limits = Limits {
        fuel: u64::MAX / 2,
        deadline: Duration::from_millis(20),
        ..Limits::default()
    };
    let host = host_with("spin", limits);
    let started = Instant::now();
    let error = host.call_promotion("spin", &cart(1)).expect_err("a loop never answers");
    let took = started.elapsed();
    assert!(matches!(error, PluginError::Deadline { .. }), "{error:?}");
    assert!(took < Duration::from_millis(500), "stopped in {took:?}");
    assert_eq!(
        host.counters("spin")
            .expect("installed")
            .failures(FailureKind::Deadline),
        1
    );
    assert_good_still_works(&host);
}

#[test]
fn an_infinite_loop_is_stopped_by_fuel() {
    let limits = Limits {
        fuel: 5_000_000,
        deadline: Duration::from_secs(30),
        ..Limits::default()
    };
    let host = host_with("spin", limits);
    let error = host.call_promotion("spin", &cart(1)).expect_err("a loop never answers");
    assert!(
        matches!(error, PluginError::FuelExhausted { fuel: 5_000_000, .. }),
        "{error:?}"
    );
    assert_eq!(host.counters("spin").expect("installed").failures(FailureKind::Fuel), 1);
    assert_good_still_works(&host);
}

#[test]
fn a_memory_bomb_traps_at_the_ceiling() {
    let limits = Limits {
        memory_bytes: 8 << 20,
        fuel: u64::MAX / 2,
        deadline: Duration::from_secs(5),
        ..Limits::default()
    };
    let host = host_with("membomb", limits);
    let error = host.call_promotion("membomb", &cart(1)).expect_err("memory runs out");
    assert!(
        matches!(error, PluginError::MemoryLimit { limit_bytes, .. } if limit_bytes == 8 << 20),
        "{error:?}"
    );
    assert_eq!(
        host.counters("membomb")
            .expect("installed")
            .failures(FailureKind::Memory),
        1
    );
    assert_good_still_works(&host);
}

#[test]
fn a_panic_is_a_trap() {
    let host = host_with("trap", Limits::default());
    let error = host.call_promotion("trap", &cart(1)).expect_err("it panics");
    let PluginError::Trap { message, .. } = &error else {
        panic!("expected a trap, got {error:?}")
    };
    assert!(message.contains("unreachable"), "{message}");
    assert_good_still_works(&host);
}

#[test]
fn an_oversized_output_is_refused() {
    let limits = Limits {
        max_output_bytes: 64 << 10,
        fuel: 1_000_000_000,
        deadline: Duration::from_secs(5),
        ..Limits::default()
    };
    let host = host_with("huge", limits);
    let error = host.call_promotion("huge", &cart(1)).expect_err("too much output");
    assert!(
        matches!(error, PluginError::OutputTooLarge { limit, size, .. } if limit == 64 << 10 && size > limit),
        "{error:?}"
    );
    assert_good_still_works(&host);
}

#[test]
fn an_oversized_input_is_refused_before_the_plugin_runs() {
    let limits = Limits {
        max_input_bytes: 1024,
        ..Limits::default()
    };
    let host = host_with("good", limits);
    let error = host.call_promotion("good", &cart(100)).expect_err("too much input");
    assert!(
        matches!(error, PluginError::InputTooLarge { limit: 1024, .. }),
        "{error:?}"
    );
    let counters = host.counters("good").expect("installed");
    assert_eq!(counters.failures(FailureKind::InputTooLarge), 1);
    assert!(host.call_promotion("good", &cart(2)).is_ok());
}

#[test]
fn asking_for_a_secret_not_granted_is_denied() {
    let host = host();
    let grants = Grants {
        config: ConfigGrant {
            secrets: BTreeMap::from([("other-key".into(), "s3cret".into())]),
            ..ConfigGrant::default()
        },
        ..Grants::default()
    };
    install(&host, PluginSpec::from_bytes("good", World::Promotion, guest("good")));
    install(
        &host,
        PluginSpec::from_bytes("secret", World::Promotion, guest("secret")).with_grants(grants),
    );
    let error = host.call_promotion("secret", &cart(1)).expect_err("denied");
    let PluginError::CapabilityDenied { what, .. } = &error else {
        panic!("expected a denial, got {error:?}")
    };
    assert!(what.contains("payment-api-key"), "{what}");
    assert!(!error.to_string().contains("s3cret"));
    assert_eq!(
        host.counters("secret")
            .expect("installed")
            .failures(FailureKind::CapabilityDenied),
        1
    );
    assert_good_still_works(&host);
}

#[test]
fn a_granted_secret_is_given() {
    let host = host();
    let grants = Grants {
        config: ConfigGrant {
            secrets: BTreeMap::from([("payment-api-key".into(), "s3cret".into())]),
            ..ConfigGrant::default()
        },
        ..Grants::default()
    };
    install(
        &host,
        PluginSpec::from_bytes("secret", World::Promotion, guest("secret")).with_grants(grants),
    );
    assert!(host.call_promotion("secret", &cart(1)).expect("granted").is_empty());
}

#[test]
fn a_plugin_that_keeps_failing_is_switched_off_and_back_on() {
    let host = host();
    let breaker = BreakerConfig {
        threshold: 3,
        cool_down: Duration::from_millis(200),
    };
    install(
        &host,
        PluginSpec::from_bytes("trap", World::Promotion, guest("trap")).with_breaker(breaker),
    );
    for _ in 0..3 {
        assert!(matches!(
            host.call_promotion("trap", &cart(1)),
            Err(PluginError::Trap { .. })
        ));
    }
    assert!(matches!(
        host.call_promotion("trap", &cart(1)),
        Err(PluginError::Disabled { .. })
    ));
    std::thread::sleep(Duration::from_millis(250));
    // One probe goes through after the cool-down (and fails again here).
    assert!(matches!(
        host.call_promotion("trap", &cart(1)),
        Err(PluginError::Trap { .. })
    ));
    assert!(matches!(
        host.call_promotion("trap", &cart(1)),
        Err(PluginError::Disabled { .. })
    ));
    let counters = host.counters("trap").expect("installed");
    assert_eq!(counters.failures(FailureKind::Trap), 4);
    assert_eq!(counters.failures(FailureKind::Disabled), 2);
    assert_eq!(counters.calls, 6);
}

#[test]
fn failing_promotions_are_skipped_and_reported() {
    let host = host();
    install(&host, PluginSpec::from_bytes("good", World::Promotion, guest("good")));
    install(&host, PluginSpec::from_bytes("trap", World::Promotion, guest("trap")));
    let outcome = host.apply_promotions(&cart(2));
    assert_eq!(outcome.applied.len(), 1);
    assert_eq!(outcome.applied[0].plugin, "good");
    assert_eq!(outcome.skipped.len(), 1);
    assert_eq!(outcome.skipped[0].0, "trap");
    assert_eq!(outcome.skipped[0].1.kind(), FailureKind::Trap);
}

#[test]
fn unknown_plugins_and_wrong_worlds_are_not_found() {
    let host = host();
    install(&host, PluginSpec::from_bytes("good", World::Promotion, guest("good")));
    assert!(matches!(
        host.call_promotion("nope", &cart(1)),
        Err(PluginError::NotFound(_))
    ));
    assert!(matches!(
        host.call_personalization(
            "good",
            &[],
            &vitrine_runtime::plugins::types::ShopperContext {
                segments: vec![],
                locale: None,
                recently_viewed: vec![],
                recent_categories: vec![],
                on_promotion: vec![],
            }
        ),
        Err(PluginError::NotFound(_))
    ));
}

#[test]
fn a_component_of_another_world_fails_to_load() {
    let host = host();
    let error = host
        .load(PluginSpec::from_bytes("good", World::Personalization, guest("good")))
        .expect_err("wrong world");
    assert!(matches!(error, PluginError::Load { .. }), "{error:?}");
    let error = host
        .load(PluginSpec::from_bytes("junk", World::Promotion, b"not wasm".to_vec()))
        .expect_err("junk");
    assert!(error.to_string().contains("loading plugin `junk`"), "{error}");
}

#[test]
fn compiled_artifacts_are_cached_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ArtifactCache::new(dir.path());
    let first = PluginHost::new(EngineConfig::default(), Some(cache.clone())).expect("host");
    let plugin = first
        .load(PluginSpec::from_bytes("good", World::Promotion, guest("good")))
        .expect("load");
    assert!(!plugin.from_cache());
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    drop(first);

    let second = PluginHost::new(EngineConfig::default(), Some(cache)).expect("host");
    let plugin = second
        .load(PluginSpec::from_bytes("good", World::Promotion, guest("good")))
        .expect("load");
    assert!(plugin.from_cache());
    second.install(Arc::clone(&plugin));
    assert_good_still_works(&second);

    // A corrupt artifact is recompiled, not trusted.
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        std::fs::write(entry.expect("entry").path(), b"garbage").expect("write");
    }
    let third = PluginHost::new(EngineConfig::default(), Some(ArtifactCache::new(dir.path()))).expect("host");
    let plugin = third
        .load(PluginSpec::from_bytes("good", World::Promotion, guest("good")))
        .expect("load");
    assert!(!plugin.from_cache());
}

#[test]
fn removing_a_plugin_takes_it_out_of_service() {
    let host = host();
    install(&host, PluginSpec::from_bytes("good", World::Promotion, guest("good")));
    host.remove("good");
    assert!(matches!(
        host.call_promotion("good", &cart(1)),
        Err(PluginError::NotFound(_))
    ));
    assert!(host.plugins().is_empty());
}

mod payment {
    use super::*;
    use vitrine_runtime::plugins::types::{AuthorizeRequest, Money};
    use vitrine_runtime::plugins::{GuestError, HttpGrant, PaymentAnswer, PaymentCall};

    fn authorize(url: &str) -> PaymentCall {
        PaymentCall::Authorize(AuthorizeRequest {
            idempotency_key: "idem-1".into(),
            order_reference: "order-1".into(),
            amount: Money {
                amount_minor: 1000,
                currency: "ZAR".into(),
            },
            payment_token: url.into(),
            customer_id: None,
        })
    }

    fn host_with_fetch() -> PluginHost {
        let host = host();
        let grants = Grants {
            http: HttpGrant {
                hosts: vec!["api.testpay.example".into()],
                ..HttpGrant::default()
            },
            ..Grants::default()
        };
        install(
            &host,
            PluginSpec::from_bytes("fetch", World::Payment, guest("fetch")).with_grants(grants),
        );
        host
    }

    #[test]
    fn a_host_that_is_not_granted_is_denied_with_a_typed_error() {
        let host = host_with_fetch();
        let error = host
            .call_payment("fetch", &authorize("https://evil.example/steal"))
            .expect_err("denied");
        let PluginError::Guest {
            error: GuestError::Config(message),
            ..
        } = &error
        else {
            panic!("expected the plugin's config error, got {error:?}")
        };
        assert!(
            message.contains("denied: host `evil.example` is not granted"),
            "{message}"
        );
        // The next call on the same host is served.
        assert!(matches!(
            host.call_payment("fetch", &PaymentCall::Capabilities),
            Ok(PaymentAnswer::Capabilities(_))
        ));
    }

    // Requests to granted hosts (sent for real) are tested against a
    // loopback server in outbound_http.rs.
}
