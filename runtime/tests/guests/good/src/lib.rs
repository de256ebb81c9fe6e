//! Well behaved: `percent` % off every line (config `percent`, default 10).
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

#[allow(unused_imports)]
use vitrine::plugin::promotion_types::Level;

struct Plugin;
export!(Plugin);

impl Guest for Plugin {
    fn apply(cart: Cart) -> Result<Vec<Adjustment>, PluginError> {
        let percent: i64 = match vitrine::plugin::config::get("percent") {
            Some(p) => p
                .parse()
                .map_err(|_| PluginError::Config(format!("percent {p:?} is not a number")))?,
            None => 10,
        };
        Ok(cart
            .lines
            .iter()
            .map(|line| Adjustment {
                level: Level::Line,
                line_id: Some(line.line_id.clone()),
                amount_minor: line.unit_price_minor * i64::from(line.quantity) * percent / 100,
                reason: format!("{percent}% off"),
                coupon: None,
            })
            .filter(|a| a.amount_minor > 0)
            .collect())
    }
}
