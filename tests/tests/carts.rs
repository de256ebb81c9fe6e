//! Carts: lines, coupons, ownership, merging on login, concurrent changes.

use reqwest::{Method, StatusCode};
use serde_json::json;
use vitrine_origin::auth::Role;
use vitrine_tests::{Origin, both_backends};

async fn a_guest_fills_and_edits_a_cart(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 10).await;
    let bits = o.product(&["tools"], "Bits", 4_999, 100).await;
    let cart = o.cart(None).await;

    let a = o.add(cart, drill, 1, None).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = o.add(cart, bits, 3, None).await;
    let a2 = o.add(cart, drill, 1, None).await;
    assert_eq!(
        a2.body["lines"].as_array().unwrap().len(),
        2,
        "same product adds to its line"
    );
    assert_eq!(a2.body["lines"][0]["quantity"], 2);
    assert_eq!(a2.body["subtotal"]["amount_minor"], 2 * 99_999 + 3 * 4_999);
    assert_eq!(a2.body["item_count"], 5);
    assert_eq!(a2.header("cache-control"), "private, no-store");

    let bits_line = a.body["lines"][1]["id"].as_str().unwrap().to_owned();
    let p = o
        .call(
            Method::PATCH,
            &format!("/api/v1/carts/{cart}/lines/{bits_line}"),
            Some(&json!({"quantity": 1})),
            None,
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["subtotal"]["amount_minor"], 2 * 99_999 + 4_999);

    let c = o
        .call(
            Method::POST,
            &format!("/api/v1/carts/{cart}/coupons/spring-10"),
            None,
            None,
        )
        .await;
    assert_eq!(c.body["coupons"], json!(["SPRING-10"]));
    let c = o
        .call(
            Method::POST,
            &format!("/api/v1/carts/{cart}/coupons/SPRING-10"),
            None,
            None,
        )
        .await;
    assert_eq!(c.body["coupons"], json!(["SPRING-10"]), "applying twice is harmless");
    let c = o
        .call(
            Method::DELETE,
            &format!("/api/v1/carts/{cart}/coupons/spring-10"),
            None,
            None,
        )
        .await;
    assert_eq!(c.body["coupons"], json!([]));
    let c = o
        .call(
            Method::DELETE,
            &format!("/api/v1/carts/{cart}/coupons/spring-10"),
            None,
            None,
        )
        .await;
    assert_eq!(c.status, StatusCode::NOT_FOUND);

    let d = o
        .call(
            Method::DELETE,
            &format!("/api/v1/carts/{cart}/lines/{bits_line}"),
            None,
            None,
        )
        .await;
    assert_eq!(d.body["lines"].as_array().unwrap().len(), 1);
    let g = o.get(&format!("/api/v1/carts/{cart}")).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body["subtotal"]["amount_minor"], 2 * 99_999);
}
both_backends!(guest_cart, a_guest_fills_and_edits_a_cart);

