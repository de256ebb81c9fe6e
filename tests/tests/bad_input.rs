//! Bad input anywhere gets a 4xx with the JSON error envelope, never a 500,
//! and leaves the database as it was.

use reqwest::{Method, StatusCode};
use serde_json::json;
use vitrine_origin::auth::Role;
use vitrine_tests::{Origin, both_backends};

async fn state_of(o: &Origin) -> Vec<i64> {
    let (a, b, c) = o.catalog_fingerprint().await;
    let mut v = vec![a, b, c];
    for t in ["products", "orders", "users", "refunds", "outbox", "categories"] {
        v.push(o.count(t).await);
    }
    v
}

async fn malformed_requests_are_refused_and_write_nothing(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 50_000, 10).await;
    let (_, manager) = o.user(Role::StoreManager).await;
    let (_, admin) = o.user(Role::SuperAdmin).await;
    let cart = o.cart(None).await;
    let before = state_of(o).await;
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let raw: Vec<(Method, String, &str, Vec<u8>)> = vec![
        (
            Method::POST,
            "/api/v1/orders".into(),
            "application/json",
            b"{not json".to_vec(),
        ),
        (
            Method::POST,
            "/api/v1/orders".into(),
            "application/json",
            deep.into_bytes(),
        ),
        (
            Method::POST,
            "/api/v1/orders".into(),
            "application/json",
            vec![b' '; 100 * 1024],
        ),
        (
            Method::POST,
            "/api/v1/orders".into(),
            "application/json",
            vec![0xff, 0xfe, 0x00],
        ),
        (
            Method::POST,
            "/api/v1/auth/register".into(),
            "application/x-www-form-urlencoded",
            b"email=a".to_vec(),
        ),
        (
            Method::POST,
            format!("/api/v1/carts/{cart}/lines"),
            "application/json",
            b"[]".to_vec(),
        ),
        (
            Method::POST,
            format!("/api/v1/carts/{cart}/lines"),
            "application/json",
            b"null".to_vec(),
        ),
    ];
    for (method, path, ct, body) in raw {
        let a = o.send_raw(method.clone(), &path, ct, body).await;
        assert!(a.status.is_client_error(), "{method} {path}: {} {:?}", a.status, a.body);
        assert!(
            !a.error_code().is_empty(),
            "{method} {path}: no error envelope: {:?}",
            String::from_utf8_lossy(&a.raw)
        );
    }
    let admin_cases = [
        (
            Method::PUT,
            format!("/admin/v1/products/{drill}/stock"),
            json!({"stock": -1}),
            &manager,
        ),
        (
            Method::PUT,
            format!("/admin/v1/products/{drill}/stock"),
            json!({"stock": "10; DROP TABLE products"}),
            &manager,
        ),
        (
            Method::PUT,
            format!("/admin/v1/products/{drill}/price"),
            json!({"amount_minor": 1.5}),
            &manager,
        ),
        (
            Method::PUT,
            format!("/admin/v1/products/{drill}/price"),
            json!({"amount_minor": -100}),
            &manager,
        ),
        (
            Method::PUT,
            format!("/admin/v1/products/{drill}/stock"),
            json!({"stock": 1, "expected_version": 99}),
            &manager,
        ),
        (
            Method::PUT,
            "/admin/v1/products/not-a-uuid/stock".into(),
            json!({"stock": 1}),
            &manager,
        ),
        (
            Method::POST,
            "/admin/v1/users".into(),
            json!({"email": "x@example.test", "password": "a long enough password", "name": "X", "role": "god"}),
            &admin,
        ),
        (
            Method::PUT,
            format!("/admin/v1/users/{}/role", uuid::Uuid::new_v4()),
            json!({"role": "shopper"}),
            &admin,
        ),
        (
            Method::GET,
            "/admin/v1/orders?status=lost".into(),
            json!(null),
            &manager,
        ),
        (
            Method::GET,
            "/admin/v1/orders?per_page=100000".into(),
            json!(null),
            &manager,
        ),
    ];
    for (method, path, body, token) in admin_cases {
        let body = (!body.is_null()).then_some(body);
        let a = o.call(method.clone(), &path, body.as_ref(), Some(token)).await;
        assert!(a.status.is_client_error(), "{method} {path}: {} {:?}", a.status, a.body);
        assert!(!a.error_code().is_empty(), "{method} {path}: {:?}", a.body);
    }
    let huge_header = "x".repeat(64 * 1024);
    let a = o
        .send(
            Method::GET,
            "/api/v1/categories",
            None,
            None,
            &[("x-junk", &huge_header)],
        )
        .await;
    assert!(a.status.is_client_error(), "oversized header: {}", a.status);
    let wrong_method = o.call(Method::DELETE, "/api/v1/categories", None, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
    assert_eq!(state_of(o).await, before, "refused requests wrote nothing");
}
both_backends!(malformed, malformed_requests_are_refused_and_write_nothing);
