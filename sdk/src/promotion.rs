//! The `promotion` world: a cart in, price adjustments out.
//!
//! A promotion is pure and deterministic: the same cart (and the same
//! configuration) always gives the same adjustments. Implement [`Promotion`]
//! and export it with [`crate::export_promotion!`].
//!
//! What the host relies on (checked by [`validate`] before your answer
//! leaves the component, so a bug becomes a `PluginError::Internal` instead
//! of a wrong price):
//! - every `amount_minor` is > 0;
//! - line adjustments name a line of the cart, and all line adjustments for a
//!   line together never exceed that line's total;
//! - order adjustments never exceed the cart's line subtotal, shipping
//!   adjustments never exceed the shipping fee.

pub use crate::bindings::promotion::vitrine::plugin::promotion_types::{Adjustment, Cart, CartLine, Customer, Level};

use crate::{PluginError, money};

/// A promotion plugin.
pub trait Promotion {
    /// The adjustments this promotion gives `cart`, possibly none.
    fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError>;
}

/// Runs `P` on `cart` and checks its answer with [`validate`]. The export
/// macro calls this; tests can too.
pub fn run<P: Promotion>(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
    let adjustments = P::apply(cart)?;
    validate(cart, &adjustments)?;
    Ok(adjustments)
}

impl Adjustment {
    /// `amount_minor` off the line `line_id`.
    pub fn line(line_id: impl Into<String>, amount_minor: i64, reason: impl Into<String>) -> Self {
        Self {
            level: Level::Line,
            line_id: Some(line_id.into()),
            amount_minor,
            reason: reason.into(),
            coupon: None,
        }
    }

    /// `amount_minor` off the whole order.
    pub fn order(amount_minor: i64, reason: impl Into<String>) -> Self {
        Self {
            level: Level::Order,
            line_id: None,
            amount_minor,
            reason: reason.into(),
            coupon: None,
        }
    }

    /// `amount_minor` off the shipping fee.
    pub fn shipping(amount_minor: i64, reason: impl Into<String>) -> Self {
        Self {
            level: Level::Shipping,
            line_id: None,
            amount_minor,
            reason: reason.into(),
            coupon: None,
        }
    }

    /// The same adjustment, recording that it used up `coupon`.
    pub fn with_coupon(mut self, coupon: impl Into<String>) -> Self {
        self.coupon = Some(coupon.into());
        self
    }
}

impl CartLine {
    /// `unit_price_minor × quantity`; `None` on overflow or a negative price.
    pub fn total_minor(&self) -> Option<i64> {
        money::line_total(self.unit_price_minor, self.quantity)
    }

    /// Whether `slug` is one of the line's categories (exact match).
    pub fn in_category(&self, slug: &str) -> bool {
        self.categories.iter().any(|c| c == slug)
    }
}

impl Cart {
    /// The sum of the line totals; `None` on overflow or a negative price.
    pub fn subtotal_minor(&self) -> Option<i64> {
        self.lines
            .iter()
            .try_fold(0i64, |sum, line| sum.checked_add(line.total_minor()?))
    }

    /// Whether the shopper entered `code` (compared case-insensitively).
    pub fn has_coupon(&self, code: &str) -> bool {
        self.coupon_codes.iter().any(|c| c.eq_ignore_ascii_case(code))
    }
}

impl Customer {
    /// How many times this customer used `code` before (0 if never).
    pub fn coupon_uses(&self, code: &str) -> u32 {
        self.coupon_uses
            .iter()
            .filter(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(|(_, n)| *n)
            .fold(0u32, u32::saturating_add)
    }
}

/// Checks `adjustments` against `cart` (see the module docs for the rules).
pub fn validate(cart: &Cart, adjustments: &[Adjustment]) -> Result<(), PluginError> {
    let invalid = |what: String| Err(PluginError::Internal(format!("invalid adjustment: {what}")));
    let mut line_off = vec![0i64; cart.lines.len()];
    let (mut order_off, mut shipping_off) = (0i64, 0i64);
    // Adjustments usually come in cart order: try the line after the last
    // one matched before scanning (string compares cost fuel).
    let mut cursor = 0;
    for adjustment in adjustments {
        if adjustment.amount_minor <= 0 {
            return invalid(format!("amount {} is not positive", adjustment.amount_minor));
        }
        let sum = match adjustment.level {
            Level::Line => {
                let Some(id) = &adjustment.line_id else {
                    return invalid("line adjustment without a line id".into());
                };
                let index = match cart.lines.get(cursor) {
                    Some(line) if &line.line_id == id => cursor,
                    _ => match cart.lines.iter().position(|l| &l.line_id == id) {
                        Some(index) => index,
                        None => return invalid(format!("line `{id}` is not in the cart")),
                    },
                };
                cursor = index + 1;
                &mut line_off[index]
            }
            Level::Order => &mut order_off,
            Level::Shipping => &mut shipping_off,
        };
        *sum = sum
            .checked_add(adjustment.amount_minor)
            .ok_or_else(|| PluginError::Internal("adjustments overflow".into()))?;
    }
    for (line, off) in cart.lines.iter().zip(&line_off) {
        if *off > line.total_minor().unwrap_or(0) {
            return invalid(format!("{off} off line `{}` is more than the line", line.line_id));
        }
    }
    if order_off > cart.subtotal_minor().unwrap_or(0) {
        return invalid(format!("{order_off} off the order is more than the subtotal"));
    }
    if shipping_off > cart.shipping_minor.max(0) {
        return invalid(format!("{shipping_off} off shipping is more than the fee"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use crate::testing::{cart, line};

    #[test]
    fn validate_accepts_a_sane_answer() {
        let c = cart("ZAR", vec![line("a", "SKU-A", 2, 500), line("b", "SKU-B", 1, 300)]);
        let ok = [
            Adjustment::line("a", 1_000, "free"),
            Adjustment::order(300, "x"),
            Adjustment::shipping(1, "s"),
        ];
        let mut c = c;
        c.shipping_minor = 1;
        assert_eq!(validate(&c, &ok), Ok(()));
    }

    #[test]
    fn validate_rejects_bad_answers() {
        let c = cart("ZAR", vec![line("a", "SKU-A", 2, 500)]);
        for bad in [
            vec![Adjustment::line("a", 0, "zero")],
            vec![Adjustment::line("a", -1, "negative")],
            vec![Adjustment::line("zz", 1, "unknown line")],
            vec![
                Adjustment::line("a", 600, "x"),
                Adjustment::line("a", 401, "too much in total"),
            ],
            vec![Adjustment::order(1_001, "more than the subtotal")],
            vec![Adjustment::shipping(1, "no shipping fee")],
            vec![Adjustment {
                line_id: None,
                ..Adjustment::line("a", 1, "no id")
            }],
        ] {
            assert!(matches!(validate(&c, &bad), Err(PluginError::Internal(_))), "{bad:?}");
        }
    }

    #[test]
    fn coupon_helpers_ignore_case() {
        let mut c = cart("ZAR", vec![]);
        c.coupon_codes = vec!["WELCOME10".into()];
        c.customer.coupon_uses = vec![("welcome10".into(), 2)];
        assert!(c.has_coupon("welcome10"));
        assert_eq!(c.customer.coupon_uses("WELCOME10"), 2);
        assert_eq!(c.customer.coupon_uses("OTHER"), 0);
    }
}
