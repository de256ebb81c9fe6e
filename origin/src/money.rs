//! Money: an integer amount in minor units with its ISO 4217 currency.
//! Never a float, anywhere.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount of money.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Amount in the currency's minor unit (cents for ZAR, EUR, USD).
    #[schema(example = 24_999)]
    pub amount_minor: i64,
    /// ISO 4217 code.
    #[schema(example = "ZAR")]
    pub currency: String,
}

impl Money {
    /// `amount_minor` of `currency`.
    pub fn new(amount_minor: i64, currency: impl Into<String>) -> Self {
        Self {
            amount_minor,
            currency: currency.into(),
        }
    }
}

/// `unit × quantity`, or `None` on overflow (a quantity or price no shop sells).
pub fn line_total(unit_minor: i64, quantity: i64) -> Option<i64> {
    unit_minor.checked_mul(quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_totals_refuse_overflow() {
        assert_eq!(line_total(24_999, 3), Some(74_997));
        assert_eq!(line_total(i64::MAX / 2, 3), None);
    }
}
