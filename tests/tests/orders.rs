//! Orders: stock is never oversold, prices are checked, retries make one
//! order, edge-only input needs an edge signature, the state machine holds.

use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_origin::carts::{Cart, CartStore};
use vitrine_origin::db::Db;
use vitrine_tests::{Origin, both_backends};

async fn checkout_reserves_stock_and_closes_the_cart(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 10).await;
    let bits = o.product(&["tools"], "Bits", 4_999, 100).await;
    let cart = o.cart(None).await;
    o.add(cart, drill, 2, None).await;
    o.add(cart, bits, 3, None).await;
    let outbox_before = o.count("outbox").await;

    let a = o
        .post(
            "/api/v1/orders",
            &json!({ "cart_id": cart, "email": "guest@example.test" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["status"], "awaiting_payment");
    assert_eq!(a.body["subtotal"]["amount_minor"], 2 * 99_999 + 3 * 4_999);
    assert_eq!(a.body["shipping"]["amount_minor"], 9_900);
    assert_eq!(a.body["total"]["amount_minor"], 2 * 99_999 + 3 * 4_999 + 9_900);
    assert_eq!(a.body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(o.stock(drill).await, 8);
    assert_eq!(o.stock(bits).await, 97);
    // One order event and one stock event per product, with the product's surrogate key.
    let rows = vitrine_origin::outbox::read_after(&o.state.db, 0, 100).await.unwrap();
    assert_eq!(rows.len() as i64 - outbox_before, 3);
    let stock_event = rows
        .iter()
        .find(|r| r.entity == format!("product:{drill}"))
        .expect("stock event");
    assert_eq!(stock_event.topic, "product.stock_changed");
    assert_eq!(stock_event.surrogate_keys.0, vec![format!("product:{drill}")]);

    let id = a.body["id"].as_str().unwrap();
    let g = o.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body["total"], a.body["total"]);
    let cart_now = o.get(&format!("/api/v1/carts/{cart}")).await;
    assert_eq!(cart_now.body["status"], "checked_out");
    assert_eq!(cart_now.body["order_id"], id);
    let again = o.post("/api/v1/orders", &json!({ "cart_id": cart })).await;
    assert_eq!(
        (again.status, again.error_code()),
        (StatusCode::CONFLICT, "cart_closed")
    );
    assert_eq!(o.count("orders").await, 1);
}
both_backends!(checkout, checkout_reserves_stock_and_closes_the_cart);

async fn concurrent_checkouts_never_oversell(o: &Origin) {
    let last_units = o.product(&["tools"], "Limited Drill", 199_999, 5).await;
    let mut carts = Vec::new();
    for _ in 0..20 {
        let cart = o.cart(None).await;
        assert_eq!(o.add(cart, last_units, 1, None).await.status, StatusCode::OK);
        carts.push(cart);
    }
    let bodies: Vec<_> = carts.iter().map(|cart| json!({ "cart_id": cart })).collect();
    let checkouts = bodies.iter().map(|body| o.post("/api/v1/orders", body));
    let answers = futures_util::future::join_all(checkouts).await;
    let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    for a in answers.iter().filter(|a| a.status != StatusCode::CREATED) {
        assert_eq!(
            (a.status, a.error_code()),
            (StatusCode::CONFLICT, "insufficient_stock"),
            "{:?}",
            a.body
        );
        assert_eq!(a.body["error"]["details"]["lines"][0]["available"], 0);
    }
    assert_eq!(created, 5, "exactly the five units in stock were sold");
    assert_eq!(o.stock(last_units).await, 0);
    assert_eq!(o.count("orders").await, 5);
}
both_backends!(no_oversell, concurrent_checkouts_never_oversell);

async fn a_replayed_order_creates_nothing_new(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 10).await;
    let cart = o.cart(None).await;
    o.add(cart, drill, 1, None).await;
    let key = Uuid::new_v4().to_string();
    let body = json!({ "cart_id": cart });
    let headers = [("idempotency-key", key.as_str())];
    let first = o
        .send(Method::POST, "/api/v1/orders", Some(&body), None, &headers)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    for _ in 0..3 {
        let replay = o
            .send(Method::POST, "/api/v1/orders", Some(&body), None, &headers)
            .await;
        assert_eq!(replay.status, StatusCode::CREATED);
        assert_eq!(replay.header("idempotent-replayed"), "true");
        assert_eq!(replay.body["id"], first.body["id"]);
        assert_eq!(replay.raw, first.raw);
    }
    assert_eq!(o.count("orders").await, 1);
    assert_eq!(o.stock(drill).await, 9);
    let other_body = o
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&json!({ "cart_id": cart, "email": "x@y.z" })),
            None,
            &headers,
        )
        .await;
    assert_eq!(
        (other_body.status, other_body.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
    );
    assert_eq!(o.count("orders").await, 1);
}
both_backends!(idempotent_order, a_replayed_order_creates_nothing_new);

