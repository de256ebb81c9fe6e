//! The edge's HTTP rules, against a scripted origin: hits and `Age`, client
//! validators, `Vary`, what is never stored, stale-while-revalidate,
//! stale-if-error, coalescing, write forwarding, limits, admin purges.

#[path = "edge/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{ADMIN, EdgeUnderTest, Origin, age, client, http_now, page, x_cache};
use http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_get_is_a_hit_with_a_growing_age() {
    let origin = Origin::start().await;
    origin.on("/api/v1/products/1", |_, n| {
        page("public, max-age=60", format!("{{\"version\":{n}}}"))
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();

    let first = http.get(edge.url("/api/v1/products/1")).send().await.expect("get");
    assert_eq!(first.status(), 200);
    assert_eq!(x_cache(&first), "MISS");
    assert!(first.headers().contains_key("x-request-id"));
    let first_id = first.headers()["x-request-id"].to_str().expect("text").to_owned();
    assert_eq!(first.text().await.expect("body"), "{\"version\":1}");

    let second = http.get(edge.url("/api/v1/products/1")).send().await.expect("get");
    assert_eq!(x_cache(&second), "HIT");
    let age_then = age(&second);
    // One of each of the headers a hit sets, and a new request id each time.
    for name in ["age", "x-cache", "x-request-id"] {
        assert_eq!(second.headers().get_all(name).iter().count(), 1, "{name} once");
    }
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().expect("text").to_owned();
    let second_id = id(&second);
    assert_ne!(first_id, second_id);
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(
        second_id.split_once('-').is_some_and(|(a, b)| hex(a) && hex(b)),
        "request id `{second_id}` is <start>-<counter> in hex"
    );
    assert_eq!(second.text().await.expect("body"), "{\"version\":1}");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let third = http.get(edge.url("/api/v1/products/1")).send().await.expect("get");
    assert_eq!(x_cache(&third), "HIT");
    assert!(
        age(&third) >= age_then + 2,
        "Age grows: {} then {}",
        age_then,
        age(&third)
    );
    assert_eq!(origin.count("/api/v1/products/1"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_parameters_are_sorted_and_tracking_ones_dropped_from_the_key() {
    let origin = Origin::start().await;
    origin.on("/api/v1/search?a=1&b=2", |_, _| page("public, max-age=60", "[]".into()));
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    let first = http.get(edge.url("/api/v1/search?a=1&b=2")).send().await.expect("get");
    assert_eq!(x_cache(&first), "MISS");
    let second = http
        .get(edge.url("/api/v1/search?b=2&utm_source=mail&a=1&gclid=x"))
        .send()
        .await
        .expect("get");
    assert_eq!(x_cache(&second), "HIT");
    assert_eq!(origin.count("/api/v1/search?a=1&b=2"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_validators_get_304_from_the_cache() {
    let origin = Origin::start().await;
    origin.on("/p", |_, _| {
        let (status, mut headers, body) = page("public, max-age=60", "{}".into());
        headers.push(("etag", "\"v1\"".into()));
        headers.push(("last-modified", "Tue, 01 Dec 2026 10:00:00 GMT".into()));
        (status, headers, body)
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    http.get(edge.url("/p")).send().await.expect("warm");

    let r = http
        .get(edge.url("/p"))
        .header("if-none-match", "\"v1\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()["etag"], "\"v1\"");
    assert!(r.headers().contains_key("age"));
    assert_eq!(r.text().await.expect("body"), "");

    let r = http
        .get(edge.url("/p"))
        .header("if-none-match", "W/\"v1\", \"v0\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "weak comparison, lists");
    let r = http
        .get(edge.url("/p"))
        .header("if-none-match", "\"v2\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(edge.url("/p"))
        .header("if-modified-since", "Tue, 01 Dec 2026 11:00:00 GMT")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(origin.count("/p"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vary_keeps_variants_apart() {
    let origin = Origin::start().await;
    origin.on("/p", |request, _| {
        let language = request
            .headers
            .get("accept-language")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let (status, mut headers, _) = page("public, max-age=60", String::new());
        headers.push(("vary", "Accept-Language".into()));
        (status, headers, language)
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    let get = |language: &'static str| {
        let http = http.clone();
        let url = edge.url("/p");
        async move {
            let r = http
                .get(url)
                .header("accept-language", language)
                .send()
                .await
                .expect("get");
            (x_cache(&r), r.text().await.expect("body"))
        }
    };
    assert_eq!(get("en").await, ("MISS".into(), "en".into()));
    assert_eq!(get("de").await, ("MISS".into(), "de".into()));
    assert_eq!(get("en").await, ("HIT".into(), "en".into()));
    assert_eq!(get("de").await, ("HIT".into(), "de".into()));
    assert_eq!(origin.count("/p"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_no_store_and_cookies_are_never_stored() {
    let origin = Origin::start().await;
    origin.on("/private", |_, n| page("private, max-age=60", format!("mine {n}")));
    origin.on("/no-store", |_, n| page("no-store", format!("n {n}")));
    origin.on("/cookie", |_, n| {
        let (status, mut headers, body) = page("public, max-age=60", format!("c {n}"));
        headers.push(("set-cookie", format!("session={n}")));
        (status, headers, body)
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    for path in ["/private", "/no-store", "/cookie"] {
        for i in 1..=3 {
            let r = http.get(edge.url(path)).send().await.expect("get");
            assert_eq!(x_cache(&r), "PASS", "{path}");
            assert!(
                r.text().await.expect("body").ends_with(&i.to_string()),
                "{path}: each from the origin"
            );
        }
        assert_eq!(origin.count(path), 3, "{path}");
    }
    assert!(edge.edge.store.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_serves_stale_while_exactly_one_refresh_goes_out() {
    let origin = Origin::start().await;
    // Fresh for a second at first; the refresh is fresh for a minute, so a
    // loaded machine cannot let it go stale before the last check.
    origin.on("/p", |_, n| {
        let cache_control = if n == 1 {
            "public, max-age=1, stale-while-revalidate=30"
        } else {
            "public, max-age=60, stale-while-revalidate=30"
        };
        page(cache_control, format!("v{n}"))
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    http.get(edge.url("/p")).send().await.expect("warm");
    origin.delay("/p", Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let stale: Vec<_> = futures_util::future::join_all((0..20).map(|_| {
        let http = http.clone();
        let url = edge.url("/p");
        async move {
            let r = http.get(url).send().await.expect("get");
            (x_cache(&r), r.text().await.expect("body"))
        }
    }))
    .await;
    assert!(
        stale.iter().all(|(cache, body)| cache == "STALE" && body == "v1"),
        "{stale:?}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(origin.count("/p"), 2, "one background refresh for twenty stale serves");
    let r = http.get(edge.url("/p")).send().await.expect("get");
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(r.text().await.expect("body"), "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_origin_down_cached_pages_are_served_stale_and_writes_get_503() {
    let origin = Origin::start().await;
    origin.on("/p", |_, _| {
        page("public, max-age=1, stale-if-error=600", "cached".into())
    });
    origin.on("/short", |_, _| page("public, max-age=1", "no grace".into()));
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    http.get(edge.url("/p")).send().await.expect("warm");
    http.get(edge.url("/short")).send().await.expect("warm");
    origin.kill();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let r = http.get(edge.url("/p")).send().await.expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(x_cache(&r), "STALE");
    assert_eq!(r.text().await.expect("body"), "cached");

    // No stale-if-error: the failure shows, with Retry-After.
    let r = http.get(edge.url("/short")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));

    let started = std::time::Instant::now();
    let r = http
        .post(edge.url("/api/v1/carts"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "never a hang: {:?}",
        started.elapsed()
    );
    let body: serde_json::Value = r.json().await.expect("json error");
    assert_eq!(body["error"]["code"], "origin_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_does_not_answer_in_time_is_a_504_not_a_hang() {
    let origin = Origin::start().await;
    origin.on("/slow", |_, _| page("public, max-age=60", "late".into()));
    origin.delay("/slow", Duration::from_secs(5));
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let started = std::time::Instant::now();
    let r = client().get(edge.url("/slow")).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_misses_make_one_origin_request() {
    let origin = Origin::start().await;
    origin.on("/hot", |_, n| page("public, max-age=60", format!("v{n}")));
    origin.delay("/hot", Duration::from_millis(300));
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    let answers = futures_util::future::join_all((0..1000).map(|_| {
        let http = http.clone();
        let url = edge.url("/hot");
        async move {
            let r = http.get(url).send().await.expect("get");
            (r.status(), r.text().await.expect("body"))
        }
    }))
    .await;
    let mut seen = std::collections::BTreeMap::<(u16, String), usize>::new();
    for (status, body) in &answers {
        *seen
            .entry((status.as_u16(), body.chars().take(80).collect()))
            .or_default() += 1;
    }
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        vec![&(200, "v1".to_owned())],
        "every shopper gets the one fetched page; answers by (status, body): {seen:?}"
    );
    assert_eq!(origin.count("/hot"), 1);
    assert!(
        edge.edge
            .stats()
            .coalesced_waits
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncacheable_answer_is_never_handed_to_coalesced_waiters() {
    let origin = Origin::start().await;
    origin.on("/me", |request, _| {
        let who = request
            .headers
            .get("x-shopper")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (StatusCode::OK, vec![("cache-control", "private".into())], who)
    });
    origin.delay("/me", Duration::from_millis(200));
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    let answers = futures_util::future::join_all((0..10).map(|i| {
        let http = http.clone();
        let url = edge.url("/me");
        async move {
            let r = http
                .get(url)
                .header("x-shopper", format!("s{i}"))
                .send()
                .await
                .expect("get");
            (i, r.text().await.expect("body"))
        }
    }))
    .await;
    for (i, body) in answers {
        assert_eq!(body, format!("s{i}"), "shopper {i} got someone else's page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_signed_traced_and_invalidate_their_url() {
    let origin = Origin::start().await;
    origin.on("/api/v1/carts/c1", |request, n| {
        if request.method == "GET" {
            page("public, max-age=60", format!("cart v{n}"))
        } else {
            (
                StatusCode::OK,
                vec![("content-type", "application/json".into())],
                "{}".into(),
            )
        }
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    http.get(edge.url("/api/v1/carts/c1")).send().await.expect("warm");
    let r = http.get(edge.url("/api/v1/carts/c1")).send().await.expect("get");
    assert_eq!(x_cache(&r), "HIT");

    let r = http
        .patch(edge.url("/api/v1/carts/c1"))
        .header("content-type", "application/json")
        .header("x-vitrine-edge-signature", "t=1,v1=forged")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .header("x-request-id", "req-42")
        .body("{\"quantity\":2}")
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "req-42");
    let seen = origin.last_request("/api/v1/carts/c1").expect("forwarded");
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.body, b"{\"quantity\":2}");
    assert_eq!(seen.headers["x-request-id"], "req-42");
    assert_eq!(
        seen.headers["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    let signature = seen.headers["x-vitrine-edge-signature"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(
        signature, "t=1,v1=forged",
        "the client's signature never reaches the origin"
    );
    let (t, v1) = signature.split_once(",v1=").expect("t=…,v1=…");
    let t: i64 = t.trim_start_matches("t=").parse().expect("a timestamp");
    let expected = vitrine_runtime::edge::origin::sign(
        harness::SECRET.as_bytes(),
        "PATCH",
        "/api/v1/carts/c1",
        t,
        b"{\"quantity\":2}",
    );
    assert_eq!(format!("t={t},v1={v1}"), expected);

    // The write invalidated the cached cart.
    let r = http.get(edge.url("/api/v1/carts/c1")).send().await.expect("get");
    assert_eq!(x_cache(&r), "MISS");
    assert_eq!(r.text().await.expect("body"), "cart v3");

    // A request that came without a trace gets one.
    http.post(edge.url("/api/v1/carts/c1"))
        .body("{}")
        .send()
        .await
        .expect("post");
    let seen = origin.last_request("/api/v1/carts/c1").expect("forwarded");
    let traceparent = seen.headers["traceparent"].to_str().expect("ascii");
    assert_eq!(traceparent.len(), 55, "{traceparent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_at_the_edge_and_nothing_reaches_the_origin() {
    let origin = Origin::start().await;
    origin.on("/api/v1/orders", |_, _| (StatusCode::CREATED, vec![], "{}".into()));
    let edge = EdgeUnderTest::start(
        origin.addr,
        "max_body_kb = 1\nrate_limit = { per_second = 1, burst = 2 }",
        "[[routes]]\npath = \"/api/v1/search*\"\nrate_limited = true\n",
    )
    .await;
    let http = client();

    let r = http
        .post(edge.url("/api/v1/orders"))
        .body(vec![b'x'; 2048])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let r = http
        .post(edge.url("/api/v1/orders"))
        .header("content-type", "application/json")
        .body("{\"cart_id\":\"c1\",\"adjustments\":[{\"amount_minor\":100000}]}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "edge_only_field");

    let r = http
        .get(edge.url("/api/v1/products/1"))
        .header("x-huge", "y".repeat(40 << 10))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    let statuses: Vec<u16> = futures_util::future::join_all((0..4).map(|_| {
        let http = http.clone();
        let url = edge.url("/api/v1/search?q=drill");
        async move { http.get(url).send().await.expect("get").status().as_u16() }
    }))
    .await;
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
    assert_eq!(origin.count("/api/v1/orders"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_purges_by_key_and_url_need_the_token() {
    let origin = Origin::start().await;
    origin.on("/p/1", |_, n| {
        let (status, mut headers, _) = page("public, max-age=600", String::new());
        headers.push(("surrogate-key", "product:1 category:drills".into()));
        (status, headers, format!("v{n}"))
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    http.get(edge.url("/p/1")).send().await.expect("warm");

    let r = http
        .post(edge.url("/admin/purge"))
        .body("{\"keys\":[\"category:drills\"]}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .post(edge.url("/admin/purge"))
        .bearer_auth("wrong-token-wrong-token")
        .body("{\"keys\":[\"category:drills\"]}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(x_cache(&http.get(edge.url("/p/1")).send().await.expect("get")), "HIT");

    let r = http
        .post(edge.url("/admin/purge"))
        .bearer_auth(ADMIN)
        .body("{\"keys\":[\"category:drills\"]}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["purged"], 1);
    assert_eq!(x_cache(&http.get(edge.url("/p/1")).send().await.expect("get")), "MISS");

    let r = http
        .post(edge.url("/admin/purge"))
        .bearer_auth(ADMIN)
        .body("{\"urls\":[\"/p/1\"], \"typo\": 1}")
        .send()
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );
    let r = http
        .post(edge.url("/admin/purge"))
        .bearer_auth(ADMIN)
        .body("{\"urls\":[\"/p/1\"]}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.json::<serde_json::Value>().await.expect("json")["purged"], 1);
    assert_eq!(origin.count("/p/1"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_is_served_from_the_cached_get() {
    let origin = Origin::start().await;
    origin.on("/p", |_, _| page("public, max-age=60", "twelve bytes".into()));
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    http.get(edge.url("/p")).send().await.expect("warm");
    let r = http.head(edge.url("/p")).send().await.expect("head");
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(r.headers()["content-length"], "12");
    assert_eq!(r.text().await.expect("body"), "");
    assert_eq!(origin.count("/p"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_304_from_the_origin_refreshes_the_stored_page() {
    let origin = Origin::start().await;
    origin.on("/p", |request, n| {
        if n > 1 && request.headers.get("if-none-match").is_some_and(|v| v == "\"v1\"") {
            return (
                StatusCode::NOT_MODIFIED,
                vec![
                    ("cache-control", "public, max-age=60".into()),
                    ("etag", "\"v1\"".into()),
                    ("date", http_now()),
                ],
                String::new(),
            );
        }
        let (status, mut headers, _) = page("public, max-age=1", String::new());
        headers.push(("etag", "\"v1\"".into()));
        (status, headers, "the page".into())
    });
    let edge = EdgeUnderTest::start(origin.addr, "", "").await;
    let http = client();
    http.get(edge.url("/p")).send().await.expect("warm");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = http.get(edge.url("/p")).send().await.expect("get");
    assert_eq!(x_cache(&r), "REVALIDATED");
    assert_eq!(r.text().await.expect("body"), "the page");
    // The 304's max-age=60 now applies.
    let r = http.get(edge.url("/p")).send().await.expect("get");
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(origin.count("/p"), 2);
}
