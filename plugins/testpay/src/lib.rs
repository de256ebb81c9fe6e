//! `testpay`: payments through the TestPay HTTP API.
//!
//! Settings (through the `config` capability):
//! - `base_url` (config, required): e.g. `https://api.testpay.example`; the
//!   operator must grant its host to this plugin's `http`;
//! - `api_key` (secret, required for authorize, capture, void, refund): sent
//!   as `Authorization: Bearer <api_key>`;
//! - `webhook_secret` (secret, required for `verify-webhook`).
//!
//! The provider's API, as this plugin speaks it (JSON in and out):
//!
//! | call | request |
//! |---|---|
//! | authorize | `POST {base}/v1/authorizations` `{amount_minor, currency, payment_token, order_reference, customer_id?}` |
//! | capture | `POST {base}/v1/authorizations/{ref}/capture` `{amount_minor, currency}` |
//! | void | `POST {base}/v1/authorizations/{ref}/void` `{}` |
//! | refund | `POST {base}/v1/authorizations/{ref}/refunds` `{amount_minor, currency, reason}` |
//!
//! Every request carries `Idempotency-Key` = the call's idempotency key, so
//! a retried call is answered by the provider from its first answer and
//! never charges twice. A success (200/201) is the payment `{id, status}`.
//!
//! How answers map to the contract ([`map_answer`]):
//! 200/201 → the authorization; 402 → `declined(message)`; 400, 404, 409,
//! 422 → `invalid-request(message)`; 401/403 → `config("api key rejected")`;
//! 5xx, 429, any other status, a timeout, a transport failure or an answer
//! over the response cap → `provider-unavailable` (retry later, with the same
//! key); an http `denied` (the operator did not grant `base_url`'s host) →
//! `config`. The provider's statuses map onto the contract's four:
//! `voided` and `failed` are `declined`, `refunded` and
//! `partially_refunded` are `captured` (the contract has no status of
//! their own for them).
//!
//! Webhooks ([`verify`]): header `TestPay-Signature: t=<unix secs>,v1=<hex>`
//! where `v1` is HMAC-SHA256(webhook_secret, `"<t>.<body>"`), compared in
//! constant time (several `v1` entries are allowed, for secret rotation); a
//! timestamp more than 300 s from the host's clock is refused, so a captured
//! webhook cannot be replayed later. Only then is the body read:
//! `{id, type: authorized|captured|voided|refunded|failed, reference,
//! amount_minor?, currency?}`.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use vitrine_sdk::Money;
use vitrine_sdk::payment::http::{self, HttpError, Request, Response};
use vitrine_sdk::payment::{
    Authorization, AuthorizeRequest, Capabilities, CaptureRequest, EventKind, Payment, PaymentError, PaymentEvent,
    PaymentStatus, RefundRequest, VoidRequest, Webhook,
};

/// How far a webhook's timestamp may be from the host's clock.
pub const WEBHOOK_TOLERANCE_SECS: u64 = 300;

/// The header carrying a webhook's signature.
pub const SIGNATURE_HEADER: &str = "testpay-signature";

/// Where and as whom the plugin talks to TestPay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// The API's root, without a trailing `/`.
    pub base_url: String,
    /// The merchant's API key.
    pub api_key: String,
}

