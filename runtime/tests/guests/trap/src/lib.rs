//! Hostile: panics (an `unreachable` trap with panic = "abort").
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

#[allow(unused_imports)]
use vitrine::plugin::promotion_types::Level;

struct Plugin;
export!(Plugin);

impl Guest for Plugin {
    fn apply(cart: Cart) -> Result<Vec<Adjustment>, PluginError> {
        if std::hint::black_box(cart.lines.len()) < usize::MAX {
            panic!("plugin bug");
        }
        Ok(Vec::new())
    }
}
