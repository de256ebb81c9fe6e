//! `coupon`: an order-level percentage or fixed discount when the shopper
//! entered a given coupon code, with an optional per-customer limit.
//!
//! Settings (through the `config` capability):
//! - `code` (required): the coupon code, compared case-insensitively;
//! - `percent` (e.g. `10`, `12.5`; of the line subtotal, rounded down to the
//!   cent) **or** `fixed_minor` (at most the line subtotal);
//! - `max_uses_per_customer` (optional): how many times one customer may use
//!   the code, counted from the cart's `customer.coupon-uses`. When set, an
//!   anonymous cart (no customer id) gets no discount, because its uses
//!   cannot be counted;
//! - `min_subtotal_minor` (optional): the line subtotal the cart must reach;
//! - `reason` (optional, default `Coupon <CODE>`).
//!
//! The adjustment names the coupon it consumed (upper case), so the origin
//! can count the use when the order is placed.

use vitrine_sdk::PluginError;
use vitrine_sdk::config::parse_value;
use vitrine_sdk::money::{self, Rounding};
use vitrine_sdk::promotion::{Adjustment, Cart, Promotion};

/// How much comes off the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discount {
    /// Basis points of the line subtotal (1 000 = 10 %).
    PercentBps(u32),
    /// Minor units off, capped at the line subtotal.
    FixedMinor(i64),
}

/// The promotion's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The coupon code, upper case.
    pub code: String,
    /// What comes off.
    pub discount: Discount,
    /// Uses allowed per customer, if limited.
    pub max_uses_per_customer: Option<u32>,
    /// Line subtotal the cart must reach.
    pub min_subtotal_minor: i64,
    /// Shown to the shopper.
    pub reason: String,
}

impl Settings {
    /// Reads the settings through `get` (the `config` capability in a
    /// component, anything in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let code = non_empty("code")
            .ok_or_else(|| PluginError::Config("missing setting `code`".into()))?
            .to_ascii_uppercase();
        let discount = match (non_empty("percent"), non_empty("fixed_minor")) {
            (Some(p), None) => Discount::PercentBps(money::parse_percent(&p).ok_or_else(|| {
                PluginError::Config(format!(
                    "setting `percent` = {p:?} is not a percentage between 0 and 100"
                ))
            })?),
            (None, Some(f)) => Discount::FixedMinor(money::parse_minor(&f).ok_or_else(|| {
                PluginError::Config(format!("setting `fixed_minor` = {f:?} is not an amount in minor units"))
            })?),
            _ => {
                return Err(PluginError::Config(
                    "set exactly one of `percent` and `fixed_minor`".into(),
                ));
            }
        };
        let max_uses_per_customer = non_empty("max_uses_per_customer")
            .map(|v| parse_value::<u32>("max_uses_per_customer", &v))
            .transpose()?;
        let min_subtotal_minor = match non_empty("min_subtotal_minor") {
            None => 0,
            Some(v) => money::parse_minor(&v).ok_or_else(|| {
                PluginError::Config(format!(
                    "setting `min_subtotal_minor` = {v:?} is not an amount in minor units"
                ))
            })?,
        };
        let reason = non_empty("reason").unwrap_or_else(|| format!("Coupon {code}"));
        Ok(Self {
            code,
            discount,
            max_uses_per_customer,
            min_subtotal_minor,
            reason,
        })
    }
}

/// The adjustments `settings` give `cart`.
pub fn discounts(settings: &Settings, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
    if !cart.has_coupon(&settings.code) {
        return Ok(Vec::new());
    }
    let subtotal = cart
        .subtotal_minor()
        .ok_or_else(|| PluginError::InvalidInput("cart subtotal is negative or overflows".into()))?;
    if subtotal < settings.min_subtotal_minor {
        return Ok(Vec::new());
    }
    if let Some(max) = settings.max_uses_per_customer {
        let counted = cart.customer.id.is_some();
        if !counted || cart.customer.coupon_uses(&settings.code) >= max {
            return Ok(Vec::new());
        }
    }
    let off = match settings.discount {
        Discount::PercentBps(bps) => money::percent_of(subtotal, bps, Rounding::Floor).unwrap_or(0),
        Discount::FixedMinor(fixed) => fixed,
    };
    let off = money::cap(off, subtotal);
    if off == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![
        Adjustment::order(off, settings.reason.clone()).with_coupon(settings.code.clone()),
    ])
}

/// The plugin: settings from the `config` capability, then [`discounts`].
pub struct Coupon;

impl Promotion for Coupon {
    fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let settings = Settings::from_lookup(vitrine_sdk::config::get)?;
        discounts(&settings, cart)
    }
}

