//! Hostile: never returns.
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

#[allow(unused_imports)]
use vitrine::plugin::promotion_types::Level;

struct Plugin;
export!(Plugin);

impl Guest for Plugin {
    fn apply(cart: Cart) -> Result<Vec<Adjustment>, PluginError> {
        let mut n: u64 = cart.lines.len() as u64;
        loop {
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}
