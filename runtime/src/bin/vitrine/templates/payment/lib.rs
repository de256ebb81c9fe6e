//! `{{name}}`: a Vitrine payment plugin, in test mode: it approves every
//! payment except the token `tok_decline`, and makes up provider references.
//! Replace each function's body with calls to your provider
//! (`vitrine_sdk::payment::http::send`), passing the idempotency key on.

use vitrine_sdk::payment::{
    Authorization, AuthorizeRequest, Capabilities, CaptureRequest, Payment, PaymentError, PaymentEvent, PaymentStatus,
    RefundRequest, VoidRequest, Webhook,
};

/// The token test mode declines.
pub const DECLINED_TOKEN: &str = "tok_decline";

/// The plugin.
pub struct {{type}};

fn answer(reference: String, status: PaymentStatus) -> Result<Authorization, PaymentError> {
    Ok(Authorization { reference, status })
}

impl Payment for {{type}} {
    fn capabilities() -> Capabilities {
        Capabilities { deferred_authorization: false, partial_refunds: true }
    }

    fn authorize(request: AuthorizeRequest) -> Result<Authorization, PaymentError> {
        if request.amount.amount_minor <= 0 {
            return Err(PaymentError::InvalidRequest(format!("amount {} is not positive", request.amount.amount_minor)));
        }
        if request.payment_token == DECLINED_TOKEN {
            return Err(PaymentError::Declined("card declined (test mode)".to_owned()));
        }
        answer(format!("test-{}", request.idempotency_key), PaymentStatus::Authorized)
    }

    fn capture(request: CaptureRequest) -> Result<Authorization, PaymentError> {
        answer(request.reference, PaymentStatus::Captured)
    }

    fn void(request: VoidRequest) -> Result<Authorization, PaymentError> {
        // Released: nothing is reserved any more.
        answer(request.reference, PaymentStatus::Declined)
    }

    fn refund(request: RefundRequest) -> Result<Authorization, PaymentError> {
        answer(request.reference, PaymentStatus::Captured)
    }

    fn verify_webhook(_webhook: Webhook) -> Result<PaymentEvent, PaymentError> {
        // Check your provider's signature here (with a secret from
        // `vitrine_sdk::config::secret`); until then no webhook is trusted.
        Err(PaymentError::BadSignature)
    }
}

vitrine_sdk::export_payment!({{type}});
// One call per instance: small allocations bump a pointer in one chunk of
// the initial heap instead of going through dlmalloc. See `vitrine_sdk::alloc`.
vitrine_sdk::use_call_arena!();

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine_sdk::Money;

    fn authorize(token: &str) -> Result<Authorization, PaymentError> {
        {{type}}::authorize(AuthorizeRequest {
            idempotency_key: "k-1".to_owned(),
            order_reference: "order-1".to_owned(),
            amount: Money { amount_minor: 10_000, currency: "ZAR".to_owned() },
            payment_token: token.to_owned(),
            customer_id: None,
        })
    }

    #[test]
    fn approves_and_declines() {
        assert_eq!(authorize("tok_ok").map(|a| a.reference), Ok("test-k-1".to_owned()));
        assert!(matches!(authorize(DECLINED_TOKEN), Err(PaymentError::Declined(_))));
    }
}
