//! `buy-x-get-y`: buy X units of a sku or category, get the Y cheapest
//! units free (or at a percentage off).
//!
//! Settings (through the `config` capability):
//! - `sku` **or** `category`: which units qualify (`sku` exact, `category` a
//!   slug: lines in that category or below it);
//! - `buy` (X ≥ 1) and `get` (Y ≥ 1);
//! - `percent` (optional, default `100` = free): how much comes off each
//!   rewarded unit, rounded down to the cent;
//! - `reason` (optional, default `Buy X get Y`).
//!
//! All qualifying units across the cart are pooled. Every complete group of
//! X + Y units rewards Y units, and the rewarded units are always the
//! cheapest ones (ties go to the earlier line), so the shopper gets the
//! smaller discount when prices differ, as shops usually advertise it. The
//! discount on a line never exceeds that line.

use vitrine_sdk::PluginError;
use vitrine_sdk::config::parse_value;
use vitrine_sdk::money::{self, FULL_BPS, Rounding};
use vitrine_sdk::promotion::{Adjustment, Cart, CartLine, Promotion};

/// Which units qualify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Units of this sku.
    Sku(String),
    /// Units in this category slug.
    Category(String),
}

/// The promotion's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Which units qualify.
    pub target: Target,
    /// Units to buy (X ≥ 1).
    pub buy: u32,
    /// Units rewarded per group (Y ≥ 1).
    pub get: u32,
    /// Basis points off each rewarded unit (10 000 = free).
    pub percent_bps: u32,
    /// Shown to the shopper.
    pub reason: String,
}

impl Settings {
    /// Reads the settings through `get` (the `config` capability in a
    /// component, anything in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let non_empty = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let target = match (non_empty("sku"), non_empty("category")) {
            (Some(sku), None) => Target::Sku(sku),
            (None, Some(category)) => Target::Category(category),
            _ => return Err(PluginError::Config("set exactly one of `sku` and `category`".into())),
        };
        let count = |name: &str| -> Result<u32, PluginError> {
            let value = non_empty(name).ok_or_else(|| PluginError::Config(format!("missing setting `{name}`")))?;
            let n: u32 = parse_value(name, &value)?;
            if n == 0 {
                return Err(PluginError::Config(format!("setting `{name}` must be at least 1")));
            }
            Ok(n)
        };
        let (buy, get_units) = (count("buy")?, count("get")?);
        let percent_bps = match non_empty("percent") {
            None => FULL_BPS,
            Some(p) => money::parse_percent(&p).ok_or_else(|| {
                PluginError::Config(format!(
                    "setting `percent` = {p:?} is not a percentage between 0 and 100"
                ))
            })?,
        };
        let reason = non_empty("reason").unwrap_or_else(|| format!("Buy {buy} get {get_units}"));
        Ok(Self {
            target,
            buy,
            get: get_units,
            percent_bps,
            reason,
        })
    }

    /// Whether units of `line` of `cart` qualify.
    pub fn matches(&self, cart: &Cart, line: &CartLine) -> bool {
        match &self.target {
            Target::Sku(sku) => &line.sku == sku,
            Target::Category(slug) => cart.in_category(line, slug),
        }
    }
}

/// The adjustments `settings` give `cart`.
pub fn discounts(settings: &Settings, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
    // (unit price, line index) of qualifying lines, cheapest first.
    let mut lines: Vec<(i64, usize)> = Vec::new();
    let mut units: u64 = 0;
    for (index, line) in cart.lines.iter().enumerate() {
        if !settings.matches(cart, line) || line.quantity == 0 {
            continue;
        }
        if line.total_minor().is_none() {
            return Err(PluginError::InvalidInput(format!(
                "line {index} has a negative or overflowing total"
            )));
        }
        lines.push((line.unit_price_minor, index));
        units += u64::from(line.quantity);
    }
    lines.sort_unstable();

    let group = u64::from(settings.buy) + u64::from(settings.get);
    let mut rewarded = (units / group) * u64::from(settings.get);
    let mut off_per_line = vec![0i64; cart.lines.len()];
    for (unit_price, index) in lines {
        if rewarded == 0 {
            break;
        }
        let line = &cart.lines[index];
        let here = rewarded.min(u64::from(line.quantity));
        rewarded -= here;
        // `here` ≤ quantity, so this cannot overflow where the line total did not.
        let free_units = u32::try_from(here).unwrap_or(line.quantity);
        let value = money::line_total(unit_price, free_units).unwrap_or(0);
        let off = money::percent_of(value, settings.percent_bps, Rounding::Floor).unwrap_or(0);
        off_per_line[index] = money::cap(off, line.total_minor().unwrap_or(0));
    }

    Ok(off_per_line
        .into_iter()
        .enumerate()
        .filter(|(_, off)| *off > 0)
        .map(|(line, off)| Adjustment::line(line, off, settings.reason.clone()))
        .collect())
}

/// The plugin: settings from the `config` capability, then [`discounts`].
pub struct BuyXGetY;

impl Promotion for BuyXGetY {
    fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let settings = Settings::from_lookup(vitrine_sdk::config::get)?;
        discounts(&settings, cart)
    }
}

