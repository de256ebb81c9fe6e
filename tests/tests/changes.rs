//! The change feed edges follow: `GET /internal/v1/changes`, numbered without
//! holes, as a long poll, for signed edges only.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_origin::with_db;
use vitrine_tests::{Answer, Backend, EDGE_SECRET, Origin, both_backends};

/// `GET path` signed as an edge signs it (empty body).
async fn signed_get(o: &Origin, path: &str) -> (Answer, Duration) {
    let now = chrono::Utc::now().timestamp();
    let sig = vitrine_origin::http::signature::sign(EDGE_SECRET.as_bytes(), "GET", path, now, b"");
    let start = Instant::now();
    let response = o
        .http
        .get(format!("{}{path}", o.base))
        .header(vitrine_origin::http::signature::HEADER, sig)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    let elapsed = start.elapsed();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    (
        Answer {
            status,
            headers,
            body,
            raw,
        },
        elapsed,
    )
}

async fn changes(o: &Origin, after: u64, wait_ms: u64) -> Answer {
    let (a, _) = signed_get(o, &format!("/internal/v1/changes?after={after}&wait_ms={wait_ms}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a
}

fn seqs(a: &Answer) -> Vec<u64> {
    a.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["seq"].as_u64().expect("seq"))
        .collect()
}

async fn set_price(o: &Origin, token: &str, id: Uuid, amount: i64) {
    let a = o
        .call(
            Method::PUT,
            &format!("/admin/v1/products/{id}/price"),
            Some(&json!({ "amount_minor": amount })),
            Some(token),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
}

async fn set_stock(o: &Origin, token: &str, id: Uuid, stock: i64) {
    let a = o
        .call(
            Method::PUT,
            &format!("/admin/v1/products/{id}/stock"),
            Some(&json!({ "stock": stock })),
            Some(token),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
}

/// An outbox row written and rolled back: on Postgres it burns a `seq`.
async fn rolled_back_outbox_row(o: &Origin) {
    with_db!(&o.state.db, pool => {
        let mut tx = pool.begin().await.expect("begin");
        vitrine_origin::write_outbox!(&mut *tx, &vitrine_origin::outbox::OutboxEvent {
            topic: "test.rolled_back",
            entity: "product:never".into(),
            surrogate_keys: vec!["product:never".into()],
            payload: json!({}),
        })
        .expect("insert outbox row");
        tx.rollback().await.expect("rollback");
    });
}

async fn price_and_stock_changes_are_numbered_from_one(o: &Origin) {
    let drill = o
        .product(&["tools", "power-tools", "drills"], "Cordless Drill", 149_999, 7)
        .await;
    let (_, manager) = o.user(Role::StoreManager).await;

    let empty = changes(o, 0, 0).await;
    assert_eq!(empty.body, json!({ "changes": [], "first_seq": null, "last_seq": 0 }));
    assert_eq!(empty.header("cache-control"), "private, no-store");

    set_price(o, &manager, drill, 139_999).await;
    let first = changes(o, 0, 5_000).await;
    assert_eq!(
        first.body["changes"],
        json!([{
            "seq": 1,
            "topic": "product.price_changed",
            "entity": format!("product:{drill}"),
            // The product's pages, and every listing up the path: a new price
            // reorders the price-sorted pages, including ones that did not show it,
            // and can move the product into search results that did not show it.
            "surrogate_keys": [format!("product:{drill}"), "listing:tools", "listing:power-tools", "listing:drills", "search"],
        }]),
        "{:?}",
        first.body
    );
    assert_eq!(
        (first.body["first_seq"].as_u64(), first.body["last_seq"].as_u64()),
        (Some(1), Some(1))
    );

    // A stock count changes only pages that show the product.
    set_stock(o, &manager, drill, 3).await;
    let second = changes(o, 1, 5_000).await;
    assert_eq!(seqs(&second), vec![2]);
    assert_eq!(second.body["changes"][0]["topic"], "product.stock_changed");
    assert_eq!(
        second.body["changes"][0]["surrogate_keys"],
        json!([format!("product:{drill}")])
    );

    // Rolled-back transactions leave holes in the outbox's own `seq` (on
    // Postgres), never in the feed.
    for price in [130_000, 131_000, 132_000] {
        rolled_back_outbox_row(o).await;
        set_price(o, &manager, drill, price).await;
    }
    let mut all = changes(o, 0, 0).await;
    // Wait on the changes themselves: `last_seq` is read after them (see
    // `page_after`), so it can already say 5 while the list ends at 4.
    for _ in 0..50 {
        if seqs(&all).len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        all = changes(o, 0, 0).await;
    }
    assert_eq!(seqs(&all), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        (all.body["first_seq"].as_u64(), all.body["last_seq"].as_u64()),
        (Some(1), Some(5))
    );
    if o.backend == Backend::Services {
        let outbox_seqs: Vec<i64> = with_db!(&o.state.db, pool => sqlx::query_scalar(
            "SELECT seq FROM outbox ORDER BY seq").fetch_all(pool).await)
        .expect("outbox seqs");
        assert!(
            outbox_seqs.windows(2).any(|w| w[1] > w[0] + 1),
            "the rollbacks left no hole in seq ({outbox_seqs:?}), so this test proves nothing"
        );
    }

    // `limit` pages through in order.
    let (page, _) = signed_get(o, "/internal/v1/changes?after=1&limit=2").await;
    assert_eq!(seqs(&page), vec![2, 3]);
    assert_eq!(page.body["last_seq"], 5);
}
both_backends!(numbered_from_one, price_and_stock_changes_are_numbered_from_one);

async fn concurrent_writes_get_distinct_contiguous_numbers(o: &Origin) {
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(o.product(&["paint"], &format!("Paint {i}"), 10_000, 5).await);
    }
    let (_, manager) = o.user(Role::StoreManager).await;
    futures_util::future::join_all(ids.iter().flat_map(|&id| {
        let manager = manager.clone();
        (1..=3).map(move |n| {
            let manager = manager.clone();
            async move { set_stock(o, &manager, id, n).await }
        })
    }))
    .await;
    let mut all = changes(o, 0, 0).await;
    // On the changes themselves, not `last_seq` (read after them).
    for _ in 0..50 {
        if seqs(&all).len() == 24 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        all = changes(o, 0, 0).await;
    }
    assert_eq!(seqs(&all), (1..=24).collect::<Vec<u64>>());
}
both_backends!(concurrent_writes, concurrent_writes_get_distinct_contiguous_numbers);

async fn long_poll_answers_as_soon_as_a_change_lands(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 100_000, 1).await;
    let (_, manager) = o.user(Role::StoreManager).await;

    // Nothing after 0 yet: the poll waits its whole (short) wait, then
    // answers empty.
    let (idle, idle_took) = signed_get(o, "/internal/v1/changes?after=0&wait_ms=400").await;
    assert_eq!(idle.status, StatusCode::OK);
    assert_eq!(seqs(&idle), Vec::<u64>::new());
    assert!(
        idle_took >= Duration::from_millis(350),
        "answered after {idle_took:?}, before the wait"
    );

    let poll = signed_get(o, "/internal/v1/changes?after=0&wait_ms=20000");
    let change = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        set_price(o, &manager, drill, 90_000).await;
    };
    let ((answer, took), ()) = tokio::join!(poll, change);
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(seqs(&answer), vec![1], "{:?}", answer.body);
    assert!(
        took >= Duration::from_millis(250),
        "answered after {took:?}, before the change"
    );
    assert!(
        took < Duration::from_secs(2),
        "the change took {took:?} to reach the poll"
    );

    // An edge ahead of the origin (a new database) hears so at once, however
    // long it asked to wait.
    let (ahead, ahead_took) = signed_get(o, "/internal/v1/changes?after=1000&wait_ms=20000").await;
    assert_eq!(ahead.status, StatusCode::OK);
    assert_eq!(ahead.body["changes"], json!([]));
    assert_eq!(ahead.body["last_seq"], 1);
    assert!(ahead_took < Duration::from_secs(2), "took {ahead_took:?}");

    // At the end, without waiting: empty, and says where the end is.
    let at_end = changes(o, 1, 0).await;
    assert_eq!(at_end.body, json!({ "changes": [], "first_seq": 1, "last_seq": 1 }));
}
both_backends!(long_poll, long_poll_answers_as_soon_as_a_change_lands);

