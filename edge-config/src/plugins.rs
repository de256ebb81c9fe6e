//! The plugin part of the operator's config: the host's engine settings,
//! the installed plugins with their grants, settings and limits, and the
//! promotions' stacking order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;
use crate::manifest::{self, Capability, Limits, Manifest, World};

/// The plugin host's engine, fixed for the life of the process: a reload
/// that changes it is refused for these fields (restart to change them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginHostConfig {
    /// Where compiled components are kept between runs (`None`: not kept).
    pub artifact_cache: Option<PathBuf>,
    /// Instances alive at once (the pooling allocator's slots).
    pub max_concurrent_instances: u32,
    /// The ceiling of any plugin's memory limit, bytes.
    pub max_memory_bytes: usize,
    /// How often the epoch advances; deadlines are rounded up to it.
    pub epoch_tick: Duration,
    /// How often the config file (and the components it names) are checked
    /// for changes.
    pub reload_interval: Duration,
}

impl Default for PluginHostConfig {
    fn default() -> Self {
        Self {
            artifact_cache: None,
            max_concurrent_instances: 256,
            max_memory_bytes: 64 << 20,
            epoch_tick: Duration::from_millis(2),
            reload_interval: Duration::from_secs(1),
        }
    }
}

/// A secret value: kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for handing to the plugin that was granted it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Outbound HTTP granted to one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Hosts (`name` or `name:port`, lower case) it may send requests to.
    pub hosts: Vec<String>,
    /// Deadline of one request (never past the call's own deadline).
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
}

/// The log granted to one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Sustained lines per second.
    pub lines_per_second: u32,
    /// Lines allowed in a burst.
    pub burst: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            lines_per_second: 10,
            burst: 20,
        }
    }
}

/// When a misbehaving plugin is switched off, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Misbehaving calls in a row that switch it off.
    pub threshold: u32,
    /// How long it stays off before one probe call is let through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// How a promotion combines with the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stacking {
    /// Its adjustments add to those of the promotions before and after it.
    #[default]
    Combinable,
    /// It applies only alone: when it is the first promotion (in stacking
    /// order) with adjustments, it applies and none after it does; when
    /// one before it applied, it does not.
    Exclusive,
}

/// One installed plugin: the operator's grants on top of its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig {
    /// Its name in this edge (several installs of one component may each
    /// have their own name and settings).
    pub name: String,
    /// The component file.
    pub component: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// What the operator grants (a subset of what the manifest asks for).
    pub grants: BTreeSet<Capability>,
    /// Settings, with `config` granted.
    pub config: BTreeMap<String, String>,
    /// Secrets, with `config` granted.
    pub secrets: BTreeMap<String, Secret>,
    /// Outbound HTTP, with `http` granted.
    pub http: Option<HttpConfig>,
    /// The log's rate, with `log` granted.
    pub log: Option<LogConfig>,
    /// The manifest's limits with the operator's overrides.
    pub limits: Limits,
    /// Its breaker.
    pub breaker: BreakerConfig,
}

impl PluginConfig {
    /// The plugin's world (from its manifest).
    pub fn world(&self) -> World {
        self.manifest.world
    }
}