async fn a_retry_after_the_answer_was_lost_gets_the_same_order(o: &Origin) {
    // The order committed but the stored answer did not (the process died in
    // between): the key's claim is gone, the order remembers the key.
    let drill = o.product(&["tools"], "Drill", 99_999, 10).await;
    let cart = o.cart(None).await;
    o.add(cart, drill, 1, None).await;
    let key = Uuid::new_v4().to_string();
    let body = json!({ "cart_id": cart });
    let first = o
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&body),
            None,
            &[("idempotency-key", &key)],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    vitrine_origin::with_db!(&o.state.db, pool => sqlx::query("DELETE FROM idempotency_keys").execute(pool).await.map(drop)).unwrap();
    let retry = o
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&body),
            None,
            &[("idempotency-key", &key)],
        )
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.body);
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(o.count("orders").await, 1);
    assert_eq!(o.stock(drill).await, 9);
}
both_backends!(lost_answer_retry, a_retry_after_the_answer_was_lost_gets_the_same_order);

async fn a_price_change_refuses_the_order_and_names_the_new_price(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 10).await;
    let cart = o.cart(None).await;
    o.add(cart, drill, 1, None).await;
    vitrine_origin::catalog::edit_product(
        &o.state.db,
        drill,
        vitrine_origin::catalog::ProductEdit::Price(109_999),
        None,
    )
    .await
    .unwrap();
    let a = o.post("/api/v1/orders", &json!({ "cart_id": cart })).await;
    assert_eq!(
        (a.status, a.error_code()),
        (StatusCode::CONFLICT, "price_changed"),
        "{:?}",
        a.body
    );
    let line = &a.body["error"]["details"]["lines"][0];
    assert_eq!(line["cart_price_minor"], 99_999);
    assert_eq!(line["current_price_minor"], 109_999);
    assert_eq!(o.count("orders").await, 0);
    assert_eq!(o.stock(drill).await, 10, "nothing reserved");
    // Setting the line again takes the new price, and then the order goes through.
    let line_id = o.get(&format!("/api/v1/carts/{cart}")).await.body["lines"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    o.call(
        Method::PATCH,
        &format!("/api/v1/carts/{cart}/lines/{line_id}"),
        Some(&json!({"quantity": 1})),
        None,
    )
    .await;
    let b = o
        .post(
            "/api/v1/orders",
            &json!({ "cart_id": cart, "expected_total_minor": 109_999 + 9_900 }),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{:?}", b.body);
}
both_backends!(price_change, a_price_change_refuses_the_order_and_names_the_new_price);

async fn adjustments_and_payments_need_an_edge_signature(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 100_000, 10).await;
    let cart = o.cart(None).await;
    let line = o.add(cart, drill, 2, None).await.body["lines"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let total = 200_000 - 20_000 - 5_000;
    let body = json!({
        "cart_id": cart,
        "adjustments": [
            { "level": "line", "line_id": line, "amount_minor": 20_000, "reason": "10% off tools",
              "plugin": { "name": "category-sale", "version": "0.1.0" } },
            { "level": "order", "amount_minor": 5_000, "reason": "Coupon WELCOME", "coupon": "welcome" },
            { "level": "shipping", "amount_minor": 9_900, "reason": "Free shipping over R1000" }
        ],
        "payment": { "provider": "testpay", "reference": "auth_123", "status": "authorized", "amount_minor": total },
        "expected_total_minor": total
    });
    let unsigned = o.post("/api/v1/orders", &body).await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN, "{:?}", unsigned.body);
    let forged = o
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&body),
            None,
            &[("x-vitrine-edge-signature", "t=1,v1=00")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(o.count("orders").await, 0);

    let signed = o.send_signed(Method::POST, "/api/v1/orders", &body, &[]).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{:?}", signed.body);
    assert_eq!(signed.body["discount"]["amount_minor"], 25_000);
    assert_eq!(signed.body["shipping"]["amount_minor"], 0);
    assert_eq!(signed.body["total"]["amount_minor"], total);
    assert_eq!(signed.body["payment"]["reference"], "auth_123");
    assert_eq!(signed.body["adjustments"][0]["plugin"]["name"], "category-sale");
    assert_eq!(signed.body["adjustments"][1]["coupon"], "WELCOME");
    assert_eq!(o.count("payments").await, 1);
}
both_backends!(edge_signed_orders, adjustments_and_payments_need_an_edge_signature);

