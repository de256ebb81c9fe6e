//! The `config` capability: named settings and secrets the operator gave
//! this plugin (and no other). The operator must grant `config`.
//!
//! On non-Wasm targets (unit tests) values come from
//! [`crate::testing::set_config`] and [`crate::testing::set_secret`].

use std::str::FromStr;

use crate::PluginError;

/// A plain setting, if the operator set it.
pub fn get(name: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::shared::vitrine::plugin::config::get(name);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::config_value(name);
}

/// A secret, if the operator granted it to this plugin.
pub fn secret(name: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::shared::vitrine::plugin::config::secret(name);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::secret_value(name);
}

/// A setting that must be present: `PluginError::Config` names it otherwise.
pub fn require(name: &str) -> Result<String, PluginError> {
    get(name).ok_or_else(|| PluginError::Config(format!("missing setting `{name}`")))
}

/// Parses `value` (the setting `name`) as `T`, naming the setting on error.
///
/// Plugins that take a lookup function instead of calling [`get`] directly
/// (to stay testable) use this on what the lookup returned.
pub fn parse_value<T: FromStr>(name: &str, value: &str) -> Result<T, PluginError> {
    value.trim().parse().map_err(|_| {
        PluginError::Config(format!(
            "setting `{name}` = {value:?} is not a valid {}",
            std::any::type_name::<T>()
        ))
    })
}

/// The setting `name` parsed as `T`, `None` when unset.
pub fn parse<T: FromStr>(name: &str) -> Result<Option<T>, PluginError> {
    get(name).map(|v| parse_value(name, &v)).transpose()
}
