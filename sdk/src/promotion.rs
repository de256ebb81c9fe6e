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

pub use crate::bindings::promotion::vitrine::plugin::promotion_types::{
    Adjustment, Cart, CartLine, Category, Customer, Level, LineAttribute,
};

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
    /// `amount_minor` off line `line` (its index in `cart.lines`).
    pub fn line(line: usize, amount_minor: i64, reason: impl Into<String>) -> Self {
        Self {
            level: Level::Line,
            line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
            amount_minor,
            reason: reason.into(),
            coupon: None,
        }
    }

    /// `amount_minor` off the whole order.
    pub fn order(amount_minor: i64, reason: impl Into<String>) -> Self {
        Self {
            level: Level::Order,
            line: None,
            amount_minor,
            reason: reason.into(),
            coupon: None,
        }
    }

    /// `amount_minor` off the shipping fee.
    pub fn shipping(amount_minor: i64, reason: impl Into<String>) -> Self {
        Self {
            level: Level::Shipping,
            line: None,
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

    /// The index of the category `slug` in `categories`, if a line is in it.
    /// Look it up once, then test lines with [`in_category_at`](Self::in_category_at).
    pub fn category_index(&self, slug: &str) -> Option<u32> {
        self.categories
            .iter()
            .position(|c| c.slug == slug)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Whether `line` is in category `slug` or below it.
    pub fn in_category(&self, line: &CartLine, slug: &str) -> bool {
        self.category_index(slug).is_some_and(|c| self.in_category_at(line, c))
    }

    /// Whether `line` is in the category at `index` in `categories` or below it.
    pub fn in_category_at(&self, line: &CartLine, index: u32) -> bool {
        let mut at = line.category;
        // At most one step per category: a malformed tree cannot loop.
        for _ in 0..=self.categories.len() {
            match at {
                Some(c) if c == index => return true,
                Some(c) => at = self.categories.get(c as usize).and_then(|c| c.parent),
                None => return false,
            }
        }
        false
    }

    /// The slugs of `line`'s category and its ancestors, deepest first.
    pub fn categories_of<'a>(&'a self, line: &CartLine) -> impl Iterator<Item = &'a str> + 'a {
        let mut at = line.category;
        let mut steps = self.categories.len();
        std::iter::from_fn(move || {
            let category = self.categories.get(at? as usize)?;
            steps = steps.checked_sub(1)?;
            at = category.parent;
            Some(category.slug.as_str())
        })
    }

    /// `line`'s brand ("" when the cart names none).
    pub fn brand(&self, line: &CartLine) -> &str {
        self.brands.get(line.brand as usize).map_or("", String::as_str)
    }

    /// The value of attribute `name` of line `line` (its index), if it has one.
    pub fn attribute(&self, line: usize, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.line as usize == line && a.name == name)
            .map(|a| a.value.as_str())
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
    for adjustment in adjustments {
        if adjustment.amount_minor <= 0 {
            return invalid(format!("amount {} is not positive", adjustment.amount_minor));
        }
        let sum = match adjustment.level {
            Level::Line => {
                let Some(line) = adjustment.line else {
                    return invalid("line adjustment without a line".into());
                };
                match line_off.get_mut(line as usize) {
                    Some(sum) => sum,
                    None => return invalid(format!("line {line} is not in the cart")),
                }
            }
            Level::Order => &mut order_off,
            Level::Shipping => &mut shipping_off,
        };
        *sum = sum
            .checked_add(adjustment.amount_minor)
            .ok_or_else(|| PluginError::Internal("adjustments overflow".into()))?;
    }
    for (i, (line, off)) in cart.lines.iter().zip(&line_off).enumerate() {
        if *off > line.total_minor().unwrap_or(0) {
            return invalid(format!("{off} off line {i} is more than the line"));
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
        let mut c = cart("ZAR", vec![line("SKU-A", 2, 500), line("SKU-B", 1, 300)]);
        c.shipping_minor = 1;
        let ok = [
            Adjustment::line(0, 1_000, "free"),
            Adjustment::order(300, "x"),
            Adjustment::shipping(1, "s"),
        ];
        assert_eq!(validate(&c, &ok), Ok(()));
    }

    #[test]
    fn validate_rejects_bad_answers() {
        let c = cart("ZAR", vec![line("SKU-A", 2, 500)]);
        for bad in [
            vec![Adjustment::line(0, 0, "zero")],
            vec![Adjustment::line(0, -1, "negative")],
            vec![Adjustment::line(1, 1, "no such line")],
            vec![
                Adjustment::line(0, 600, "x"),
                Adjustment::line(0, 401, "too much in total"),
            ],
            vec![Adjustment::order(1_001, "more than the subtotal")],
            vec![Adjustment::shipping(1, "no shipping fee")],
            vec![Adjustment {
                line: None,
                ..Adjustment::line(0, 1, "no line")
            }],
        ] {
            assert!(matches!(validate(&c, &bad), Err(PluginError::Internal(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_line_is_in_its_category_and_every_one_above_it() {
        let c = cart(
            "ZAR",
            vec![
                line("DRILL", 1, 100)
                    .in_categories(&["tools", "power-tools", "drills"])
                    .by("acme"),
                line("SAW", 1, 100).in_categories(&["tools", "hand-tools"]),
                line("MISC", 1, 100),
            ],
        );
        assert_eq!(c.categories.len(), 4, "`tools` is listed once");
        let [drill, saw, misc] = [&c.lines[0], &c.lines[1], &c.lines[2]];
        assert!(c.in_category(drill, "tools") && c.in_category(drill, "power-tools") && c.in_category(drill, "drills"));
        assert!(c.in_category(saw, "tools") && !c.in_category(saw, "power-tools"));
        assert!(!c.in_category(misc, "tools"));
        assert!(!c.in_category(drill, "garden"), "a category no line is in");
        assert_eq!(
            c.categories_of(drill).collect::<Vec<_>>(),
            ["drills", "power-tools", "tools"]
        );
        assert_eq!((c.brand(drill), c.brand(saw)), ("acme", ""));
    }

    #[test]
    fn a_category_tree_with_a_loop_ends() {
        let mut c = cart("ZAR", vec![line("X", 1, 100).in_categories(&["a", "b"])]);
        c.categories[0].parent = Some(1);
        assert!(!c.in_category_at(&c.lines[0], 7), "no such category, and the walk ends");
        assert_eq!(c.categories_of(&c.lines[0]).count(), 2);
    }

    #[test]
    fn attributes_are_found_by_line_and_name() {
        let c = cart(
            "ZAR",
            vec![line("A", 1, 1), line("B", 1, 1).with_attribute("colour", "white")],
        );
        assert_eq!(c.attribute(1, "colour"), Some("white"));
        assert_eq!(c.attribute(0, "colour"), None);
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
