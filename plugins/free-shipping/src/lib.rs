//! `free-shipping`: the shipping fee comes off when the cart's line
//! subtotal reaches a threshold.
//!
//! Settings (through the `config` capability):
//! - `threshold_minor` (required): the line subtotal (before any other
//!   promotion, which this plugin does not see) that earns free shipping;
//! - `reason` (optional, default `Free shipping`).
//!
//! The adjustment is exactly the cart's `shipping-minor`, at shipping level;
//! a cart with no shipping fee gets no adjustment.

use vitrine_sdk::PluginError;
use vitrine_sdk::config::parse_value;
use vitrine_sdk::promotion::{Adjustment, Cart, Promotion};

/// The promotion's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Line subtotal from which shipping is free.
    pub threshold_minor: i64,
    /// Shown to the shopper.
    pub reason: String,
}

impl Settings {
    /// Reads the settings through `get` (the `config` capability in a
    /// component, anything in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let threshold = non_empty("threshold_minor")
            .ok_or_else(|| PluginError::Config("missing setting `threshold_minor`".into()))?;
        let threshold_minor: i64 = parse_value("threshold_minor", &threshold)?;
        if threshold_minor < 0 {
            return Err(PluginError::Config("setting `threshold_minor` is negative".into()));
        }
        let reason = non_empty("reason").unwrap_or_else(|| "Free shipping".to_owned());
        Ok(Self {
            threshold_minor,
            reason,
        })
    }
}

/// The adjustments `settings` give `cart`.
pub fn discounts(settings: &Settings, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
    let subtotal = cart
        .subtotal_minor()
        .ok_or_else(|| PluginError::InvalidInput("cart subtotal is negative or overflows".into()))?;
    if subtotal < settings.threshold_minor || cart.shipping_minor <= 0 {
        return Ok(Vec::new());
    }
    Ok(vec![Adjustment::shipping(cart.shipping_minor, settings.reason.clone())])
}

/// The plugin: settings from the `config` capability, then [`discounts`].
pub struct FreeShipping;

impl Promotion for FreeShipping {
    fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let settings = Settings::from_lookup(vitrine_sdk::config::get)?;
        discounts(&settings, cart)
    }
}

vitrine_sdk::export_promotion!(FreeShipping);
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

    fn settings(threshold: i64) -> Settings {
        Settings {
            threshold_minor: threshold,
            reason: "Free shipping".into(),
        }
    }

    #[test]
    fn at_the_threshold_shipping_is_free() {
        // 2 × 250.00 + 1 × 0.99 = 500.99 ≥ 500.00 → 65.00 shipping off.
        let mut c = cart("ZAR", vec![line("A", 2, 25_000), line("B", 1, 99)]);
        c.shipping_minor = 6_500;
        assert_eq!(
            discounts(&settings(50_000), &c).unwrap(),
            vec![Adjustment::shipping(6_500, "Free shipping")]
        );
        assert_eq!(
            discounts(&settings(50_099), &c).unwrap(),
            vec![Adjustment::shipping(6_500, "Free shipping")]
        );
        assert_eq!(discounts(&settings(50_100), &c).unwrap(), vec![]);
    }

    #[test]
    fn no_fee_no_adjustment() {
        let c = cart("ZAR", vec![line("A", 1, 100_000)]);
        assert_eq!(discounts(&settings(0), &c).unwrap(), vec![]);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            Settings::from_lookup(move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
        };
        assert!(matches!(lookup(&[]), Err(PluginError::Config(_))));
        assert!(matches!(
            lookup(&[("threshold_minor", "-1")]),
            Err(PluginError::Config(_))
        ));
        assert!(matches!(
            lookup(&[("threshold_minor", "5.00")]),
            Err(PluginError::Config(_))
        ));
        assert_eq!(
            lookup(&[("threshold_minor", "500"), ("reason", "Ships free")])
                .unwrap()
                .reason,
            "Ships free"
        );
    }

    #[test]
    fn runs_through_the_config_capability() {
        testing::set_config(&[("threshold_minor", "1000")]);
        let mut c = cart("ZAR", vec![line("A", 1, 1_000)]);
        c.shipping_minor = 99;
        assert_eq!(
            promotion::run::<FreeShipping>(&c).unwrap(),
            vec![Adjustment::shipping(99, "Free shipping")]
        );
    }

    proptest! {
        #[test]
        fn exactly_the_fee_or_nothing_and_deterministic(threshold in 0i64..100_000_000, c in arb::cart()) {
            let first = discounts(&settings(threshold), &c).unwrap();
            prop_assert_eq!(validate(&c, &first), Ok(()));
            let earned = c.subtotal_minor().unwrap() >= threshold && c.shipping_minor > 0;
            let expected = if earned { vec![Adjustment::shipping(c.shipping_minor, "Free shipping")] } else { vec![] };
            prop_assert_eq!(&first, &expected);
            prop_assert_eq!(discounts(&settings(threshold), &c).unwrap(), first);
        }
    }
}
