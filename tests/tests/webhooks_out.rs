//! Outgoing webhooks: an endpoint registered through the admin API receives
//! the order and payment events it subscribed to, signed with its secret;
//! failures are retried until they succeed or run out of attempts, and the
//! delivery log says which; a deleted endpoint gets nothing more; bad
//! registrations are refused without writing anything.
//!
//! The receiver is a small axum server on a loopback port inside the test
//! that records every request and can be told to fail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_origin::config::Config;
use vitrine_origin::db::BeginWrite as _;
use vitrine_origin::with_db;
use vitrine_tests::{Backend, Origin, both_backends};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Script {
    requests: Mutex<Vec<Received>>,
    fail_next: AtomicUsize,
    always_fail: AtomicBool,
}

/// A webhook receiver on `127.0.0.1:0`.
struct Receiver {
    url: String,
    script: Arc<Script>,
    server: tokio::task::JoinHandle<()>,
}

async fn receive(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> (AxumStatus, &'static str) {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    script.requests.lock().expect("requests").push(Received {
        headers,
        body: body.to_vec(),
    });
    let fail_once = script
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fail_once || script.always_fail.load(Ordering::SeqCst) {
        (AxumStatus::INTERNAL_SERVER_ERROR, "receiver says no")
    } else {
        (AxumStatus::OK, "thanks")
    }
}

impl Receiver {
    async fn start() -> Self {
        let script = Arc::new(Script::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver");
        });
        Self { url, script, server }
    }

    /// Answers the next `n` requests with 500.
    fn fail_next(&self, n: usize) {
        self.script.fail_next.store(n, Ordering::SeqCst);
    }

    /// Answers every request with 500 while `on`.
    fn always_fail(&self, on: bool) {
        self.script.always_fail.store(on, Ordering::SeqCst);
    }

    fn requests(&self) -> Vec<Received> {
        self.script.requests.lock().expect("requests").clone()
    }

    /// Waits until at least `n` requests arrived and returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        until(&format!("{n} requests at {}", self.url), async || {
            self.requests().len() >= n
        })
        .await;
        self.requests()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fast retries: 3 attempts, 20 ms base.
async fn start(backend: Backend) -> Option<Origin> {
    Origin::start_with(backend, |config: &mut Config| {
        config.notifications.retry_base_ms = 20;
        config.notifications.retry_max_ms = 100;
        config.notifications.max_attempts = 3;
        config.notifications.poll_interval_ms = 20;
        config.notifications.timeout_ms = 5_000;
    })
    .await
}

/// A failed attempt waits ten minutes for its retry.
async fn start_slow_retries(backend: Backend) -> Option<Origin> {
    Origin::start_with(backend, |config: &mut Config| {
        config.notifications.retry_base_ms = 600_000;
        config.notifications.retry_max_ms = 600_000;
        config.notifications.poll_interval_ms = 20;
    })
    .await
}

