//! 10 % (or `percent`) off every line.
//!
//! The crate written step by step in `sdk/README.md`. `cargo test -p
//! vitrine-example-promotion-plugin` runs the unit tests below natively and
//! `tests/component.rs`, which builds this crate's component and runs it in
//! the real plugin host on the carts under `fixtures/`
//! (`vitrine_runtime::testing`).
use vitrine_sdk::PluginError;
use vitrine_sdk::money::{self, Rounding};
use vitrine_sdk::promotion::{Adjustment, Cart, Promotion};

/// The adjustments for `cart` at `bps` basis points off.
pub fn discounts(bps: u32, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
    let mut out = Vec::new();
    for (i, line) in cart.lines.iter().enumerate() {
        let total = line
            .total_minor()
            .ok_or_else(|| PluginError::InvalidInput(format!("line {i} overflows")))?;
        let off = money::percent_of(total, bps, Rounding::Floor).unwrap_or(0);
        if off > 0 {
            out.push(Adjustment::line(i, off, "10% off"));
        }
    }
    Ok(out)
}

/// The plugin.
pub struct TenPercent;

impl Promotion for TenPercent {
    fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let bps = match vitrine_sdk::config::get("percent") {
            Some(p) => money::parse_percent(&p)
                .ok_or_else(|| PluginError::Config(format!("`percent` = {p:?} is not a percentage")))?,
            None => 1_000,
        };
        discounts(bps, cart)
    }
}

vitrine_sdk::export_promotion!(TenPercent);
// One call per instance: small allocations bump a pointer in one chunk of
// the initial heap instead of going through dlmalloc. See `vitrine_sdk::alloc`.
vitrine_sdk::use_call_arena!();

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;
    use vitrine_sdk::promotion::{run, validate};
    use vitrine_sdk::testing::{self, arb, cart, line};

    #[test]
    fn ten_percent_rounds_down() {
        // 3 × 3.33 = 9.99; 10 % = 0.999 → 0.99
        let c = cart("ZAR", vec![line("SKU-1", 3, 333)]);
        assert_eq!(discounts(1_000, &c).unwrap(), vec![Adjustment::line(0, 99, "10% off")]);
    }

    #[test]
    fn reads_config() {
        testing::set_config(&[("percent", "50")]);
        let c = cart("ZAR", vec![line("SKU-1", 1, 1_000)]);
        assert_eq!(
            run::<TenPercent>(&c).unwrap(),
            vec![Adjustment::line(0, 500, "10% off")]
        );
    }

    proptest! {
        #[test]
        fn never_more_than_the_line(bps in 0u32..=10_000, c in arb::cart()) {
            let first = discounts(bps, &c).unwrap();
            prop_assert_eq!(validate(&c, &first), Ok(()));
            prop_assert_eq!(discounts(bps, &c).unwrap(), first);
        }
    }
}
