//! How the promotions' adjustments combine into one priced cart.
//!
//! Every promotion sees the same cart (they are pure and independent); the
//! host then stacks their answers in the operator's order:
//!
//! - A **combinable** promotion's adjustments add to the others'.
//! - An **exclusive** promotion applies only alone: when it is the first
//!   promotion with adjustments, it applies and none after it does (they
//!   are not even called); when one before it applied, it does not.
//! - Together, adjustments never take more than there is: a line's
//!   adjustments at most that line's total, line and order adjustments at
//!   most the subtotal, shipping adjustments at most the shipping fee. An
//!   amount that would go past is cut to what is left (and the promotion is
//!   marked `trimmed`); a promotion with nothing left to take is excluded.
//!
//! These are the rules the origin checks again when an order is placed
//! (`origin/src/orders`), so a stacked outcome is always one it accepts.

use vitrine_edge_config::Stacking;

use super::PluginError;
use super::types::{Adjustment, Cart, CartLine, Level};

/// The promotions that applied to a cart, those that did not, and the totals.
#[derive(Debug, Default)]
pub struct PromotionOutcome {
    /// Promotions whose adjustments count, in stacking order.
    pub applied: Vec<AppliedPromotion>,
    /// Promotions that answered (or were not called) but do not count.
    pub excluded: Vec<ExcludedPromotion>,
    /// Promotions that failed, and why: the cart is priced without them.
    pub skipped: Vec<(String, PluginError)>,
    /// The cart's totals with the applied adjustments.
    pub totals: Totals,
}

impl PromotionOutcome {
    /// Every applied adjustment, in stacking order, with its promotion.
    pub fn adjustments(&self) -> impl Iterator<Item = (&str, &Adjustment)> {
        self.applied
            .iter()
            .flat_map(|p| p.adjustments.iter().map(move |a| (p.plugin.as_str(), a)))
    }
}

/// A promotion that counts.
#[derive(Debug, Clone)]
pub struct AppliedPromotion {
    /// The plugin.
    pub plugin: String,
    /// Its version (see [`LoadedPlugin::version`](super::LoadedPlugin::version)).
    pub version: String,
    /// Its adjustments, after trimming; every amount is positive.
    pub adjustments: Vec<Adjustment>,
    /// Whether some amount was cut (or dropped) to fit what was left.
    pub trimmed: bool,
}

/// A promotion that does not count, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcludedPromotion {
    /// The plugin.
    pub plugin: String,
    /// Why.
    pub reason: Exclusion,
}

/// Why a promotion does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// An exclusive promotion earlier in the order applied (this one was
    /// not called).
    AfterExclusive {
        /// The exclusive promotion.
        by: String,
    },
    /// This one is exclusive, and a promotion earlier in the order applied.
    NotAlone {
        /// The first promotion that applied.
        first: String,
    },
    /// What it discounts was already discounted in full.
    NothingLeft,
}

/// A cart's money, in its currency's minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Σ unit price × quantity.
    pub subtotal_minor: i64,
    /// Σ line adjustments.
    pub line_discount_minor: i64,
    /// Σ order adjustments.
    pub order_discount_minor: i64,
    /// The shipping fee before adjustments.
    pub shipping_minor: i64,
    /// Σ shipping adjustments.
    pub shipping_discount_minor: i64,
    /// What the shopper pays: never negative.
    pub total_minor: i64,
}

fn line_total(line: &CartLine) -> i64 {
    line.unit_price_minor.max(0).saturating_mul(i64::from(line.quantity))
}

/// The running stack: what is left to discount, and what applied so far.
pub(crate) struct Stack {
    line_left: Vec<i64>,
    goods_left: i64,
    shipping_left: i64,
    first_applied: Option<String>,
    exclusive: Option<String>,
    outcome: PromotionOutcome,
}

impl Stack {
    pub(crate) fn new(cart: &Cart) -> Self {
        let line_left: Vec<i64> = cart.lines.iter().map(line_total).collect();
        let subtotal = line_left.iter().copied().fold(0i64, i64::saturating_add);
        Self {
            goods_left: subtotal,
            shipping_left: cart.shipping_minor.max(0),
            line_left,
            first_applied: None,
            exclusive: None,
            outcome: PromotionOutcome {
                totals: Totals {
                    subtotal_minor: subtotal,
                    shipping_minor: cart.shipping_minor.max(0),
                    ..Totals::default()
                },
                ..PromotionOutcome::default()
            },
        }
    }

    /// The exclusive promotion that closed the stack, if one did: later
    /// promotions need not be called.
    pub(crate) fn closed_by(&self) -> Option<&str> {
        self.exclusive.as_deref()
    }

    pub(crate) fn exclude(&mut self, plugin: &str, reason: Exclusion) {
        self.outcome.excluded.push(ExcludedPromotion {
            plugin: plugin.to_owned(),
            reason,
        });
    }

    pub(crate) fn skip(&mut self, plugin: &str, error: PluginError) {
        self.outcome.skipped.push((plugin.to_owned(), error));
    }

