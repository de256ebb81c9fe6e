//! Hostile: answers with far more adjustments than any cart needs.
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

#[allow(unused_imports)]
use vitrine::plugin::promotion_types::Level;

struct Plugin;
export!(Plugin);

impl Guest for Plugin {
    fn apply(cart: Cart) -> Result<Vec<Adjustment>, PluginError> {
        let line = (!cart.lines.is_empty()).then_some(0);
        Ok((0..20_000)
            .map(|i| Adjustment {
                level: Level::Line,
                line,
                amount_minor: 1,
                reason: format!("adjustment number {i} of a great many, padded to be long enough"),
                coupon: None,
            })
            .collect())
    }
}