/// A signed order that consumes `coupon`, for `cart`, as an edge sends it
/// after pricing with `uses` earlier orders of that coupon.
fn coupon_order(cart: Uuid, line: &str, coupon: &str, uses: Option<u32>) -> serde_json::Value {
    let mut body = json!({
        "cart_id": cart,
        "adjustments": [
            { "level": "line", "line_id": line, "amount_minor": 1_000, "reason": "Welcome: 10% off", "coupon": coupon }
        ],
    });
    if let Some(uses) = uses {
        body["coupon_uses"] = if uses == 0 {
            json!([])
        } else {
            json!([{ "code": coupon.to_ascii_uppercase(), "uses": uses }])
        };
    }
    body
}

async fn a_coupon_used_since_pricing_is_refused(o: &Origin) {
    let (user, token) = o.user(Role::Shopper).await;
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let drill = o.product(&["tools"], "Drill", 10_000, 100).await;
    // A shopper has one open cart, but two devices creating one at the same
    // moment both get a cart of their own; those are made directly here.
    let mut carts = Vec::new();
    for _ in 0..10 {
        let owned = Cart::new(Some(user), "ZAR");
        assert!(o.state.carts.save(&owned, 0).await.unwrap());
        let cart = owned.id;
        let line = o.add(cart, drill, 1, Some(&token)).await.body["lines"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        carts.push((cart, line));
    }

    // Eight checkouts at once, every cart priced before any order existed:
    // exactly one spends the coupon. On Postgres the test holds the
    // product's row lock until all eight transactions are waiting, so they
    // overlap for certain (without the origin's lock on the customer, each
    // would have counted no earlier use, and all eight would pass). SQLite
    // runs one write transaction at a time, so there they cannot overlap.
    let held = match &o.state.db {
        Db::Postgres(_) => {
            // Connections of its own: the origin's pool is the orders'.
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(&o.state.config.effective_database_url())
                .await
                .unwrap();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("SELECT 1 FROM products WHERE id = $1 FOR UPDATE")
                .bind(drill)
                .execute(&mut *tx)
                .await
                .unwrap();
            Some((pool, tx))
        }
        Db::Sqlite(_) => None,
    };
    let orders = futures_util::future::join_all(carts[..8].iter().map(|(cart, line)| {
        let body = coupon_order(*cart, line, "welcome10", Some(0));
        async move { o.send_signed(Method::POST, "/api/v1/orders", &body, &auth).await }
    }));
    let release = async {
        let Some((pool, tx)) = held else { return };
        let waiting = "SELECT count(*) FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sqlx::query_scalar::<_, i64>(waiting).fetch_one(&pool).await.unwrap() < 8 {
            assert!(
                std::time::Instant::now() < deadline,
                "the eight orders never all waited on a lock"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tx.rollback().await.unwrap();
    };
    let (answers, ()) = tokio::join!(orders, release);
    let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.status != StatusCode::CREATED)
        .map(|a| (a.status, a.error_code().to_owned()))
        .collect();
    assert_eq!(created, 1, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|r| *r == (StatusCode::CONFLICT, "coupon_uses_changed".to_owned())),
        "{refused:?}"
    );
    let refusal = answers.iter().find(|a| a.status == StatusCode::CONFLICT).unwrap();
    assert_eq!(refusal.body["error"]["details"]["uses"], 1);
    assert_eq!(refusal.body["error"]["details"]["coupon"], "WELCOME10");
    // The refused ones wrote nothing: one order, one unit of stock taken.
    assert_eq!(o.count("orders").await, 1);
    assert_eq!(o.stock(drill).await, 99);

    // Priced knowing the one earlier use, the coupon is accepted (the
    // plugin decides what the limit allows; the origin checks the count).
    let (cart, line) = &carts[8];
    let known = o
        .send_signed(
            Method::POST,
            "/api/v1/orders",
            &coupon_order(*cart, line, "WELCOME10", Some(1)),
            &auth,
        )
        .await;
    assert_eq!(known.status, StatusCode::CREATED, "{:?}", known.body);
    // Without the counts (an operator's own tooling), no check is made.
    let (cart, line) = &carts[9];
    let unchecked = o
        .send_signed(
            Method::POST,
            "/api/v1/orders",
            &coupon_order(*cart, line, "WELCOME10", None),
            &auth,
        )
        .await;
    assert_eq!(unchecked.status, StatusCode::CREATED, "{:?}", unchecked.body);
    assert_eq!(o.count("orders").await, 3);
}
both_backends!(coupon_uses_recounted, a_coupon_used_since_pricing_is_refused);