impl Api {
    /// The settings from the `config` capability.
    pub fn from_config() -> Result<Self, PaymentError> {
        let base_url = vitrine_sdk::config::get("base_url")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| PaymentError::Config("missing setting `base_url`".into()))?;
        let api_key = vitrine_sdk::config::secret("api_key")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| PaymentError::Config("missing secret `api_key`".into()))?;
        Self::new(&base_url, &api_key)
    }

    /// Checks and keeps the settings.
    pub fn new(base_url: &str, api_key: &str) -> Result<Self, PaymentError> {
        let base_url = base_url.trim().trim_end_matches('/');
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(PaymentError::Config(format!(
                "setting `base_url` = {base_url:?} is not an http(s) url"
            )));
        }
        if !is_header_value(api_key) {
            return Err(PaymentError::Config(
                "secret `api_key` is not a valid header value".into(),
            ));
        }
        Ok(Self {
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
        })
    }

    /// The request for `POST {base}{path}` with `body`, under `idempotency_key`.
    pub fn post(&self, path: &str, idempotency_key: &str, body: &Value) -> Result<Request, PaymentError> {
        if idempotency_key.is_empty() || idempotency_key.len() > 255 || !is_header_value(idempotency_key) {
            return Err(PaymentError::InvalidRequest(
                "the idempotency key must be 1 to 255 printable ascii characters".into(),
            ));
        }
        Ok(Request {
            method: "POST".into(),
            url: format!("{}{path}", self.base_url),
            headers: vec![
                ("authorization".into(), format!("Bearer {}", self.api_key)),
                ("idempotency-key".into(), idempotency_key.to_owned()),
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
        })
    }

    /// The authorize request.
    pub fn authorize(&self, request: &AuthorizeRequest) -> Result<Request, PaymentError> {
        check_money(&request.amount)?;
        if request.payment_token.is_empty() {
            return Err(PaymentError::InvalidRequest("the payment token is empty".into()));
        }
        let mut body = json!({
            "amount_minor": request.amount.amount_minor,
            "currency": request.amount.currency,
            "payment_token": request.payment_token,
            "order_reference": request.order_reference,
        });
        if let (Some(customer), Some(map)) = (&request.customer_id, body.as_object_mut()) {
            map.insert("customer_id".into(), Value::String(customer.clone()));
        }
        self.post("/v1/authorizations", &request.idempotency_key, &body)
    }

    /// The capture request.
    pub fn capture(&self, request: &CaptureRequest) -> Result<Request, PaymentError> {
        check_money(&request.amount)?;
        let path = format!("/v1/authorizations/{}/capture", reference(&request.reference)?);
        let body = json!({"amount_minor": request.amount.amount_minor, "currency": request.amount.currency});
        self.post(&path, &request.idempotency_key, &body)
    }

    /// The void request.
    pub fn void(&self, request: &VoidRequest) -> Result<Request, PaymentError> {
        let path = format!("/v1/authorizations/{}/void", reference(&request.reference)?);
        self.post(&path, &request.idempotency_key, &json!({}))
    }

    /// The refund request.
    pub fn refund(&self, request: &RefundRequest) -> Result<Request, PaymentError> {
        check_money(&request.amount)?;
        let path = format!("/v1/authorizations/{}/refunds", reference(&request.reference)?);
        let body = json!({
            "amount_minor": request.amount.amount_minor,
            "currency": request.amount.currency,
            "reason": request.reason,
        });
        self.post(&path, &request.idempotency_key, &body)
    }
}

/// Header values the host will pass on: printable ASCII.
fn is_header_value(value: &str) -> bool {
    value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn check_money(money: &Money) -> Result<(), PaymentError> {
    if money.amount_minor <= 0 {
        return Err(PaymentError::InvalidRequest(format!(
            "amount {} is not positive",
            money.amount_minor
        )));
    }
    if money.currency.len() != 3 || !money.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(PaymentError::InvalidRequest(format!(
            "currency {:?} is not an ISO 4217 code",
            money.currency
        )));
    }
    Ok(())
}

/// A provider reference, checked before it goes into a URL path.
fn reference(reference: &str) -> Result<&str, PaymentError> {
    let ok = !reference.is_empty()
        && reference.len() <= 128
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(reference)
    } else {
        Err(PaymentError::InvalidRequest(format!(
            "{reference:?} is not a TestPay reference"
        )))
    }
}

