//! The edge follows a change feed (the origin's long-poll contract, played
//! by a scripted origin): a change purges its keys' pages within a second;
//! a gap in the sequence marks every page stale.

#[path = "edge/harness.rs"]
mod harness;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{EdgeUnderTest, Origin, client, page, x_cache};
use http::StatusCode;

/// The feed: changes as (seq, keys); `/internal/v1/changes?after=N` answers
/// those after N, waiting up to 200 ms when there are none.
/// Changes as (seq, surrogate keys).
type Feed = Arc<Mutex<Vec<(u64, Vec<String>)>>>;

fn serve_feed(origin: &Origin, feed: Feed) {
    origin.on("/internal/v1/changes?*", move |request, _| {
        let after: u64 = request
            .target
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("after="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let deadline = Instant::now() + Duration::from_millis(200);
        loop {
            let changes = feed.lock().expect("lock").clone();
            let last = changes.last().map_or(0, |c| c.0);
            let new: Vec<_> = changes.iter().filter(|c| c.0 > after).collect();
            if !new.is_empty() || Instant::now() > deadline || after >= i64::MAX as u64 {
                let body = serde_json::json!({
                    "changes": new.iter().map(|(seq, keys)| serde_json::json!({
                        "seq": seq, "topic": "product.price_changed", "entity": keys[0], "surrogate_keys": keys
                    })).collect::<Vec<_>>(),
                    "first_seq": changes.first().map(|c| c.0),
                    "last_seq": last,
                });
                return (
                    StatusCode::OK,
                    vec![("content-type", "application/json".into())],
                    body.to_string(),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

fn product_page(origin: &Origin, path: &'static str, keys: &'static str) {
    origin.on(path, move |_, n| {
        let (status, mut headers, _) = page("public, max-age=600", String::new());
        headers.push(("surrogate-key", keys.to_owned()));
        (status, headers, format!("v{n}"))
    });
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_purges_every_page_that_shows_it_within_a_second() {
    let origin = Origin::start().await;
    let feed = Arc::new(Mutex::new(vec![(1, vec!["product:0".to_owned()])]));
    serve_feed(&origin, Arc::clone(&feed));
    product_page(&origin, "/api/v1/products/1", "product:1");
    product_page(
        &origin,
        "/api/v1/categories/drills/products",
        "category:drills product:1 product:2",
    );
    product_page(&origin, "/api/v1/products/2", "product:2");
    let edge = EdgeUnderTest::start(origin.addr, "change_feed = { kind = \"poll\", wait_ms = 1000 }", "").await;
    until("the feed to sync", async || edge.feed.readiness().0).await;
    assert_eq!(edge.feed.last_applied(), 1, "starts at the feed's end");

    let http = client();
    for path in [
        "/api/v1/products/1",
        "/api/v1/categories/drills/products",
        "/api/v1/products/2",
    ] {
        http.get(edge.url(path)).send().await.expect("warm");
        assert_eq!(x_cache(&http.get(edge.url(path)).send().await.expect("get")), "HIT");
    }

    // product 1's price changes at the origin.
    feed.lock().expect("lock").push((2, vec!["product:1".to_owned()]));
    let took = until("the purge", async || edge.feed.last_applied() == 2).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    for path in ["/api/v1/products/1", "/api/v1/categories/drills/products"] {
        let r = http.get(edge.url(path)).send().await.expect("get");
        assert_eq!(x_cache(&r), "MISS", "{path} was purged");
        assert_eq!(r.text().await.expect("body"), "v2");
    }
    assert_eq!(
        x_cache(&http.get(edge.url("/api/v1/products/2")).send().await.expect("get")),
        "HIT",
        "untouched"
    );
    assert_eq!(edge.feed.full_purges(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_in_the_feed_marks_every_page_stale() {
    let origin = Origin::start().await;
    let feed = Arc::new(Mutex::new(vec![(5, vec!["product:0".to_owned()])]));
    serve_feed(&origin, Arc::clone(&feed));
    product_page(&origin, "/api/v1/products/2", "product:2");
    let edge = EdgeUnderTest::start(origin.addr, "change_feed = { kind = \"poll\", wait_ms = 1000 }", "").await;
    until("the feed to sync", async || edge.feed.readiness().0).await;
    let http = client();
    http.get(edge.url("/api/v1/products/2")).send().await.expect("warm");

    // 6 and 7 were trimmed before this edge saw them: it cannot know
    // whether they named product 2.
    feed.lock().expect("lock").push((8, vec!["product:9".to_owned()]));
    until("the gap", async || edge.feed.last_applied() == 8).await;
    assert_eq!(edge.feed.full_purges(), 1);
    let r = http.get(edge.url("/api/v1/products/2")).send().await.expect("get");
    assert_ne!(x_cache(&r), "HIT", "validated with the origin first");
    assert_eq!(r.text().await.expect("body"), "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_feed() {
    let origin = Origin::start().await;
    let edge = EdgeUnderTest::start(origin.addr, "change_feed = { kind = \"poll\", wait_ms = 1000 }", "").await;
    // The origin has no feed: not ready, and says why.
    let r = client().get(edge.url("/readyz")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.expect("body").contains("disconnected"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_longer_than_the_origin_deadline_is_not_a_failure() {
    let origin = Origin::start().await;
    // An idle feed that holds each poll for its whole wait_ms, as the real
    // origin does.
    origin.on("/internal/v1/changes?*", |request, _| {
        let wait: u64 = request
            .target
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("wait_ms="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        std::thread::sleep(Duration::from_millis(wait));
        let body = serde_json::json!({ "changes": [], "first_seq": null, "last_seq": 0 });
        (
            StatusCode::OK,
            vec![("content-type", "application/json".into())],
            body.to_string(),
        )
    });
    // The harness's origin deadline is 2 s; the poll waits 2.5 s.
    let edge = EdgeUnderTest::start(origin.addr, "change_feed = { kind = \"poll\", wait_ms = 2500 }", "").await;
    until("the feed to sync", async || edge.feed.readiness().0).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(edge.feed.failures(), 0, "{}", edge.feed.readiness().1);
    assert!(edge.feed.connected());
}