vitrine_sdk::export_promotion!(BuyXGetY);
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

    fn sock(id: &str, qty: u32, unit: i64) -> testing::Line {
        line(&format!("SOCK-{id}"), qty, unit).in_categories(&["socks"])
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, PluginError> {
        Settings::from_lookup(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn buy_two_get_one_free_takes_the_cheapest() {
        // 4 socks: 2 × 80.00 and 2 × 30.00 → one group of 3 → the cheapest unit (30.00) is free.
        let c = cart(
            "ZAR",
            vec![sock("a", 2, 8_000), sock("b", 2, 3_000), line("HAT", 5, 100)],
        );
        let s = settings(&[("category", "socks"), ("buy", "2"), ("get", "1")]).unwrap();
        assert_eq!(
            discounts(&s, &c).unwrap(),
            vec![Adjustment::line(1, 3_000, "Buy 2 get 1")]
        );
    }

    #[test]
    fn rewards_spill_over_to_the_next_cheapest_line() {
        // 6 socks → two groups of 3 → 2 free units: 1 × 10.00 (line c) then 1 × 30.00 (line b).
        let c = cart(
            "ZAR",
            vec![sock("a", 3, 8_000), sock("b", 2, 3_000), sock("c", 1, 1_000)],
        );
        let s = settings(&[("category", "socks"), ("buy", "2"), ("get", "1"), ("reason", "3 for 2")]).unwrap();
        assert_eq!(
            discounts(&s, &c).unwrap(),
            vec![
                Adjustment::line(1, 3_000, "3 for 2"),
                Adjustment::line(2, 1_000, "3 for 2")
            ]
        );
    }

    #[test]
    fn half_price_on_the_rewarded_unit_rounds_down() {
        // buy 1 get 1 at 50 %: 2 units of 9.99 → 4.995 → 4.99 off.
        let c = cart("ZAR", vec![line("SKU-1", 2, 999)]);
        let s = settings(&[("sku", "SKU-1"), ("buy", "1"), ("get", "1"), ("percent", "50")]).unwrap();
        assert_eq!(
            discounts(&s, &c).unwrap(),
            vec![Adjustment::line(0, 499, "Buy 1 get 1")]
        );
    }

    #[test]
    fn an_incomplete_group_gets_nothing() {
        let c = cart("ZAR", vec![sock("a", 2, 8_000)]);
        let s = settings(&[("category", "socks"), ("buy", "2"), ("get", "1")]).unwrap();
        assert_eq!(discounts(&s, &c).unwrap(), vec![]);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        for pairs in [
            vec![("buy", "2"), ("get", "1")],
            vec![("sku", "A"), ("category", "socks"), ("buy", "2"), ("get", "1")],
            vec![("sku", "A"), ("buy", "0"), ("get", "1")],
            vec![("sku", "A"), ("buy", "2")],
            vec![("sku", "A"), ("buy", "2"), ("get", "x")],
            vec![("sku", "A"), ("buy", "2"), ("get", "1"), ("percent", "101")],
        ] {
            assert!(matches!(settings(&pairs), Err(PluginError::Config(_))), "{pairs:?}");
        }
    }

    #[test]
    fn runs_through_the_config_capability() {
        testing::set_config(&[("sku", "SKU-1"), ("buy", "1"), ("get", "1")]);
        let c = cart("ZAR", vec![line("SKU-1", 2, 500)]);
        assert_eq!(
            promotion::run::<BuyXGetY>(&c).unwrap(),
            vec![Adjustment::line(0, 500, "Buy 1 get 1")]
        );
    }

    fn arb_settings() -> impl Strategy<Value = Settings> {
        (
            prop_oneof![
                (0usize..5).prop_map(|i| Target::Sku(format!("SKU-{i}"))),
                proptest::sample::select(arb::CATEGORIES.to_vec()).prop_map(|c| Target::Category(c.to_owned())),
            ],
            1u32..6,
            1u32..4,
            0u32..=10_000,
        )
            .prop_map(|(target, buy, get, percent_bps)| Settings {
                target,
                buy,
                get,
                percent_bps,
                reason: "bxgy".into(),
            })
    }

    proptest! {
        #[test]
        fn never_negative_never_above_the_line_and_deterministic(s in arb_settings(), c in arb::cart()) {
            let first = discounts(&s, &c).unwrap();
            prop_assert_eq!(validate(&c, &first), Ok(()));
            let units: u64 = c.lines.iter().filter(|l| s.matches(&c, l)).map(|l| u64::from(l.quantity)).sum();
            let rewarded = units / (u64::from(s.buy) + u64::from(s.get)) * u64::from(s.get);
            let max_unit = c.lines.iter().filter(|l| s.matches(&c, l)).map(|l| l.unit_price_minor).max().unwrap_or(0);
            let total: i64 = first.iter().map(|a| a.amount_minor).sum();
            // Never more than the rewarded units at the dearest qualifying price.
            prop_assert!(i128::from(total) <= i128::from(rewarded) * i128::from(max_unit));
            prop_assert_eq!(discounts(&s, &c).unwrap(), first);
        }
    }
}
