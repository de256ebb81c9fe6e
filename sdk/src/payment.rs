//! The `payment` world: authorize, capture, void, refund and webhook
//! verification against a provider.
//!
//! Every request carries an idempotency key: pass it on to the provider, so
//! that a retried call never charges twice. Implement [`Payment`] and export
//! it with [`crate::export_payment!`]. A payment plugin usually needs the
//! [`http`] and [`clock`] capabilities besides `log` and `config`.

pub use crate::bindings::payment::vitrine::plugin::payment_types::{
    Authorization, AuthorizeRequest, Capabilities, CaptureRequest, EventKind, PaymentError, PaymentEvent,
    PaymentStatus, RefundRequest, VoidRequest, Webhook,
};

/// A payment provider plugin.
pub trait Payment {
    /// What the provider supports.
    fn capabilities() -> Capabilities;
    /// Reserves `request.amount` on the shopper's payment method.
    fn authorize(request: AuthorizeRequest) -> Result<Authorization, PaymentError>;
    /// Takes (part of) an authorized amount.
    fn capture(request: CaptureRequest) -> Result<Authorization, PaymentError>;
    /// Releases an authorization that was not captured.
    fn void(request: VoidRequest) -> Result<Authorization, PaymentError>;
    /// Gives (part of) a captured amount back.
    fn refund(request: RefundRequest) -> Result<Authorization, PaymentError>;
    /// Checks a provider webhook's signature and turns it into an event.
    fn verify_webhook(webhook: Webhook) -> Result<PaymentEvent, PaymentError>;
}

/// The `http` capability: outbound requests to the hosts the operator listed
/// for this plugin, and nowhere else.
pub mod http {
    pub use crate::bindings::payment::vitrine::plugin::http::{HttpError, Request, Response};

    /// Sends one request and waits for the whole answer.
    ///
    /// Outside a component (unit tests) every request is denied.
    pub fn send(request: &Request) -> Result<Response, HttpError> {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::payment::vitrine::plugin::http::send(request);
        #[cfg(not(target_arch = "wasm32"))]
        return Err(HttpError::Denied(format!(
            "no outbound http outside a component (url {})",
            request.url
        )));
    }
}

/// The `clock` capability: milliseconds since the Unix epoch, nothing finer.
pub mod clock {
    /// Milliseconds since the Unix epoch.
    pub fn now_ms() -> u64 {
        #[cfg(target_arch = "wasm32")]
        return crate::bindings::payment::vitrine::plugin::clock::now_ms();
        #[cfg(not(target_arch = "wasm32"))]
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }
}
