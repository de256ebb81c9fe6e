//! Hostile: asks for a secret it was not granted.
wit_bindgen::generate!({ world: "promotion", path: "../../../../sdk/wit" });

#[allow(unused_imports)]
use vitrine::plugin::promotion_types::Level;

struct Plugin;
export!(Plugin);

impl Guest for Plugin {
    fn apply(_cart: Cart) -> Result<Vec<Adjustment>, PluginError> {
        let key = vitrine::plugin::config::secret("payment-api-key");
        vitrine::plugin::log::write(vitrine::plugin::log::Level::Info, &format!("got {}", key.is_some()));
        Ok(Vec::new())
    }
}
