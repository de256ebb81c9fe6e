//! `POST /webhooks/payments/{provider}`: the `testpay` plugin, built from
//! source and installed from an operator config, verifies the provider's
//! webhooks at the origin; verified events go through the sync queue and
//! move the payment (and a paid order) forward, once.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_origin::config::Config;
use vitrine_origin::with_db;
use vitrine_runtime::testing::first_party_plugin;
use vitrine_tests::testpay::{WEBHOOK_SECRET, sign_webhook_at};
use vitrine_tests::{Answer, Backend, Origin};

/// An operator config installing `testpay` (its outbound http points
/// nowhere: verifying a webhook makes no request), written beside the test.
fn plugins_config(dir: &std::path::Path) -> PathBuf {
    let wasm = first_party_plugin("testpay").unwrap_or_else(|e| panic!("{e}"));
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/testpay/vitrine-plugin.toml");
    let text = format!(
        "version = 1\n\n[plugins.testpay]\ncomponent = {wasm:?}\nmanifest = {manifest:?}\n\
         grants = [\"clock\", \"config\", \"http\", \"log\"]\nconfig = {{ base_url = \"http://127.0.0.1:9\" }}\n\
         limits = {{ deadline_ms = 10000 }}\n\n[plugins.testpay.secrets]\napi_key = \"test-api-key\"\n\
         webhook_secret = \"{WEBHOOK_SECRET}\"\n\n[plugins.testpay.http]\nhosts = [\"127.0.0.1:9\"]\n",
        wasm = wasm.display().to_string(),
        manifest = manifest.display().to_string(),
    );
    let path = dir.join("plugins.toml");
    std::fs::write(&path, text).expect("write plugins config");
    path
}

async fn start(backend: Backend) -> Option<Origin> {
    Origin::start_with(backend, |config: &mut Config| {
        // In the origin's own data directory, which lives as long as it.
        config.plugins_config = Some(plugins_config(&config.data_dir));
        // A webhook that overtook its order is retried quickly and lands in
        // the dead letters after three receives.
        config.sync.max_receives = 3;
        config.sync.retry_base_ms = 20;
        config.sync.retry_max_ms = 100;
        config.sync.visibility_secs = 1;
    })
    .await
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970")
}

/// Sends `body` as TestPay would, signed at `signed_at`.
async fn webhook(o: &Origin, provider: &str, body: &Value, signed_at: u64) -> Answer {
    let bytes = serde_json::to_vec(body).expect("json");
    let signature = sign_webhook_at(&bytes, signed_at);
    o.send_raw_with(
        Method::POST,
        &format!("/webhooks/payments/{provider}"),
        "application/json",
        bytes,
        &[("testpay-signature", &signature)],
    )
    .await
}

/// An order placed through a signed edge request with an authorised
/// testpay payment `reference`; its id and total.
async fn order_with_payment(o: &Origin, reference: &str) -> (Uuid, i64) {
    let drill = o.product(&["tools"], "Drill", 100_000, 10).await;
    let cart = o.cart(None).await;
    o.add(cart, drill, 1, None).await;
    let total = 100_000 + 9_900;
    let body = json!({
        "cart_id": cart,
        "email": "shopper@example.test",
        "payment": { "provider": "testpay", "reference": reference, "status": "authorized", "amount_minor": total },
    });
    let placed = o.send_signed(Method::POST, "/api/v1/orders", &body, &[]).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{:?}", placed.body);
    assert_eq!(placed.body["status"], "awaiting_payment");
    let id = placed.body["id"].as_str().expect("order id").parse().expect("uuid");
    (id, total)
}

/// (order status, payment status, paid events) of `order`.
async fn order_state(o: &Origin, order: Uuid) -> (String, String, i64) {
    with_db!(&o.state.db, pool => {
        let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
            .bind(order).fetch_one(pool).await.expect("order");
        let payment: String = sqlx::query_scalar("SELECT status FROM payments WHERE order_id = $1")
            .bind(order).fetch_one(pool).await.expect("payment");
        let paid: i64 = sqlx::query_scalar("SELECT count(*) FROM order_events WHERE order_id = $1 AND to_status = 'paid'")
            .bind(order).fetch_one(pool).await.expect("events");
        (status, payment, paid)
    })
}

/// Waits until the sync pipeline has no message left (visible or in flight).
async fn drained(o: &Origin) {
    let (_, admin) = o.user(Role::SuperAdmin).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = o.call(Method::GET, "/admin/v1/sync/queue", None, Some(&admin)).await;
        assert_eq!(q.status, StatusCode::OK, "{:?}", q.body);
        if q.body["backlog"] == 0 && q.body["in_flight"] == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the queue did not drain: {:?}", q.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_verified_capture_pays_the_order_once(o: &Origin) {
    let (order, total) = order_with_payment(o, "pay_capture_1").await;
    let captured = json!({ "id": "evt_cap_1", "type": "captured", "reference": "pay_capture_1",
                           "amount_minor": total, "currency": "ZAR" });
    let a = webhook(o, "testpay", &captured, now()).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(a.body["accepted"], 1);
    until("the order to be paid", async || order_state(o, order).await.0 == "paid").await;
    assert_eq!(order_state(o, order).await, ("paid".into(), "captured".into(), 1));

    // The provider sends it again, and a late `authorized` arrives after the
    // capture: neither changes anything.
    assert_eq!(
        webhook(o, "testpay", &captured, now()).await.status,
        StatusCode::ACCEPTED
    );
    let late = json!({ "id": "evt_auth_1", "type": "authorized", "reference": "pay_capture_1",
                       "amount_minor": total, "currency": "ZAR" });
    assert_eq!(webhook(o, "testpay", &late, now()).await.status, StatusCode::ACCEPTED);
    drained(o).await;
    assert_eq!(order_state(o, order).await, ("paid".into(), "captured".into(), 1));
    let outcomes: Vec<(String, String)> = with_db!(&o.state.db, pool => sqlx::query_as(
        "SELECT event_id, outcome FROM sync_processed WHERE event_id LIKE 'payment:%' ORDER BY event_id"
    ).fetch_all(pool).await.expect("processed"));
    assert_eq!(
        outcomes,
        vec![
            ("payment:testpay:evt_auth_1".into(), "stale".into()),
            ("payment:testpay:evt_cap_1".into(), "applied".into()),
        ]
    );
    let published: i64 = with_db!(&o.state.db, pool => sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE topic = 'payment.status_changed' AND entity = $1"
    ).bind(format!("order:{order}")).fetch_one(pool).await.expect("outbox"));
    assert_eq!(published, 1, "one change, published once");
}
vitrine_tests::both_backends!(capture, a_verified_capture_pays_the_order_once, super::start);

