//! The component test harness: run a plugin's *compiled* component from
//! `cargo test`, in the real host, with no server.
//!
//! Unit tests of a plugin's logic run natively (`vitrine_sdk::testing`); this
//! harness closes the gap to production: it builds the plugin crate for
//! `wasm32-wasip2` with the `plugin` profile (or takes a prebuilt `.wasm`),
//! loads the component in a [`PluginHost`] as its manifest's world with the
//! config values, secrets and limits you give it, and runs calls on it. Each
//! run reports the answer, the fuel it used and the time it took
//! (instantiation and call), so a test can also keep a plugin's cost in check.
//!
//! In a plugin crate, with `vitrine-runtime` as a dev-dependency,
//! `tests/component.rs`:
//!
//! ```no_run
//! use vitrine_runtime::testing::TestPlugin;
//!
//! #[test]
//! fn twenty_percent_off_a_ten_line_cart() -> anyhow::Result<()> {
//!     // Builds this crate's component (once per test binary; cached by cargo).
//!     let plugin = TestPlugin::builder(env!("CARGO_MANIFEST_DIR"))
//!         .config("percent", "20")
//!         .build()?;
//!     let run = plugin.run_fixture("fixtures/ten-lines.json")?;
//!     let output = run.output?;
//!     let adjustments = output.adjustments().expect("a promotion answers adjustments");
//!     assert_eq!(adjustments.len(), 10);
//!     assert!(run.fuel_used < 1_000_000, "fuel used: {}", run.fuel_used);
//!     Ok(())
//! }
//! ```
//!
//! The build runs cargo from inside `cargo test`, so it uses its own target
//! directory (`<target>/vitrine-harness`) to stay clear of the outer build's
//! lock, and drops `RUSTFLAGS` (meant for the host) so that the crate's
//! `.cargo/config.toml` sets the guest's flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::plugins::fixture::{self, FixtureError, Input, Output};
use crate::plugins::types::{Adjustment, Cart, ProductSummary, ShopperContext};
use crate::plugins::{
    ConfigGrant, EngineConfig, Grants, Limits, PaymentAnswer, PaymentCall, PluginError, PluginHost, PluginSpec, World,
};
use vitrine_edge_config::{ConfigError, Manifest};

/// Why the harness could not set a plugin up or read a fixture. A plugin's
/// own failure is not one of these: it is [`Run::output`].
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// `cargo build` of the plugin crate failed or could not start.
    #[error("building the component of {}: {message}", crate_dir.display())]
    Build {
        /// The plugin crate.
        crate_dir: PathBuf,
        /// What went wrong (cargo's own diagnostics went to stderr).
        message: String,
    },
    /// The crate's `vitrine-plugin.toml` is missing or invalid (the error
    /// names its file, line and field).
    #[error("manifest: {0}")]
    Manifest(#[from] ConfigError),
    /// The host could not start or refused the component.
    #[error(transparent)]
    Load(#[from] PluginError),
    /// A fixture could not be read.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// The input is for another world than the plugin's.
    #[error("the input is for the {input} world, but the plugin is a {plugin} plugin")]
    WrongWorld {
        /// The input's world.
        input: &'static str,
        /// The plugin's world.
        plugin: &'static str,
    },
}

/// One call's result and cost.
#[derive(Debug)]
pub struct Run<T> {
    /// The plugin's answer, or why the call failed.
    pub output: Result<T, PluginError>,
    /// Fuel (about one unit per Wasm instruction) the call consumed,
    /// instantiation included; the whole budget when it ran out.
    pub fuel_used: u64,
    /// Wall-clock time of instantiation and call, as the host measures it
    /// (input and output checks included).
    pub time: Duration,
}

/// Sets up a [`TestPlugin`]: where the component comes from and what it is
/// granted.
#[derive(Debug, Clone)]
pub struct TestPluginBuilder {
    crate_dir: Option<PathBuf>,
    wasm: Option<PathBuf>,
    world: Option<World>,
    name: Option<String>,
    target_dir: Option<PathBuf>,
    config: ConfigGrant,
    limits: Limits,
}

/// A plugin's component loaded in its own host, ready to run.
pub struct TestPlugin {
    host: PluginHost,
    name: String,
    world: World,
    wasm: PathBuf,
    size: u64,
    sha256: String,
}

impl std::fmt::Debug for TestPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPlugin")
            .field("name", &self.name)
            .field("world", &self.world)
            .field("wasm", &self.wasm)
            .finish_non_exhaustive()
    }
}

impl TestPlugin {
    /// A plugin built from the crate in `crate_dir` (usually
    /// `env!("CARGO_MANIFEST_DIR")`); its world comes from the crate's
    /// `vitrine-plugin.toml` unless set with [`TestPluginBuilder::world`].
    pub fn builder(crate_dir: impl Into<PathBuf>) -> TestPluginBuilder {
        TestPluginBuilder {
            crate_dir: Some(crate_dir.into()),
            ..TestPluginBuilder::empty()
        }
    }

