//! Hostile: sleeps in the host (a WASI timer), where neither fuel nor the
//! epoch deadline reaches; and reads the clocks, to show their resolution.
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

use vitrine::plugin::promotion_types::Level;

struct Plugin;
export!(Plugin);

impl Guest for Plugin {
    fn apply(cart: Cart) -> Result<Vec<Adjustment>, PluginError> {
        if cart.coupon_codes.iter().any(|c| c == "CLOCK") {
            // Reports what the clocks tell as the reason, for the host to check.
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| PluginError::Internal(e.to_string()))?;
            let start = std::time::Instant::now();
            let mut spins: u64 = 0;
            while start.elapsed().is_zero() {
                spins = std::hint::black_box(spins + 1);
            }
            let step = start.elapsed();
            return Ok(vec![Adjustment {
                level: Level::Order,
                line: None,
                amount_minor: 1,
                reason: format!("{} {}", wall.subsec_nanos(), step.as_nanos()),
                coupon: None,
            }]);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
        Ok(Vec::new())
    }
}