/// A promotion's place in the stacking order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionConfig {
    /// The installed promotion plugin.
    pub plugin: String,
    /// How it combines.
    pub stacking: Stacking,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHost {
    artifact_cache: Option<String>,
    max_concurrent_instances: Option<u32>,
    max_memory_mb: Option<u32>,
    epoch_tick_ms: Option<u64>,
    reload_interval_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlugin {
    component: String,
    manifest: String,
    world: Option<World>,
    #[serde(default)]
    grants: Vec<Capability>,
    config: Option<BTreeMap<String, String>>,
    secrets: Option<BTreeMap<String, String>>,
    http: Option<RawHttp>,
    log: Option<RawLog>,
    #[serde(default)]
    limits: RawLimits,
    breaker: Option<RawBreaker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    hosts: Vec<String>,
    timeout_ms: Option<u64>,
    max_response_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    lines_per_second: Option<u32>,
    burst: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    fuel: Option<u64>,
    memory_mb: Option<u32>,
    deadline_ms: Option<u64>,
    max_input_bytes: Option<u64>,
    max_output_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    threshold: u32,
    cool_down_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPromotion {
    plugin: String,
    #[serde(default)]
    stacking: Stacking,
}

/// Raises an error at a field of the operator's config file.
pub(crate) trait At {
    fn at(&self, field: &str, message: String) -> ConfigError;
}

pub(crate) fn resolve_host(raw: RawHost, dir: &Path, at: &dyn At) -> Result<PluginHostConfig, ConfigError> {
    let mut host = PluginHostConfig::default();
    if let Some(path) = raw.artifact_cache {
        host.artifact_cache = Some(dir.join(path));
    }
    if let Some(n) = raw.max_concurrent_instances {
        if n == 0 || n > 10_000 {
            return Err(at.at(
                "plugin_host.max_concurrent_instances",
                format!("{n} is not between 1 and 10000"),
            ));
        }
        host.max_concurrent_instances = n;
    }
    if let Some(mb) = raw.max_memory_mb {
        host.max_memory_bytes = manifest::mib(mb).map_err(|m| at.at("plugin_host.max_memory_mb", m))?;
    }
    if let Some(ms) = raw.epoch_tick_ms {
        if !(1..=100).contains(&ms) {
            return Err(at.at("plugin_host.epoch_tick_ms", format!("{ms} ms is not between 1 and 100")));
        }
        host.epoch_tick = Duration::from_millis(ms);
    }
    if let Some(ms) = raw.reload_interval_ms {
        if !(50..=3_600_000).contains(&ms) {
            return Err(at.at(
                "plugin_host.reload_interval_ms",
                format!("{ms} ms is not between 50 and 3600000"),
            ));
        }
        host.reload_interval = Duration::from_millis(ms);
    }
    Ok(host)
}

pub(crate) fn resolve_plugin(
    name: &str,
    raw: RawPlugin,
    dir: &Path,
    host: &PluginHostConfig,
    at: &dyn At,
) -> Result<PluginConfig, ConfigError> {
    let field = |f: &str| format!("plugins.{name}.{f}");
    manifest::check_name(name).map_err(|m| at.at(&format!("plugins.{name}"), m))?;

    let component = dir.join(&raw.component);
    if !component.is_file() {
        return Err(at.at(
            &field("component"),
            format!("{} is not a file (build the plugin first)", component.display()),
        ));
    }
    let manifest_path = dir.join(&raw.manifest);
    let manifest = Manifest::load(&manifest_path).map_err(|e| {
        let named_at = at.at(&field("manifest"), String::new()).location;
        e.with_note(format!("in the manifest of plugin `{name}`, named at {named_at}"))
    })?;
    if let Some(world) = raw.world
        && world != manifest.world
    {
        return Err(at.at(
            &field("world"),
            format!("`{world}`, but its manifest says `{}`", manifest.world),
        ));
    }

    let mut grants = BTreeSet::new();
    for (i, capability) in raw.grants.iter().enumerate() {
        let f = field(&format!("grants[{i}]"));
        if !manifest.capabilities.contains(capability) {
            let asked: Vec<&str> = manifest.capabilities.iter().map(|c| c.as_str()).collect();
            return Err(at.at(
                &f,
                format!(
                    "`{capability}` is not among the capabilities its manifest asks for ({})",
                    if asked.is_empty() {
                        "none".into()
                    } else {
                        asked.join(", ")
                    }
                ),
            ));
        }
        if !grants.insert(*capability) {
            return Err(at.at(&f, format!("`{capability}` is granted twice")));
        }
    }
    let granted = |c: Capability| grants.contains(&c);
    let needs_grant =
        |f: &str, c: Capability| at.at(&field(f), format!("set, but `{c}` is not granted (add it to `grants`)"));

    let config = match raw.config {
        Some(_) if !granted(Capability::Config) => return Err(needs_grant("config", Capability::Config)),
        Some(values) => values,
        None => BTreeMap::new(),
    };
    let secrets = match raw.secrets {
        Some(_) if !granted(Capability::Config) => return Err(needs_grant("secrets", Capability::Config)),
        Some(secrets) => secrets.into_iter().map(|(k, v)| (k, Secret(v))).collect(),
        None => BTreeMap::new(),
    };
    let http = match raw.http {
        Some(_) if !granted(Capability::Http) => return Err(needs_grant("http", Capability::Http)),
        Some(http) => Some(resolve_http(http, &field("http"), at)?),
        None if granted(Capability::Http) => {
            return Err(at.at(
                &field("grants"),
                "`http` is granted, but no `http` table lists the hosts it may reach".into(),
            ));
        }
        None => None,
    };
    let log = match raw.log {
        Some(_) if !granted(Capability::Log) => return Err(needs_grant("log", Capability::Log)),
        Some(log) => {
            let defaults = LogConfig::default();
            let rate = log.lines_per_second.unwrap_or(defaults.lines_per_second);
            let burst = log.burst.unwrap_or(defaults.burst.max(rate));
            if burst == 0 {
                return Err(at.at(&field("log.burst"), "must be more than 0".into()));
            }
            Some(LogConfig {
                lines_per_second: rate,
                burst,
            })
        }
        None if granted(Capability::Log) => Some(LogConfig::default()),
        None => None,
    };

    let mut limits = manifest.limits;
    let l = &raw.limits;
    if let Some(v) = l.fuel {
        limits.fuel = manifest::positive(v).map_err(|m| at.at(&field("limits.fuel"), m))?;
    }
    if let Some(v) = l.memory_mb {
        limits.memory_bytes = manifest::mib(v).map_err(|m| at.at(&field("limits.memory_mb"), m))?;
    }
    if let Some(v) = l.deadline_ms {
        limits.deadline = manifest::deadline(v).map_err(|m| at.at(&field("limits.deadline_ms"), m))?;
    }
    if let Some(v) = l.max_input_bytes {
        limits.max_input_bytes = manifest::bytes(v).map_err(|m| at.at(&field("limits.max_input_bytes"), m))?;
    }
    if let Some(v) = l.max_output_bytes {
        limits.max_output_bytes = manifest::bytes(v).map_err(|m| at.at(&field("limits.max_output_bytes"), m))?;
    }
    if limits.memory_bytes > host.max_memory_bytes {
        let f = if l.memory_mb.is_some() {
            field("limits.memory_mb")
        } else {
            field("manifest")
        };
        return Err(at.at(
            &f,
            format!(
                "a memory limit of {} MiB is over the host's ceiling of {} MiB (plugin_host.max_memory_mb)",
                limits.memory_bytes >> 20,
                host.max_memory_bytes >> 20
            ),
        ));
    }

    let breaker = match raw.breaker {
        Some(b) => {
            if b.threshold == 0 {
                return Err(at.at(&field("breaker.threshold"), "must be more than 0".into()));
            }
            BreakerConfig {
                threshold: b.threshold,
                cool_down: Duration::from_millis(b.cool_down_ms),
            }
        }
        None => BreakerConfig::default(),
    };

    Ok(PluginConfig {
        name: name.to_owned(),
        component,
        manifest,
        grants,
        config,
        secrets,
        http,
        log,
        limits,
        breaker,
    })
}

fn resolve_http(raw: RawHttp, field: &str, at: &dyn At) -> Result<HttpConfig, ConfigError> {
    if raw.hosts.is_empty() {
        return Err(at.at(&format!("{field}.hosts"), "lists no hosts".into()));
    }
    let mut hosts = Vec::with_capacity(raw.hosts.len());
    for (i, host) in raw.hosts.iter().enumerate() {
        check_host(host).map_err(|m| at.at(&format!("{field}.hosts[{i}]"), m))?;
        hosts.push(host.to_ascii_lowercase());
    }
    let timeout = match raw.timeout_ms {
        Some(ms) => manifest::deadline(ms).map_err(|m| at.at(&format!("{field}.timeout_ms"), m))?,
        None => Duration::from_secs(5),
    };
    let max_response_bytes = match raw.max_response_bytes {
        Some(n) => manifest::bytes(n).map_err(|m| at.at(&format!("{field}.max_response_bytes"), m))?,
        None => 1 << 20,
    };
    Ok(HttpConfig {
        hosts,
        timeout,
        max_response_bytes,
    })
}

/// `name` or `name:port`: no scheme, path, user or wildcard.
fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not a host (write `name` or `name:port`: no scheme, path or wildcard)"
        ))
    }
}

