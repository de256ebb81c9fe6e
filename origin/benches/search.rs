//! Search on the demo catalog: the full index build from the database, and
//! typo-tolerant two-word queries with every facet (category, brand, price
//! ranges, stock) counted.
//!
//! `cargo bench -p vitrine-origin --bench search`
//!
//! Seeds `SEARCH_BENCH_PRODUCTS` (default 100 000) demo products into a
//! SQLite file, times `indexer::build` over them (what `vitrine-origin
//! reindex` does), then times queries made from product names: two words
//! of one name, one of them with two neighbouring letters swapped (a typo
//! one edit away). Each query runs as typed (the last word matches as a
//! prefix, search-as-you-type) and finished (a trailing space: no prefix).
//! Prints median / p90 / p99 / p99.9 over `SEARCH_BENCH_SAMPLES` (default
//! 2 000) timed queries of each kind, alternating, besides criterion's
//! estimate for one query.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vitrine_origin::config::Config;
use vitrine_origin::search::SearchIndex;
use vitrine_origin::search::query::SearchRequest;
use vitrine_origin::seed::{Generator, SeedArgs};
use vitrine_origin::state::AppState;

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentiles(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label}: n={} median={:.2?} p90={:.2?} p99={:.2?} p99.9={:.2?} max={:.2?}",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        samples[samples.len() - 1]
    );
}

/// Two words of product `i`'s name (letters only, four or more), one with
/// two neighbouring letters swapped.
fn typo_query(generator: &Generator, seed: u64, i: u32) -> Option<String> {
    let product = generator.product(seed, i);
    let words: Vec<String> = product
        .name
        .split_whitespace()
        .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_lowercase)
        .collect();
    let (a, b) = match words.as_slice() {
        [a, b, ..] => (a.clone(), b.clone()),
        _ => return None,
    };
    let (mut a, b) = if i % 2 == 0 { (a, b) } else { (b, a) };
    // Swap the second and third letters: "drill" → "dlril".
    let mut chars: Vec<char> = a.chars().collect();
    chars.swap(1, 2);
    a = chars.into_iter().collect();
    Some(if i % 4 < 2 {
        format!("{a} {b}")
    } else {
        format!("{b} {a}")
    })
}

fn bench(c: &mut Criterion) {
    let products = env_number("SEARCH_BENCH_PRODUCTS", 100_000);
    let samples = env_number("SEARCH_BENCH_SAMPLES", 2_000);
    let seed = 42;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::embedded(dir.path());

    let state = runtime.block_on(async {
        let state = AppState::connect(config.clone(), true).await.expect("state");
        let report = vitrine_origin::seed::run(&state, &SeedArgs { products, seed })
            .await
            .expect("seed");
        println!("seeded {} products in {:.2?}", report.products_created, report.elapsed);
        state
    });

    let build = runtime
        .block_on(vitrine_origin::search::indexer::rebuild(&state.db, state.search.root()))
        .expect("build");
    println!(
        "full index build: {} products in {:.2?} ({:.0} products/s)",
        build.products,
        build.elapsed,
        build.products as f64 / build.elapsed.as_secs_f64()
    );
    let index = SearchIndex::open(&config).expect("open the built index");
    let segments = index
        .live()
        .expect("a generation")
        .reader
        .searcher()
        .segment_readers()
        .len();
    println!("segments: {segments}");

    let generator = Generator::new();
    let queries: Vec<String> = (0..products)
        .step_by((products / 500).max(1) as usize)
        .filter_map(|i| typo_query(&generator, seed, i))
        .collect();
    println!(
        "{} distinct queries, e.g. {:?}",
        queries.len(),
        &queries[..3.min(queries.len())]
    );
    let request = |q: String| SearchRequest {
        q,
        page: 1,
        per_page: 24,
        ..SearchRequest::default()
    };

    // Warm the page cache and the readers.
    let mut matched = 0u64;
    for q in &queries {
        matched += u64::from(index.search(&request(q.clone())).expect("search").total > 0);
    }
    println!("{matched} of {} queries find something", queries.len());

    let mut typed = Vec::with_capacity(samples as usize);
    let mut finished = Vec::with_capacity(samples as usize);
    for n in 0..samples as usize {
        let q = &queries[n % queries.len()];
        let r = request(q.clone());
        let started = Instant::now();
        black_box(index.search(&r).expect("search"));
        typed.push(started.elapsed());
        let r = request(format!("{q} "));
        let started = Instant::now();
        black_box(index.search(&r).expect("search"));
        finished.push(started.elapsed());
    }
    percentiles(
        "typo two-word query + facets, as typed (prefix on the last word)",
        typed,
    );
    percentiles("typo two-word query + facets, finished (no prefix)", finished);

    let mut n = 0usize;
    c.bench_function("search: typo two-word query + facets, as typed", |b| {
        b.iter(|| {
            n += 1;
            black_box(
                index
                    .search(&request(queries[n % queries.len()].clone()))
                    .expect("search"),
            )
        })
    });
    drop(runtime);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