/// Turns what the host's `http` answered into the contract's result.
pub fn map_answer(answer: Result<Response, HttpError>) -> Result<Authorization, PaymentError> {
    let response = match answer {
        Ok(response) => response,
        Err(HttpError::Denied(why)) => return Err(PaymentError::Config(format!("outbound http denied: {why}"))),
        Err(HttpError::Timeout) => {
            return Err(PaymentError::ProviderUnavailable(
                "no answer from TestPay in time".into(),
            ));
        }
        Err(HttpError::TooLarge) => {
            return Err(PaymentError::ProviderUnavailable(
                "TestPay's answer is over the response cap".into(),
            ));
        }
        Err(HttpError::Transport(why)) => {
            return Err(PaymentError::ProviderUnavailable(format!("TestPay unreachable: {why}")));
        }
    };
    let status = response.status;
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let message = || {
        body.as_ref()
            .and_then(|b| b.pointer("/error/message"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("TestPay answered {status}"), str::to_owned)
    };
    match status {
        200 | 201 => parse_payment(body.as_ref()),
        402 => Err(PaymentError::Declined(message())),
        400 | 404 | 409 | 422 => Err(PaymentError::InvalidRequest(message())),
        401 | 403 => Err(PaymentError::Config("api key rejected".into())),
        _ => Err(PaymentError::ProviderUnavailable(format!(
            "TestPay answered {status}: {}",
            message()
        ))),
    }
}

fn parse_payment(body: Option<&Value>) -> Result<Authorization, PaymentError> {
    let unreadable = || PaymentError::ProviderUnavailable("TestPay's answer is not a payment".into());
    let body = body.ok_or_else(unreadable)?;
    let id = body.get("id").and_then(Value::as_str).ok_or_else(unreadable)?;
    let status = match body.get("status").and_then(Value::as_str) {
        Some("pending") => PaymentStatus::Pending,
        Some("authorized") => PaymentStatus::Authorized,
        Some("captured" | "refunded" | "partially_refunded") => PaymentStatus::Captured,
        Some("declined" | "voided" | "failed") => PaymentStatus::Declined,
        _ => return Err(unreadable()),
    };
    Ok(Authorization {
        reference: id.to_owned(),
        status,
    })
}

/// Checks `webhook` against `secret` at `now_ms` and reads its event.
pub fn verify(secret: &str, webhook: &Webhook, now_ms: u64) -> Result<PaymentEvent, PaymentError> {
    if secret.is_empty() {
        return Err(PaymentError::Config("missing secret `webhook_secret`".into()));
    }
    let mut headers = webhook
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(SIGNATURE_HEADER));
    let (Some((_, header)), None) = (headers.next(), headers.next()) else {
        // None, or several: an ambiguous signature is no signature.
        return Err(PaymentError::BadSignature);
    };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => timestamp = Some(t),
            Some(("v1", v1)) => signatures.push(v1),
            _ => {}
        }
    }
    let t: u64 = timestamp
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(PaymentError::BadSignature)?;
    let now = now_ms / 1000;
    if now.abs_diff(t) > WEBHOOK_TOLERANCE_SECS {
        return Err(PaymentError::BadSignature);
    }
    let mac = signer(secret, t, &webhook.body)?;
    let verified = signatures
        .iter()
        .filter_map(|s| hex::decode(s).ok())
        .any(|s| mac.clone().verify_slice(&s).is_ok());
    if !verified {
        return Err(PaymentError::BadSignature);
    }
    parse_event(&webhook.body)
}

fn signer(secret: &str, t: u64, body: &[u8]) -> Result<Hmac<Sha256>, PaymentError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| PaymentError::Config("secret `webhook_secret` is not a valid hmac key".into()))?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The `TestPay-Signature` value for `body` at `t` (unix seconds): what the
/// provider sends, and what tests use to make valid webhooks.
pub fn sign(secret: &str, t: u64, body: &[u8]) -> String {
    let tag = signer(secret, t, body).map_or_else(|_| String::new(), |mac| hex::encode(mac.finalize().into_bytes()));
    format!("t={t},v1={tag}")
}