pub(crate) fn resolve_promotions(
    raw: Vec<RawPromotion>,
    plugins: &[PluginConfig],
    at: &dyn At,
) -> Result<Vec<PromotionConfig>, ConfigError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, p) in raw.into_iter().enumerate() {
        let field = format!("promotions[{i}].plugin");
        match plugins.iter().find(|c| c.name == p.plugin) {
            None => return Err(at.at(&field, format!("no plugin `{}` is installed", p.plugin))),
            Some(c) if c.world() != World::Promotion => {
                return Err(at.at(
                    &field,
                    format!("`{}` is a {} plugin, not a promotion", p.plugin, c.world()),
                ));
            }
            Some(_) => {}
        }
        if !seen.insert(p.plugin.clone()) {
            return Err(at.at(&field, format!("`{}` is listed twice", p.plugin)));
        }
        out.push(PromotionConfig {
            plugin: p.plugin,
            stacking: p.stacking,
        });
    }
    if let Some(missing) = plugins
        .iter()
        .find(|c| c.world() == World::Promotion && !seen.contains(&c.name))
    {
        return Err(at.at(
            &format!("plugins.{}", missing.name),
            format!(
                "promotion `{}` is installed but not listed in `[[promotions]]`, so its place in the stacking order is unknown",
                missing.name
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in ["pay.example.com", "127.0.0.1:8099", "localhost", "a-b.c:443"] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in [
            "https://pay.example.com",
            "pay.example.com/v1",
            "*.example.com",
            "",
            "a:0",
            "a:99999",
            "u@h",
            "a..b",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }
}