    /// Stacks one promotion's (validated) answer.
    pub(crate) fn offer(&mut self, plugin: &str, version: &str, stacking: Stacking, adjustments: Vec<Adjustment>) {
        if adjustments.is_empty() {
            return;
        }
        if let Some(by) = &self.exclusive {
            let by = by.clone();
            return self.exclude(plugin, Exclusion::AfterExclusive { by });
        }
        if stacking == Stacking::Exclusive
            && let Some(first) = &self.first_applied
        {
            let first = first.clone();
            return self.exclude(plugin, Exclusion::NotAlone { first });
        }
        let offered = adjustments.len();
        let mut trimmed = false;
        let mut kept = Vec::with_capacity(offered);
        for mut adjustment in adjustments {
            let amount = adjustment.amount_minor.max(0);
            let line = match adjustment.level {
                Level::Line => adjustment
                    .line
                    .map(|i| i as usize)
                    .filter(|&i| i < self.line_left.len()),
                Level::Order | Level::Shipping => None,
            };
            let take = match adjustment.level {
                Level::Line => match line {
                    Some(i) => amount.min(self.line_left[i]).min(self.goods_left),
                    None => 0,
                },
                Level::Order => amount.min(self.goods_left),
                Level::Shipping => amount.min(self.shipping_left),
            };
            if take < amount {
                trimmed = true;
            }
            if take <= 0 {
                continue;
            }
            let totals = &mut self.outcome.totals;
            match adjustment.level {
                Level::Line => {
                    if let Some(i) = line {
                        self.line_left[i] -= take;
                    }
                    self.goods_left -= take;
                    totals.line_discount_minor += take;
                }
                Level::Order => {
                    self.goods_left -= take;
                    totals.order_discount_minor += take;
                }
                Level::Shipping => {
                    self.shipping_left -= take;
                    totals.shipping_discount_minor += take;
                }
            }
            adjustment.amount_minor = take;
            kept.push(adjustment);
        }
        if kept.is_empty() {
            return self.exclude(plugin, Exclusion::NothingLeft);
        }
        if self.first_applied.is_none() {
            self.first_applied = Some(plugin.to_owned());
        }
        if stacking == Stacking::Exclusive {
            self.exclusive = Some(plugin.to_owned());
        }
        self.outcome.applied.push(AppliedPromotion {
            plugin: plugin.to_owned(),
            version: version.to_owned(),
            adjustments: kept,
            trimmed,
        });
    }

