//! `category-sale`: a percentage or a fixed amount off every line in a
//! category or of a brand.
//!
//! Settings (through the `config` capability):
//! - `category`: a category slug; a line matches if it is in this category
//!   or below it;
//! - `brand`: a brand, compared case-insensitively; at least one of
//!   `category` and `brand` is required, and when both are set a line must
//!   match both;
//! - `percent` (e.g. `15` or `12.5`, at most two decimals) **or**
//!   `fixed_minor` (minor units off each unit, at most the unit price);
//! - `reason` (optional, default `Sale`): shown to the shopper.
//!
//! Percentages are taken of the line total and rounded down to the cent
//! ([`Rounding::Floor`]). A discount never exceeds the line, never goes
//! negative; lines with nothing off get no adjustment.

use vitrine_sdk::PluginError;
use vitrine_sdk::config::parse_value;
use vitrine_sdk::money::{self, Rounding};
use vitrine_sdk::promotion::{Adjustment, Cart, CartLine, Promotion};

/// How much comes off a matching line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discount {
    /// Basis points of the line total (1 500 = 15 %).
    PercentBps(u32),
    /// Minor units off each unit, capped at the unit price.
    FixedPerUnitMinor(i64),
}

/// The promotion's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Category slug a line must be in, if set.
    pub category: Option<String>,
    /// Brand a line must be of (case-insensitive), if set.
    pub brand: Option<String>,
    /// What comes off.
    pub discount: Discount,
    /// Shown to the shopper.
    pub reason: String,
}

impl Settings {
    /// Reads the settings through `get` (the `config` capability in a
    /// component, anything in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let category = non_empty("category");
        let brand = non_empty("brand");
        if category.is_none() && brand.is_none() {
            return Err(PluginError::Config("set `category`, `brand` or both".into()));
        }
        let discount = match (non_empty("percent"), non_empty("fixed_minor")) {
            (Some(p), None) => Discount::PercentBps(money::parse_percent(&p).ok_or_else(|| {
                PluginError::Config(format!(
                    "setting `percent` = {p:?} is not a percentage between 0 and 100"
                ))
            })?),
            (None, Some(f)) => {
                let fixed: i64 = parse_value("fixed_minor", &f)?;
                if fixed < 0 {
                    return Err(PluginError::Config("setting `fixed_minor` is negative".into()));
                }
                Discount::FixedPerUnitMinor(fixed)
            }
            _ => {
                return Err(PluginError::Config(
                    "set exactly one of `percent` and `fixed_minor`".into(),
                ));
            }
        };
        let reason = non_empty("reason").unwrap_or_else(|| "Sale".to_owned());
        Ok(Self {
            category,
            brand,
            discount,
            reason,
        })
    }

    /// Whether `line` of `cart` is on sale.
    pub fn matches(&self, cart: &Cart, line: &CartLine) -> bool {
        self.category.as_deref().is_none_or(|c| cart.in_category(line, c))
            && self
                .brand
                .as_deref()
                .is_none_or(|b| cart.brand(line).eq_ignore_ascii_case(b))
    }
}

/// The adjustments `settings` give `cart`.
pub fn discounts(settings: &Settings, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
    let mut out = Vec::new();
    for (i, line) in cart.lines.iter().enumerate().filter(|(_, l)| settings.matches(cart, l)) {
        let total = line
            .total_minor()
            .ok_or_else(|| PluginError::InvalidInput(format!("line {i} has a negative or overflowing total")))?;
        let off = match settings.discount {
            Discount::PercentBps(bps) => money::percent_of(total, bps, Rounding::Floor).unwrap_or(0),
            Discount::FixedPerUnitMinor(fixed) => {
                let per_unit = money::cap(fixed, line.unit_price_minor);
                money::line_total(per_unit, line.quantity).unwrap_or(0)
            }
        };
        let off = money::cap(off, total);
        if off > 0 {
            out.push(Adjustment::line(i, off, settings.reason.clone()));
        }
    }
    Ok(out)
}

/// The plugin: settings from the `config` capability, then [`discounts`].
pub struct CategorySale;

impl Promotion for CategorySale {
    fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let settings = Settings::from_lookup(vitrine_sdk::config::get)?;
        discounts(&settings, cart)
    }
}