async fn forged_replayed_and_unknown_webhooks_enqueue_nothing(o: &Origin) {
    let (order, total) = order_with_payment(o, "pay_forged_1").await;
    let body = json!({ "id": "evt_forged", "type": "captured", "reference": "pay_forged_1",
                       "amount_minor": total, "currency": "ZAR" });
    let bytes = serde_json::to_vec(&body).expect("json");

    // Signed with another secret.
    let forged = {
        use hmac::Mac as _;
        let t = now();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"not-the-secret").expect("key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(&bytes);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let a = o
        .send_raw_with(
            Method::POST,
            "/webhooks/payments/testpay",
            "application/json",
            bytes.clone(),
            &[("testpay-signature", &forged)],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.body);
    // No signature at all.
    let a = o
        .send_raw(
            Method::POST,
            "/webhooks/payments/testpay",
            "application/json",
            bytes.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.body);
    // A genuine signature captured an hour ago: a replay.
    let a = webhook(o, "testpay", &body, now() - 3600).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.body);
    // The body changed after signing.
    let signature = sign_webhook_at(&bytes, now());
    let mut tampered = bytes.clone();
    let at = tampered.iter().position(|b| b.is_ascii_digit()).expect("a digit");
    tampered[at] = if tampered[at] == b'9' { b'8' } else { tampered[at] + 1 };
    let a = o
        .send_raw_with(
            Method::POST,
            "/webhooks/payments/testpay",
            "application/json",
            tampered,
            &[("testpay-signature", &signature)],
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.body);
    // Genuinely signed, but not an event the plugin can read.
    let a = webhook(
        o,
        "testpay",
        &json!({ "id": "evt_x", "type": "teleported", "reference": "r" }),
        now(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    // No such provider (and an injection attempt in its place).
    for provider in ["stripe", "testpay'%3B%20DROP%20TABLE%20payments%3B--"] {
        let a = webhook(o, provider, &body, now()).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{provider}: {:?}", a.body);
    }

    drained(o).await;
    let (_, admin) = o.user(Role::SuperAdmin).await;
    let q = o.call(Method::GET, "/admin/v1/sync/queue", None, Some(&admin)).await;
    assert_eq!(q.body["dead"], 0, "{:?}", q.body);
    let processed: i64 = with_db!(&o.state.db, pool => sqlx::query_scalar(
        "SELECT count(*) FROM sync_processed"
    ).fetch_one(pool).await.expect("processed"));
    assert_eq!(processed, 0, "nothing refused was enqueued or applied");
    assert_eq!(
        order_state(o, order).await,
        ("awaiting_payment".into(), "authorized".into(), 0)
    );
    assert_eq!(o.count("payments").await, 1);
}
vitrine_tests::both_backends!(
    refused,
    forged_replayed_and_unknown_webhooks_enqueue_nothing,
    super::start
);

async fn a_webhook_that_overtook_its_order_is_dead_lettered_then_redriven(o: &Origin) {
    let (_, admin) = o.user(Role::SuperAdmin).await;
    let early = json!({ "id": "evt_early", "type": "captured", "reference": "pay_early_1",
                        "amount_minor": 109_900, "currency": "ZAR" });
    assert_eq!(webhook(o, "testpay", &early, now()).await.status, StatusCode::ACCEPTED);
    let mut letters = Value::Null;
    until("the early event to be dead-lettered", async || {
        letters = o
            .call(Method::GET, "/admin/v1/sync/dead-letters", None, Some(&admin))
            .await
            .body;
        letters.as_array().is_some_and(|l| !l.is_empty())
    })
    .await;
    let letter = &letters[0];
    assert_eq!(letter["id"], "payment:testpay:evt_early", "{letter:?}");
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("pay_early_1"),
        "the last error names the payment: {letter:?}"
    );

    // The order arrives; the operator redrives, and the capture applies.
    let (order, _) = order_with_payment(o, "pay_early_1").await;
    let redriven = o
        .call(Method::POST, "/admin/v1/sync/dead-letters/redrive", None, Some(&admin))
        .await;
    assert_eq!(redriven.status, StatusCode::OK, "{:?}", redriven.body);
    until("the order to be paid", async || order_state(o, order).await.0 == "paid").await;
    assert_eq!(order_state(o, order).await, ("paid".into(), "captured".into(), 1));
}
vitrine_tests::both_backends!(
    early,
    a_webhook_that_overtook_its_order_is_dead_lettered_then_redriven,
    super::start
);
