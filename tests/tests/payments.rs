//! The `testpay` payment plugin as the host runs it: the component built
//! from source by `plugins/build.sh`, loaded by the real plugin host with
//! outbound http granted to the TestPay double, talking to it over loopback.
//!
//! Plugin calls block (the http client is synchronous), so every call runs
//! on `spawn_blocking`, as an async caller in production would.

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vitrine_runtime::plugins::types::{
    Authorization, AuthorizeRequest, CaptureRequest, EventKind, Money, PaymentStatus, RefundRequest, VoidRequest,
    Webhook,
};
use vitrine_runtime::plugins::{
    ArtifactCache, ConfigGrant, EngineConfig, Grants, GuestError, HttpGrant, Limits, PaymentAnswer, PaymentCall,
    PluginError, PluginHost, PluginSpec, World,
};
use vitrine_runtime::testing::first_party_plugin;
use vitrine_tests::testpay::{self, TestPay};

/// The testpay component, built from source once per test process.
fn testpay_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let path = first_party_plugin("testpay").unwrap_or_else(|e| panic!("{e}"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

/// One host for the whole test binary; compiled code is cached on disk so
/// each test's load only deserializes it.
fn host() -> &'static PluginHost {
    static HOST: OnceLock<(PluginHost, PathBuf)> = OnceLock::new();
    &HOST
        .get_or_init(|| {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("tests/ has a parent");
            let dir = workspace.join("target").join("first-party").join("aot");
            let host = PluginHost::new(EngineConfig::default(), Some(ArtifactCache::new(&dir))).expect("plugin host");
            (host, dir)
        })
        .0
}

/// How the operator set the plugin up in one test.
struct Setup {
    base_url: String,
    granted_host: String,
    api_key: String,
    timeout: Duration,
    max_response_bytes: usize,
    clock: bool,
}

impl Setup {
    fn against(provider: &TestPay) -> Self {
        Self {
            base_url: provider.base_url().to_owned(),
            granted_host: provider.host(),
            api_key: testpay::API_KEY.to_owned(),
            timeout: Duration::from_secs(2),
            max_response_bytes: 64 << 10,
            clock: true,
        }
    }

    /// Loads and installs the plugin under a name of its own; returns the name.
    async fn install(self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("testpay-{}", N.fetch_add(1, Ordering::Relaxed));
        let grants = Grants {
            config: ConfigGrant {
                values: BTreeMap::from([("base_url".to_owned(), self.base_url)]),
                secrets: BTreeMap::from([
                    ("api_key".to_owned(), self.api_key),
                    ("webhook_secret".to_owned(), testpay::WEBHOOK_SECRET.to_owned()),
                ]),
            },
            http: HttpGrant {
                hosts: vec![self.granted_host],
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
            },
            clock: self.clock,
            ..Grants::default()
        };
        let limits = Limits {
            fuel: 50_000_000,
            deadline: Duration::from_secs(10),
            ..Limits::default()
        };
        let spec = PluginSpec::from_bytes(name.clone(), World::Payment, testpay_wasm())
            .with_grants(grants)
            .with_limits(limits);
        let loaded = tokio::task::spawn_blocking(move || host().load(spec))
            .await
            .expect("load task")
            .expect("loading testpay.wasm");
        host().install(loaded);
        name
    }
}

async fn call(plugin: &str, call: PaymentCall) -> Result<PaymentAnswer, PluginError> {
    let plugin = plugin.to_owned();
    tokio::task::spawn_blocking(move || host().call_payment(&plugin, &call))
        .await
        .expect("payment call task")
}

fn zar(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "ZAR".into(),
    }
}

fn authorize(key: &str, token: &str, amount_minor: i64) -> PaymentCall {
    PaymentCall::Authorize(AuthorizeRequest {
        idempotency_key: key.into(),
        order_reference: "order-1".into(),
        amount: zar(amount_minor),
        payment_token: token.into(),
        customer_id: Some("c-1".into()),
    })
}

#[track_caller]
fn authorization(answer: Result<PaymentAnswer, PluginError>) -> Authorization {
    match answer {
        Ok(PaymentAnswer::Authorization(a)) => a,
        other => panic!("expected an authorization, got {other:?}"),
    }
}