async fn the_state_machine_and_refunds_hold(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 50_000, 10).await;
    let (_, shopper) = o.user(Role::Shopper).await;
    let (_, manager) = o.user(Role::StoreManager).await;
    let cart = o.cart(Some(&shopper)).await;
    o.add(cart, drill, 2, Some(&shopper)).await;
    let order = o
        .call(
            Method::POST,
            "/api/v1/orders",
            Some(&json!({"cart_id": cart})),
            Some(&shopper),
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
    let id = order.body["id"].as_str().unwrap().to_owned();
    let status = |to: &'static str| json!({ "status": to });
    let path = format!("/admin/v1/orders/{id}/status");

    let early = o
        .call(Method::POST, &path, Some(&status("fulfilled")), Some(&manager))
        .await;
    assert_eq!(
        (early.status, early.error_code()),
        (StatusCode::CONFLICT, "illegal_transition")
    );
    let by_shopper = o.call(Method::POST, &path, Some(&status("paid")), Some(&shopper)).await;
    assert_eq!(by_shopper.status, StatusCode::FORBIDDEN);
    let paid = o.call(Method::POST, &path, Some(&status("paid")), Some(&manager)).await;
    assert_eq!(paid.body["status"], "paid", "{:?}", paid.body);
    let cancel = o
        .call(Method::POST, &path, Some(&status("cancelled")), Some(&manager))
        .await;
    assert_eq!(cancel.error_code(), "illegal_transition");
    let refund_state = o
        .call(Method::POST, &path, Some(&status("refunded")), Some(&manager))
        .await;
    assert_eq!(refund_state.error_code(), "use_refunds");

    let total = order.body["total"]["amount_minor"].as_i64().unwrap();
    let rpath = format!("/api/v1/orders/{id}/refund-requests");
    let too_much = o
        .call(
            Method::POST,
            &rpath,
            Some(&json!({"amount_minor": total + 1, "reason": "x"})),
            Some(&shopper),
        )
        .await;
    assert_eq!(too_much.error_code(), "refund_exceeds_total");
    let req = o
        .call(
            Method::POST,
            &rpath,
            Some(&json!({"amount_minor": 20_000, "reason": "one was broken"})),
            Some(&shopper),
        )
        .await;
    assert_eq!(req.status, StatusCode::CREATED, "{:?}", req.body);
    let refund = req.body["id"].as_str().unwrap().to_owned();
    let self_approve = o
        .call(
            Method::POST,
            &format!("/admin/v1/refunds/{refund}/approve"),
            None,
            Some(&shopper),
        )
        .await;
    assert_eq!(self_approve.status, StatusCode::FORBIDDEN);
    let listed = o.call(Method::GET, "/admin/v1/refunds", None, Some(&manager)).await;
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == refund.as_str())
    );
    let approved = o
        .call(
            Method::POST,
            &format!("/admin/v1/refunds/{refund}/approve"),
            None,
            Some(&manager),
        )
        .await;
    assert_eq!(approved.body["status"], "approved", "{:?}", approved.body);
    let twice = o
        .call(
            Method::POST,
            &format!("/admin/v1/refunds/{refund}/approve"),
            None,
            Some(&manager),
        )
        .await;
    assert_eq!(twice.error_code(), "refund_decided");
    let now = o
        .call(Method::GET, &format!("/api/v1/orders/{id}"), None, Some(&shopper))
        .await;
    assert_eq!(now.body["status"], "partially_refunded");
    assert_eq!(now.body["refunded"]["amount_minor"], 20_000);
    let stranger = o.user(Role::Shopper).await.1;
    let hidden = o
        .call(Method::GET, &format!("/api/v1/orders/{id}"), None, Some(&stranger))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}
