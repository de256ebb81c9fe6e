//! A plugin's manifest, `vitrine-plugin.toml`: what the plugin is and what
//! it asks for. It grants nothing: the operator's config does that
//! ([`crate::PluginConfig`]), and may only grant what the manifest asks for.
//!
//! ```toml
//! manifest_version = 1
//! name = "category-sale"
//! version = "0.1.0"
//! world = "promotion"
//! description = "Percentage or fixed amount off lines in a category or of a brand"
//! capabilities = ["config"]
//!
//! [limits]
//! fuel = 5000000
//! memory_mb = 4
//! deadline_ms = 20
//! max_input_bytes = 262144
//! max_output_bytes = 65536
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::document::{self, Env};
use crate::error::{ConfigError, Location};

/// The manifest format this crate reads.
pub const MANIFEST_VERSION: u32 = 1;

/// An extension point: a world of `vitrine:plugin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// A cart in, adjustments out.
    Promotion,
    /// Authorize, capture, void, refund, verify webhooks.
    Payment,
    /// A catalog page and the shopper's context in, the page out.
    Personalization,
}

impl World {
    /// The world's name in WIT and in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Promotion => "promotion",
            World::Payment => "payment",
            World::Personalization => "personalization",
        }
    }
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host capability a plugin can ask for and an operator can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Rate-limited log lines tagged with the plugin's name.
    Log,
    /// Named settings and secrets.
    Config,
    /// Outbound HTTP to listed hosts (payment world only).
    Http,
    /// Milliseconds since the epoch (payment world only).
    Clock,
}

impl Capability {
    /// The capability's name in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Config => "config",
            Capability::Http => "http",
            Capability::Clock => "clock",
        }
    }

    /// Whether plugins of `world` can use it (its interface is in the world).
    pub fn in_world(self, world: World) -> bool {
        match self {
            Capability::Log | Capability::Config => true,
            Capability::Http | Capability::Clock => world == World::Payment,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-call limits, as a manifest's defaults or an operator's final values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Instruction budget (wasmtime fuel).
    pub fuel: u64,
    /// Linear memory ceiling, bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline.
    pub deadline: Duration,
    /// Largest input accepted, bytes.
    pub max_input_bytes: usize,
    /// Largest output accepted, bytes.
    pub max_output_bytes: usize,
}

/// The longest deadline a plugin may have: a call holds an instance slot
/// and a thread for that long.
pub const MAX_DEADLINE: Duration = Duration::from_secs(60);

/// A parsed, checked manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Where it was read from.
    pub path: PathBuf,
    /// The plugin's name (`[a-z0-9-]`).
    pub name: String,
    /// The plugin's version (semver).
    pub version: String,
    /// Its world.
    pub world: World,
    /// One line on what it does.
    pub description: String,
    /// What it asks for.
    pub capabilities: BTreeSet<Capability>,
    /// Its default limits.
    pub limits: Limits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    manifest_version: u32,
    name: String,
    version: String,
    world: World,
    description: String,
    capabilities: Vec<Capability>,
    limits: RawLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    fuel: u64,
    memory_mb: u32,
    deadline_ms: u64,
    max_input_bytes: u64,
    max_output_bytes: u64,
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(Location::file(path), "", format!("reading the manifest: {e}")))?;
        Self::parse(path, &text, &document::process_env)
    }

    /// Parses and checks `text`, the contents of the manifest at `path`.
    pub fn parse(path: &Path, text: &str, env: Env<'_>) -> Result<Self, ConfigError> {
        let raw: RawManifest = document::parse(path, text, env)?;
        let at = |field: &str, message: String| ConfigError::new(document::locate(path, text, field), field, message);
        if raw.manifest_version != MANIFEST_VERSION {
            return Err(at(
                "manifest_version",
                format!(
                    "manifest version {} is not one this host reads (it reads {MANIFEST_VERSION})",
                    raw.manifest_version
                ),
            ));
        }
        check_name(&raw.name).map_err(|m| at("name", m))?;
        check_semver(&raw.version).map_err(|m| at("version", m))?;
        let mut capabilities = BTreeSet::new();
        for (i, capability) in raw.capabilities.iter().enumerate() {
            let field = format!("capabilities[{i}]");
            if !capability.in_world(raw.world) {
                return Err(at(
                    &field,
                    format!("`{capability}` is not offered to the {} world", raw.world),
                ));
            }
            if !capabilities.insert(*capability) {
                return Err(at(&field, format!("`{capability}` is listed twice")));
            }
        }
        let l = &raw.limits;
        let limits = Limits {
            fuel: positive(l.fuel).map_err(|m| at("limits.fuel", m))?,
            memory_bytes: mib(l.memory_mb).map_err(|m| at("limits.memory_mb", m))?,
            deadline: deadline(l.deadline_ms).map_err(|m| at("limits.deadline_ms", m))?,
            max_input_bytes: bytes(l.max_input_bytes).map_err(|m| at("limits.max_input_bytes", m))?,
            max_output_bytes: bytes(l.max_output_bytes).map_err(|m| at("limits.max_output_bytes", m))?,
        };
        Ok(Self {
            path: path.to_owned(),
            name: raw.name,
            version: raw.version,
            world: raw.world,
            description: raw.description,
            capabilities,
            limits,
        })
    }
}

/// Plugin names: 1 to 64 of `[a-z0-9-]`, starting with a letter or digit.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a plugin name (1 to 64 of a-z, 0-9 and `-`, not starting with `-`)"
        ))
    }
}

fn check_semver(version: &str) -> Result<(), String> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric =
        |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0'));
    if parts.len() == 3 && parts.iter().all(numeric) {
        Ok(())
    } else {
        Err(format!("`{version}` is not a semantic version (like 1.2.3)"))
    }
}

pub(crate) fn positive(value: u64) -> Result<u64, String> {
    if value == 0 {
        Err("must be more than 0".into())
    } else {
        Ok(value)
    }
}

pub(crate) fn mib(value: u32) -> Result<usize, String> {
    match value {
        0 => Err("must be more than 0".into()),
        v if v > 4096 => Err(format!("{v} MiB is more than a plugin's 4096 MiB address space")),
        v => Ok(usize::try_from(v).unwrap_or(usize::MAX) << 20),
    }
}

pub(crate) fn deadline(ms: u64) -> Result<Duration, String> {
    let deadline = Duration::from_millis(ms);
    if ms == 0 {
        Err("must be more than 0".into())
    } else if deadline > MAX_DEADLINE {
        Err(format!(
            "{ms} ms is longer than the longest deadline, {} ms",
            MAX_DEADLINE.as_millis()
        ))
    } else {
        Ok(deadline)
    }
}

pub(crate) fn bytes(value: u64) -> Result<usize, String> {
    if value == 0 {
        return Err("must be more than 0".into());
    }
    usize::try_from(value).map_err(|_| format!("{value} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert!(check_name("category-sale").is_ok());
        assert!(check_name("a1").is_ok());
        for bad in ["", "-x", "Sale", "a_b", "a.b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in ["0.1.0", "1.20.3", "1.0.0-beta.1", "1.0.0+build"] {
            assert!(check_semver(good).is_ok(), "{good}");
        }
        for bad in ["1.0", "01.0.0", "1.0.x", ""] {
            assert!(check_semver(bad).is_err(), "{bad}");
        }
    }
}