vitrine_sdk::export_promotion!(Coupon);
// One call per instance: small allocations bump a pointer in one chunk of
// the initial heap instead of going through dlmalloc. See `vitrine_sdk::alloc`.
vitrine_sdk::use_call_arena!();

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;
    use vitrine_sdk::promotion::{self, validate};
    use vitrine_sdk::testing::{self, arb, cart, line};

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, PluginError> {
        Settings::from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    fn with_coupon(code: &str, customer: Option<&str>, uses: u32) -> Cart {
        // Subtotal: 3 × 33.33 + 1 × 0.01 = 100.00
        let mut c = cart("ZAR", vec![line("A", 3, 3_333), line("B", 1, 1)]);
        c.coupon_codes = vec![code.into()];
        c.customer.id = customer.map(str::to_owned);
        c.customer.coupon_uses = vec![(code.into(), uses)];
        c
    }

    #[test]
    fn percent_of_the_subtotal_names_the_coupon() {
        // 12.5 % of 100.00 = 12.50
        let s = settings(&[("code", "save10"), ("percent", "12.5")]).unwrap();
        assert_eq!(
            discounts(&s, &with_coupon("SAVE10", None, 0)).unwrap(),
            vec![Adjustment::order(1_250, "Coupon SAVE10").with_coupon("SAVE10")]
        );
    }

    #[test]
    fn fixed_is_capped_at_the_subtotal() {
        let s = settings(&[("code", "BIG"), ("fixed_minor", "50000"), ("reason", "Welcome")]).unwrap();
        assert_eq!(
            discounts(&s, &with_coupon("BIG", None, 0)).unwrap(),
            vec![Adjustment::order(10_000, "Welcome").with_coupon("BIG")]
        );
    }

    #[test]
    fn per_customer_limit() {
        let s = settings(&[("code", "ONCE"), ("fixed_minor", "500"), ("max_uses_per_customer", "1")]).unwrap();
        let fresh = discounts(&s, &with_coupon("ONCE", Some("c-1"), 0)).unwrap();
        assert_eq!(fresh, vec![Adjustment::order(500, "Coupon ONCE").with_coupon("ONCE")]);
        assert_eq!(discounts(&s, &with_coupon("ONCE", Some("c-1"), 1)).unwrap(), vec![]);
        // anonymous: uses cannot be counted, so a limited coupon does not apply
        assert_eq!(discounts(&s, &with_coupon("ONCE", None, 0)).unwrap(), vec![]);
    }

    #[test]
    fn no_code_or_small_cart_gets_nothing() {
        let s = settings(&[("code", "SAVE10"), ("percent", "10"), ("min_subtotal_minor", "10001")]).unwrap();
        assert_eq!(discounts(&s, &with_coupon("OTHER", None, 0)).unwrap(), vec![]);
        assert_eq!(discounts(&s, &with_coupon("SAVE10", None, 0)).unwrap(), vec![]);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        for pairs in [
            vec![("percent", "10")],
            vec![("code", "X")],
            vec![("code", "X"), ("percent", "10"), ("fixed_minor", "1")],
            vec![("code", "X"), ("fixed_minor", "-1")],
            vec![("code", "X"), ("percent", "10"), ("max_uses_per_customer", "-1")],
            vec![("code", "X"), ("percent", "10"), ("min_subtotal_minor", "ten")],
        ] {
            assert!(matches!(settings(&pairs), Err(PluginError::Config(_))), "{pairs:?}");
        }
    }

    #[test]
    fn runs_through_the_config_capability() {
        testing::set_config(&[("code", "SAVE10"), ("percent", "10")]);
        assert_eq!(
            promotion::run::<Coupon>(&with_coupon("SAVE10", None, 0)).unwrap(),
            vec![Adjustment::order(1_000, "Coupon SAVE10").with_coupon("SAVE10")]
        );
    }

    fn arb_settings() -> impl Strategy<Value = Settings> {
        (
            prop_oneof![
                (0u32..=10_000).prop_map(Discount::PercentBps),
                (0i64..i64::MAX).prop_map(Discount::FixedMinor),
            ],
            proptest::option::of(0u32..4),
            0i64..10_000_000,
        )
            .prop_map(|(discount, max_uses_per_customer, min_subtotal_minor)| Settings {
                code: "SAVE10".into(),
                discount,
                max_uses_per_customer,
                min_subtotal_minor,
                reason: "coupon".into(),
            })
    }

    proptest! {
        #[test]
        fn never_negative_never_above_the_subtotal_and_deterministic(s in arb_settings(), c in arb::cart()) {
            let first = discounts(&s, &c).unwrap();
            prop_assert_eq!(validate(&c, &first), Ok(()));
            prop_assert!(first.len() <= 1);
            for adjustment in &first {
                prop_assert!(adjustment.amount_minor > 0);
                prop_assert!(adjustment.amount_minor <= c.subtotal_minor().unwrap());
                prop_assert_eq!(adjustment.coupon.as_deref(), Some("SAVE10"));
                prop_assert!(c.has_coupon("SAVE10"));
            }
            if let (Some(max), false) = (s.max_uses_per_customer, first.is_empty()) {
                prop_assert!(c.customer.id.is_some() && c.customer.coupon_uses("SAVE10") < max);
            }
            prop_assert_eq!(discounts(&s, &c).unwrap(), first);
        }
    }
}