async fn only_signed_edges_read_the_feed(o: &Origin) {
    let unsigned = o.get("/internal/v1/changes?after=0").await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unsigned.error_code(), "unauthorized");

    let forged_sig = vitrine_origin::http::signature::sign(
        b"not-the-edge-secret-not-the-edge-secret",
        "GET",
        "/internal/v1/changes?after=0",
        chrono::Utc::now().timestamp(),
        b"",
    );
    let forged = o
        .send(
            Method::GET,
            "/internal/v1/changes?after=0",
            None,
            None,
            &[(vitrine_origin::http::signature::HEADER, &forged_sig)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.error_code(), "unauthorized");

    // A shopper's token is not an edge's signature.
    let (_, shopper) = o.user(Role::Shopper).await;
    let with_token = o
        .call(Method::GET, "/internal/v1/changes?after=0", None, Some(&shopper))
        .await;
    assert_eq!(with_token.status, StatusCode::UNAUTHORIZED);
}
both_backends!(signed_only, only_signed_edges_read_the_feed);

async fn bad_parameters_are_400(o: &Origin) {
    for query in [
        "",
        "?after=-1",
        "?after=x",
        "?after=18446744073709551615",
        "?after=0&limit=0",
        "?after=0&limit=1001",
        "?after=0&wait_ms=30001",
        "?after=0&wait_ms=-5",
        "?after=0&since=3",
    ] {
        let (a, _) = signed_get(o, &format!("/internal/v1/changes{query}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {:?}", a.body);
        assert_eq!(a.error_code(), "invalid_query", "{query}: {:?}", a.body);
    }
    let (ok, _) = signed_get(o, "/internal/v1/changes?after=0&limit=1000&wait_ms=0").await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
}
both_backends!(bad_parameters, bad_parameters_are_400);

#[tokio::test]
async fn the_feed_is_in_the_openapi_document() {
    let doc = serde_json::to_value(vitrine_origin::http::openapi()).expect("openapi json");
    let get = &doc["paths"]["/internal/v1/changes"]["get"];
    assert_eq!(get["tags"], json!(["internal"]), "{get}");
    let params: Vec<&str> = get["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["after", "limit", "wait_ms", "X-Vitrine-Edge-Signature"] {
        assert!(params.contains(&name), "{name} missing from {params:?}");
    }
    assert!(get["responses"]["401"].is_object());
}