#[track_caller]
fn guest_error(answer: Result<PaymentAnswer, PluginError>) -> GuestError {
    match answer {
        Err(PluginError::Guest { error, .. }) => error,
        other => panic!("expected the plugin's typed error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_capture_refund_pass_the_idempotency_key_and_charge_once() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup::against(&provider).install().await;

    let first = authorization(call(&plugin, authorize("checkout-42", "tok_visa", 10_000)).await);
    assert_eq!(first.status, PaymentStatus::Authorized);
    // The shopper's retry (same idempotency key): the same authorization, one charge.
    let retried = authorization(call(&plugin, authorize("checkout-42", "tok_visa", 10_000)).await);
    assert_eq!(retried.reference, first.reference);
    assert_eq!(provider.charges_for("checkout-42"), 1);
    assert_eq!(provider.counters().authorizations, 1);
    // The same key for a different amount is refused, not a second charge.
    let reused = guest_error(call(&plugin, authorize("checkout-42", "tok_visa", 99_999)).await);
    assert!(matches!(reused, GuestError::InvalidInput(_)), "{reused:?}");
    assert_eq!(provider.charges_for("checkout-42"), 1);

    let captured = authorization(
        call(
            &plugin,
            PaymentCall::Capture(CaptureRequest {
                idempotency_key: "capture-42".into(),
                reference: first.reference.clone(),
                amount: zar(8_000),
            }),
        )
        .await,
    );
    assert_eq!(captured.status, PaymentStatus::Captured);
    let refund = |key: &str, amount_minor| {
        PaymentCall::Refund(RefundRequest {
            idempotency_key: key.into(),
            reference: first.reference.clone(),
            amount: zar(amount_minor),
            reason: "damaged in transit".into(),
        })
    };
    authorization(call(&plugin, refund("refund-42-a", 3_000)).await);
    // More than is left of the capture: the provider refuses, the plugin says so.
    let over = guest_error(call(&plugin, refund("refund-42-b", 5_001)).await);
    assert!(matches!(over, GuestError::InvalidInput(_)), "{over:?}");

    let payment = provider.payment(&first.reference).expect("payment at the provider");
    assert_eq!(
        (payment.status, payment.captured_minor, payment.refunded_minor),
        ("partially_refunded", 8_000, 3_000)
    );
    let counters = provider.counters();
    assert_eq!((counters.captures, counters.refunds), (1, 1));

    // A second authorization, voided instead of captured.
    let other = authorization(call(&plugin, authorize("checkout-43", "tok_visa", 500)).await);
    let voided = call(
        &plugin,
        PaymentCall::Void(VoidRequest {
            idempotency_key: "void-43".into(),
            reference: other.reference.clone(),
        }),
    )
    .await;
    authorization(voided);
    assert_eq!(provider.payment(&other.reference).map(|p| p.status), Some("voided"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declined_card_is_a_decline() {
    let provider = TestPay::start().await.expect("double");
    provider.decline_token("tok_stolen");
    let plugin = Setup::against(&provider).install().await;
    for token in [testpay::DECLINED_TOKEN, "tok_stolen"] {
        let error = guest_error(call(&plugin, authorize(&format!("k-{token}"), token, 1_000)).await);
        assert!(matches!(error, GuestError::Declined(_)), "{error:?}");
    }
    assert_eq!(provider.counters().declines, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_provider_is_unavailable_and_the_retry_charges_once() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup::against(&provider).install().await;
    provider.set_failing(Some(500));
    let error = guest_error(call(&plugin, authorize("k-500", "tok_visa", 1_000)).await);
    assert!(matches!(error, GuestError::Unavailable(_)), "{error:?}");
    assert_eq!(provider.charges_for("k-500"), 0);

    provider.set_failing(None);
    authorization(call(&plugin, authorize("k-500", "tok_visa", 1_000)).await);
    authorization(call(&plugin, authorize("k-500", "tok_visa", 1_000)).await);
    assert_eq!(provider.charges_for("k-500"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_api_key_is_a_config_error() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup {
        api_key: "sk_wrong".into(),
        ..Setup::against(&provider)
    }
    .install()
    .await;
    let error = guest_error(call(&plugin, authorize("k-401", "tok_visa", 1_000)).await);
    assert_eq!(error, GuestError::Config("api key rejected".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_provider_times_out_at_the_grant_timeout() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup {
        timeout: Duration::from_millis(300),
        ..Setup::against(&provider)
    }
    .install()
    .await;
    provider.set_latency(Duration::from_secs(5));
    let started = Instant::now();
    let error = guest_error(call(&plugin, authorize("k-slow", "tok_visa", 1_000)).await);
    let took = started.elapsed();
    assert!(
        matches!(&error, GuestError::Unavailable(m) if m.contains("in time")),
        "{error:?}"
    );
    assert!(took >= Duration::from_millis(300), "gave up after {took:?}");
    assert!(took < Duration::from_secs(2), "waited {took:?} for a 300 ms timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_is_down_is_unavailable() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup::against(&provider).install().await;
    // A connection made while it was up, then down: pooled connections are dropped too.
    authorization(call(&plugin, authorize("k-up", "tok_visa", 1_000)).await);
    provider.set_down(true);
    let started = Instant::now();
    let error = guest_error(call(&plugin, authorize("k-down", "tok_visa", 1_000)).await);
    assert!(matches!(error, GuestError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(provider.charges_for("k-down"), 0);

    // Nothing listening at all.
    let port = provider
        .host()
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .expect("port");
    drop(provider);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = guest_error(call(&plugin, authorize("k-gone", "tok_visa", 1_000)).await);
    assert!(matches!(error, GuestError::Unavailable(_)), "port {port}: {error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_is_not_granted_is_never_reached() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup {
        granted_host: "api.testpay.example".into(),
        ..Setup::against(&provider)
    }
    .install()
    .await;
    let answer = call(&plugin, authorize("k-denied", "tok_visa", 1_000)).await;
    let error = guest_error(answer);
    assert!(
        matches!(&error, GuestError::Config(m) if m.contains("is not granted")),
        "{error:?}"
    );
    assert_eq!(provider.counters().requests, 0, "the request left the host");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_over_the_response_cap_is_a_failure() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup {
        max_response_bytes: 4 << 10,
        ..Setup::against(&provider)
    }
    .install()
    .await;
    provider.set_padding(64 << 10);
    let error = guest_error(call(&plugin, authorize("k-big", "tok_visa", 1_000)).await);
    assert!(
        matches!(&error, GuestError::Unavailable(m) if m.contains("response cap")),
        "{error:?}"
    );
    // Under the cap, the same provider is fine.
    provider.set_padding(1 << 10);
    authorization(call(&plugin, authorize("k-small", "tok_visa", 1_000)).await);
}

fn webhook(signature: &str, body: &str) -> PaymentCall {
    PaymentCall::VerifyWebhook(Webhook {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("TestPay-Signature".into(), signature.into()),
        ],
        body: body.as_bytes().to_vec(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_verify_only_with_a_fresh_valid_signature() {
    let provider = TestPay::start().await.expect("double");
    let plugin = Setup::against(&provider).install().await;
    let body = r#"{"id":"evt_9","type":"captured","reference":"pay_7","amount_minor":8000,"currency":"ZAR"}"#;

    let signature = provider.sign_webhook(body.as_bytes());
    let event = match call(&plugin, webhook(&signature, body)).await {
        Ok(PaymentAnswer::Event(event)) => event,
        other => panic!("expected an event, got {other:?}"),
    };
    assert_eq!(event.event_id, "evt_9");
    assert_eq!(event.kind, EventKind::Captured);
    assert_eq!(event.reference, "pay_7");
    let amount = event.amount.as_ref().map(|m| (m.amount_minor, m.currency.as_str()));
    assert_eq!(amount, Some((8_000, "ZAR")));

    // Forged: the signature of another body.
    let forged = provider.sign_webhook(body.replace("8000", "1").as_bytes());
    let error = guest_error(call(&plugin, webhook(&forged, body)).await);
    assert_eq!(error, GuestError::BadSignature);

    // Stale: validly signed six minutes ago (a replay).
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let stale = testpay::sign_webhook_at(body.as_bytes(), now - 360);
    let error = guest_error(call(&plugin, webhook(&stale, body)).await);
    assert_eq!(error, GuestError::BadSignature);
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_need_the_clock_grant() {
    let provider = TestPay::start().await.expect("double");
    let body = r#"{"id":"evt_1","type":"captured","reference":"pay_1","amount_minor":100,"currency":"ZAR"}"#;
    let signature = provider.sign_webhook(body.as_bytes());
    let plugin = Setup {
        clock: false,
        ..Setup::against(&provider)
    }
    .install()
    .await;
    // The plugin asks the time to check the signature's age: not granted,
    // the call stops, typed, never a silent success.
    match call(&plugin, webhook(&signature, body)).await {
        Err(PluginError::CapabilityDenied { what, .. }) => assert!(what.contains("clock"), "{what}"),
        other => panic!("expected a capability denied, got {other:?}"),
    }
    // Granted, the same webhook verifies.
    let plugin = Setup::against(&provider).install().await;
    assert!(matches!(
        call(&plugin, webhook(&signature, body)).await,
        Ok(PaymentAnswer::Event(_))
    ));
}
