//! A personalized hit's own work, in process: the first-party
//! `personalization` plugin run by the edge on a cached 20 KB listing page
//! (the page `tests/bench/edge-vs-peers.sh` serves), for a shopper in the
//! `trade` segment. Printed apart: the whole step the edge adds to a hit
//! (`personalize_listing`: read the page, call the plugin, write the page),
//! and the plugin call alone on the page's summaries.
//!
//! `cargo bench -p vitrine-runtime --bench personalize`
//!
//! Prints median / p99 over 20k timed calls of each (set
//! `PERSONALIZE_BENCH_SAMPLES` to change the count).

#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vitrine_runtime::edge::personalize::{ListingPage, personalize_listing};
use vitrine_runtime::plugins::types::ShopperContext;
use vitrine_runtime::plugins::{ConfigGrant, EngineConfig, Grants, PluginHost, PluginSpec, World};

/// The benchmark script's page: products until the JSON passes 20 KiB.
fn page() -> Vec<u8> {
    let mut products = Vec::new();
    let mut len = 0;
    while len < 20 * 1024 {
        let i = products.len();
        let category = ["drills", "saws", "paint"][i % 3];
        products.push(serde_json::json!({
            "id": format!("p{i:05}"), "sku": format!("SKU-{i:05}"), "name": format!("Cordless drill {i}"),
            "brand": "Acme", "category": category,
            "price": {"amount_minor": 129_900 + i, "currency": "ZAR"}, "in_stock": true,
        }));
        len = serde_json::to_vec(&serde_json::json!({ "products": products }))
            .expect("json")
            .len();
    }
    serde_json::to_vec(&serde_json::json!({ "products": products })).expect("json")
}

fn bench(c: &mut Criterion) {
    let percentiles = common::percentiles;
    let host = PluginHost::new(EngineConfig::default(), None).expect("host");
    let grants = Grants {
        config: ConfigGrant {
            values: [("segment_categories".into(), "trade=saws".into())]
                .into_iter()
                .collect(),
            ..ConfigGrant::default()
        },
        ..Grants::default()
    };
    let spec = PluginSpec::from_bytes(
        "personalization",
        World::Personalization,
        common::first_party("personalization"),
    )
    .with_grants(grants);
    host.install(host.load(spec).expect("load"));
    let plugins = vec!["personalization".to_owned()];
    let body = bytes::Bytes::from(page());
    let listing = ListingPage::parse(&body).expect("a listing");
    let context = ShopperContext {
        segments: vec!["trade".into()],
        locale: Some("en-za".into()),
        recently_viewed: vec![],
        recent_categories: vec![],
        on_promotion: vec![],
    };
    let out = personalize_listing(&host, &plugins, &listing, &context).expect("personalized");
    let first: serde_json::Value = serde_json::from_slice(&out).expect("json out");
    assert_eq!(
        first["products"][0]["category"], "saws",
        "trade shoppers see saws first"
    );
    println!("page: {} bytes, {} products", body.len(), listing.len());

    c.bench_function("personalize/parse_listing", |b| {
        b.iter(|| ListingPage::parse(black_box(&body)).expect("listing"))
    });
    c.bench_function("personalize/listing_20k", |b| {
        b.iter(|| personalize_listing(&host, &plugins, black_box(&listing), &context).expect("ok"))
    });
    c.bench_function("personalize/plugin_call_only", |b| {
        b.iter(|| {
            host.call_personalization("personalization", black_box(listing.summaries()), &context)
                .expect("ok")
        })
    });

    let n: usize = std::env::var("PERSONALIZE_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (mut whole, mut call) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        black_box(personalize_listing(&host, &plugins, black_box(&listing), &context).expect("ok"));
        whole.push(t.elapsed());
        let t = Instant::now();
        black_box(
            host.call_personalization("personalization", listing.summaries(), &context)
                .expect("ok"),
        );
        call.push(t.elapsed());
    }
    percentiles("personalize_listing (call + writing the page)", whole);
    percentiles("plugin call alone", call);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
