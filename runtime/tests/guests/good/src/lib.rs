//! Well behaved: `percent` % off every line (config `percent`, default 10).
//!
//! Written as a plugin that cares about its cost would be: the config is read
//! once, the reason formatted once, and small allocations bump a pointer
//! (`vitrine_sdk::alloc::CallArena`), with the bindings generated directly
//! rather than through the SDK's traits. The benchmark
//! (`runtime/benches/promotion_call.rs`) times it beside a first-party plugin.
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

#[allow(unused_imports)]
use vitrine::plugin::promotion_types::Level;

vitrine_sdk::use_call_arena!();

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
        let reason = format!("{percent}% off");
        Ok(cart
            .lines
            .iter()
            .zip(0u32..)
            .map(|(line, i)| Adjustment {
                level: Level::Line,
                line: Some(i),
                amount_minor: line.unit_price_minor * i64::from(line.quantity) * percent / 100,
                reason: reason.clone(),
                coupon: None,
            })
            .filter(|a| a.amount_minor > 0)
            .collect())
    }
}
