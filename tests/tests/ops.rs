//! Health, readiness, metrics, the OpenAPI document, idempotency on carts.

use reqwest::{Method, StatusCode};
use serde_json::json;
use vitrine_tests::{Origin, both_backends};

async fn health_readiness_and_metrics_answer(o: &Origin) {
    assert_eq!(o.get("/healthz").await.status, StatusCode::OK);
    let ready = o.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.body);
    assert_eq!(ready.body, json!({"database": true, "carts": true}));
    o.get("/api/v1/categories").await;
    let m = o.get("/metrics").await;
    let text = String::from_utf8_lossy(&m.raw);
    assert!(
        text.contains("vitrine_http_requests_total{method=\"GET\",route=\"/api/v1/categories\",status=\"200\"}"),
        "{text}"
    );
    assert!(text.contains("vitrine_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("vitrine_db_pool_connections{state=\"open\"}"), "{text}");
    assert!(
        !m.header("x-request-id").is_empty(),
        "every answer carries a request id"
    );
}
both_backends!(health, health_readiness_and_metrics_answer);

async fn the_openapi_document_describes_every_route_and_its_errors(o: &Origin) {
    let a = o.get("/openapi.json").await;
    assert_eq!(a.status, StatusCode::OK);
    let paths = a.body["paths"].as_object().unwrap();
    for path in [
        "/api/v1/products/{id}",
        "/api/v1/categories",
        "/api/v1/categories/{slug}/products",
        "/api/v1/search",
        "/api/v1/stock",
        "/api/v1/carts",
        "/api/v1/carts/{id}",
        "/api/v1/carts/{id}/lines",
        "/api/v1/carts/{id}/lines/{line}",
        "/api/v1/carts/{id}/coupons/{code}",
        "/api/v1/orders",
        "/api/v1/orders/{id}",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
    ] {
        assert!(paths.contains_key(path), "{path} missing from /openapi.json");
    }
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let has_error = responses.keys().any(|code| code.starts_with('4'));
            let is_probe = path == "/api/v1/categories";
            assert!(has_error || is_probe, "{method} {path} documents no error response");
        }
    }
}
both_backends!(openapi, the_openapi_document_describes_every_route_and_its_errors);

async fn a_replayed_cart_change_applies_once(o: &Origin) {
    let bits = o.product(&["tools"], "Bits", 4_999, 100).await;
    let cart = o.cart(None).await;
    let path = format!("/api/v1/carts/{cart}/lines");
    let body = json!({"product_id": bits, "quantity": 2});
    let key = [("idempotency-key", "add-bits-1")];
    let first = o.send(Method::POST, &path, Some(&body), None, &key).await;
    let second = o.send(Method::POST, &path, Some(&body), None, &key).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.header("idempotent-replayed"), "true");
    assert_eq!(second.body, first.body);
    assert_eq!(
        o.get(&format!("/api/v1/carts/{cart}")).await.body["lines"][0]["quantity"],
        2
    );
    let bad_key = o
        .send(Method::POST, &path, Some(&body), None, &[("idempotency-key", "")])
        .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
}
both_backends!(idempotent_cart_change, a_replayed_cart_change_applies_once);

async fn idempotency_keys_expire_after_the_window(o: &Origin) {
    let bits = o.product(&["tools"], "Bits", 4_999, 100).await;
    let cart = o.cart(None).await;
    let path = format!("/api/v1/carts/{cart}/lines");
    let key = [("idempotency-key", "expiring-key")];
    let first = o
        .send(
            Method::POST,
            &path,
            Some(&json!({"product_id": bits, "quantity": 1})),
            None,
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let reused = o
        .send(
            Method::POST,
            &path,
            Some(&json!({"product_id": bits, "quantity": 2})),
            None,
            &key,
        )
        .await;
    assert_eq!(reused.error_code(), "idempotency_key_reused");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // Past the window the key is free again: the new request runs.
    let later = o
        .send(
            Method::POST,
            &path,
            Some(&json!({"product_id": bits, "quantity": 2})),
            None,
            &key,
        )
        .await;
    assert_eq!(later.status, StatusCode::OK, "{:?}", later.body);
    assert_eq!(later.header("idempotent-replayed"), "false");
    assert_eq!(later.body["lines"][0]["quantity"], 3);
}

mod idempotency_expiry {
    use vitrine_tests::{Backend, Origin};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn embedded() {
        let o = Origin::start_with(Backend::Embedded, |c| c.idempotency_ttl_secs = 1)
            .await
            .expect("origin");
        super::idempotency_keys_expire_after_the_window(&o).await;
        o.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_redis() {
        let Some(o) = Origin::start_with(Backend::Services, |c| c.idempotency_ttl_secs = 1).await else {
            return;
        };
        super::idempotency_keys_expire_after_the_window(&o).await;
        o.stop().await;
    }
}
