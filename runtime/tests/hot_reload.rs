//! Hot reload under concurrent calls: every answer comes from exactly one
//! version, and no call fails because of a swap.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{cart, expected_discounts, guest};
use vitrine_runtime::plugins::{ConfigGrant, EngineConfig, Grants, Limits, PluginHost, PluginSet, PluginSpec, World};

fn version(host: &PluginHost, percent: u32, wasm: &Arc<[u8]>) -> PluginSet {
    let grants = Grants {
        config: ConfigGrant {
            values: BTreeMap::from([("percent".into(), percent.to_string())]),
            ..ConfigGrant::default()
        },
        ..Grants::default()
    };
    // This test is about swaps, not deadlines: on a loaded 2-core CI machine
    // a debug-build call can take longer than the default 50 ms.
    let limits = Limits {
        deadline: Duration::from_secs(10),
        ..Limits::default()
    };
    // Two plugins per set: a call that saw half a set would mix versions.
    ["sale-a", "sale-b"]
        .into_iter()
        .map(|name| {
            host.load(
                PluginSpec::from_bytes(name, World::Promotion, Arc::clone(wasm))
                    .with_grants(grants.clone())
                    .with_limits(limits),
            )
            .expect("load")
        })
        .collect()
}

#[test]
fn a_hot_reload_under_concurrent_calls_loses_and_mixes_nothing() {
    let host = Arc::new(PluginHost::new(EngineConfig::default(), None).expect("host"));
    let wasm: Arc<[u8]> = guest("good").into();
    let v1 = version(&host, 10, &wasm);
    let v2 = version(&host, 20, &wasm);
    host.replace_set(v1.clone());

    let cart = Arc::new(cart(5));
    let ten = expected_discounts(&cart, 10);
    let twenty = expected_discounts(&cart, 20);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];

    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (host, cart, stop, seen) = (Arc::clone(&host), Arc::clone(&cart), Arc::clone(&stop), seen.clone());
            let (ten, twenty) = (ten.clone(), twenty.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let outcome = host.apply_promotions(&cart);
                    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
                    assert_eq!(outcome.applied.len(), 2, "a whole set, never half");
                    let answers: Vec<Vec<i64>> = outcome
                        .applied
                        .iter()
                        .map(|p| p.adjustments.iter().map(|a| a.amount_minor).collect())
                        .collect();
                    let version = if answers[0] == ten {
                        0
                    } else {
                        assert_eq!(answers[0], twenty, "an answer from neither version");
                        1
                    };
                    assert_eq!(answers[1], answers[0], "one call saw two versions");
                    seen[version].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    for i in 0..200 {
        host.replace_set(if i % 2 == 0 { v2.clone() } else { v1.clone() });
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().expect("a caller panicked");
    }
    let (v1_calls, v2_calls) = (seen[0].load(Ordering::Relaxed), seen[1].load(Ordering::Relaxed));
    assert!(
        v1_calls > 0 && v2_calls > 0,
        "both versions served: v1 {v1_calls}, v2 {v2_calls}"
    );
}