both_backends!(state_machine_and_refunds, the_state_machine_and_refunds_hold);

async fn cancelling_returns_the_stock(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 50_000, 4).await;
    let (_, manager) = o.user(Role::StoreManager).await;
    let cart = o.cart(None).await;
    o.add(cart, drill, 3, None).await;
    let order = o.post("/api/v1/orders", &json!({"cart_id": cart})).await;
    assert_eq!(o.stock(drill).await, 1);
    let id = order.body["id"].as_str().unwrap();
    let c = o
        .call(
            Method::POST,
            &format!("/admin/v1/orders/{id}/status"),
            Some(&json!({"status": "cancelled"})),
            Some(&manager),
        )
        .await;
    assert_eq!(c.body["status"], "cancelled", "{:?}", c.body);
    assert_eq!(o.stock(drill).await, 4);
    let again = o
        .call(
            Method::POST,
            &format!("/admin/v1/orders/{id}/status"),
            Some(&json!({"status": "cancelled"})),
            Some(&manager),
        )
        .await;
    assert_eq!(again.error_code(), "illegal_transition");
    assert_eq!(o.stock(drill).await, 4, "a second cancel returns nothing twice");
}
both_backends!(cancel_returns_stock, cancelling_returns_the_stock);

async fn bad_orders_are_refused_and_write_nothing(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 50_000, 4).await;
    let cart = o.cart(None).await;
    let line = o.add(cart, drill, 1, None).await.body["lines"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let empty = o.cart(None).await;
    let before = (
        o.count("orders").await,
        o.count("outbox").await,
        o.catalog_fingerprint().await,
    );
    let signed_cases = [
        (json!({"cart_id": empty}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"cart_id": cart, "adjustments": [{"level": "order", "amount_minor": 60_000, "reason": "too much"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"cart_id": cart, "adjustments": [{"level": "line", "line_id": line, "amount_minor": -1, "reason": "neg"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"cart_id": cart, "adjustments": [{"level": "line", "amount_minor": 1, "reason": "no line"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"cart_id": cart, "payment": {"provider": "testpay", "reference": "r", "status": "authorized", "amount_minor": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"cart_id": cart, "payment": {"provider": "'; DROP TABLE orders;--", "reference": "r", "status": "authorized", "amount_minor": 59_900}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"cart_id": cart, "expected_total_minor": 1}),
            StatusCode::CONFLICT,
        ),
        (json!({"cart_id": cart, "total": 1}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"cart_id": "not-a-uuid"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"cart_id": Uuid::new_v4()}), StatusCode::NOT_FOUND),
    ];
    for (body, status) in signed_cases {
        let a = o.send_signed(Method::POST, "/api/v1/orders", &body, &[]).await;
        assert_eq!(a.status, status, "{body}: {:?}", a.body);
        assert!(
            !a.error_code().is_empty(),
            "{body}: error envelope expected, got {:?}",
            a.body
        );
    }
    let after = (
        o.count("orders").await,
        o.count("outbox").await,
        o.catalog_fingerprint().await,
    );
    assert_eq!(before, after, "refused orders wrote nothing");
    assert_eq!(o.get(&format!("/api/v1/carts/{cart}")).await.body["status"], "open");
}
both_backends!(bad_orders, bad_orders_are_refused_and_write_nothing);
