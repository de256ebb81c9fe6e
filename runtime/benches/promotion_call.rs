//! One promotion call on a 10-line cart: a fresh instance per call (pooling
//! allocator, `InstancePre`), and a call on a reused instance. Two plugins:
//! the test guest `good` (10 % off every line, written with its cost in
//! mind; also at 0 %, answering nothing) and the first-party `category-sale`
//! (through the SDK), both built from source by the bench itself.
//!
//! `cargo bench -p vitrine-runtime --bench promotion_call`
//!
//! Besides criterion's estimates, prints median / p99 / p99.9 over 100k timed
//! calls of each kind (set `PROMOTION_BENCH_SAMPLES` to change the count).
//! Fresh and reused calls alternate, so both see the same machine load.
//! The same is printed for an empty cart: the fixed cost of a call (the
//! host's checks, instantiation, entering the guest), against which the
//! 10-line figures show what the cart itself costs (lowering it into the
//! guest, the guest's work, lifting and checking the answer).

#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vitrine_runtime::plugins::{ConfigGrant, EngineConfig, Grants, PluginHost, PluginSpec, World};

/// The plugins under test: name, component, settings.
fn plugins() -> Vec<(&'static str, Vec<u8>, &'static [(&'static str, &'static str)])> {
    vec![
        ("good", common::guest("good"), &[]),
        // The same guest at 0 %: it answers nothing, so the 10-line figure
        // is what taking the cart in costs (lowering it into the guest).
        ("good-nothing-off", common::guest("good"), &[("percent", "0")]),
        (
            "category-sale",
            common::first_party("category-sale"),
            // Every line of `common::cart` is in `power-tools`.
            &[("category", "power-tools"), ("percent", "15")],
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let percentiles = common::percentiles;
    let host = PluginHost::new(EngineConfig::default(), None).expect("host");
    let cart = common::cart(10);
    let plugins = plugins();
    for (name, wasm, settings) in &plugins {
        let grants = Grants {
            config: ConfigGrant {
                values: settings.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
                ..ConfigGrant::default()
            },
            ..Grants::default()
        };
        let spec = PluginSpec::from_bytes(*name, World::Promotion, wasm.clone()).with_grants(grants);
        host.install(host.load(spec).expect("load"));
        let answers = if *name == "good-nothing-off" { 0 } else { 10 };
        assert_eq!(host.call_promotion(name, &cart).expect("call").len(), answers, "{name}");
        assert!(
            host.call_promotion(name, &common::cart(0)).expect("call").is_empty(),
            "{name}"
        );
    }

    for (name, ..) in &plugins {
        c.bench_function(&format!("promotion/{name}/fresh_instance/10_lines"), |b| {
            b.iter(|| host.call_promotion(name, black_box(&cart)).expect("call"))
        });
        let mut instance = host.promotion_instance(name).expect("instance");
        c.bench_function(&format!("promotion/{name}/reused_instance/10_lines"), |b| {
            b.iter(|| instance.call(black_box(&cart)).expect("call"))
        });
    }

    let n: usize = std::env::var("PROMOTION_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    for (name, ..) in &plugins {
        for (lines, cart) in [(10, &cart), (0, &common::cart(0))] {
            let mut instance = host.promotion_instance(name).expect("instance");
            let mut fresh = Vec::with_capacity(n);
            let mut reused = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                black_box(host.call_promotion(name, black_box(cart)).expect("call"));
                fresh.push(t.elapsed());
                let t = Instant::now();
                black_box(instance.call(black_box(cart)).expect("call"));
                reused.push(t.elapsed());
            }
            percentiles(&format!("{name}: fresh instance + call ({lines} lines)"), fresh);
            percentiles(&format!("{name}: reused instance call ({lines} lines)"), reused);
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
