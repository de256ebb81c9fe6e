//! Size estimates and output rules.
//!
//! Sizes are estimates of the canonical-ABI encoding (string bytes plus a
//! fixed cost per field): cheap to compute and monotone in what matters.
//! The output cap is checked after the answer is lifted; the lift itself is
//! bounded by the plugin's memory ceiling.

use std::collections::HashMap;

use super::types::{Adjustment, Cart, CartLine, Level, ProductSummary, ShopperContext};
use super::{PaymentAnswer, PaymentCall};

const FIELD: usize = 8;

fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> usize {
    items.into_iter().map(|s| s.len() + FIELD).sum()
}

pub(crate) fn cart_size(cart: &Cart) -> usize {
    let lines: usize = cart
        .lines
        .iter()
        .map(|l| l.product_id.len() + l.sku.len() + 6 * FIELD)
        .sum();
    let categories: usize = cart.categories.iter().map(|c| c.slug.len() + 2 * FIELD).sum();
    let attributes: usize = cart
        .attributes
        .iter()
        .map(|a| a.name.len() + a.value.len() + 3 * FIELD)
        .sum();
    let customer = &cart.customer;
    cart.currency.len()
        + lines
        + categories
        + strings(&cart.brands)
        + attributes
        + strings(&cart.coupon_codes)
        + customer.id.as_ref().map_or(0, String::len)
        + strings(&customer.segments)
        + customer
            .coupon_uses
            .iter()
            .map(|(c, _)| c.len() + 2 * FIELD)
            .sum::<usize>()
        + 9 * FIELD
}

pub(crate) fn adjustments_size(adjustments: &[Adjustment]) -> usize {
    adjustments
        .iter()
        .map(|a| a.reason.len() + a.coupon.as_ref().map_or(0, String::len) + 5 * FIELD)
        .sum()
}

/// What a promotion may answer: positive amounts, never more than the line
/// (or order, or shipping fee) it applies to, for lines and coupons that are
/// in the cart.
///
pub(crate) fn adjustments(cart: &Cart, adjustments: &[Adjustment]) -> Result<(), String> {
    let line_total = |l: &CartLine| l.unit_price_minor.saturating_mul(i64::from(l.quantity));
    let mut subtotal: Option<i64> = None;
    for (i, a) in adjustments.iter().enumerate() {
        if a.amount_minor <= 0 {
            return Err(format!("adjustment {i}: amount {} is not positive", a.amount_minor));
        }
        let ceiling = match (a.level, a.line) {
            (Level::Line, Some(line)) => cart
                .lines
                .get(line as usize)
                .map(line_total)
                .ok_or_else(|| format!("adjustment {i}: line {line} is not in the cart"))?,
            (Level::Line, None) => return Err(format!("adjustment {i}: a line adjustment without a line")),
            (Level::Order, _) => {
                *subtotal.get_or_insert_with(|| cart.lines.iter().map(line_total).fold(0i64, i64::saturating_add))
            }
            (Level::Shipping, _) => cart.shipping_minor,
        };
        if a.amount_minor > ceiling {
            return Err(format!(
                "adjustment {i}: amount {} is more than the {ceiling} it applies to",
                a.amount_minor
            ));
        }
        if let Some(coupon) = &a.coupon
            && !cart.coupon_codes.contains(coupon)
        {
            return Err(format!("adjustment {i}: coupon `{coupon}` was not entered"));
        }
    }
    Ok(())
}

fn product_size(p: &ProductSummary) -> usize {
    p.id.len()
        + p.sku.len()
        + p.name.len()
        + p.brand.len()
        + p.category.len()
        + p.price.currency.len()
        + strings(&p.badges)
        + 8 * FIELD
}

pub(crate) fn page_size(page: &[ProductSummary]) -> usize {
    page.iter().map(product_size).sum()
}

pub(crate) fn context_size(c: &ShopperContext) -> usize {
    strings(&c.segments)
        + c.locale.as_ref().map_or(0, String::len)
        + strings(&c.recently_viewed)
        + strings(&c.recent_categories)
        + strings(&c.on_promotion)
        + 5 * FIELD
}

/// What personalization may answer: products of the page (each at most
/// once), with their prices unchanged.
pub(crate) fn personalized_page(page: &[ProductSummary], out: &[ProductSummary]) -> Result<(), String> {
    let mut by_id: HashMap<&str, &ProductSummary> = page.iter().map(|p| (p.id.as_str(), p)).collect();
    for p in out {
        let original = by_id
            .remove(p.id.as_str())
            .ok_or_else(|| format!("product `{}` is not on the page, or appears twice", p.id))?;
        if (original.price.amount_minor, &original.price.currency) != (p.price.amount_minor, &p.price.currency) {
            return Err(format!("product `{}`: the price was changed", p.id));
        }
    }
    Ok(())
}

pub(crate) fn payment_call_size(call: &PaymentCall) -> usize {
    match call {
        PaymentCall::Capabilities => 0,
        PaymentCall::Authorize(r) => {
            r.idempotency_key.len()
                + r.order_reference.len()
                + r.payment_token.len()
                + r.customer_id.as_ref().map_or(0, String::len)
                + 6 * FIELD
        }
        PaymentCall::Capture(r) => r.idempotency_key.len() + r.reference.len() + 4 * FIELD,
        PaymentCall::Void(r) => r.idempotency_key.len() + r.reference.len() + 2 * FIELD,
        PaymentCall::Refund(r) => r.idempotency_key.len() + r.reference.len() + r.reason.len() + 5 * FIELD,
        PaymentCall::VerifyWebhook(w) => {
            w.body.len()
                + w.headers
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 2 * FIELD)
                    .sum::<usize>()
        }
    }
}

pub(crate) fn payment_answer_size(answer: &PaymentAnswer) -> usize {
    match answer {
        PaymentAnswer::Capabilities(_) => 2,
        PaymentAnswer::Authorization(a) => a.reference.len() + 2 * FIELD,
        PaymentAnswer::Event(e) => e.event_id.len() + e.reference.len() + 5 * FIELD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::cart::CartBuilder;

    fn cart() -> Cart {
        let mut cart = CartBuilder::new("ZAR");
        cart.line("p1", "S1", 2, 500, &[] as &[&str], "b");
        cart.coupons(["SPRING"]).shipping(100);
        cart.build()
    }

    fn adj(level: Level, line: Option<u32>, amount: i64) -> Adjustment {
        Adjustment {
            level,
            line,
            amount_minor: amount,
            reason: "r".into(),
            coupon: None,
        }
    }

    #[test]
    fn adjustments_stay_within_what_they_apply_to() {
        let c = cart();
        assert!(adjustments(&c, &[adj(Level::Line, Some(0), 1000)]).is_ok());
        assert!(adjustments(&c, &[adj(Level::Line, Some(0), 1001)]).is_err());
        assert!(adjustments(&c, &[adj(Level::Line, Some(1), 1)]).is_err());
        assert!(adjustments(&c, &[adj(Level::Line, None, 1)]).is_err());
        assert!(adjustments(&c, &[adj(Level::Order, None, 0)]).is_err());
        assert!(adjustments(&c, &[adj(Level::Shipping, None, 101)]).is_err());
        let mut coupon = adj(Level::Order, None, 10);
        coupon.coupon = Some("OTHER".into());
        assert!(adjustments(&c, &[coupon]).is_err());
        assert!(adjustments(&c, &[adj(Level::Order, None, 1000)]).is_ok());
        assert!(adjustments(&c, &[adj(Level::Order, None, 1001)]).is_err());
    }
}
