//! `{{name}}`: a Vitrine promotion. 10 % (or the `percent` setting) off
//! every line, rounded down to the cent.
//!
//! A promotion is pure and deterministic: the same cart and settings always
//! give the same adjustments. Money is `i64` minor units (cents), never floats.

use vitrine_sdk::PluginError;
use vitrine_sdk::money::{self, Rounding};
use vitrine_sdk::promotion::{Adjustment, Cart, Promotion};

/// The adjustments for `cart` at `bps` basis points (1 % = 100) off every line.
pub fn discounts(bps: u32, reason: &str, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
    let mut out = Vec::new();
    for (i, line) in cart.lines.iter().enumerate() {
        let total = line
            .total_minor()
            .ok_or_else(|| PluginError::InvalidInput(format!("line {i} overflows")))?;
        let off = money::percent_of(total, bps, Rounding::Floor).unwrap_or(0);
        if off > 0 {
            out.push(Adjustment::line(i, off, reason));
        }
    }
    Ok(out)
}

/// The plugin.
pub struct {{type}};

impl Promotion for {{type}} {
    fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let (bps, reason) = match vitrine_sdk::config::get("percent") {
            Some(p) => {
                let bps = money::parse_percent(&p)
                    .ok_or_else(|| PluginError::Config(format!("`percent` = {p:?} is not a percentage")))?;
                (bps, format!("{p}% off"))
            }
            None => (1_000, "10% off".to_owned()),
        };
        discounts(bps, &reason, cart)
    }
}

vitrine_sdk::export_promotion!({{type}});
// One call per instance: small allocations bump a pointer in one chunk of
// the initial heap instead of going through dlmalloc. See `vitrine_sdk::alloc`.
vitrine_sdk::use_call_arena!();

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine_sdk::promotion::run;
    use vitrine_sdk::testing::{self, cart, line};

    #[test]
    fn ten_percent_rounds_down() {
        // 3 × 3.33 = 9.99; 10 % of it is 0.999, rounded down to 0.99.
        let c = cart("ZAR", vec![line("SKU-1", 3, 333)]);
        assert_eq!(
            discounts(1_000, "10% off", &c),
            Ok(vec![Adjustment::line(0, 99, "10% off")])
        );
    }

    #[test]
    fn reads_the_percent_setting() {
        testing::set_config(&[("percent", "25")]);
        let c = cart("ZAR", vec![line("SKU-1", 1, 1_000)]);
        assert_eq!(run::<{{type}}>(&c), Ok(vec![Adjustment::line(0, 250, "25% off")]));
    }
}
