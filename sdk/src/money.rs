//! Money arithmetic in integer minor units (cents). Never floats.
//!
//! Every function is checked: it returns `None` instead of overflowing,
//! going negative or accepting a negative price. Percentages are given in
//! basis points (1 % = 100 bp, 100 % = 10 000 bp) so that 12.5 % is exact.
//!
//! Rounding is always explicit ([`Rounding`]). First-party promotions use
//! [`Rounding::Floor`]: a discount is rounded down to the cent, so the shopper
//! never gets more than the advertised percentage.

/// Basis points in 100 %.
pub const FULL_BPS: u32 = 10_000;

/// How to round a fractional cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Drop the fraction (towards zero; amounts here are never negative).
    /// 12.9 → 12, 12.5 → 12.
    Floor,
    /// Round to the nearest cent; exact halves go down. 12.5 → 12, 12.51 → 13.
    HalfDown,
    /// Round to the nearest cent; exact halves go up. 12.5 → 13, 12.49 → 12.
    HalfUp,
}

/// `bps` basis points of `amount_minor`, rounded as asked.
///
/// `None` when `amount_minor` is negative or `bps` is above 100 %. The result
/// is always between 0 and `amount_minor`.
///
/// ```
/// use vitrine_sdk::money::{percent_of, Rounding};
/// assert_eq!(percent_of(1_999, 1_000, Rounding::Floor), Some(199)); // 10 % of 19.99
/// assert_eq!(percent_of(25, 5_000, Rounding::HalfDown), Some(12)); // 50 % of 0.25
/// assert_eq!(percent_of(25, 5_000, Rounding::HalfUp), Some(13));
/// assert_eq!(percent_of(-1, 1_000, Rounding::Floor), None);
/// ```
pub fn percent_of(amount_minor: i64, bps: u32, rounding: Rounding) -> Option<i64> {
    if amount_minor < 0 || bps > FULL_BPS {
        return None;
    }
    let product = i128::from(amount_minor) * i128::from(bps);
    let full = i128::from(FULL_BPS);
    let (quotient, remainder) = (product / full, product % full);
    let rounded = match rounding {
        Rounding::Floor => quotient,
        Rounding::HalfDown if remainder * 2 > full => quotient + 1,
        Rounding::HalfUp if remainder * 2 >= full => quotient + 1,
        Rounding::HalfDown | Rounding::HalfUp => quotient,
    };
    let result = i64::try_from(rounded).ok()?;
    debug_assert!((0..=amount_minor).contains(&result));
    Some(result)
}

/// Parses a percentage such as `"15"`, `"12.5"` or `"0.25"` into basis
/// points. At most two decimals; `None` for anything outside 0–100 %.
///
/// ```
/// use vitrine_sdk::money::parse_percent;
/// assert_eq!(parse_percent("15"), Some(1_500));
/// assert_eq!(parse_percent("12.5"), Some(1_250));
/// assert_eq!(parse_percent("100"), Some(10_000));
/// assert_eq!(parse_percent("100.01"), None);
/// assert_eq!(parse_percent("1.234"), None);
/// assert_eq!(parse_percent("-5"), None);
/// ```
pub fn parse_percent(text: &str) -> Option<u32> {
    let text = text.trim().trim_end_matches('%').trim_end();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || fraction.len() > 2 {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<2}").parse().ok()?;
    let bps = whole.checked_mul(100)?.checked_add(fraction)?;
    (bps <= FULL_BPS).then_some(bps)
}

/// Parses a non-negative amount in minor units (`"500"` = 5.00).
pub fn parse_minor(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `unit_price_minor × quantity`; `None` on overflow or a negative price.
pub fn line_total(unit_price_minor: i64, quantity: u32) -> Option<i64> {
    if unit_price_minor < 0 {
        return None;
    }
    unit_price_minor.checked_mul(i64::from(quantity))
}

/// The sum of `amounts`; `None` on overflow or if any amount is negative.
pub fn checked_sum(amounts: impl IntoIterator<Item = i64>) -> Option<i64> {
    amounts.into_iter().try_fold(
        0i64,
        |sum, amount| if amount < 0 { None } else { sum.checked_add(amount) },
    )
}

/// `discount_minor` clamped to `0..=max_minor` (and to 0 if `max_minor` is
/// negative): a discount is never negative and never more than what it
/// discounts.
pub fn cap(discount_minor: i64, max_minor: i64) -> i64 {
    discount_minor.clamp(0, max_minor.max(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percent_rounding_modes() {
        // 15 % of 3.33 = 49.95 cents
        assert_eq!(percent_of(333, 1_500, Rounding::Floor), Some(49));
        assert_eq!(percent_of(333, 1_500, Rounding::HalfDown), Some(50));
        assert_eq!(percent_of(333, 1_500, Rounding::HalfUp), Some(50));
        // 50 % of 0.01 = exactly half a cent
        assert_eq!(percent_of(1, 5_000, Rounding::Floor), Some(0));
        assert_eq!(percent_of(1, 5_000, Rounding::HalfDown), Some(0));
        assert_eq!(percent_of(1, 5_000, Rounding::HalfUp), Some(1));
        assert_eq!(percent_of(i64::MAX, FULL_BPS, Rounding::Floor), Some(i64::MAX));
        assert_eq!(percent_of(100, FULL_BPS + 1, Rounding::Floor), None);
    }

    #[test]
    fn parses_minor_and_sums() {
        assert_eq!(parse_minor(" 500 "), Some(500));
        assert_eq!(parse_minor("-5"), None);
        assert_eq!(parse_minor("5.00"), None);
        assert_eq!(line_total(250, 3), Some(750));
        assert_eq!(line_total(i64::MAX, 2), None);
        assert_eq!(line_total(-1, 2), None);
        assert_eq!(checked_sum([1, 2, 3]), Some(6));
        assert_eq!(checked_sum([i64::MAX, 1]), None);
        assert_eq!(checked_sum([1, -1]), None);
        assert_eq!(cap(-5, 10), 0);
        assert_eq!(cap(15, 10), 10);
        assert_eq!(cap(5, -10), 0);
    }

    proptest! {
        #[test]
        fn percent_is_within_amount(amount in 0i64..=i64::MAX, bps in 0u32..=FULL_BPS) {
            for rounding in [Rounding::Floor, Rounding::HalfDown, Rounding::HalfUp] {
                let part = percent_of(amount, bps, rounding);
                prop_assert!(matches!(part, Some(p) if (0..=amount).contains(&p)));
            }
        }

        #[test]
        fn rounding_modes_differ_by_at_most_one_cent(amount in 0i64..1_000_000_000, bps in 0u32..=FULL_BPS) {
            let floor = percent_of(amount, bps, Rounding::Floor).unwrap_or(-1);
            let half_down = percent_of(amount, bps, Rounding::HalfDown).unwrap_or(-1);
            let half_up = percent_of(amount, bps, Rounding::HalfUp).unwrap_or(-1);
            prop_assert!(floor <= half_down && half_down <= half_up && half_up <= floor + 1);
        }

        #[test]
        fn parse_percent_roundtrips(bps in 0u32..=FULL_BPS) {
            let text = format!("{}.{:02}", bps / 100, bps % 100);
            prop_assert_eq!(parse_percent(&text), Some(bps));
        }
    }
}
