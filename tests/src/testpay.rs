//! A test double of the TestPay payment provider: the HTTP API that
//! `plugins/testpay` speaks, on a loopback port, with its state in memory.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! use vitrine_tests::testpay::TestPay;
//! let provider = TestPay::start().await?;
//! // Point the plugin's `base_url` at `provider.base_url()`, grant
//! // `provider.host()` and the secrets `API_KEY` / `WEBHOOK_SECRET`.
//! provider.set_failing(Some(503)); // every request now answers 503
//! # Ok(()) }
//! ```
//!
//! The API, as a real provider would keep it:
//! - `POST /v1/authorizations` `{amount_minor, currency, payment_token,
//!   order_reference, customer_id?}` → 201 with the payment, or 402 when
//!   the token is declined ([`DECLINED_TOKEN`], [`TestPay::decline_token`]);
//! - `POST /v1/authorizations/{id}/capture` `{amount_minor, currency}`:
//!   once, at most the authorized amount;
//! - `POST /v1/authorizations/{id}/void`: an authorized, uncaptured payment;
//! - `POST /v1/authorizations/{id}/refunds` `{amount_minor, currency,
//!   reason}`: in total at most what was captured.
//!
//! A payment is `{id, status, amount_minor, currency, captured_minor,
//! refunded_minor}`, status one of `authorized`, `declined`, `captured`,
//! `partially_refunded`, `refunded`, `voided`. Errors are
//! `{"error": {"code", "message"}}`: 400 malformed, 401 wrong API key, 402
//! declined, 404 unknown payment, 409 wrong state, 422 amounts or a reused
//! idempotency key.
//!
//! Every request needs `Authorization: Bearer <key>` (the key it was started
//! with: [`API_KEY`] for [`TestPay::start`]) and an
//! `Idempotency-Key`. The same key with the same method, path and body gets
//! the first answer again (no second effect); with anything else, 422.
//! Answers of injected failures ([`TestPay::set_failing`]) are not
//! remembered, so a retry after the provider recovers goes through.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// The API key the double accepts.
pub const API_KEY: &str = "sk_test_vitrine_testpay";
/// The secret the double signs webhooks with.
pub const WEBHOOK_SECRET: &str = "whsec_vitrine_testpay";
/// A payment token the double always declines.
pub const DECLINED_TOKEN: &str = "tok_declined";

/// What the double has done, for assertions such as "one charge".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests that reached the API (including failures it injected).
    pub requests: u64,
    /// Authorizations created (declined ones included; replays not).
    pub authorizations: u64,
    /// Authorizations declined.
    pub declines: u64,
    /// Captures made.
    pub captures: u64,
    /// Voids made.
    pub voids: u64,
    /// Refunds made.
    pub refunds: u64,
    /// Requests answered from the idempotency store.
    pub replays: u64,
}

/// A payment as the double keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// `pay_<n>`.
    pub id: String,
    /// `authorized`, `declined`, `captured`, `partially_refunded`, `refunded` or `voided`.
    pub status: &'static str,
    /// The authorized amount.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// What was captured.
    pub captured_minor: i64,
    /// What was refunded, in total.
    pub refunded_minor: i64,
    /// The caller's order reference.
    pub order_reference: String,
}

impl Payment {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "captured_minor": self.captured_minor,
            "refunded_minor": self.refunded_minor,
            "order_reference": self.order_reference,
        })
    }
}

/// One remembered answer, and what it answered.
struct Remembered {
    request: (String, Bytes),
    status: StatusCode,
    body: Value,
}

#[derive(Default)]
struct Ledger {
    api_key: String,
    payments: HashMap<String, Payment>,
    idempotency: HashMap<String, Remembered>,
    charges: HashMap<String, u32>,
    declined_tokens: HashSet<String>,
    counters: Counters,
    latency: Duration,
    failing: Option<u16>,
    padding: usize,
    next_id: u64,
}