fn parse_event(body: &[u8]) -> Result<PaymentEvent, PaymentError> {
    let invalid = |what: &str| PaymentError::InvalidRequest(format!("webhook body: {what}"));
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid("not json"))?;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(&format!("`{key}` is missing or not a string")))
    };
    let kind = match text("type")? {
        "authorized" => EventKind::Authorized,
        "captured" => EventKind::Captured,
        "voided" => EventKind::Voided,
        "refunded" => EventKind::Refunded,
        "failed" => EventKind::Failed,
        other => return Err(invalid(&format!("unknown event type {other:?}"))),
    };
    let amount = match (value.get("amount_minor"), value.get("currency")) {
        (None | Some(Value::Null), None | Some(Value::Null)) => None,
        (Some(amount), Some(currency)) => {
            let amount_minor = amount
                .as_i64()
                .filter(|a| *a >= 0)
                .ok_or_else(|| invalid("`amount_minor` is not a non-negative integer"))?;
            let currency = currency
                .as_str()
                .ok_or_else(|| invalid("`currency` is not a string"))?
                .to_owned();
            let money = Money { amount_minor, currency };
            if money.currency.len() != 3 || !money.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(invalid("`currency` is not an ISO 4217 code"));
            }
            Some(money)
        }
        _ => return Err(invalid("`amount_minor` and `currency` come together")),
    };
    Ok(PaymentEvent {
        event_id: text("id")?.to_owned(),
        kind,
        reference: text("reference")?.to_owned(),
        amount,
    })
}

/// The plugin.
pub struct TestPay;

fn call(request: Result<Request, PaymentError>) -> Result<Authorization, PaymentError> {
    let result = map_answer(http::send(&request?));
    if let Err(PaymentError::ProviderUnavailable(why) | PaymentError::Config(why)) = &result {
        vitrine_sdk::log::warn(why);
    }
    result
}

impl Payment for TestPay {
    fn capabilities() -> Capabilities {
        Capabilities {
            deferred_authorization: true,
            partial_refunds: true,
        }
    }

    fn authorize(request: AuthorizeRequest) -> Result<Authorization, PaymentError> {
        call(Api::from_config().and_then(|api| api.authorize(&request)))
    }

    fn capture(request: CaptureRequest) -> Result<Authorization, PaymentError> {
        call(Api::from_config().and_then(|api| api.capture(&request)))
    }

    fn void(request: VoidRequest) -> Result<Authorization, PaymentError> {
        call(Api::from_config().and_then(|api| api.void(&request)))
    }

    fn refund(request: RefundRequest) -> Result<Authorization, PaymentError> {
        call(Api::from_config().and_then(|api| api.refund(&request)))
    }

    fn verify_webhook(webhook: Webhook) -> Result<PaymentEvent, PaymentError> {
        let secret = vitrine_sdk::config::secret("webhook_secret").unwrap_or_default();
        verify(&secret, &webhook, vitrine_sdk::payment::clock::now_ms())
    }
}