    /// A plugin from a prebuilt component of `world`.
    pub fn from_wasm(wasm: impl Into<PathBuf>, world: World) -> TestPluginBuilder {
        TestPluginBuilder {
            wasm: Some(wasm.into()),
            world: Some(world),
            ..TestPluginBuilder::empty()
        }
    }

    /// Its world.
    pub fn world(&self) -> World {
        self.world
    }

    /// The component file.
    pub fn wasm_path(&self) -> &Path {
        &self.wasm
    }

    /// The component's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// sha256 of the component, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Runs a promotion on `cart`.
    pub fn run_promotion(&self, cart: &Cart) -> Run<Vec<Adjustment>> {
        timed(|fuel| self.host.call_promotion_metered(&self.name, cart, fuel))
    }

    /// Runs a personalization on `page` for `context`.
    pub fn run_personalization(&self, page: &[ProductSummary], context: &ShopperContext) -> Run<Vec<ProductSummary>> {
        timed(|fuel| self.host.call_personalization_metered(&self.name, page, context, fuel))
    }

    /// Runs one payment call.
    pub fn run_payment(&self, call: &PaymentCall) -> Run<PaymentAnswer> {
        timed(|fuel| self.host.call_payment_metered(&self.name, call, fuel))
    }

    /// Runs `input`, which must be for the plugin's world.
    pub fn run_input(&self, input: &Input) -> Result<Run<Output>, HarnessError> {
        if input.world() != self.world {
            return Err(HarnessError::WrongWorld {
                input: fixture::world_name(input.world()),
                plugin: fixture::world_name(self.world),
            });
        }
        Ok(match input {
            Input::Promotion { cart, line_ids } => map(self.run_promotion(cart), |adjustments| Output::Promotion {
                adjustments,
                line_ids: line_ids.clone(),
            }),
            Input::Personalization { page, context } => {
                map(self.run_personalization(page, context), Output::Personalization)
            }
            Input::Payment(call) => map(self.run_payment(call), Output::Payment),
        })
    }

    /// Runs the JSON fixture at `path` (relative paths are relative to the
    /// current directory, which `cargo test` sets to the crate's root) as an
    /// input of the plugin's world; see [`fixture`] for the format.
    pub fn run_fixture(&self, path: impl AsRef<Path>) -> Result<Run<Output>, HarnessError> {
        let input = fixture::load(self.world, path)?;
        self.run_input(&input)
    }
}

fn timed<T>(call: impl FnOnce(&mut u64) -> Result<T, PluginError>) -> Run<T> {
    let mut fuel_used = 0;
    let start = Instant::now();
    let output = call(&mut fuel_used);
    Run {
        output,
        fuel_used,
        time: start.elapsed(),
    }
}

fn map<T, U>(run: Run<T>, f: impl FnOnce(T) -> U) -> Run<U> {
    Run {
        output: run.output.map(f),
        fuel_used: run.fuel_used,
        time: run.time,
    }
}

impl TestPluginBuilder {
    fn empty() -> Self {
        TestPluginBuilder {
            crate_dir: None,
            wasm: None,
            world: None,
            name: None,
            target_dir: None,
            config: ConfigGrant::default(),
            limits: Limits::default(),
        }
    }

    /// Sets the world, instead of the manifest's.
    pub fn world(mut self, world: World) -> Self {
        self.world = Some(world);
        self
    }

    /// Sets the name the plugin is installed (and named in errors) as;
    /// by default the manifest's `name`, or the component's file name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets a config value, as the operator's config would.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.values.insert(name.into(), value.into());
        self
    }

    /// Grants a secret.
    pub fn secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.secrets.insert(name.into(), value.into());
        self
    }

    /// Sets the per-call limits (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Builds into `dir` instead of `<the crate's target dir>/vitrine-harness`.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.target_dir = Some(dir.into());
        self
    }

    /// Builds the component (if it came from a crate), starts a host and
    /// loads it.
    pub fn build(self) -> Result<TestPlugin, HarnessError> {
        let wasm = match (&self.wasm, &self.crate_dir) {
            (Some(wasm), _) => wasm.clone(),
            (None, Some(dir)) => {
                let target_dir = match self.target_dir.clone() {
                    Some(target_dir) => target_dir,
                    None => cargo_target_dir(dir)?.join("vitrine-harness"),
                };
                build_component(dir, &target_dir)?
            }
            (None, None) => unreachable!("every constructor sets a source"),
        };
        let manifest = self.crate_dir.as_ref().map(|dir| dir.join("vitrine-plugin.toml"));
        let manifest = match &manifest {
            Some(path) if self.world.is_none() || path.is_file() => Some(self::manifest(path)?),
            _ => None,
        };
        let world = match (self.world, &manifest) {
            (Some(world), _) => world,
            (None, Some(manifest)) => manifest.world.into(),
            (None, None) => unreachable!("from_wasm sets the world"),
        };
        let name = self
            .name
            .or_else(|| Some(manifest.as_ref()?.name.clone()))
            .or_else(|| Some(wasm.file_stem()?.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "plugin".to_owned());
        let bytes = std::fs::read(&wasm).map_err(|e| {
            HarnessError::Load(PluginError::Load {
                plugin: wasm.display().to_string(),
                message: format!("reading {}: {e}", wasm.display()),
            })
        })?;
        let host = PluginHost::new(EngineConfig::default(), None)?;
        let spec = PluginSpec::from_bytes(name.clone(), world, bytes.clone())
            .with_grants(Grants {
                config: self.config,
                // A plugin author's own tests: the clock too (payment
                // plugins check webhook timestamps); http stays ungranted.
                clock: true,
                ..Grants::default()
            })
            .with_limits(self.limits);
        let loaded = host.load(spec)?;
        let sha256 = loaded.sha256().to_owned();
        host.install(loaded);
        Ok(TestPlugin {
            host,
            name,
            world,
            size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            wasm,
            sha256,
        })
    }
}

