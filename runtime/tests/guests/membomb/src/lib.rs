//! Hostile: grows memory until something stops it.
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

#[allow(unused_imports)]
use vitrine::plugin::promotion_types::Level;

struct Plugin;
export!(Plugin);

impl Guest for Plugin {
    fn apply(_cart: Cart) -> Result<Vec<Adjustment>, PluginError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            chunk[0] = hoard.len() as u8;
            hoard.push(std::hint::black_box(chunk));
        }
    }
}
