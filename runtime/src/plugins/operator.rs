//! From the operator's config (`vitrine_edge_config::EdgeConfig`) to an
//! installed [`PluginSet`]: grants, settings, secrets, limits, breakers and
//! the promotions' stacking order, all published in one atomic swap.

use std::sync::Arc;

use vitrine_edge_config::{Capability, ConfigError, EdgeConfig, PluginConfig, PluginHostConfig};

use super::{
    ArtifactCache, ConfigGrant, EngineConfig, Grants, HttpGrant, Limits, LoadedPlugin, LogGrant, PluginHost, PluginSet,
    PluginSpec, World,
};

/// What [`PluginHost::apply_config`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Plugins loaded anew (new, or changed in component, grants, limits,
    /// breaker or stacking).
    pub loaded: Vec<String>,
    /// Plugins kept as they were, with their counters and breaker state.
    pub kept: Vec<String>,
    /// Plugins no longer installed.
    pub removed: Vec<String>,
    /// Settings that changed but apply only at the next start.
    pub needs_restart: Vec<String>,
}

impl From<vitrine_edge_config::World> for World {
    fn from(world: vitrine_edge_config::World) -> Self {
        match world {
            vitrine_edge_config::World::Promotion => World::Promotion,
            vitrine_edge_config::World::Payment => World::Payment,
            vitrine_edge_config::World::Personalization => World::Personalization,
        }
    }
}

impl EngineConfig {
    /// The engine the operator's `[plugin_host]` asks for.
    pub fn from_config(config: &PluginHostConfig) -> Self {
        Self {
            max_concurrent_instances: config.max_concurrent_instances,
            max_memory_bytes: config.max_memory_bytes,
            epoch_tick: config.epoch_tick,
            ..EngineConfig::default()
        }
    }
}

/// The host-side spec of one installed plugin.
pub fn spec_from_config(plugin: &PluginConfig) -> PluginSpec {
    let limits = Limits {
        fuel: plugin.limits.fuel,
        deadline: plugin.limits.deadline,
        memory_bytes: plugin.limits.memory_bytes,
        max_input_bytes: plugin.limits.max_input_bytes,
        max_output_bytes: plugin.limits.max_output_bytes,
    };
    let granted = |c| plugin.grants.contains(&c);
    let log = match plugin.log {
        Some(log) if granted(Capability::Log) => LogGrant {
            enabled: true,
            lines_per_second: log.lines_per_second,
            burst: log.burst,
        },
        _ => LogGrant {
            enabled: false,
            ..LogGrant::default()
        },
    };
    let config = if granted(Capability::Config) {
        ConfigGrant {
            values: plugin.config.clone(),
            secrets: plugin
                .secrets
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                .collect(),
        }
    } else {
        ConfigGrant::default()
    };
    let http = match &plugin.http {
        Some(http) if granted(Capability::Http) => HttpGrant {
            hosts: http.hosts.clone(),
            timeout: http.timeout,
            max_response_bytes: http.max_response_bytes,
        },
        _ => HttpGrant::default(),
    };
    let grants = Grants {
        log,
        config,
        http,
        clock: granted(Capability::Clock),
    };
    PluginSpec::from_path(plugin.name.clone(), plugin.world().into(), plugin.component.clone())
        .with_grants(grants)
        .with_limits(limits)
        .with_breaker(plugin.breaker)
        .with_version(plugin.manifest.version.clone())
}

impl PluginHost {
    /// A host with the engine and artifact cache of `config`'s
    /// `[plugin_host]`, and its plugins installed.
    pub fn from_config(config: &EdgeConfig) -> Result<Self, ConfigError> {
        let cache = config.plugin_host.artifact_cache.clone().map(ArtifactCache::new);
        let host = PluginHost::new(EngineConfig::from_config(&config.plugin_host), cache)
            .map_err(|e| config.error_at("plugin_host", e.to_string()))?;
        host.apply_config(config)?;
        Ok(host)
    }

    /// Installs exactly the plugins of `config`, in its stacking order, in
    /// one atomic swap. Every plugin is loaded before anything changes:
    /// on an error, the installed set is untouched and the error names the
    /// config's file, line and field. Plugins whose component and spec are
    /// unchanged are kept as they are (counters, breaker state).
    pub fn apply_config(&self, config: &EdgeConfig) -> Result<ApplyReport, ConfigError> {
        let current = self.plugins();
        let mut report = ApplyReport {
            needs_restart: self.restart_only_changes(&config.plugin_host),
            ..ApplyReport::default()
        };
        // Promotions in stacking order first, then the others by name.
        let stacking = config.promotions.iter().map(|p| (p.plugin.as_str(), p.stacking));
        let mut order: Vec<(&PluginConfig, Option<vitrine_edge_config::Stacking>)> = stacking
            .filter_map(|(name, stacking)| config.plugin(name).map(|p| (p, Some(stacking))))
            .collect();
        order.extend(
            config
                .plugins
                .iter()
                .filter(|p| p.world() != vitrine_edge_config::World::Promotion)
                .map(|p| (p, None)),
        );

        let mut next = PluginSet::new();
        for (plugin, stacking) in order {
            let component_field = format!("plugins.{}.component", plugin.name);
            let wasm: Arc<[u8]> = std::fs::read(&plugin.component)
                .map_err(|e| config.error_at(&component_field, format!("reading {}: {e}", plugin.component.display())))?
                .into();
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm));
            let mut spec = spec_from_config(plugin);
            spec.source = super::PluginSource::Bytes(wasm);
            if let Some(stacking) = stacking {
                spec.stacking = stacking;
            }
            let kept: Option<Arc<LoadedPlugin>> = current
                .get(&plugin.name)
                .filter(|loaded| loaded.is_same(&spec, &sha256))
                .cloned();
            let loaded = match kept {
                Some(loaded) => {
                    report.kept.push(plugin.name.clone());
                    loaded
                }
                None => {
                    let loaded = self
                        .load(spec)
                        .map_err(|e| config.error_at(&component_field, e.to_string()))?;
                    report.loaded.push(plugin.name.clone());
                    loaded
                }
            };
            next.insert(loaded);
        }
        report.removed = current
            .iter()
            .filter(|p| next.get(p.name()).is_none())
            .map(|p| p.name().to_owned())
            .collect();
        self.replace_set(next);
        tracing::info!(
            config = %config.path.display(),
            loaded = ?report.loaded,
            kept = report.kept.len(),
            removed = ?report.removed,
            "plugin config applied"
        );
        for setting in &report.needs_restart {
            tracing::warn!(config = %config.path.display(), setting = %setting, "changed, but applies only at the next start");
        }
        Ok(report)
    }

    /// The `[plugin_host]` settings that differ from this running host's.
    fn restart_only_changes(&self, wanted: &PluginHostConfig) -> Vec<String> {
        let running = self.config();
        let mut changed = Vec::new();
        if running.max_concurrent_instances != wanted.max_concurrent_instances {
            changed.push("plugin_host.max_concurrent_instances".to_owned());
        }
        if running.max_memory_bytes != wanted.max_memory_bytes {
            changed.push("plugin_host.max_memory_mb".to_owned());
        }
        if running.epoch_tick != wanted.epoch_tick {
            changed.push("plugin_host.epoch_tick_ms".to_owned());
        }
        if self.artifact_cache().map(ArtifactCache::dir) != wanted.artifact_cache.as_deref() {
            changed.push("plugin_host.artifact_cache".to_owned());
        }
        changed
    }
}