struct Shared {
    ledger: Mutex<Ledger>,
    down: AtomicBool,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panicking handler must not take every later assertion with it.
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running TestPay double; stops when dropped.
pub struct TestPay {
    addr: SocketAddr,
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestPay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for TestPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPay")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl TestPay {
    /// Starts the double on a free loopback port (on the current tokio
    /// runtime), accepting [`API_KEY`].
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), API_KEY).await
    }

    /// Starts the double on `addr`, accepting `api_key`: the quickstart
    /// runs it where, and with the key, its operator config names.
    pub async fn start_on(addr: SocketAddr, api_key: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the TestPay double to {addr}"))?;
        let addr = listener.local_addr().context("reading the TestPay double's address")?;
        let mut ledger = Ledger {
            api_key: api_key.to_owned(),
            ..Ledger::default()
        };
        ledger.declined_tokens.insert(DECLINED_TOKEN.to_owned());
        let shared = Arc::new(Shared {
            ledger: Mutex::new(ledger),
            down: AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/v1/authorizations", post(authorize))
            .route("/v1/authorizations/{id}/capture", post(capture))
            .route("/v1/authorizations/{id}/void", post(void))
            .route("/v1/authorizations/{id}/refunds", post(refund))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(serve(listener, router, Arc::clone(&shared)));
        Ok(Self {
            addr,
            base_url: format!("http://{addr}"),
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`: the plugin's `base_url`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `127.0.0.1:<port>`: the host to grant the plugin's `http`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every answer waits `latency` first.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.ledger().latency = latency;
    }

    /// With `Some(status)`, every request is answered `status` (and changes nothing).
    pub fn set_failing(&self, status: Option<u16>) {
        self.shared.ledger().failing = status;
    }

    /// While down, connections are closed as soon as they are accepted, and
    /// requests on connections opened before are dropped without an answer.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Authorizations with `token` are declined (402) from now on.
    pub fn decline_token(&self, token: impl Into<String>) {
        self.shared.ledger().declined_tokens.insert(token.into());
    }

    /// Successful answers carry a `padding` field of `bytes` bytes (to test
    /// a client's response cap).
    pub fn set_padding(&self, bytes: usize) {
        self.shared.ledger().padding = bytes;
    }

    /// What the double has done so far.
    pub fn counters(&self) -> Counters {
        self.shared.ledger().counters.clone()
    }

    /// How many authorizations were created under `idempotency_key`.
    pub fn charges_for(&self, idempotency_key: &str) -> u32 {
        self.shared.ledger().charges.get(idempotency_key).copied().unwrap_or(0)
    }

    /// The payment `id`, as the double keeps it.
    pub fn payment(&self, id: &str) -> Option<Payment> {
        self.shared.ledger().payments.get(id).cloned()
    }

    /// A valid `TestPay-Signature` for `body`, signed now.
    pub fn sign_webhook(&self, body: &[u8]) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        sign_webhook_at(body, now)
    }
}

/// A `TestPay-Signature` for `body` signed at `unix_secs` with [`WEBHOOK_SECRET`].
pub fn sign_webhook_at(body: &[u8], unix_secs: u64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("hmac takes any key length");
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix_secs},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Accepts connections and serves each with hyper, so that "down" can drop
/// connections (which a plain `axum::serve` cannot).
async fn serve(listener: TcpListener, router: Router, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if shared.down.load(Ordering::SeqCst) {
            drop(stream);
            continue;
        }
        let router = router.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let router = router.clone();
                let down = shared.down.load(Ordering::SeqCst);
                async move {
                    if down {
                        // An error from the service makes hyper close the
                        // connection without an answer.
                        return Err(std::io::Error::other("the TestPay double is down"));
                    }
                    let response = router.oneshot(request.map(axum::body::Body::new)).await;
                    Ok(response.unwrap_or_else(|never| match never {}))
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            // Errors here are the client going away: nothing to report.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"error": {"code": code, "message": message}}))
}

/// What every endpoint does around its own logic: latency, injected
/// failures, the API key, the idempotency store.
async fn handle(
    shared: &Shared,
    headers: &HeaderMap,
    path: String,
    body: Bytes,
    logic: impl FnOnce(&mut Ledger, &Value) -> (StatusCode, Value),
) -> Response {
    let latency = {
        let mut ledger = shared.ledger();
        ledger.counters.requests += 1;
        ledger.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut ledger = shared.ledger();
    let (status, mut answer) = answer(&mut ledger, headers, path, body, logic);
    if status.is_success()
        && ledger.padding > 0
        && let Some(map) = answer.as_object_mut()
    {
        map.insert("padding".into(), Value::String("x".repeat(ledger.padding)));
    }
    (status, axum::Json(answer)).into_response()
}

fn answer(
    ledger: &mut Ledger,
    headers: &HeaderMap,
    path: String,
    body: Bytes,
    logic: impl FnOnce(&mut Ledger, &Value) -> (StatusCode, Value),
) -> (StatusCode, Value) {
    if let Some(status) = ledger.failing {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, "injected_failure", "the TestPay double was told to fail");
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(ledger.api_key.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "invalid api key");
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "idempotency_key_missing",
            "an Idempotency-Key is required",
        );
    };
    if let Some(first) = ledger.idempotency.get(&key) {
        if first.request != (path.clone(), body.clone()) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for another request",
            );
        }
        let replay = (first.status, first.body.clone());
        ledger.counters.replays += 1;
        return replay;
    }
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "malformed", "the body is not json");
    };
    let (status, answer) = logic(ledger, &json);
    if !status.is_server_error() {
        ledger.idempotency.insert(
            key,
            Remembered {
                request: (path, body),
                status,
                body: answer.clone(),
            },
        );
    }
    (status, answer)
}

/// `amount_minor` (> 0) and `currency` (three capitals) of `body`.
fn money(body: &Value) -> Result<(i64, String), (StatusCode, Value)> {
    let amount = body.get("amount_minor").and_then(Value::as_i64).filter(|a| *a > 0);
    let currency = body
        .get("currency")
        .and_then(Value::as_str)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()));
    match (amount, currency) {
        (Some(amount), Some(currency)) => Ok((amount, currency.to_owned())),
        _ => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
            "amount_minor must be a positive integer and currency an ISO 4217 code",
        )),
    }
}

fn idempotency_key(headers: &HeaderMap) -> String {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn authorize(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = idempotency_key(&headers);
    handle(&shared, &headers, "/v1/authorizations".into(), body, |ledger, body| {
        let (amount_minor, currency) = match money(body) {
            Ok(money) => money,
            Err(answer) => return answer,
        };
        let Some(token) = body
            .get("payment_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_token",
                "payment_token is required",
            );
        };
        let declined = ledger.declined_tokens.contains(token);
        ledger.next_id += 1;
        let payment = Payment {
            id: format!("pay_{}", ledger.next_id),
            status: if declined { "declined" } else { "authorized" },
            amount_minor,
            currency,
            captured_minor: 0,
            refunded_minor: 0,
            order_reference: body
                .get("order_reference")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        };
        ledger.counters.authorizations += 1;
        *ledger.charges.entry(key).or_default() += 1;
        let answer = payment.json();
        ledger.payments.insert(payment.id.clone(), payment);
        if declined {
            ledger.counters.declines += 1;
            return error(StatusCode::PAYMENT_REQUIRED, "card_declined", "the card was declined");
        }
        (StatusCode::CREATED, answer)
    })
    .await
}

/// Runs `change` on the payment `id`, answering it (or the error).
fn with_payment(
    ledger: &mut Ledger,
    id: &str,
    change: impl FnOnce(&mut Payment, &mut Counters) -> Result<(), (StatusCode, Value)>,
) -> (StatusCode, Value) {
    let Some(payment) = ledger.payments.get_mut(id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such payment");
    };
    match change(payment, &mut ledger.counters) {
        Ok(()) => (StatusCode::OK, payment.json()),
        Err(answer) => answer,
    }
}

async fn capture(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/authorizations/{id}/capture");
    handle(&shared, &headers, path, body, |ledger, body| {
        let (amount, currency) = match money(body) {
            Ok(money) => money,
            Err(answer) => return answer,
        };
        with_payment(ledger, &id, |payment, counters| {
            if payment.status != "authorized" {
                return Err(error(
                    StatusCode::CONFLICT,
                    "invalid_state",
                    "only an authorized payment can be captured",
                ));
            }
            if currency != payment.currency || amount > payment.amount_minor {
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "amount_too_large",
                    "a capture takes at most the authorized amount, in its currency",
                ));
            }
            payment.status = "captured";
            payment.captured_minor = amount;
            counters.captures += 1;
            Ok(())
        })
    })
    .await
}

async fn void(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let path = format!("/v1/authorizations/{id}/void");
    handle(&shared, &headers, path, body, |ledger, _| {
        with_payment(ledger, &id, |payment, counters| {
            if payment.status != "authorized" {
                return Err(error(
                    StatusCode::CONFLICT,
                    "invalid_state",
                    "only an authorized payment can be voided",
                ));
            }
            payment.status = "voided";
            counters.voids += 1;
            Ok(())
        })
    })
    .await
}

async fn refund(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/authorizations/{id}/refunds");
    handle(&shared, &headers, path, body, |ledger, body| {
        let (amount, currency) = match money(body) {
            Ok(money) => money,
            Err(answer) => return answer,
        };
        with_payment(ledger, &id, |payment, counters| {
            if !matches!(payment.status, "captured" | "partially_refunded") {
                return Err(error(
                    StatusCode::CONFLICT,
                    "invalid_state",
                    "only a captured payment can be refunded",
                ));
            }
            if currency != payment.currency || amount > payment.captured_minor - payment.refunded_minor {
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "amount_too_large",
                    "refunds take at most what was captured, in its currency",
                ));
            }
            payment.refunded_minor += amount;
            payment.status = if payment.refunded_minor == payment.captured_minor {
                "refunded"
            } else {
                "partially_refunded"
            };
            counters.refunds += 1;
            Ok(())
        })
    })
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    async fn post(provider: &TestPay, path: &str, key: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", provider.base_url()))
            .bearer_auth(API_KEY)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    #[tokio::test]
    async fn the_double_keeps_idempotency_and_amount_rules() {
        let provider = TestPay::start().await.unwrap();
        let auth = json!({"amount_minor": 1000, "currency": "ZAR", "payment_token": "tok_ok"});
        let (status, first) = post(&provider, "/v1/authorizations", "k1", auth.clone()).await;
        assert_eq!(status, 201);
        let (_, again) = post(&provider, "/v1/authorizations", "k1", auth).await;
        assert_eq!(first, again);
        assert_eq!(provider.charges_for("k1"), 1);
        let other = json!({"amount_minor": 2000, "currency": "ZAR", "payment_token": "tok_ok"});
        assert_eq!(post(&provider, "/v1/authorizations", "k1", other).await.0, 422);

        let id = first["id"].as_str().unwrap();
        let capture = format!("/v1/authorizations/{id}/capture");
        let too_much = json!({"amount_minor": 1001, "currency": "ZAR"});
        assert_eq!(post(&provider, &capture, "k2", too_much).await.0, 422);
        let (status, captured) = post(
            &provider,
            &capture,
            "k3",
            json!({"amount_minor": 600, "currency": "ZAR"}),
        )
        .await;
        assert_eq!((status, captured["status"].as_str()), (200, Some("captured")));
        let refunds = format!("/v1/authorizations/{id}/refunds");
        assert_eq!(
            post(
                &provider,
                &refunds,
                "k4",
                json!({"amount_minor": 601, "currency": "ZAR"})
            )
            .await
            .0,
            422
        );
        assert_eq!(
            post(
                &provider,
                &refunds,
                "k5",
                json!({"amount_minor": 600, "currency": "ZAR"})
            )
            .await
            .0,
            200
        );
        assert_eq!(provider.payment(id).unwrap().status, "refunded");
    }
}