vitrine_sdk::export_promotion!(CategorySale);
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

    fn shoe(id: &str, qty: u32, unit: i64, brand: &str) -> testing::Line {
        line(&format!("SKU-{id}"), qty, unit)
            .in_categories(&["clothing", "shoes"])
            .by(brand)
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, PluginError> {
        Settings::from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn percent_off_a_category_rounds_down() {
        // 2 × 19.99 = 39.98; 15 % = 5.997 → 5.99. The hat is not in `shoes`.
        let c = cart("ZAR", vec![shoe("a", 2, 1_999, "acme"), line("HAT", 1, 5_000)]);
        let s = settings(&[("category", "shoes"), ("percent", "15"), ("reason", "Shoe week")]).unwrap();
        assert_eq!(discounts(&s, &c).unwrap(), vec![Adjustment::line(0, 599, "Shoe week")]);
    }

    #[test]
    fn fixed_per_unit_is_capped_at_the_unit_price() {
        // 50.00 off each unit: 3 × 50.00 on the first line, 2 × 30.00 (the whole price) on the second.
        let c = cart("ZAR", vec![shoe("a", 3, 10_000, "acme"), shoe("b", 2, 3_000, "acme")]);
        let s = settings(&[("category", "shoes"), ("fixed_minor", "5000")]).unwrap();
        assert_eq!(
            discounts(&s, &c).unwrap(),
            vec![Adjustment::line(0, 15_000, "Sale"), Adjustment::line(1, 6_000, "Sale")]
        );
    }

    #[test]
    fn brand_and_category_must_both_match() {
        let c = cart("ZAR", vec![shoe("a", 1, 1_000, "ACME"), shoe("z", 1, 1_000, "zenith")]);
        let s = settings(&[("category", "shoes"), ("brand", "acme"), ("percent", "50")]).unwrap();
        assert_eq!(discounts(&s, &c).unwrap(), vec![Adjustment::line(0, 500, "Sale")]);
        let brand_only = settings(&[("brand", "zenith"), ("percent", "10")]).unwrap();
        assert_eq!(
            discounts(&brand_only, &c).unwrap(),
            vec![Adjustment::line(1, 100, "Sale")]
        );
    }

    #[test]
    fn tiny_amounts_give_no_adjustment() {
        // 10 % of 0.05 = 0.005 → 0: no zero-amount adjustment.
        let c = cart("ZAR", vec![shoe("a", 1, 5, "acme")]);
        let s = settings(&[("category", "shoes"), ("percent", "10")]).unwrap();
        assert_eq!(discounts(&s, &c).unwrap(), vec![]);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        for pairs in [
            vec![("percent", "10")],
            vec![("category", "shoes")],
            vec![("category", "shoes"), ("percent", "10"), ("fixed_minor", "5")],
            vec![("category", "shoes"), ("percent", "110")],
            vec![("category", "shoes"), ("fixed_minor", "-5")],
            vec![("category", "shoes"), ("fixed_minor", "abc")],
        ] {
            assert!(matches!(settings(&pairs), Err(PluginError::Config(_))), "{pairs:?}");
        }
    }

    #[test]
    fn runs_through_the_config_capability() {
        testing::set_config(&[("category", "shoes"), ("percent", "10")]);
        let c = cart("ZAR", vec![shoe("a", 1, 1_000, "acme")]);
        assert_eq!(
            promotion::run::<CategorySale>(&c).unwrap(),
            vec![Adjustment::line(0, 100, "Sale")]
        );
        testing::set_config(&[]);
        assert!(matches!(
            promotion::run::<CategorySale>(&c),
            Err(PluginError::Config(_))
        ));
    }

    fn arb_settings() -> impl Strategy<Value = Settings> {
        (
            proptest::option::of(proptest::sample::select(arb::CATEGORIES.to_vec())),
            proptest::option::of(proptest::sample::select(arb::BRANDS.to_vec())),
            prop_oneof![
                (0u32..=10_000).prop_map(Discount::PercentBps),
                (0i64..20_000_000).prop_map(Discount::FixedPerUnitMinor),
            ],
        )
            .prop_map(|(category, brand, discount)| Settings {
                category: category.map(str::to_owned),
                brand: brand.map(str::to_owned),
                discount,
                reason: "Sale".into(),
            })
    }

    proptest! {
        #[test]
        fn never_negative_never_above_the_line_and_deterministic(s in arb_settings(), c in arb::cart()) {
            let first = discounts(&s, &c).unwrap();
            prop_assert_eq!(validate(&c, &first), Ok(()));
            for adjustment in &first {
                let line = &c.lines[adjustment.line.unwrap() as usize];
                prop_assert!(adjustment.amount_minor > 0);
                prop_assert!(adjustment.amount_minor <= line.total_minor().unwrap());
                prop_assert!(s.matches(&c, line));
            }
            prop_assert_eq!(discounts(&s, &c).unwrap(), first);
        }
    }
}
