//! Checkout end to end: a shopper's cart priced at the edge by the
//! first-party promotion plugins (built from source), the payment
//! authorized by the `testpay` plugin against the TestPay provider double,
//! the order made at the origin, captured there by the payment worker, and
//! refunds paid out through the plugin. On the embedded default, and on
//! Postgres + Redis with the sync queue on the local SQS server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use vitrine_edge_config::EdgeConfig;
use vitrine_origin::auth::Role;
use vitrine_origin::config::Config;
use vitrine_origin::sync::QueueKind;
use vitrine_origin::with_db;
use vitrine_runtime::edge::checkout::provider_idempotency_key;
use vitrine_runtime::edge::proxy::Edge;
use vitrine_runtime::plugins::types::{AuthorizeRequest, Money};
use vitrine_runtime::plugins::{PaymentAnswer, PaymentCall, PluginHost};
use vitrine_runtime::testing::first_party_plugin;
use vitrine_tests::testpay::{self, DECLINED_TOKEN, TestPay};
use vitrine_tests::{Backend, EDGE_SECRET, Origin, services_required};

/// The token the double authorizes.
const TOKEN: &str = "tok_visa";

fn component(name: &str) -> String {
    first_party_plugin(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
}

fn manifest(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../plugins/{name}/vitrine-plugin.toml"))
        .display()
        .to_string()
}

/// `[plugins.testpay]` against `provider`, with a breaker that opens after
/// three failures in a row and tries again after `cool_down_ms`.
fn testpay_section(provider: &TestPay, cool_down_ms: u64) -> String {
    format!(
        "[plugins.testpay]\ncomponent = {c:?}\nmanifest = {m:?}\ngrants = [\"clock\", \"config\", \"http\", \"log\"]\n\
         config = {{ base_url = \"{base}\" }}\nlimits = {{ deadline_ms = 5000 }}\n\
         breaker = {{ threshold = 3, cool_down_ms = {cool_down_ms} }}\n\
         [plugins.testpay.secrets]\napi_key = \"{key}\"\nwebhook_secret = \"{secret}\"\n\
         [plugins.testpay.http]\nhosts = [\"{host}\"]\ntimeout_ms = 2000\n\n",
        c = component("testpay"),
        m = manifest("testpay"),
        base = provider.base_url(),
        host = provider.host(),
        key = testpay::API_KEY,
        secret = testpay::WEBHOOK_SECRET,
    )
}

/// The promotions of these tests: 15 % off power tools, free shipping from
/// R1 000, and coupon `WELCOME10` (10 % off the subtotal, once per
/// customer), all combinable.
fn promotions() -> String {
    let plugin = |name: &str, component_name: &str, config: &str| {
        format!(
            "[plugins.{name}]\ncomponent = {c:?}\nmanifest = {m:?}\ngrants = [\"config\"]\nconfig = {config}\n\n",
            c = component(component_name),
            m = manifest(component_name),
        )
    };
    [
        plugin(
            "power-tools-sale",
            "category-sale",
            "{ category = \"power-tools\", percent = \"15\", reason = \"15% off power tools\" }",
        ),
        plugin(
            "free-shipping",
            "free-shipping",
            "{ threshold_minor = \"100000\", reason = \"Free delivery over R1000\" }",
        ),
        plugin(
            "welcome-coupon",
            "coupon",
            "{ code = \"WELCOME10\", percent = \"10\", max_uses_per_customer = \"1\", reason = \"Welcome: 10% off\" }",
        ),
        "[[promotions]]\nplugin = \"power-tools-sale\"\n\n[[promotions]]\nplugin = \"free-shipping\"\n\n\
         [[promotions]]\nplugin = \"welcome-coupon\"\n\n"
            .to_owned(),
    ]
    .concat()
}

/// An origin, an edge in front of it, and the provider both talk to.
struct Shop {
    origin: Origin,
    provider: TestPay,
    edge: String,
    host: Arc<PluginHost>,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Shop {
    async fn start(backend: Backend) -> Option<Shop> {
        let provider = TestPay::start().await.expect("the TestPay double");
        let dir = tempfile::tempdir().expect("temp dir");
        let origin_plugins = dir.path().join("origin-plugins.toml");
        std::fs::write(
            &origin_plugins,
            format!("version = 1\n\n{}", testpay_section(&provider, 200)),
        )
        .expect("write the origin's plugin config");
        let sqs = match backend {
            Backend::Services => match std::env::var("VITRINE_TEST_SQS_ENDPOINT")
                .ok()
                .filter(|v| !v.is_empty())
            {
                Some(endpoint) => Some(endpoint),
                None => {
                    assert!(
                        !services_required(),
                        "VITRINE_TEST_SQS_ENDPOINT must be set: run tests through `tests/run`"
                    );
                    None
                }
            },
            Backend::Embedded => None,
        };
        let mut sqs_config = None;
        if let Some(endpoint) = sqs {
            let mut config = Config::embedded(dir.path());
            config.sync.queue = QueueKind::Sqs;
            config.sync.sqs_endpoint = Some(endpoint.clone());
            let name = format!("vt-{}", Uuid::new_v4().simple());
            let (queue, dlq) = vitrine_origin::sync::sqs::create_fifo_pair(&config.sync, &name, 3)
                .await
                .expect("create the SQS queues");
            sqs_config = Some((endpoint, queue, dlq));
        }
        let origin = Origin::start_with(backend, |config: &mut Config| {
            config.plugins_config = Some(origin_plugins.clone());
            config.payments.payment_retry_base_ms = 50;
            config.payments.payment_retry_max_ms = 200;
            config.payments.payment_poll_ms = 20;
            config.sync.max_receives = 3;
            config.sync.retry_base_ms = 20;
            config.sync.retry_max_ms = 100;
            if let Some((endpoint, queue, dlq)) = sqs_config {
                config.sync.queue = QueueKind::Sqs;
                config.sync.sqs_endpoint = Some(endpoint);
                config.sync.sqs_queue_url = Some(queue);
                config.sync.sqs_dlq_url = Some(dlq);
                config.sync.visibility_secs = 30;
            }
        })
        .await?;

        let text = format!(
            "version = 1\n[edge]\nlisten = \"127.0.0.1:0\"\norigin = \"{}\"\nsigning_secret = \"{EDGE_SECRET}\"\n\
             change_feed = {{ kind = \"off\" }}\n\n[[routes]]\npath = \"/api/v1/carts*\"\nmode = \"pass\"\n\n\
             [[routes]]\npath = \"/api/v1/orders*\"\nmode = \"pass\"\n\n{}{}",
            origin.base,
            promotions(),
            testpay_section(&provider, 1_000),
        );
        let config_path = dir.path().join("edge.toml");
        let config = EdgeConfig::parse(&config_path, &text, &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let host = Arc::new(
            tokio::task::block_in_place(|| PluginHost::from_config(&config)).unwrap_or_else(|e| panic!("{e}")),
        );
        let edge = Arc::new(Edge::new(Arc::new(config)).with_plugins(Arc::clone(&host)));
        let (base, task) = vitrine_tests::serve_edge(edge, None).await;
        Some(Shop {
            origin,
            provider,
            edge: base,
            host,
            http: reqwest::Client::new(),
            task,
            _dir: dir,
        })
    }

    async fn stop(self) {
        self.task.abort();
        self.origin.stop().await;
    }

    /// `method path` at the edge, with a JSON body and headers.
    async fn edge(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut request = self.http.request(method, format!("{}{path}", self.edge));
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("edge request");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, headers)
    }

    /// A cart made through the edge with `lines` (product, quantity) and
    /// `coupons`, as the shopper with bearer `token` (or a guest).
    async fn cart(&self, lines: &[(Uuid, i64)], coupons: &[&str], token: Option<&str>) -> String {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let (status, cart, _) = self.edge(reqwest::Method::POST, "/api/v1/carts", None, &headers).await;
        assert!(status.is_success(), "{status} {cart}");
        let id = cart["id"].as_str().expect("cart id").to_owned();
        for (product, quantity) in lines {
            let body = json!({ "product_id": product, "quantity": quantity });
            let (status, body, _) = self
                .edge(
                    reqwest::Method::POST,
                    &format!("/api/v1/carts/{id}/lines"),
                    Some(&body),
                    &headers,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        for code in coupons {
            let (status, body, _) = self
                .edge(
                    reqwest::Method::POST,
                    &format!("/api/v1/carts/{id}/coupons/{code}"),
                    None,
                    &headers,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        id
    }

    /// `POST /api/v1/checkout` at the edge.
    async fn checkout(&self, cart: &str, key: &str, token: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("idempotency-key", key)];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let body = json!({ "cart_id": cart, "email": "shopper@example.test", "payment_token": token });
        let (status, body, _) = self
            .edge(reqwest::Method::POST, "/api/v1/checkout", Some(&body), &headers)
            .await;
        (status, body)
    }

    /// (order status, payment status) at the origin.
    async fn order_state(&self, order: &str) -> (String, String) {
        let id: Uuid = order.parse().expect("order id");
        with_db!(&self.origin.state.db, pool => {
            let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
                .bind(id).fetch_one(pool).await.expect("order");
            let payment: String = sqlx::query_scalar("SELECT status FROM payments WHERE order_id = $1")
                .bind(id).fetch_one(pool).await.expect("payment");
            (status, payment)
        })
    }

    async fn until_order(&self, order: &str, want: (&str, &str)) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, payment) = self.order_state(order).await;
            if (status.as_str(), payment.as_str()) == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "order {order} is {status} with payment {payment}, not {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The power tool and the hand tool of these tests.
    async fn products(&self) -> (Uuid, Uuid) {
        let drill = self
            .origin
            .product(&["tools", "power-tools"], "Cordless drill", 119_999, 50)
            .await;
        let hammer = self
            .origin
            .product(&["tools", "hand-tools"], "Claw hammer", 24_999, 50)
            .await;
        (drill, hammer)
    }
}

/// Two drills and a hammer with the coupon, by hand:
/// subtotal 2 × 119 999 + 24 999 = 264 997;
/// power tools −15 % of 239 998 = −35 999 (35 999.7 rounded down);
/// coupon −10 % of 264 997 = −26 499 (26 499.7 rounded down);
/// shipping 9 900, free over R1 000 → 0;
/// total 264 997 − 35 999 − 26 499 = 202 499.
const HAND_TOTAL: i64 = 202_499;

async fn priced_with_two_promotions_and_a_coupon_and_captured(shop: &Shop) {
    let (drill, hammer) = shop.products().await;
    // The coupon has a per-customer limit, so it needs a signed-in customer.
    let (_, shopper) = shop.origin.user(Role::Shopper).await;
    let bearer = format!("Bearer {shopper}");
    let cart = shop
        .cart(&[(drill, 2), (hammer, 1)], &["WELCOME10"], Some(&shopper))
        .await;

    let (status, priced, headers) = shop
        .edge(
            reqwest::Method::GET,
            &format!("/api/v1/carts/{cart}"),
            None,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{priced}");
    assert_eq!(
        headers.get("x-vitrine-priced").map(|v| v.to_str().unwrap_or("")),
        Some("yes")
    );
    let totals = &priced["pricing"]["totals"];
    assert_eq!(totals["subtotal_minor"], 264_997, "{priced}");
    assert_eq!(totals["discount_minor"], 35_999 + 26_499, "{priced}");
    assert_eq!(totals["shipping_fee_minor"], 9_900);
    assert_eq!(totals["shipping_minor"], 0);
    assert_eq!(totals["total_minor"], HAND_TOTAL);
    let reasons: Vec<(&str, &str, i64)> = priced["pricing"]["adjustments"]
        .as_array()
        .expect("adjustments")
        .iter()
        .map(|a| {
            (
                a["plugin"].as_str().unwrap_or(""),
                a["reason"].as_str().unwrap_or(""),
                a["amount_minor"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("power-tools-sale", "15% off power tools", 35_999),
            ("free-shipping", "Free delivery over R1000", 9_900),
            ("welcome-coupon", "Welcome: 10% off", 26_499),
        ]
    );
    assert_eq!(priced["pricing"]["skipped"], json!([]));

    let (status, placed) = shop.checkout(&cart, "checkout-1", TOKEN, Some(&shopper)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order = placed["order"]["id"].as_str().expect("order id").to_owned();
    assert_eq!(placed["order"]["total"]["amount_minor"], HAND_TOTAL);
    // A replay prices the cart as the first attempt did (the coupon's use by
    // this very order does not count against it) and gets the same order.
    let (status, again) = shop.checkout(&cart, "checkout-1", TOKEN, Some(&shopper)).await;
    assert!(status.is_success(), "{status} {again}");
    assert_eq!(again["order"]["id"], placed["order"]["id"]);
    assert_eq!(placed["payment"]["status"], "authorized");
    // The order keeps each adjustment with the plugin and version that made it.
    let audit: Vec<(String, String)> = placed["order"]["adjustments"]
        .as_array()
        .expect("order adjustments")
        .iter()
        .map(|a| {
            (
                a["plugin"]["name"].as_str().unwrap_or("").to_owned(),
                a["plugin"]["version"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(audit.len(), 3, "{placed}");
    assert!(
        audit
            .iter()
            .all(|(name, version)| !name.is_empty() && version.contains('.')),
        "{audit:?}"
    );

    // The origin captures it: one authorization, one capture, of the total.
    shop.until_order(&order, ("paid", "captured")).await;
    let reference = placed["payment"]["reference"].as_str().expect("reference");
    let at_provider = shop.provider.payment(reference).expect("the provider's payment");
    assert_eq!(at_provider.status, "captured");
    assert_eq!(at_provider.captured_minor, HAND_TOTAL);
    let counters = shop.provider.counters();
    assert_eq!((counters.authorizations, counters.captures), (1, 1), "{counters:?}");

    // The provider's own `captured` webhook, verified by the plugin and
    // carried by the sync queue, changes nothing more.
    let body = serde_json::to_vec(&json!({
        "id": format!("evt_{}", Uuid::new_v4().simple()), "type": "captured",
        "reference": reference, "amount_minor": HAND_TOTAL, "currency": "ZAR",
    }))
    .expect("json");
    let signature = shop.provider.sign_webhook(&body);
    let hook = shop
        .origin
        .send_raw_with(
            reqwest::Method::POST,
            "/webhooks/payments/testpay",
            "application/json",
            body,
            &[("testpay-signature", &signature)],
        )
        .await;
    assert_eq!(hook.status, StatusCode::ACCEPTED, "{:?}", hook.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shop.order_state(&order).await, ("paid".into(), "captured".into()));
    assert_eq!(shop.provider.counters().captures, 1);
}

async fn a_replay_makes_one_order_and_one_charge(shop: &Shop) {
    let (drill, hammer) = shop.products().await;
    let cart = shop.cart(&[(drill, 2), (hammer, 1)], &[], None).await;
    let (first_status, first) = shop.checkout(&cart, "replay-1", TOKEN, None).await;
    assert_eq!(first_status, StatusCode::CREATED, "{first}");
    let (again_status, again) = shop.checkout(&cart, "replay-1", TOKEN, None).await;
    assert!(again_status.is_success(), "{again_status} {again}");
    assert_eq!(again["order"]["id"], first["order"]["id"]);
    assert_eq!(again["payment"]["reference"], first["payment"]["reference"]);
    assert_eq!(shop.provider.counters().authorizations, 1);
    assert_eq!(shop.origin.count("orders").await, 1);

    // A second checkout, whose first attempt died after the provider
    // authorized it and before the order: exactly what the edge had done
    // by then, through the same plugin and key.
    let cart = shop.cart(&[(hammer, 3)], &[], None).await;
    let key = provider_idempotency_key(&cart, "crash-1");
    let host = Arc::clone(&shop.host);
    let cart_ref = cart.clone();
    let authorized = tokio::task::spawn_blocking(move || {
        host.call_payment(
            "testpay",
            &PaymentCall::Authorize(AuthorizeRequest {
                idempotency_key: key,
                order_reference: cart_ref,
                amount: Money {
                    amount_minor: 3 * 24_999 + 9_900,
                    currency: "ZAR".into(),
                },
                payment_token: TOKEN.into(),
                customer_id: None,
            }),
        )
    })
    .await
    .expect("join");
    let Ok(PaymentAnswer::Authorization(dead)) = authorized else {
        panic!("the first attempt's authorization: {authorized:?}");
    };
    assert_eq!(shop.provider.counters().authorizations, 2);
    let (status, resumed) = shop.checkout(&cart, "crash-1", TOKEN, None).await;
    assert_eq!(status, StatusCode::CREATED, "{resumed}");
    assert_eq!(resumed["payment"]["reference"], dead.reference.as_str());
    assert_eq!(
        shop.provider.counters().authorizations,
        2,
        "the retry must reuse the first attempt's authorization"
    );
    let (status, replayed) = shop.checkout(&cart, "crash-1", TOKEN, None).await;
    assert!(status.is_success(), "{replayed}");
    assert_eq!(replayed["order"]["id"], resumed["order"]["id"]);
    assert_eq!(shop.origin.count("orders").await, 2);
    let order = resumed["order"]["id"].as_str().expect("order id");
    shop.until_order(order, ("paid", "captured")).await;
    assert_eq!(shop.provider.counters().captures, 2);
}

async fn a_price_change_voids_the_authorization(shop: &Shop) {
    let (drill, _) = shop.products().await;
    let cart = shop.cart(&[(drill, 1)], &[], None).await;
    let (_, manager) = shop.origin.user(Role::StoreManager).await;
    let edited = shop
        .origin
        .call(
            reqwest::Method::PUT,
            &format!("/admin/v1/products/{drill}/price"),
            Some(&json!({ "amount_minor": 129_999 })),
            Some(&manager),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);

    let (status, refused) = shop.checkout(&cart, "price-1", TOKEN, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "price_changed");
    assert_eq!(refused["error"]["payment"], "voided");
    let line = &refused["error"]["details"]["lines"][0];
    assert_eq!(line["cart_price_minor"], 119_999);
    assert_eq!(line["current_price_minor"], 129_999);
    let counters = shop.provider.counters();
    assert_eq!((counters.authorizations, counters.voids), (1, 1), "{counters:?}");
    assert_eq!(shop.origin.count("orders").await, 0);
}

async fn a_provider_outage_opens_the_breaker_and_orders_wait(shop: &Shop) {
    let (drill, hammer) = shop.products().await;
    shop.provider.set_down(true);
    let mut waiting = Vec::new();
    for i in 0..5 {
        let cart = shop.cart(&[(hammer, 1)], &[], None).await;
        let (status, answer) = shop.checkout(&cart, &format!("outage-{i}"), TOKEN, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["order"]["status"], "awaiting_payment");
        assert_eq!(answer["payment"]["deferred"], true);
        waiting.push(answer["order"]["id"].as_str().expect("order id").to_owned());
    }
    // Three failures in a row opened the edge's breaker: later checkouts
    // did not wait on the provider.
    let testpay = shop.host.plugins().get("testpay").cloned().expect("testpay installed");
    assert!(testpay.is_disabled(), "the breaker is open");
    assert!(testpay.counters().failures_by_kind.iter().sum::<u64>() >= 5);

    // A shopper whose card the provider will decline, during the outage.
    let stock_before = shop.origin.stock(drill).await;
    let cart = shop.cart(&[(drill, 2)], &[], None).await;
    let (status, declined) = shop.checkout(&cart, "outage-declined", DECLINED_TOKEN, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{declined}");
    let declined = declined["order"]["id"].as_str().expect("order id").to_owned();
    assert_eq!(shop.origin.stock(drill).await, stock_before - 2);
    for order in &waiting {
        assert_eq!(
            shop.order_state(order).await,
            ("awaiting_payment".into(), "pending".into())
        );
    }

    // The provider comes back: the origin authorizes and captures every
    // waiting order, and cancels the declined one, returning its stock.
    shop.provider.set_down(false);
    for order in &waiting {
        shop.until_order(order, ("paid", "captured")).await;
    }
    shop.until_order(&declined, ("cancelled", "failed")).await;
    assert_eq!(shop.origin.stock(drill).await, stock_before);
    let counters = shop.provider.counters();
    assert_eq!(counters.captures, 5, "{counters:?}");
}

async fn refunds_go_through_the_provider_only_when_a_manager_approves(shop: &Shop) {
    let (drill, _) = shop.products().await;
    let (_, shopper) = shop.origin.user(Role::Shopper).await;
    let cart = shop.cart(&[(drill, 1)], &[], Some(&shopper)).await;
    let (status, placed) = shop.checkout(&cart, "refund-1", TOKEN, Some(&shopper)).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order = placed["order"]["id"].as_str().expect("order id").to_owned();
    let reference = placed["payment"]["reference"].as_str().expect("reference").to_owned();
    shop.until_order(&order, ("paid", "captured")).await;

    let asked = shop
        .origin
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/orders/{order}/refund-requests"),
            Some(&json!({ "amount_minor": 50_000, "reason": "the drill arrived scratched" })),
            Some(&shopper),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{:?}", asked.body);
    let refund = asked.body["id"].as_str().expect("refund id").to_owned();

    let by_shopper = shop
        .origin
        .call(
            reqwest::Method::POST,
            &format!("/admin/v1/refunds/{refund}/approve"),
            None,
            Some(&shopper),
        )
        .await;
    assert_eq!(by_shopper.status, StatusCode::FORBIDDEN, "{:?}", by_shopper.body);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(shop.provider.counters().refunds, 0);

    let (_, manager) = shop.origin.user(Role::StoreManager).await;
    let approved = shop
        .origin
        .call(
            reqwest::Method::POST,
            &format!("/admin/v1/refunds/{refund}/approve"),
            None,
            Some(&manager),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{:?}", approved.body);
    assert_eq!(approved.body["payout"], "pending");
    let deadline = Instant::now() + Duration::from_secs(30);
    while shop.provider.payment(&reference).map(|p| p.refunded_minor) != Some(50_000) {
        assert!(
            Instant::now() < deadline,
            "the provider never refunded: {:?}",
            shop.provider.payment(&reference)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = shop
            .origin
            .call(
                reqwest::Method::GET,
                "/admin/v1/refunds?status=approved",
                None,
                Some(&manager),
            )
            .await;
        let payout = listed
            .body
            .as_array()
            .and_then(|l| l.iter().find(|r| r["id"] == refund.as_str()))
            .map(|r| r["payout"].clone());
        if payout == Some(json!("refunded")) {
            break;
        }
        assert!(Instant::now() < deadline, "payout never recorded: {:?}", listed.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(shop.provider.counters().refunds, 1);
    assert_eq!(shop.order_state(&order).await.0, "partially_refunded");
}

async fn bad_checkouts_change_nothing(shop: &Shop) {
    let (drill, _) = shop.products().await;
    let cart = shop.cart(&[(drill, 1)], &[], None).await;
    let body = json!({ "cart_id": cart, "payment_token": TOKEN });
    // No key.
    let (status, answer, _) = shop
        .edge(reqwest::Method::POST, "/api/v1/checkout", Some(&body), &[])
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("idempotency_key_required"))
    );
    // Edge-only fields, an injection string for the cart, a foreign cart.
    for (body, want) in [
        (
            json!({ "cart_id": cart, "payment_token": TOKEN, "adjustments": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "cart_id": "x' OR '1'='1", "payment_token": TOKEN }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "cart_id": Uuid::new_v4(), "payment_token": TOKEN }),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, answer, _) = shop
            .edge(
                reqwest::Method::POST,
                "/api/v1/checkout",
                Some(&body),
                &[("idempotency-key", "bad-1")],
            )
            .await;
        assert_eq!(status, want, "{body} → {answer}");
    }
    // A declined card: nothing ordered.
    let (status, answer) = shop.checkout(&cart, "declined-1", DECLINED_TOKEN, None).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("payment_declined"))
    );
    assert_eq!(shop.origin.count("orders").await, 0);
    assert_eq!(shop.provider.counters().captures, 0);
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                let shop = super::Shop::start(super::Backend::Embedded).await.expect("embedded shop");
                super::$name(&shop).await;
                shop.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_redis_sqs() {
                let Some(shop) = super::Shop::start(super::Backend::Services).await else {
                    return;
                };
                super::$name(&shop).await;
                shop.stop().await;
            }
        }
    )*};
}

on_both!(
    priced_with_two_promotions_and_a_coupon_and_captured,
    a_replay_makes_one_order_and_one_charge,
    a_price_change_voids_the_authorization,
    a_provider_outage_opens_the_breaker_and_orders_wait,
    refunds_go_through_the_provider_only_when_a_manager_approves,
    bad_checkouts_change_nothing,
);