/// Registers `url` for `events` and returns the answer's body.
async fn register(o: &Origin, token: &str, url: &str, events: &[&str]) -> Value {
    let a = o
        .call(
            Method::POST,
            "/admin/v1/webhooks",
            Some(&json!({ "url": url, "events": events })),
            Some(token),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body
}

/// Places a guest order of one drill; its id and total.
async fn place_order(o: &Origin) -> (Uuid, i64) {
    let drill = o.product(&["tools"], "Drill", 10_000, 10).await;
    let cart = o.cart(None).await;
    assert_eq!(o.add(cart, drill, 1, None).await.status, StatusCode::OK);
    let a = o
        .post(
            "/api/v1/orders",
            &json!({ "cart_id": cart, "email": "guest@example.test" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let id = a.body["id"].as_str().expect("order id").parse().expect("uuid");
    (id, a.body["total"]["amount_minor"].as_i64().expect("total"))
}

/// The delivery log of `endpoint` (with `query`, e.g. `?status=failed`).
async fn log(o: &Origin, token: &str, endpoint: &str, query: &str) -> Value {
    let a = o
        .call(
            Method::GET,
            &format!("/admin/v1/webhooks/{endpoint}/deliveries{query}"),
            None,
            Some(token),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

/// Waits until `endpoint`'s log holds `n` deliveries in `status`; returns them.
async fn wait_for_log(o: &Origin, token: &str, endpoint: &str, status: &str, n: i64) -> Vec<Value> {
    let query = format!("?status={status}");
    until(&format!("{n} {status} deliveries of {endpoint}"), async || {
        log(o, token, endpoint, &query).await["total"] == n
    })
    .await;
    log(o, token, endpoint, &query).await["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone()
}

/// Checks `header` (`t=<secs>,v1=<hex>`) as a receiver would: HMAC-SHA256
/// with the secret over `"<t>.<body>"`, and `t` within five minutes.
fn signature_verifies(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&v1).is_ok() && (chrono::Utc::now().timestamp() - t).abs() < 300
}

async fn endpoints_in_database(o: &Origin) -> i64 {
    with_db!(&o.state.db, pool => sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints")
        .fetch_one(pool).await)
    .expect("count endpoints")
}

async fn a_registered_endpoint_receives_a_signed_order_created(o: &Origin) {
    let (_, manager) = o.user(Role::StoreManager).await;
    let receiver = Receiver::start().await;
    let created = register(o, &manager, &receiver.url, &["order.created"]).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let hex_part = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert_eq!(hex_part.len(), 64, "{secret}");
    assert!(hex_part.bytes().all(|b| b.is_ascii_hexdigit()), "{secret}");
    assert_eq!(created["url"], receiver.url.as_str());
    assert_eq!(created["events"], json!(["order.created"]));
    assert!(created["created_at"].is_string(), "{created:?}");
    let id = created["id"].as_str().expect("id").to_owned();

    // The secret is shown once: neither the list nor the endpoint shows it.
    let list = o.call(Method::GET, "/admin/v1/webhooks", None, Some(&manager)).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "{:?}", list.body);
    assert_eq!(list.body[0]["id"], id.as_str());
    let one = o
        .call(Method::GET, &format!("/admin/v1/webhooks/{id}"), None, Some(&manager))
        .await;
    assert_eq!(one.status, StatusCode::OK, "{:?}", one.body);
    assert_eq!(one.body["url"], receiver.url.as_str());
    for answer in [&list, &one] {
        assert!(
            !String::from_utf8_lossy(&answer.raw).contains(hex_part),
            "{:?}",
            answer.body
        );
        assert!(
            !String::from_utf8_lossy(&answer.raw).contains("\"secret\""),
            "{:?}",
            answer.body
        );
    }

    let (order, total) = place_order(o).await;
    let got = receiver.wait_for(1).await;
    let request = &got[0];
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("x-vitrine-event"), "order.created");
    assert!(
        signature_verifies(&secret, request.header("x-vitrine-signature"), &request.body),
        "signature {:?} does not verify with the endpoint's secret",
        request.header("x-vitrine-signature")
    );
    assert!(
        !signature_verifies("whsec_another", request.header("x-vitrine-signature"), &request.body),
        "only the endpoint's secret verifies"
    );
    let body = request.json();
    assert_eq!(body["type"], "order.created");
    assert_eq!(body["data"]["order_id"], order.to_string());
    assert_eq!(body["data"]["total_minor"], total);
    assert_eq!(body["data"]["status"], "awaiting_payment");
    let event_id = body["id"].as_str().expect("event id");
    assert!(event_id.starts_with("evt_"), "{body:?}");
    chrono::DateTime::parse_from_rfc3339(body["created_at"].as_str().expect("created_at")).expect("RFC 3339");

    // The log shows it delivered, under the ids the request carried.
    let delivered = wait_for_log(o, &manager, &id, "delivered", 1).await;
    let entry = &delivered[0];
    assert_eq!(entry["id"], request.header("x-vitrine-delivery"));
    assert_eq!(entry["event_id"], event_id);
    assert_eq!(entry["topic"], "order.created");
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["last_status_code"], 200);
    assert!(entry["delivered_at"].is_string(), "{entry:?}");
    assert!(entry["next_attempt_at"].is_null(), "{entry:?}");
    assert!(!log(o, &manager, &id, "").await.to_string().contains(hex_part));
}
both_backends!(
    signed_order_created,
    a_registered_endpoint_receives_a_signed_order_created,
    super::start
);

async fn a_receiver_failing_twice_gets_it_on_the_third_attempt(o: &Origin) {
    let (_, manager) = o.user(Role::StoreManager).await;
    let receiver = Receiver::start().await;
    receiver.fail_next(2);
    let id = register(o, &manager, &receiver.url, &["order.created"]).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (order, _) = place_order(o).await;
    let delivered = wait_for_log(o, &manager, &id, "delivered", 1).await;
    let entry = &delivered[0];
    assert_eq!(entry["attempts"], 3, "{entry:?}");
    assert_eq!(entry["last_status_code"], 200, "{entry:?}");
    assert!(entry["last_error"].is_null(), "{entry:?}");
    let got = receiver.requests();
    assert_eq!(got.len(), 3, "two refusals and the delivery");
    for request in &got {
        // Every attempt is the same delivery of the same bytes.
        assert_eq!(request.header("x-vitrine-delivery"), entry["id"].as_str().expect("id"));
        assert_eq!(request.body, got[0].body);
        assert_eq!(request.json()["data"]["order_id"], order.to_string());
    }
}
both_backends!(
    fails_twice,
    a_receiver_failing_twice_gets_it_on_the_third_attempt,
    super::start
);

async fn a_receiver_that_always_fails_ends_failed_and_a_redelivery_sends_it_again(o: &Origin) {
    let (_, manager) = o.user(Role::StoreManager).await;
    let receiver = Receiver::start().await;
    receiver.always_fail(true);
    let id = register(o, &manager, &receiver.url, &["order.*"]).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    place_order(o).await;
    let failed = wait_for_log(o, &manager, &id, "failed", 1).await;
    let entry = failed[0].clone();
    assert_eq!(entry["attempts"], 3, "max attempts: {entry:?}");
    assert_eq!(entry["last_status_code"], 500);
    let error = entry["last_error"].as_str().expect("last error");
    assert!(error.contains("500") && error.contains("receiver says no"), "{error}");
    assert!(
        entry["delivered_at"].is_null() && entry["next_attempt_at"].is_null(),
        "{entry:?}"
    );
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(log(o, &manager, &id, "?status=pending").await["total"], 0);
    let delivery = entry["id"].as_str().expect("delivery id");

    // The receiver is fixed; the admin sends it again.
    receiver.always_fail(false);
    let redeliver = format!("/admin/v1/webhooks/{id}/deliveries/{delivery}/redeliver");
    let again = o.call(Method::POST, &redeliver, None, Some(&manager)).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["id"], delivery);
    let delivered = wait_for_log(o, &manager, &id, "delivered", 1).await;
    assert_eq!(delivered[0]["id"], delivery);
    assert_eq!(delivered[0]["last_status_code"], 200);
    let got = receiver.requests();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].header("x-vitrine-delivery"), delivery);
    assert_eq!(got[3].body, got[0].body);

    let unknown = format!("/admin/v1/webhooks/{id}/deliveries/{}/redeliver", Uuid::new_v4());
    let a = o.call(Method::POST, &unknown, None, Some(&manager)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{:?}", a.body);
}
both_backends!(
    always_fails,
    a_receiver_that_always_fails_ends_failed_and_a_redelivery_sends_it_again,
    super::start
);

/// Writes a `payment.refunded` change as the payment handler does.
async fn payment_refunded(o: &Origin, order: Uuid) {
    with_db!(&o.state.db, pool => {
        let mut tx = pool.begin_write().await.expect("begin");
        vitrine_origin::write_outbox!(&mut *tx, &vitrine_origin::outbox::OutboxEvent {
            topic: "payment.refunded",
            entity: format!("order:{order}"),
            surrogate_keys: vec![],
            payload: json!({ "order_id": order, "amount_minor": 500, "currency": "ZAR" }),
        })
        .expect("write outbox");
        tx.commit().await.expect("commit");
    });
    o.state.feed.wake_relay();
}

async fn an_endpoint_gets_only_the_topics_it_subscribed_to(o: &Origin) {
    let (_, manager) = o.user(Role::StoreManager).await;
    let orders = Receiver::start().await;
    let payments = Receiver::start().await;
    let orders_id = register(o, &manager, &orders.url, &["order.*"]).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let payments_id = register(o, &manager, &payments.url, &["payment.*"]).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (order, _) = place_order(o).await;
    // One change's deliveries are made together: once the order endpoint
    // has its delivery, the payment endpoint would have had one too.
    wait_for_log(o, &manager, &orders_id, "delivered", 1).await;
    assert_eq!(log(o, &manager, &payments_id, "").await["total"], 0);
    assert!(payments.requests().is_empty());

    payment_refunded(o, order).await;
    let got = payments.wait_for(1).await;
    assert_eq!(got[0].header("x-vitrine-event"), "payment.refunded");
    assert_eq!(got[0].json()["data"]["order_id"], order.to_string());
    wait_for_log(o, &manager, &payments_id, "delivered", 1).await;
    assert_eq!(
        log(o, &manager, &orders_id, "").await["total"],
        1,
        "no payment event for order.*"
    );
    assert_eq!(orders.requests().len(), 1);
}
both_backends!(
    subscriptions,
    an_endpoint_gets_only_the_topics_it_subscribed_to,
    super::start
);

async fn a_deleted_endpoint_gets_nothing_more(o: &Origin) {
    let (_, manager) = o.user(Role::SuperAdmin).await;
    let doomed = Receiver::start().await;
    doomed.always_fail(true);
    let witness = Receiver::start().await;
    let doomed_id = register(o, &manager, &doomed.url, &["order.created"]).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let witness_id = register(o, &manager, &witness.url, &["order.created"]).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    place_order(o).await;
    wait_for_log(o, &manager, &witness_id, "delivered", 1).await;
    // The doomed endpoint refused its first attempt; the retry is minutes away.
    until("the first attempt to fail", async || {
        log(o, &manager, &doomed_id, "?status=pending").await["deliveries"][0]["attempts"] == 1
    })
    .await;

    let path = format!("/admin/v1/webhooks/{doomed_id}");
    let deleted = o.call(Method::DELETE, &path, None, Some(&manager)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    assert_eq!(
        o.call(Method::GET, &path, None, Some(&manager)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        o.call(Method::GET, &format!("{path}/deliveries"), None, Some(&manager))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        o.call(Method::DELETE, &path, None, Some(&manager)).await.status,
        StatusCode::NOT_FOUND
    );
    let list = o.call(Method::GET, "/admin/v1/webhooks", None, Some(&manager)).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "{:?}", list.body);
    assert_eq!(list.body[0]["id"], witness_id.as_str());

    place_order(o).await;
    wait_for_log(o, &manager, &witness_id, "delivered", 2).await;
    let doomed_uuid: Uuid = doomed_id.parse().expect("uuid");
    let statuses: Vec<String> = with_db!(&o.state.db, pool => sqlx::query_scalar(
        "SELECT status FROM webhook_deliveries WHERE endpoint_id = $1"
    ).bind(doomed_uuid).fetch_all(pool).await)
    .expect("deliveries");
    assert_eq!(
        statuses,
        vec!["cancelled".to_owned()],
        "its pending delivery was cancelled, nothing new made"
    );
    assert_eq!(doomed.requests().len(), 1, "only the attempt before the delete");
}
both_backends!(
    deleted_endpoint,
    a_deleted_endpoint_gets_nothing_more,
    super::start_slow_retries
);

async fn registrations_are_checked_and_need_a_manager(o: &Origin) {
    let body = json!({ "url": "https://hooks.example.test/vitrine", "events": ["order.created"] });
    let none = o.call(Method::POST, "/admin/v1/webhooks", Some(&body), None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{:?}", none.body);
    assert_eq!(o.get("/admin/v1/webhooks").await.status, StatusCode::UNAUTHORIZED);
    let (_, shopper) = o.user(Role::Shopper).await;
    let a = o
        .call(Method::POST, "/admin/v1/webhooks", Some(&body), Some(&shopper))
        .await;
    assert_eq!(
        (a.status, a.error_code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{:?}",
        a.body
    );
    for (method, path) in [
        (Method::GET, "/admin/v1/webhooks".to_owned()),
        (Method::GET, format!("/admin/v1/webhooks/{}", Uuid::new_v4())),
        (Method::DELETE, format!("/admin/v1/webhooks/{}", Uuid::new_v4())),
        (Method::GET, format!("/admin/v1/webhooks/{}/deliveries", Uuid::new_v4())),
    ] {
        let a = o.call(method.clone(), &path, None, Some(&shopper)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path}: {:?}", a.body);
    }

    let (_, manager) = o.user(Role::StoreManager).await;
    let long = format!("https://hooks.example.test/{}", "a".repeat(2048));
    let refused = [
        (
            json!({ "url": "ftp://hooks.example.test/x", "events": ["order.created"] }),
            "invalid_url",
        ),
        (
            json!({ "url": "https://user:pw@hooks.example.test/x", "events": ["order.created"] }),
            "invalid_url",
        ),
        (json!({ "url": "http://", "events": ["order.created"] }), "invalid_url"),
        (json!({ "url": long, "events": ["order.created"] }), "invalid_url"),
        (
            json!({ "url": "https://hooks.example.test/x", "events": ["order.shipped"] }),
            "invalid_events",
        ),
        (
            json!({ "url": "https://hooks.example.test/x", "events": ["product.*"] }),
            "invalid_events",
        ),
        (
            json!({ "url": "https://hooks.example.test/x", "events": [] }),
            "invalid_events",
        ),
        (
            json!({ "url": "https://hooks.example.test/x", "events": ["order.created"], "secret": "mine" }),
            "invalid_body",
        ),
        (json!({ "url": "https://hooks.example.test/x" }), "invalid_body"),
    ];
    for (body, code) in refused {
        let a = o
            .call(Method::POST, "/admin/v1/webhooks", Some(&body), Some(&manager))
            .await;
        assert_eq!(
            (a.status, a.error_code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{body}: {:?}",
            a.body
        );
    }
    assert_eq!(
        endpoints_in_database(o).await,
        0,
        "a refused registration writes nothing"
    );
    let list = o.call(Method::GET, "/admin/v1/webhooks", None, Some(&manager)).await;
    assert_eq!((list.status, list.body.clone()), (StatusCode::OK, json!([])));

    // Managers and super admins may; the description is kept.
    let (_, admin) = o.user(Role::SuperAdmin).await;
    let with_description = json!({
        "url": "https://hooks.example.test/vitrine", "events": ["payment.*", "order.refunded"],
        "description": "the ERP's order intake",
    });
    let a = o
        .call(
            Method::POST,
            "/admin/v1/webhooks",
            Some(&with_description),
            Some(&admin),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["description"], "the ERP's order intake");
    assert_eq!(a.body["events"], json!(["payment.*", "order.refunded"]));
    assert_eq!(endpoints_in_database(o).await, 1);

    let bad_status = format!(
        "/admin/v1/webhooks/{}/deliveries?status=lost",
        a.body["id"].as_str().expect("id")
    );
    let b = o.call(Method::GET, &bad_status, None, Some(&manager)).await;
    assert_eq!(b.status, StatusCode::BAD_REQUEST, "{:?}", b.body);

    let openapi = o.get("/openapi.json").await;
    for path in [
        "/admin/v1/webhooks",
        "/admin/v1/webhooks/{id}",
        "/admin/v1/webhooks/{id}/deliveries",
        "/admin/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    ] {
        assert!(
            openapi.body["paths"].get(path).is_some(),
            "{path} is not in /openapi.json"
        );
    }
}
both_backends!(registration, registrations_are_checked_and_need_a_manager, super::start);
