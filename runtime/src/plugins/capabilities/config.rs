//! `config`: named values and secrets from the operator's config, per plugin.
//!
//! `get` of a name the operator did not set is `none` (settings are not
//! sensitive). `secret` of a name not granted to this plugin is a
//! [`CapabilityDenied`](crate::plugins::PluginError::CapabilityDenied): the call
//! is stopped, because a plugin probing for secrets is a finding for the
//! operator, not a condition for the plugin to handle.

use std::collections::BTreeMap;
use std::fmt;

use super::HostState;
use crate::plugins::bindings::config::Host;

/// The values and secrets granted to one plugin.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConfigGrant {
    /// Plain settings.
    pub values: BTreeMap<String, String>,
    /// Secrets, by name.
    pub secrets: BTreeMap<String, String>,
}

impl fmt::Debug for ConfigGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret values never reach a log.
        f.debug_struct("ConfigGrant")
            .field("values", &self.values)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Host for HostState {
    fn get(&mut self, name: String) -> Option<String> {
        self.caps.config.values.get(&name).cloned()
    }

    fn secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        match self.caps.config.secrets.get(&name) {
            Some(value) => Ok(Some(value.clone())),
            None => Err(self.deny(format!("secret `{name}` is not granted"))),
        }
    }
}
