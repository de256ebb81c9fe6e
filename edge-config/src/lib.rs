//! The operator's configuration of a Vitrine edge, and the plugin manifest.
//!
//! Two files, kept apart as in spin: a plugin's **manifest**
//! (`vitrine-plugin.toml`, [`manifest`]) says what the plugin is and what it
//! asks for; the operator's **config** (`edge-config/vitrine.toml`,
//! [`EdgeConfig`]) says which plugins are installed, what each is granted
//! (never more than its manifest asks for), its settings, secrets and
//! limits, and in which order promotions stack.
//!
//! Both are read the same way:
//! - **Versioned**: `version = 1` (config) and `manifest_version = 1`
//!   (manifest); another version is refused, not guessed at.
//! - **Strict**: every table refuses unknown keys, so a typo is an error,
//!   not a silently ignored setting.
//! - **`${VAR}` and `${VAR:-default}`** expand inside any string from the
//!   environment (see `env.rs` for the exact rules); numbers and booleans
//!   are written as themselves.
//! - **Every error names the file, line, column and field**
//!   ([`ConfigError`]), whether it is a TOML syntax error, a wrong type, an
//!   unknown key or a rule checked after parsing (a grant the manifest does
//!   not ask for, a promotion missing from the stacking order).
//!
//! Relative paths in the config resolve from the config file's folder.
//!
//! ```no_run
//! let config = vitrine_edge_config::EdgeConfig::load("edge-config/vitrine.toml".as_ref())?;
//! for plugin in &config.plugins {
//!     println!("{} ({}): {:?}", plugin.name, plugin.world(), plugin.grants);
//! }
//! # Ok::<(), vitrine_edge_config::ConfigError>(())
//! ```

mod document;
mod edge;
mod env;
mod error;
pub mod manifest;
mod plugins;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use document::{Env, process_env};
pub use edge::{ChangeFeed, EdgeServerConfig, RateLimit, RouteConfig, RouteMode};
pub use error::{ConfigError, Location};
pub use manifest::{Capability, Limits, Manifest, World};
pub use plugins::{
    BreakerConfig, HttpConfig, LogConfig, PluginConfig, PluginHostConfig, PromotionConfig, Secret, Stacking,
};

/// The config format this crate reads.
pub const CONFIG_VERSION: u32 = 1;

/// The operator's config, parsed and checked. See the [crate docs](crate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// The edge server (`[edge]`).
    pub edge: EdgeServerConfig,
    /// The routes, in match order; a catch-all `/*` (cached by the HTTP
    /// rules) ends the list when the config has none.
    pub routes: Vec<RouteConfig>,
    /// The plugin host's engine.
    pub plugin_host: PluginHostConfig,
    /// The installed plugins, by name.
    pub plugins: Vec<PluginConfig>,
    /// The promotions, in stacking order: every installed promotion, once.
    pub promotions: Vec<PromotionConfig>,
    text: Text,
}

/// The file's text; not in `Debug` output (it may hold literal secrets).
#[derive(Clone, PartialEq, Eq)]
struct Text(String);

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    version: u32,
    #[serde(default)]
    edge: edge::RawEdge,
    #[serde(default)]
    routes: Vec<edge::RawRoute>,
    #[serde(default)]
    plugin_host: plugins::RawHost,
    #[serde(default)]
    plugins: BTreeMap<String, plugins::RawPlugin>,
    #[serde(default)]
    promotions: Vec<plugins::RawPromotion>,
}

struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl plugins::At for Source<'_> {
    fn at(&self, field: &str, message: String) -> ConfigError {
        ConfigError::new(document::locate(self.file, self.text, field), field, message)
    }
}

impl EdgeConfig {
    /// Reads and checks the config at `path`, with the process's environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(Location::file(path), "", format!("reading the config: {e}")))?;
        Self::parse(path, &text, &process_env)
    }

    /// Parses and checks `text` as the contents of `path` (which names the
    /// file in errors and anchors relative paths), with `env` for `${VAR}`.
    pub fn parse(path: &Path, text: &str, env: Env<'_>) -> Result<Self, ConfigError> {
        let raw: RawConfig = document::parse(path, text, env)?;
        let source = Source { file: path, text };
        use plugins::At as _;
        if raw.version != CONFIG_VERSION {
            return Err(source.at(
                "version",
                format!(
                    "config version {} is not one this edge reads (it reads {CONFIG_VERSION})",
                    raw.version
                ),
            ));
        }
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let plugin_host = plugins::resolve_host(raw.plugin_host, dir, &source)?;
        let plugins = raw
            .plugins
            .into_iter()
            .map(|(name, plugin)| plugins::resolve_plugin(&name, plugin, dir, &plugin_host, &source))
            .collect::<Result<Vec<_>, _>>()?;
        let promotions = plugins::resolve_promotions(raw.promotions, &plugins, &source)?;
        let edge = edge::resolve_edge(raw.edge, &source)?;
        let routes = edge::resolve_routes(raw.routes, &plugins, &source)?;
        Ok(Self {
            path: path.to_owned(),
            edge,
            routes,
            plugin_host,
            plugins,
            promotions,
            text: Text(text.to_owned()),
        })
    }

    /// The route for `path`: the first that matches.
    pub fn route(&self, path: &str) -> &RouteConfig {
        self.routes
            .iter()
            .find(|r| r.matches(path))
            .unwrap_or_else(|| self.routes.last().expect("resolve_routes always ends with a catch-all"))
    }

    /// The plugin named `name`.
    pub fn plugin(&self, name: &str) -> Option<&PluginConfig> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// An error at `field` of this config (`plugins.spring-sale.component`),
    /// for problems found after parsing, such as a component that does not
    /// compile.
    pub fn error_at(&self, field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(document::locate(&self.path, &self.text.0, field), field, message)
    }

    /// The file's text as it was read (before `${VAR}` expansion).
    pub fn text(&self) -> &str {
        &self.text.0
    }
}
