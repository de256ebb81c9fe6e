//! A payment plugin that sends its request to the URL in `payment-token`,
//! to test the http grant (granted and forbidden hosts).
wit_bindgen::generate!({ world: "payment", path: "../../../../sdk/wit" });

use vitrine::plugin::http::{self, HttpError, Request};
use vitrine::plugin::payment_types::PaymentStatus;

struct Plugin;
export!(Plugin);

fn declined<T>() -> Result<T, PaymentError> {
    Err(PaymentError::Internal("not implemented".into()))
}

impl Guest for Plugin {
    fn capabilities() -> Capabilities {
        Capabilities {
            deferred_authorization: false,
            partial_refunds: true,
        }
    }

    fn authorize(request: AuthorizeRequest) -> Result<Authorization, PaymentError> {
        let sent = http::send(&Request {
            method: "POST".into(),
            url: request.payment_token.clone(),
            headers: vec![("idempotency-key".into(), request.idempotency_key.clone())],
            body: Vec::new(),
        });
        match sent {
            Ok(response) => Ok(Authorization {
                reference: format!("status-{}", response.status),
                status: PaymentStatus::Authorized,
            }),
            Err(HttpError::Denied(why)) => Err(PaymentError::Config(format!("denied: {why}"))),
            Err(HttpError::Transport(why)) => Err(PaymentError::ProviderUnavailable(why)),
            Err(HttpError::Timeout) => Err(PaymentError::ProviderUnavailable("timeout".into())),
            Err(HttpError::TooLarge) => Err(PaymentError::ProviderUnavailable("too large".into())),
        }
    }

    fn capture(_: CaptureRequest) -> Result<Authorization, PaymentError> {
        declined()
    }

    fn void(_: VoidRequest) -> Result<Authorization, PaymentError> {
        declined()
    }

    fn refund(_: RefundRequest) -> Result<Authorization, PaymentError> {
        declined()
    }

    fn verify_webhook(_: Webhook) -> Result<PaymentEvent, PaymentError> {
        Err(PaymentError::BadSignature)
    }
}