/// The component of this repository's first-party plugin `name`
/// (`plugins/<name>`), built from source with [`build_component`] into
/// `target/first-party` (its own target directory: a surrounding `cargo
/// test` or `cargo bench` holds the main one's lock), once per process.
/// For the project's own tests and benchmarks.
pub fn first_party_plugin(name: &str) -> Result<PathBuf, HarnessError> {
    static BUILT: std::sync::Mutex<BTreeMap<String, PathBuf>> = std::sync::Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = built.get(name) {
        return Ok(path.clone());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new(".."));
    let target = workspace.join("target").join("first-party");
    let built_at = build_component(&workspace.join("plugins").join(name), &target)?;
    // Where `plugins/build.sh` puts it (`<target>/plugins/<name>.wasm`), so
    // configs written for that layout find it too.
    let dir = target.join("plugins");
    let path = dir.join(format!("{name}.wasm"));
    // Copied then renamed: test processes running side by side (nextest)
    // never read a half-copied component.
    let partial = dir.join(format!("{name}.wasm.{}.tmp", std::process::id()));
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::copy(&built_at, &partial))
        .and_then(|_| std::fs::rename(&partial, &path))
        .map_err(|e| HarnessError::Build {
            crate_dir: workspace.join("plugins").join(name),
            message: format!("copying {} to {}: {e}", built_at.display(), path.display()),
        })?;
    built.insert(name.to_owned(), path.clone());
    Ok(path)
}

/// Builds the plugin crate in `crate_dir` for `wasm32-wasip2` with the
/// `plugin` profile into `target_dir` and returns the component's path.
///
/// Inside `cargo test`, `target_dir` must not be the one the tests were
/// built in: its build lock is held (the harness uses
/// `<target dir>/vitrine-harness`).
pub fn build_component(crate_dir: &Path, target_dir: &Path) -> Result<PathBuf, HarnessError> {
    let fail = |message: String| HarnessError::Build {
        crate_dir: crate_dir.to_owned(),
        message,
    };
    // cargo runs in the crate (for its .cargo/config.toml): no relative paths.
    let crate_dir = &absolute(crate_dir);
    let target_dir = &absolute(target_dir);
    let manifest = crate_dir.join("Cargo.toml");
    let output = cargo(crate_dir)
        .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
        .args(["--message-format", "json-render-diagnostics", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| fail(format!("running cargo: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!(
            "cargo build failed ({}); is the wasm32-wasip2 target installed (`rustup target add wasm32-wasip2`)?",
            output.status
        )));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Artifact>(line).ok())
        .filter(|a| a.reason == "compiler-artifact" && Path::new(&a.manifest_path) == manifest)
        .flat_map(|a| a.filenames)
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| fail("cargo built no .wasm; is the crate a `cdylib`?".into()))
}

#[derive(serde::Deserialize)]
struct Artifact {
    reason: String,
    #[serde(default)]
    manifest_path: String,
    #[serde(default)]
    filenames: Vec<PathBuf>,
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// `cargo` in `dir` (so that the crate's `.cargo/config.toml` applies),
/// without the flags a surrounding cargo meant for the host.
fn cargo(dir: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    command
}

/// The target directory cargo uses for the crate in `crate_dir` (its
/// workspace's, or `CARGO_TARGET_DIR`).
pub fn cargo_target_dir(crate_dir: &Path) -> Result<PathBuf, HarnessError> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        target_directory: PathBuf,
    }
    let fail = |message: String| HarnessError::Build {
        crate_dir: crate_dir.to_owned(),
        message,
    };
    let crate_dir = &absolute(crate_dir);
    let output = cargo(crate_dir)
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| fail(format!("running cargo metadata: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!("cargo metadata failed ({})", output.status)));
    }
    serde_json::from_slice::<Metadata>(&output.stdout)
        .map(|m| m.target_directory)
        .map_err(|e| fail(format!("reading cargo metadata: {e}")))
}

/// The plugin manifest at `path`, parsed and checked as the host checks it.
pub fn manifest(path: &Path) -> Result<Manifest, HarnessError> {
    Ok(Manifest::load(path)?)
}

/// The `world` of the plugin manifest at `path`.
pub fn manifest_world(path: &Path) -> Result<World, HarnessError> {
    Ok(manifest(path)?.world.into())
}