    pub(crate) fn finish(mut self) -> PromotionOutcome {
        let t = &mut self.outcome.totals;
        t.total_minor = (self.goods_left + self.shipping_left).max(0);
        debug_assert_eq!(
            t.total_minor,
            t.subtotal_minor - t.line_discount_minor - t.order_discount_minor + t.shipping_minor
                - t.shipping_discount_minor
        );
        self.outcome
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::plugins::cart::CartBuilder;

    fn cart(lines: &[(u32, i64)], shipping: i64) -> Cart {
        let mut cart = CartBuilder::new("ZAR");
        for (i, &(quantity, unit)) in lines.iter().enumerate() {
            cart.line(format!("p{i}"), format!("SKU-{i}"), quantity, unit, &[] as &[&str], "");
        }
        cart.shipping(shipping);
        cart.build()
    }

    fn adj(level: Level, line: Option<usize>, amount: i64) -> Adjustment {
        Adjustment {
            level,
            line: line.map(|i| u32::try_from(i).expect("small")),
            amount_minor: amount,
            reason: "test".into(),
            coupon: None,
        }
    }

    #[test]
    fn combinable_promotions_add_up_and_are_cut_to_what_is_left() {
        // Two lines: 2 × 100.00 and 1 × 50.00; shipping 60.00.
        let cart = cart(&[(2, 10_000), (1, 5_000)], 6_000);
        let mut stack = Stack::new(&cart);
        stack.offer(
            "half-off",
            "",
            Stacking::Combinable,
            vec![adj(Level::Line, Some(0), 10_000)],
        );
        // 15 000 asked, 10 000 left on line 0.
        stack.offer("big", "", Stacking::Combinable, vec![adj(Level::Line, Some(0), 15_000)]);
        stack.offer(
            "ship",
            "",
            Stacking::Combinable,
            vec![adj(Level::Shipping, None, 6_000)],
        );
        // Nothing left of line 0, nor of shipping.
        stack.offer("again", "", Stacking::Combinable, vec![adj(Level::Line, Some(0), 1)]);
        stack.offer("ship2", "", Stacking::Combinable, vec![adj(Level::Shipping, None, 100)]);
        let outcome = stack.finish();
        let applied: Vec<(&str, i64, bool)> = outcome
            .applied
            .iter()
            .map(|p| (p.plugin.as_str(), p.adjustments[0].amount_minor, p.trimmed))
            .collect();
        assert_eq!(
            applied,
            [
                ("half-off", 10_000, false),
                ("big", 10_000, true),
                ("ship", 6_000, false)
            ]
        );
        assert_eq!(
            outcome.excluded,
            [
                ExcludedPromotion {
                    plugin: "again".into(),
                    reason: Exclusion::NothingLeft
                },
                ExcludedPromotion {
                    plugin: "ship2".into(),
                    reason: Exclusion::NothingLeft
                },
            ]
        );
        assert_eq!(
            outcome.totals,
            Totals {
                subtotal_minor: 25_000,
                line_discount_minor: 20_000,
                order_discount_minor: 0,
                shipping_minor: 6_000,
                shipping_discount_minor: 6_000,
                total_minor: 5_000,
            }
        );
    }

    #[test]
    fn an_exclusive_promotion_applies_only_alone() {
        let cart = cart(&[(1, 10_000)], 0);

        // First to apply: it applies, and closes the stack.
        let mut stack = Stack::new(&cart);
        stack.offer("nothing", "", Stacking::Combinable, vec![]);
        stack.offer("coupon", "", Stacking::Exclusive, vec![adj(Level::Order, None, 1_000)]);
        assert_eq!(stack.closed_by(), Some("coupon"));
        stack.offer("sale", "", Stacking::Combinable, vec![adj(Level::Line, Some(0), 500)]);
        let outcome = stack.finish();
        assert_eq!(outcome.applied.len(), 1);
        assert_eq!(outcome.applied[0].plugin, "coupon");
        assert_eq!(
            outcome.excluded[0].reason,
            Exclusion::AfterExclusive { by: "coupon".into() }
        );
        assert_eq!(outcome.totals.total_minor, 9_000);

        // After another applied: it does not.
        let mut stack = Stack::new(&cart);
        stack.offer("sale", "", Stacking::Combinable, vec![adj(Level::Line, Some(0), 500)]);
        stack.offer("coupon", "", Stacking::Exclusive, vec![adj(Level::Order, None, 1_000)]);
        assert_eq!(stack.closed_by(), None);
        let outcome = stack.finish();
        assert_eq!(outcome.applied.len(), 1);
        assert_eq!(outcome.applied[0].plugin, "sale");
        assert_eq!(outcome.excluded[0].reason, Exclusion::NotAlone { first: "sale".into() });
        assert_eq!(outcome.totals.total_minor, 9_500);
    }

    #[derive(Debug, Clone)]
    struct Offer {
        stacking: Stacking,
        adjustments: Vec<(u8, Option<usize>, i64)>,
    }

    fn offers() -> impl Strategy<Value = Vec<Offer>> {
        let adjustment = (0u8..3, proptest::option::of(0usize..6), 1i64..2_000_000);
        let offer =
            (any::<bool>(), proptest::collection::vec(adjustment, 0..6)).prop_map(|(exclusive, adjustments)| Offer {
                stacking: if exclusive {
                    Stacking::Exclusive
                } else {
                    Stacking::Combinable
                },
                adjustments,
            });
        proptest::collection::vec(offer, 0..8)
    }

    proptest! {
        #[test]
        fn stacked_outcomes_never_take_more_than_there_is(
            lines in proptest::collection::vec((1u32..20, 0i64..500_000), 1..6),
            shipping in 0i64..20_000,
            offers in offers(),
        ) {
            let cart = cart(&lines, shipping);
            let mut stack = Stack::new(&cart);
            for (i, offer) in offers.iter().enumerate() {
                let adjustments = offer.adjustments.iter().map(|&(level, line, amount)| {
                    let line = line.filter(|&l| l < lines.len());
                    match (level, line) {
                        (0, Some(l)) => adj(Level::Line, Some(l), amount),
                        (1, _) | (0, None) => adj(Level::Order, None, amount),
                        _ => adj(Level::Shipping, None, amount),
                    }
                }).collect();
                stack.offer(&format!("p{i}"), "", offer.stacking, adjustments);
            }
            let outcome = stack.finish();
            let t = outcome.totals;
            prop_assert!(t.total_minor >= 0);
            prop_assert!(t.line_discount_minor + t.order_discount_minor <= t.subtotal_minor);
            prop_assert!(t.shipping_discount_minor <= t.shipping_minor);
            prop_assert_eq!(
                t.total_minor,
                t.subtotal_minor - t.line_discount_minor - t.order_discount_minor + t.shipping_minor - t.shipping_discount_minor
            );
            // Per line: never more than the line.
            for (i, line) in cart.lines.iter().enumerate() {
                let taken: i64 = outcome
                    .adjustments()
                    .filter(|(_, a)| a.level == Level::Line && a.line == u32::try_from(i).ok())
                    .map(|(_, a)| a.amount_minor)
                    .sum();
                prop_assert!(taken <= line_total(line), "line {i}: {taken} > {}", line_total(line));
            }
            prop_assert!(outcome.adjustments().all(|(_, a)| a.amount_minor > 0));
            // An exclusive promotion that applied is the only one.
            let exclusive_applied = outcome.applied.iter().any(|p| {
                let i: usize = p.plugin[1..].parse().expect("p<i>");
                offers[i].stacking == Stacking::Exclusive
            });
            if exclusive_applied {
                prop_assert_eq!(outcome.applied.len(), 1);
            }
            // Stacking order is kept.
            let order: Vec<usize> = outcome.applied.iter().map(|p| p.plugin[1..].parse().expect("p<i>")).collect();
            prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