vitrine_sdk::export_payment!(TestPay);
// One call per instance: small allocations bump a pointer in one chunk of
// the initial heap instead of going through dlmalloc. See `vitrine_sdk::alloc`.
vitrine_sdk::use_call_arena!();

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const NOW_MS: u64 = 1_800_000_000_000;

    fn api() -> Api {
        Api::new("http://127.0.0.1:9999/", "sk_test").unwrap()
    }

    fn money(amount_minor: i64) -> Money {
        Money {
            amount_minor,
            currency: "ZAR".into(),
        }
    }

    fn answer(status: u16, body: &str) -> Result<Response, HttpError> {
        Ok(Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        })
    }

    fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn authorize_posts_the_amount_with_the_callers_idempotency_key() {
        let request = api()
            .authorize(&AuthorizeRequest {
                idempotency_key: "order-7-attempt-1".into(),
                order_reference: "order-7".into(),
                amount: money(12_345),
                payment_token: "tok_visa".into(),
                customer_id: None,
            })
            .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "http://127.0.0.1:9999/v1/authorizations");
        assert_eq!(header(&request, "Idempotency-Key"), Some("order-7-attempt-1"));
        assert_eq!(header(&request, "Authorization"), Some("Bearer sk_test"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["amount_minor"], 12_345);
        assert_eq!(body["currency"], "ZAR");
        assert_eq!(body["payment_token"], "tok_visa");
        assert!(body.get("customer_id").is_none());
    }

    #[test]
    fn capture_void_and_refund_address_the_reference() {
        let capture = api()
            .capture(&CaptureRequest {
                idempotency_key: "k1".into(),
                reference: "pay_1".into(),
                amount: money(500),
            })
            .unwrap();
        assert_eq!(capture.url, "http://127.0.0.1:9999/v1/authorizations/pay_1/capture");
        let void = api()
            .void(&VoidRequest {
                idempotency_key: "k2".into(),
                reference: "pay_1".into(),
            })
            .unwrap();
        assert_eq!(void.url, "http://127.0.0.1:9999/v1/authorizations/pay_1/void");
        let refund = api()
            .refund(&RefundRequest {
                idempotency_key: "k3".into(),
                reference: "pay_1".into(),
                amount: money(200),
                reason: "damaged".into(),
            })
            .unwrap();
        assert_eq!(refund.url, "http://127.0.0.1:9999/v1/authorizations/pay_1/refunds");
        assert_eq!(
            serde_json::from_slice::<Value>(&refund.body).unwrap()["amount_minor"],
            200
        );
    }

    #[test]
    fn bad_input_never_reaches_the_provider() {
        let capture = |reference: &str, amount: i64, key: &str| {
            api().capture(&CaptureRequest {
                idempotency_key: key.into(),
                reference: reference.into(),
                amount: money(amount),
            })
        };
        // A reference that would walk to another path.
        assert!(matches!(
            capture("../../admin", 100, "k"),
            Err(PaymentError::InvalidRequest(_))
        ));
        assert!(matches!(capture("pay_1", 0, "k"), Err(PaymentError::InvalidRequest(_))));
        assert!(matches!(
            capture("pay_1", -5, "k"),
            Err(PaymentError::InvalidRequest(_))
        ));
        assert!(matches!(
            capture("pay_1", 100, ""),
            Err(PaymentError::InvalidRequest(_))
        ));
        assert!(matches!(
            capture("pay_1", 100, "a\r\nX-Evil: 1"),
            Err(PaymentError::InvalidRequest(_))
        ));
        assert!(matches!(Api::new("ftp://x", "k"), Err(PaymentError::Config(_))));
    }

    #[test]
    fn provider_answers_map_to_the_contract() {
        let ok = map_answer(answer(201, r#"{"id":"pay_1","status":"authorized"}"#)).unwrap();
        assert_eq!(ok.reference, "pay_1");
        assert_eq!(ok.status, PaymentStatus::Authorized);
        assert_eq!(
            map_answer(answer(200, r#"{"id":"pay_1","status":"partially_refunded"}"#))
                .unwrap()
                .status,
            PaymentStatus::Captured
        );
        assert_eq!(
            map_answer(answer(
                402,
                r#"{"error":{"code":"card_declined","message":"insufficient funds"}}"#
            )),
            Err(PaymentError::Declined("insufficient funds".into()))
        );
        assert!(matches!(
            map_answer(answer(422, "{}")),
            Err(PaymentError::InvalidRequest(_))
        ));
        assert!(matches!(
            map_answer(answer(400, "")),
            Err(PaymentError::InvalidRequest(_))
        ));
        assert_eq!(
            map_answer(answer(401, "")),
            Err(PaymentError::Config("api key rejected".into()))
        );
        assert_eq!(
            map_answer(answer(403, "")),
            Err(PaymentError::Config("api key rejected".into()))
        );
        for status in [500, 502, 503, 429, 302] {
            assert!(
                matches!(
                    map_answer(answer(status, "")),
                    Err(PaymentError::ProviderUnavailable(_))
                ),
                "{status}"
            );
        }
        // A 200 that is not a payment is not a success.
        assert!(matches!(
            map_answer(answer(200, "<html>")),
            Err(PaymentError::ProviderUnavailable(_))
        ));
        assert!(matches!(
            map_answer(answer(200, r#"{"id":"pay_1","status":"teleported"}"#)),
            Err(PaymentError::ProviderUnavailable(_))
        ));
        for error in [
            HttpError::Timeout,
            HttpError::TooLarge,
            HttpError::Transport("connection refused".into()),
        ] {
            assert!(matches!(
                map_answer(Err(error)),
                Err(PaymentError::ProviderUnavailable(_))
            ));
        }
        assert!(matches!(
            map_answer(Err(HttpError::Denied("host `evil` is not granted".into()))),
            Err(PaymentError::Config(m)) if m.contains("not granted")
        ));
    }

    fn webhook(signature: &str, body: &str) -> Webhook {
        Webhook {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("TestPay-Signature".into(), signature.into()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    const EVENT: &str = r#"{"id":"evt_1","type":"captured","reference":"pay_1","amount_minor":500,"currency":"ZAR"}"#;

    #[test]
    fn a_signed_webhook_becomes_an_event() {
        let t = NOW_MS / 1000 - 10;
        let event = verify(SECRET, &webhook(&sign(SECRET, t, EVENT.as_bytes()), EVENT), NOW_MS).unwrap();
        assert_eq!(
            event,
            PaymentEvent {
                event_id: "evt_1".into(),
                kind: EventKind::Captured,
                reference: "pay_1".into(),
                amount: Some(money(500)),
            }
        );
        // A rotated secret: one of several v1 entries matches.
        let both = format!("{},v1={}", sign(SECRET, t, EVENT.as_bytes()), "00".repeat(32));
        assert!(verify(SECRET, &webhook(&both, EVENT), NOW_MS).is_ok());
    }

    #[test]
    fn forged_tampered_or_stale_webhooks_are_refused() {
        let t = NOW_MS / 1000;
        let good = sign(SECRET, t, EVENT.as_bytes());
        let cases = [
            (
                "another secret",
                webhook(&sign("whsec_other", t, EVENT.as_bytes()), EVENT),
            ),
            ("tampered body", webhook(&good, &EVENT.replace("500", "50000"))),
            (
                "stale",
                webhook(&sign(SECRET, t - WEBHOOK_TOLERANCE_SECS - 1, EVENT.as_bytes()), EVENT),
            ),
            (
                "from the future",
                webhook(&sign(SECRET, t + WEBHOOK_TOLERANCE_SECS + 1, EVENT.as_bytes()), EVENT),
            ),
            ("no v1", webhook(&format!("t={t}"), EVENT)),
            ("garbage", webhook("nonsense", EVENT)),
            (
                "timestamp swapped",
                webhook(&good.replace(&format!("t={t}"), &format!("t={}", t - 1)), EVENT),
            ),
            (
                "no header",
                Webhook {
                    headers: vec![],
                    body: EVENT.as_bytes().to_vec(),
                },
            ),
        ];
        for (what, hook) in cases {
            assert_eq!(verify(SECRET, &hook, NOW_MS), Err(PaymentError::BadSignature), "{what}");
        }
        assert!(matches!(
            verify("", &webhook(&good, EVENT), NOW_MS),
            Err(PaymentError::Config(_))
        ));
    }

    #[test]
    fn a_signed_but_malformed_body_is_an_invalid_request() {
        let t = NOW_MS / 1000;
        for body in [
            "not json",
            r#"{"id":"evt_1","type":"exploded","reference":"pay_1"}"#,
            r#"{"id":"evt_1","type":"captured"}"#,
            r#"{"id":"evt_1","type":"captured","reference":"pay_1","amount_minor":5}"#,
            r#"{"id":"evt_1","type":"captured","reference":"pay_1","amount_minor":-5,"currency":"ZAR"}"#,
        ] {
            let hook = webhook(&sign(SECRET, t, body.as_bytes()), body);
            assert!(
                matches!(verify(SECRET, &hook, NOW_MS), Err(PaymentError::InvalidRequest(_))),
                "{body}"
            );
        }
        let body = r#"{"id":"evt_2","type":"voided","reference":"pay_1"}"#;
        let event = verify(SECRET, &webhook(&sign(SECRET, t, body.as_bytes()), body), NOW_MS).unwrap();
        assert_eq!(event.kind, EventKind::Voided);
        assert_eq!(event.amount, None);
    }
}