async fn cart_input_is_checked(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 2).await;
    let cart = o.cart(None).await;
    let path = format!("/api/v1/carts/{cart}/lines");
    let cases = [
        (
            json!({"product_id": drill, "quantity": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
        ),
        (
            json!({"product_id": drill, "quantity": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
        ),
        (
            json!({"product_id": drill, "quantity": 1000}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
        ),
        (
            json!({"product_id": drill, "quantity": 3}),
            StatusCode::CONFLICT,
            "insufficient_stock",
        ),
        (
            json!({"product_id": uuid::Uuid::new_v4(), "quantity": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_product",
        ),
        (
            json!({"product_id": "nope", "quantity": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"product_id": drill, "quantity": 1, "price": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (json!({"quantity": 1}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (
            json!({"product_id": drill, "quantity": 1.5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let a = o.call(Method::POST, &path, Some(&body), None).await;
        assert_eq!((a.status, a.error_code()), (status, code), "{body}: {:?}", a.body);
    }
    let malformed = o
        .send_raw(Method::POST, &path, "application/json", b"{\"product_id\":".to_vec())
        .await;
    assert_eq!(
        (malformed.status, malformed.error_code()),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    let wrong_type = o.send_raw(Method::POST, &path, "text/plain", b"{}".to_vec()).await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!(
        "{{\"product_id\":\"{drill}\",\"quantity\":1,\"pad\":\"{}\"}}",
        "x".repeat(200 * 1024)
    );
    let too_big = o
        .send_raw(Method::POST, &path, "application/json", huge.into_bytes())
        .await;
    assert_eq!(
        (too_big.status, too_big.error_code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    for code in ["'%20OR%201=1--", "%3Cscript%3E", &"A".repeat(40)] {
        let a = o
            .call(
                Method::POST,
                &format!("/api/v1/carts/{cart}/coupons/{code}"),
                None,
                None,
            )
            .await;
        assert_eq!(
            (a.status, a.error_code()),
            (StatusCode::BAD_REQUEST, "invalid_coupon_code"),
            "{code}"
        );
    }
    // Nothing above changed the cart.
    let g = o.get(&format!("/api/v1/carts/{cart}")).await;
    assert_eq!(g.body["lines"], json!([]));
    assert_eq!(g.body["coupons"], json!([]));
    assert_eq!(g.body["version"], 1);
    let bad = o.get("/api/v1/carts/123").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let missing = o.get(&format!("/api/v1/carts/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
both_backends!(cart_input, cart_input_is_checked);

async fn a_shoppers_cart_is_theirs_alone(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 10).await;
    let (_, alice) = o.user(Role::Shopper).await;
    let (_, bob) = o.user(Role::Shopper).await;
    let cart = o.cart(Some(&alice)).await;
    assert_eq!(
        o.cart(Some(&alice)).await,
        cart,
        "a second create returns the open cart"
    );
    assert_eq!(o.add(cart, drill, 1, Some(&alice)).await.status, StatusCode::OK);
    for token in [Some(bob.as_str()), None] {
        let a = o.call(Method::GET, &format!("/api/v1/carts/{cart}"), None, token).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_eq!(o.add(cart, drill, 1, token).await.status, StatusCode::NOT_FOUND);
    }
    let forged = o
        .call(Method::GET, &format!("/api/v1/carts/{cart}"), None, Some("not.a.jwt"))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let mine = o
        .call(Method::GET, &format!("/api/v1/carts/{cart}"), None, Some(&alice))
        .await;
    assert_eq!(mine.body["lines"][0]["quantity"], 1);
}
both_backends!(owned_cart, a_shoppers_cart_is_theirs_alone);

async fn logging_in_merges_the_guest_cart(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 10).await;
    let saw = o.product(&["tools"], "Saw", 29_999, 10).await;
    let (_, _) = o.user(Role::Shopper).await;
    let email = format!("merge-{}@example.test", uuid::Uuid::new_v4().simple());
    let reg = o
        .post(
            "/api/v1/auth/register",
            &json!({"email": email, "password": "a long enough password", "name": "M"}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{:?}", reg.body);
    let login = o
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": "a long enough password"}),
        )
        .await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let mine = o.cart(Some(&token)).await;
    o.add(mine, drill, 1, Some(&token)).await;

    let guest = o.cart(None).await;
    o.add(guest, drill, 2, None).await;
    o.add(guest, saw, 1, None).await;
    o.call(
        Method::POST,
        &format!("/api/v1/carts/{guest}/coupons/WELCOME"),
        None,
        None,
    )
    .await;

    let login = o
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": "a long enough password", "guest_cart_id": guest}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(login.body["cart_id"], mine.to_string());
    let token = login.body["access_token"].as_str().unwrap();
    let merged = o
        .call(Method::GET, &format!("/api/v1/carts/{mine}"), None, Some(token))
        .await;
    let lines = merged.body["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let drill_line = lines.iter().find(|l| l["product_id"] == drill.to_string()).unwrap();
    assert_eq!(drill_line["quantity"], 3);
    assert_eq!(merged.body["coupons"], json!(["WELCOME"]));
    let old = o.get(&format!("/api/v1/carts/{guest}")).await;
    assert_eq!(old.body["status"], "merged");
    assert_eq!(o.add(guest, saw, 1, None).await.error_code(), "cart_closed");
}
both_backends!(merge_on_login, logging_in_merges_the_guest_cart);

async fn concurrent_adds_lose_nothing(o: &Origin) {
    let bits = o.product(&["tools"], "Bits", 4_999, 1_000).await;
    let cart = o.cart(None).await;
    let adds = (0..16).map(|_| o.add(cart, bits, 1, None));
    let answers = futures_util::future::join_all(adds).await;
    let ok = answers.iter().filter(|a| a.status == StatusCode::OK).count();
    for a in &answers {
        assert!(
            a.status == StatusCode::OK || a.error_code() == "cart_busy",
            "{:?}",
            a.body
        );
    }
    let g = o.get(&format!("/api/v1/carts/{cart}")).await;
    assert_eq!(
        g.body["lines"][0]["quantity"], ok as i64,
        "every acknowledged add is in the cart"
    );
    assert!(ok >= 8, "most concurrent adds succeed, got {ok}");
}
both_backends!(concurrent_adds, concurrent_adds_lose_nothing);

async fn one_shopper_has_one_cart_however_many_devices(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 99_999, 100).await;
    // Twelve devices start a cart at the same moment: they all get one cart.
    let (_, token) = o.user(Role::Shopper).await;
    let starts = (0..12).map(|_| o.call(Method::POST, "/api/v1/carts", None, Some(&token)));
    let answers = futures_util::future::join_all(starts).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|a| {
            assert!(a.status.is_success(), "{:?}", a.body);
            a.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let created = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "one cart created, the others given it");

    // Four devices sign in at once, each with a guest cart: one cart holds
    // every guest line.
    let (_, email) = o.account(Role::Shopper).await;
    let mut guests = Vec::new();
    for _ in 0..4 {
        let guest = o.cart(None).await;
        assert_eq!(o.add(guest, drill, 1, None).await.status, StatusCode::OK);
        guests.push(guest);
    }
    let logins = guests.iter().map(|guest| {
        let body = json!({"email": email, "password": Origin::PASSWORD, "guest_cart_id": guest});
        async move { o.post("/api/v1/auth/login", &body).await }
    });
    let logins = futures_util::future::join_all(logins).await;
    let carts: std::collections::BTreeSet<String> = logins
        .iter()
        .map(|l| {
            assert_eq!(l.status, StatusCode::OK, "{:?}", l.body);
            l.body["cart_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(carts.len(), 1, "{carts:?}");
    let token = logins[0].body["access_token"].as_str().unwrap();
    let cart = carts.first().unwrap();
    let merged = o
        .call(Method::GET, &format!("/api/v1/carts/{cart}"), None, Some(token))
        .await;
    assert_eq!(merged.body["lines"][0]["quantity"], 4, "{:?}", merged.body);
}
both_backends!(one_cart_per_shopper, one_shopper_has_one_cart_however_many_devices);
