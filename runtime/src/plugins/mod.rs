//! The plugin host: partners' WebAssembly components, sandboxed.
//!
//! A plugin is a component built against `sdk/wit/plugin.wit`
//! (`vitrine:plugin@0.1.0`), one world per extension point: `promotion`,
//! `payment`, `personalization`. The host owns:
//!
//! - **Loading**: bytes or a path → compiled (or an ahead-of-time artifact
//!   from the [`ArtifactCache`]) → linked against only what the plugin's
//!   world imports, with the operator's [`Grants`] → an `InstancePre`, so a
//!   call only instantiates. A plugin whose exports do not match its world
//!   fails to load, not to run.
//! - **Calls**: each call gets a fresh `Store` and instance from the pooling
//!   allocator (no state survives between calls), under the plugin's
//!   [`Limits`]: input size (checked before the plugin runs), fuel
//!   (instructions), a wall-clock deadline (epoch interruption), a memory
//!   ceiling (growth past it traps), output size and validity (checked after).
//! - **Failures**: each comes back as its own [`PluginError`] variant, is
//!   counted per plugin ([`PluginCounters`] and the `metrics` counter
//!   `vitrine_plugin_calls_total{plugin, outcome}`; each call's time in
//!   `vitrine_plugin_call_seconds{plugin}`), and feeds the plugin's
//!   [breaker](BreakerConfig). A failed call never affects the next one.
//! - **Hot swap**: the installed plugins are one immutable [`PluginSet`]
//!   behind an `ArcSwap`. A call takes the set once and runs to the end on
//!   it; [`PluginHost::replace_set`], [`PluginHost::install`] and
//!   [`PluginHost::remove`] publish a whole new set atomically, so in-flight
//!   calls finish on the old version and no call sees a half-loaded set.
//!
//! ```no_run
//! use vitrine_runtime::plugins::{EngineConfig, PluginHost, PluginSpec, World};
//! use vitrine_runtime::plugins::cart::CartBuilder;
//! let cart = || {
//!     let mut cart = CartBuilder::new("ZAR");
//!     cart.line("p-1", "DRILL-1", 1, 129_900, &["tools", "power-tools"], "acme");
//!     cart.build()
//! };
//! let host = PluginHost::new(EngineConfig::default(), None)?;
//! let plugin = host.load(PluginSpec::from_path("spring-sale", World::Promotion, "plugins/spring-sale.wasm"))?;
//! host.install(plugin);
//! let adjustments = host.call_promotion("spring-sale", &cart())?;
//! # Ok::<(), vitrine_runtime::plugins::PluginError>(())
//! ```
//!
//! Calls are synchronous and CPU-bound (microseconds for a well-behaved
//! plugin, at most the plugin's deadline): an async caller with long
//! deadlines should run them with `spawn_blocking` or `block_in_place`.

mod bindings;
mod breaker;
mod cache;
pub mod capabilities;
pub mod cart;
mod engine;
mod error;
pub mod fixture;
mod operator;
mod pricing;
pub mod reload;
mod stats;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap};

pub use breaker::BreakerConfig;
pub use cache::ArtifactCache;
pub use capabilities::{ConfigGrant, Grants, HttpGrant, LogGrant};
pub use engine::EngineConfig;
pub use error::{FailureKind, GuestError, PluginError};
pub use operator::ApplyReport;
pub use pricing::{AppliedPromotion, ExcludedPromotion, Exclusion, PromotionOutcome, Totals};
pub use stats::PluginCounters;
pub use vitrine_edge_config::Stacking;

use bindings::{payment::PaymentPre, personalization::PersonalizationPre, promotion::PromotionPre};
use capabilities::{Capabilities, HostState};

/// The WIT types plugins exchange with the host.
pub mod types {
    pub use super::bindings::payment::vitrine::plugin::payment_types::{
        Authorization, AuthorizeRequest, Capabilities as PaymentCapabilities, CaptureRequest, EventKind, PaymentError,
        PaymentEvent, PaymentStatus, RefundRequest, VoidRequest, Webhook,
    };
    pub use super::bindings::payment::vitrine::plugin::types::Money;
    pub use super::bindings::personalization::vitrine::plugin::personalization_types::{
        ProductSummary, ShopperContext,
    };
    pub use super::bindings::promotion::vitrine::plugin::promotion_types::{
        Adjustment, Cart, CartLine, Category, Customer, Level, LineAttribute,
    };
}

use types::{Adjustment, Cart, ProductSummary, ShopperContext};

/// An extension point, i.e. a world of the WIT package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// `promotion`: a cart in, adjustments out.
    Promotion,
    /// `payment`: authorize, capture, void, refund, verify a webhook.
    Payment,
    /// `personalization`: a catalog page and the shopper's context in, the page out.
    Personalization,
}

/// Per-call limits of one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Instruction budget (wasmtime fuel, about one unit per instruction).
    pub fuel: u64,
    /// Wall-clock deadline, rounded up to the engine's epoch tick.
    pub deadline: Duration,
    /// Linear memory ceiling; at most [`EngineConfig::max_memory_bytes`].
    pub memory_bytes: usize,
    /// Largest input accepted (an estimate of its encoded size).
    pub max_input_bytes: usize,
    /// Largest output accepted (an estimate of its encoded size).
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Shopify Functions allow 11M instructions; a 10-line cart costs ~15k.
            fuel: 10_000_000,
            deadline: Duration::from_millis(50),
            memory_bytes: 16 << 20,
            max_input_bytes: 256 << 10,
            max_output_bytes: 256 << 10,
        }
    }
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// The component's bytes.
    Bytes(Arc<[u8]>),
    /// A `.wasm` component file.
    Path(PathBuf),
}

/// What to load: the operator's view of one installed plugin.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// Unique name within a [`PluginSet`].
    pub name: String,
    /// The world it implements.
    pub world: World,
    /// The component.
    pub source: PluginSource,
    /// What it may touch.
    pub grants: Grants,
    /// Its per-call limits.
    pub limits: Limits,
    /// When it is switched off.
    pub breaker: BreakerConfig,
    /// How it combines with the other promotions (promotions only).
    pub stacking: Stacking,
    /// Its version, from its manifest (recorded with what it computed, for
    /// audit); empty when unknown.
    pub version: String,
}

impl PluginSpec {
    /// A plugin from bytes, with no grants beyond the log and default limits.
    pub fn from_bytes(name: impl Into<String>, world: World, wasm: impl Into<Arc<[u8]>>) -> Self {
        Self::new(name.into(), world, PluginSource::Bytes(wasm.into()))
    }

    /// A plugin from a file, with no grants beyond the log and default limits.
    pub fn from_path(name: impl Into<String>, world: World, path: impl Into<PathBuf>) -> Self {
        Self::new(name.into(), world, PluginSource::Path(path.into()))
    }

    fn new(name: String, world: World, source: PluginSource) -> Self {
        Self {
            name,
            world,
            source,
            grants: Grants::default(),
            limits: Limits::default(),
            breaker: BreakerConfig::default(),
            stacking: Stacking::default(),
            version: String::new(),
        }
    }

    /// Sets the version.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets the grants.
    pub fn with_grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the breaker.
    pub fn with_breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }

    /// Sets how the promotion stacks.
    pub fn with_stacking(mut self, stacking: Stacking) -> Self {
        self.stacking = stacking;
        self
    }
}

enum Pre {
    Promotion(PromotionPre<HostState>),
    Payment(PaymentPre<HostState>),
    Personalization(PersonalizationPre<HostState>),
}

/// A compiled, linked plugin, ready to be called. Immutable; shared by the
/// sets that contain it and by its in-flight calls.
pub struct LoadedPlugin {
    name: Arc<str>,
    world: World,
    limits: Limits,
    stacking: Stacking,
    version: Arc<str>,
    /// What it was loaded with, to tell whether a new spec changes anything.
    grants: Grants,
    breaker_config: BreakerConfig,
    caps: Arc<Capabilities>,
    pre: Pre,
    breaker: breaker::Breaker,
    stats: stats::Stats,
    sha256: String,
    from_cache: bool,
    /// Unique to this load in this process: a reload gives a new one.
    load_id: u64,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("world", &self.world)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its world.
    pub fn world(&self) -> World {
        self.world
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Its version (from its manifest; empty when unknown).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How it stacks with the other promotions.
    pub fn stacking(&self) -> Stacking {
        self.stacking
    }

    /// Whether loading `spec`, whose component hashes to `sha256`, would
    /// give this same plugin (a reload can keep it, with its counters and
    /// breaker).
    pub fn is_same(&self, spec: &PluginSpec, sha256: &str) -> bool {
        *self.name == *spec.name
            && self.world == spec.world
            && self.sha256 == sha256
            && self.limits == spec.limits
            && self.stacking == spec.stacking
            && *self.version == *spec.version
            && self.grants == spec.grants
            && self.breaker_config == spec.breaker
    }

    /// sha256 of the component's bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Whether the compiled code came from the artifact cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// Its counters since it was loaded.
    pub fn counters(&self) -> PluginCounters {
        self.stats.snapshot()
    }

    /// Whether its breaker has switched it off.
    pub fn is_disabled(&self) -> bool {
        self.breaker.is_open()
    }
}

/// The installed plugins, in order (promotions apply in this order). Immutable
/// once published; build a new one to change it.
#[derive(Debug, Clone, Default)]
pub struct PluginSet {
    plugins: Vec<Arc<LoadedPlugin>>,
}

impl PluginSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `plugin` at the end, or in place of the plugin of the same name.
    pub fn insert(&mut self, plugin: Arc<LoadedPlugin>) {
        match self.plugins.iter_mut().find(|p| p.name == plugin.name) {
            Some(slot) => *slot = plugin,
            None => self.plugins.push(plugin),
        }
    }

    /// Removes the plugin named `name`; returns it if it was there.
    pub fn remove(&mut self, name: &str) -> Option<Arc<LoadedPlugin>> {
        let index = self.plugins.iter().position(|p| &*p.name == name)?;
        Some(self.plugins.remove(index))
    }

    /// The plugin named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.plugins.iter().find(|p| &*p.name == name)
    }

    /// All plugins, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.plugins.iter()
    }

    /// How many plugins there are.
    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }
}

impl FromIterator<Arc<LoadedPlugin>> for PluginSet {
    fn from_iter<I: IntoIterator<Item = Arc<LoadedPlugin>>>(iter: I) -> Self {
        let mut set = PluginSet::new();
        for plugin in iter {
            set.insert(plugin);
        }
        set
    }
}

/// Loads plugins and calls them. See the [module docs](self).
pub struct PluginHost {
    engine: Engine,
    config: EngineConfig,
    cache: Option<ArtifactCache>,
    set: ArcSwap<PluginSet>,
    _ticker: engine::EpochTicker,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.set.load();
        f.debug_struct("PluginHost")
            .field("config", &self.config)
            .field("plugins", &set.iter().map(|p| p.name()).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    /// A host with its own engine and epoch ticker thread, and no plugins.
    /// With `cache`, compiled components are kept on disk between runs.
    pub fn new(config: EngineConfig, cache: Option<ArtifactCache>) -> Result<Self, PluginError> {
        let engine_error = |message: String| PluginError::Load {
            plugin: "<engine>".into(),
            message,
        };
        let engine = engine::build_engine(&config).map_err(|e| engine_error(format!("configuring wasmtime: {e:#}")))?;
        let ticker = engine::EpochTicker::start(engine.clone(), config.epoch_tick)
            .map_err(|e| engine_error(format!("starting the epoch ticker thread: {e}")))?;
        Ok(Self {
            engine,
            config,
            cache,
            set: ArcSwap::from_pointee(PluginSet::new()),
            _ticker: ticker,
        })
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Where compiled components are kept, if anywhere.
    pub fn artifact_cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref()
    }

    /// Compiles (or fetches from the cache) and links a plugin. It is not
    /// installed: put it in a set with [`install`](Self::install) or
    /// [`replace_set`](Self::replace_set).
    pub fn load(&self, spec: PluginSpec) -> Result<Arc<LoadedPlugin>, PluginError> {
        let name = spec.name;
        let fail = |message: String| PluginError::Load {
            plugin: name.clone(),
            message,
        };
        if spec.limits.memory_bytes > self.config.max_memory_bytes {
            return Err(fail(format!(
                "memory limit of {} bytes is over the engine's ceiling of {} bytes",
                spec.limits.memory_bytes, self.config.max_memory_bytes
            )));
        }
        let wasm: Arc<[u8]> = match &spec.source {
            PluginSource::Bytes(bytes) => Arc::clone(bytes),
            PluginSource::Path(path) => std::fs::read(path)
                .map_err(|e| fail(format!("reading {}: {e}", path.display())))?
                .into(),
        };
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm));
        let (component, from_cache) = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, &wasm),
            None => Component::from_binary(&self.engine, &wasm).map(|c| (c, false)),
        }
        .map_err(|e| fail(format!("compiling: {e:#}")))?;

        let mut linker = Linker::<HostState>::new(&self.engine);
        let linked = capabilities::link_common(&mut linker).and_then(|()| match spec.world {
            World::Payment => capabilities::link_payment(&mut linker),
            World::Promotion | World::Personalization => Ok(()),
        });
        linked.map_err(|e| fail(format!("linking host capabilities: {e:#}")))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| fail(format!("linking its imports: {e:#}")))?;
        let world_error = |e: wasmtime::Error| fail(format!("it does not export the {:?} world: {e:#}", spec.world));
        let pre = match spec.world {
            World::Promotion => Pre::Promotion(PromotionPre::new(instance_pre).map_err(world_error)?),
            World::Payment => Pre::Payment(PaymentPre::new(instance_pre).map_err(world_error)?),
            World::Personalization => Pre::Personalization(PersonalizationPre::new(instance_pre).map_err(world_error)?),
        };
        let name: Arc<str> = name.into();
        tracing::info!(plugin = &*name, world = ?spec.world, sha256 = %sha256, from_cache, "plugin loaded");
        Ok(Arc::new(LoadedPlugin {
            caps: Arc::new(Capabilities::new(Arc::clone(&name), spec.grants.clone())),
            grants: spec.grants,
            breaker_config: spec.breaker,
            stacking: spec.stacking,
            version: spec.version.as_str().into(),
            stats: stats::Stats::new(&name),
            breaker: breaker::Breaker::new(spec.breaker),
            name,
            world: spec.world,
            limits: spec.limits,
            pre,
            sha256,
            from_cache,
            load_id: {
                static LOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        }))
    }

    /// What identifies the installed versions of `names`, in order (each
    /// load of a plugin gets a number of its own), or `None` when one of
    /// them is not installed in `world`. The same answer means the same
    /// plugins with the same config, so a caller may reuse what they
    /// answered before (the edge does for personalized pages).
    pub fn versions(&self, world: World, names: &[String]) -> Option<Box<[u64]>> {
        let set = self.set.load();
        names
            .iter()
            .map(|name| set.get(name).filter(|p| p.world == world).map(|p| p.load_id))
            .collect()
    }

    /// The installed set, as of now.
    pub fn plugins(&self) -> Arc<PluginSet> {
        self.set.load_full()
    }

    /// Publishes `set` in place of the installed one, atomically.
    pub fn replace_set(&self, set: PluginSet) {
        self.set.store(Arc::new(set));
    }

    /// Installs `plugin`, replacing the one of the same name, atomically.
    pub fn install(&self, plugin: Arc<LoadedPlugin>) {
        self.set.rcu(|set| {
            let mut next = PluginSet::clone(set);
            next.insert(Arc::clone(&plugin));
            next
        });
    }

    /// Removes the plugin named `name`, atomically.
    pub fn remove(&self, name: &str) {
        self.set.rcu(|set| {
            let mut next = PluginSet::clone(set);
            next.remove(name);
            next
        });
    }

    /// Counters of the installed plugin named `name`.
    pub fn counters(&self, name: &str) -> Option<PluginCounters> {
        self.set.load().get(name).map(|p| p.counters())
    }

    /// Runs the promotion plugin `plugin` on `cart`.
    pub fn call_promotion(&self, plugin: &str, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let set = self.set.load_full();
        let plugin = find(&set, plugin, World::Promotion)?;
        self.promotion(plugin, cart, None)
    }

    /// [`call_promotion`](Self::call_promotion), also setting `fuel_used` to
    /// the fuel the call consumed (instantiation included; the whole budget
    /// when it ran out). For tools that report a plugin's cost: the
    /// `vitrine` CLI and [`crate::testing`].
    pub fn call_promotion_metered(
        &self,
        plugin: &str,
        cart: &Cart,
        fuel_used: &mut u64,
    ) -> Result<Vec<Adjustment>, PluginError> {
        let set = self.set.load_full();
        let plugin = find(&set, plugin, World::Promotion)?;
        self.promotion(plugin, cart, Some(fuel_used))
    }

    /// Prices `cart` with every installed promotion, in stacking (set)
    /// order, from one snapshot of the set: see [`PromotionOutcome`] and the
    /// stacking rules in `pricing.rs`. A promotion that fails is skipped
    /// (the cart is priced without it) and reported in
    /// [`PromotionOutcome::skipped`]; after an exclusive promotion applies,
    /// the rest are not called.
    pub fn apply_promotions(&self, cart: &Cart) -> PromotionOutcome {
        let set = self.set.load_full();
        let mut stack = pricing::Stack::new(cart);
        for plugin in set.iter().filter(|p| p.world == World::Promotion) {
            if let Some(by) = stack.closed_by() {
                let by = by.to_owned();
                stack.exclude(&plugin.name, Exclusion::AfterExclusive { by });
                continue;
            }
            match self.promotion(plugin, cart, None) {
                Ok(adjustments) => stack.offer(&plugin.name, &plugin.version, plugin.stacking, adjustments),
                Err(error) => {
                    tracing::warn!(plugin = &*plugin.name, error = %error, "promotion skipped");
                    stack.skip(&plugin.name, error);
                }
            }
        }
        stack.finish()
    }

    fn promotion(
        &self,
        plugin: &LoadedPlugin,
        cart: &Cart,
        fuel_used: Option<&mut u64>,
    ) -> Result<Vec<Adjustment>, PluginError> {
        self.call(plugin, validate::cart_size(cart), fuel_used, |pre, store| {
            let Pre::Promotion(pre) = pre else {
                unreachable!("world checked by find")
            };
            pre.instantiate(&mut *store)?.call_apply(&mut *store, cart)
        })
        .and_then(|answer| finish_promotion(plugin, cart, answer))
        .inspect(|_| self.ok(plugin))
        .inspect_err(|e| self.failed(plugin, e))
    }

    /// One instance of the promotion plugin `plugin`, kept for several calls.
    ///
    /// Faster than [`call_promotion`](Self::call_promotion) (no instantiation),
    /// but the plugin's memory survives from one call to the next, so use it
    /// only for inputs of one caller (repricing one cart as it changes), never
    /// across shoppers. Limits, classification, counters and the breaker
    /// apply per call as usual; after a failure the instance is spent and
    /// every further call fails with a trap: take a new one.
    pub fn promotion_instance(&self, plugin: &str) -> Result<PromotionInstance, PluginError> {
        let set = self.set.load_full();
        let loaded = Arc::clone(
            set.get(plugin)
                .filter(|p| p.world == World::Promotion)
                .ok_or_else(|| PluginError::NotFound(plugin.to_owned()))?,
        );
        let Pre::Promotion(pre) = &loaded.pre else {
            unreachable!("world checked above")
        };
        let mut store = self.new_store(&loaded)?;
        let bindings = pre
            .instantiate(&mut store)
            .map_err(|error| classify(&loaded, &store, error))?;
        Ok(PromotionInstance {
            ticks: engine::deadline_ticks(loaded.limits.deadline, self.config.epoch_tick),
            plugin: loaded,
            store,
            bindings,
            spent: false,
        })
    }

    /// Runs the personalization plugin `plugin` on `page` for `context`.
    pub fn call_personalization(
        &self,
        plugin: &str,
        page: &[ProductSummary],
        context: &ShopperContext,
    ) -> Result<Vec<ProductSummary>, PluginError> {
        self.personalization(plugin, page, context, None)
    }

    /// [`call_personalization`](Self::call_personalization), also setting
    /// `fuel_used` as [`call_promotion_metered`](Self::call_promotion_metered) does.
    pub fn call_personalization_metered(
        &self,
        plugin: &str,
        page: &[ProductSummary],
        context: &ShopperContext,
        fuel_used: &mut u64,
    ) -> Result<Vec<ProductSummary>, PluginError> {
        self.personalization(plugin, page, context, Some(fuel_used))
    }

    fn personalization(
        &self,
        plugin: &str,
        page: &[ProductSummary],
        context: &ShopperContext,
        fuel_used: Option<&mut u64>,
    ) -> Result<Vec<ProductSummary>, PluginError> {
        let set = self.set.load_full();
        let plugin = find(&set, plugin, World::Personalization)?;
        let input = validate::page_size(page) + validate::context_size(context);
        self.call(plugin, input, fuel_used, |pre, store| {
            let Pre::Personalization(pre) = pre else {
                unreachable!("world checked by find")
            };
            pre.instantiate(&mut *store)?
                .call_personalize(&mut *store, page, context)
        })
        .and_then(|answer| guest_result(plugin, answer.map_err(guest_error)))
        .and_then(|out| {
            check_output(plugin, validate::page_size(&out))?;
            validate::personalized_page(page, &out).map_err(|reason| invalid(plugin, reason))?;
            Ok(out)
        })
        .inspect(|_| self.ok(plugin))
        .inspect_err(|e| self.failed(plugin, e))
    }

    /// Runs one call of the payment plugin `plugin`. A failure is an error,
    /// never a silent success: the caller must fail the payment.
    pub fn call_payment(&self, plugin: &str, call: &PaymentCall) -> Result<PaymentAnswer, PluginError> {
        self.payment(plugin, call, None)
    }

    /// [`call_payment`](Self::call_payment), also setting `fuel_used` as
    /// [`call_promotion_metered`](Self::call_promotion_metered) does.
    pub fn call_payment_metered(
        &self,
        plugin: &str,
        call: &PaymentCall,
        fuel_used: &mut u64,
    ) -> Result<PaymentAnswer, PluginError> {
        self.payment(plugin, call, Some(fuel_used))
    }

    fn payment(
        &self,
        plugin: &str,
        call: &PaymentCall,
        fuel_used: Option<&mut u64>,
    ) -> Result<PaymentAnswer, PluginError> {
        use bindings::payment::vitrine::plugin::payment_types::PaymentError as Wit;
        let set = self.set.load_full();
        let plugin = find(&set, plugin, World::Payment)?;
        let payment_error = |e: Wit| match e {
            Wit::Declined(m) => GuestError::Declined(m),
            Wit::InvalidRequest(m) => GuestError::InvalidInput(m),
            Wit::ProviderUnavailable(m) => GuestError::Unavailable(m),
            Wit::BadSignature => GuestError::BadSignature,
            Wit::Config(m) => GuestError::Config(m),
            Wit::Internal(m) => GuestError::Internal(m),
        };
        self.call(plugin, validate::payment_call_size(call), fuel_used, |pre, store| {
            let Pre::Payment(pre) = pre else {
                unreachable!("world checked by find")
            };
            let bindings = pre.instantiate(&mut *store)?;
            Ok(match call {
                PaymentCall::Capabilities => Ok(PaymentAnswer::Capabilities(bindings.call_capabilities(&mut *store)?)),
                PaymentCall::Authorize(r) => bindings
                    .call_authorize(&mut *store, r)?
                    .map(PaymentAnswer::Authorization),
                PaymentCall::Capture(r) => bindings.call_capture(&mut *store, r)?.map(PaymentAnswer::Authorization),
                PaymentCall::Void(r) => bindings.call_void(&mut *store, r)?.map(PaymentAnswer::Authorization),
                PaymentCall::Refund(r) => bindings.call_refund(&mut *store, r)?.map(PaymentAnswer::Authorization),
                PaymentCall::VerifyWebhook(w) => {
                    bindings.call_verify_webhook(&mut *store, w)?.map(PaymentAnswer::Event)
                }
            })
        })
        .and_then(|answer| guest_result(plugin, answer.map_err(payment_error)))
        .and_then(|answer| {
            check_output(plugin, validate::payment_answer_size(&answer))?;
            Ok(answer)
        })
        .inspect(|_| self.ok(plugin))
        .inspect_err(|e| self.failed(plugin, e))
    }

    /// Breaker admission, input check, a fresh store under the plugin's
    /// limits, the call, and classification of what went wrong. With
    /// `fuel_used`, also what the call consumed (a metered call: tools only).
    fn call<R>(
        &self,
        plugin: &LoadedPlugin,
        input_size: usize,
        fuel_used: Option<&mut u64>,
        invoke: impl FnOnce(&Pre, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let name = || plugin.name.to_string();
        if let Err(retry_in) = plugin.breaker.admit(Instant::now()) {
            return Err(PluginError::Disabled {
                plugin: name(),
                retry_in,
            });
        }
        let limits = plugin.limits;
        if input_size > limits.max_input_bytes {
            return Err(PluginError::InputTooLarge {
                plugin: name(),
                size: input_size,
                limit: limits.max_input_bytes,
            });
        }
        let started = Instant::now();
        let mut store = self.new_store(plugin)?;
        let result = invoke(&plugin.pre, &mut store).map_err(|error| classify(plugin, &store, error));
        plugin.stats.observe(started.elapsed());
        if let Some(used) = fuel_used {
            *used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        }
        result
    }

    /// A fresh store under `plugin`'s limits, its deadline starting now.
    fn new_store(&self, plugin: &LoadedPlugin) -> Result<Store<HostState>, PluginError> {
        let limits = plugin.limits;
        let mut store = Store::new(
            &self.engine,
            HostState::new(Arc::clone(&plugin.caps), limits.memory_bytes),
        );
        store.data_mut().deadline = Some(Instant::now() + limits.deadline);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(engine::deadline_ticks(limits.deadline, self.config.epoch_tick));
        store.set_fuel(limits.fuel).map_err(|e| PluginError::Trap {
            plugin: plugin.name.to_string(),
            message: format!("setting fuel: {e:#}"),
        })?;
        Ok(store)
    }

    fn ok(&self, plugin: &LoadedPlugin) {
        plugin.breaker.record(Instant::now(), false);
        plugin.stats.record(Ok(()));
    }

    fn failed(&self, plugin: &LoadedPlugin, error: &PluginError) {
        let kind = error.kind();
        plugin.stats.record(Err(kind));
        if kind == FailureKind::Disabled || kind == FailureKind::InputTooLarge {
            // Not admitted to (or not run by) the breaker: nothing to record.
            return;
        }
        if plugin.breaker.record(Instant::now(), kind.trips_breaker()) {
            tracing::error!(plugin = &*plugin.name, last_error = %error, "plugin switched off by its breaker");
        }
        tracing::debug!(plugin = &*plugin.name, outcome = kind.as_str(), error = %error, "plugin call failed");
    }
}

/// A promotion instance reused across calls; see [`PluginHost::promotion_instance`].
pub struct PromotionInstance {
    plugin: Arc<LoadedPlugin>,
    store: Store<HostState>,
    bindings: bindings::promotion::Promotion,
    ticks: u64,
    spent: bool,
}

impl PromotionInstance {
    /// Runs the promotion on `cart`, with a fresh fuel budget and deadline.
    pub fn call(&mut self, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let plugin = Arc::clone(&self.plugin);
        let result = self.run(cart);
        match &result {
            Ok(_) => {
                plugin.breaker.record(Instant::now(), false);
                plugin.stats.record(Ok(()));
            }
            Err(error) => {
                plugin.stats.record(Err(error.kind()));
                if !matches!(error.kind(), FailureKind::Disabled | FailureKind::InputTooLarge) {
                    plugin.breaker.record(Instant::now(), error.kind().trips_breaker());
                }
            }
        }
        result
    }

    fn run(&mut self, cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
        let plugin = &*self.plugin;
        let name = || plugin.name.to_string();
        if self.spent {
            return Err(PluginError::Trap {
                plugin: name(),
                message: "instance spent by an earlier failure".into(),
            });
        }
        if let Err(retry_in) = plugin.breaker.admit(Instant::now()) {
            return Err(PluginError::Disabled {
                plugin: name(),
                retry_in,
            });
        }
        let size = validate::cart_size(cart);
        if size > plugin.limits.max_input_bytes {
            return Err(PluginError::InputTooLarge {
                plugin: name(),
                size,
                limit: plugin.limits.max_input_bytes,
            });
        }
        self.store.set_epoch_deadline(self.ticks);
        self.store.set_fuel(plugin.limits.fuel).map_err(|e| PluginError::Trap {
            plugin: name(),
            message: format!("setting fuel: {e:#}"),
        })?;
        let answer = self.bindings.call_apply(&mut self.store, cart).map_err(|error| {
            self.spent = true;
            classify(plugin, &self.store, error)
        })?;
        finish_promotion(plugin, cart, answer)
    }
}

/// A payment world call.
#[derive(Debug, Clone)]
pub enum PaymentCall {
    /// `capabilities`.
    Capabilities,
    /// `authorize`.
    Authorize(types::AuthorizeRequest),
    /// `capture`.
    Capture(types::CaptureRequest),
    /// `void`.
    Void(types::VoidRequest),
    /// `refund`.
    Refund(types::RefundRequest),
    /// `verify-webhook`.
    VerifyWebhook(types::Webhook),
}

/// A payment world answer.
#[derive(Debug, Clone)]
pub enum PaymentAnswer {
    /// From `capabilities`.
    Capabilities(types::PaymentCapabilities),
    /// From `authorize`, `capture`, `void` or `refund`.
    Authorization(types::Authorization),
    /// From `verify-webhook`.
    Event(types::PaymentEvent),
}

fn find<'a>(set: &'a PluginSet, name: &str, world: World) -> Result<&'a LoadedPlugin, PluginError> {
    match set.get(name) {
        Some(plugin) if plugin.world == world => Ok(plugin),
        _ => Err(PluginError::NotFound(name.to_owned())),
    }
}

fn guest_error(e: bindings::types::PluginError) -> GuestError {
    use bindings::types::PluginError as Wit;
    match e {
        Wit::InvalidInput(m) => GuestError::InvalidInput(m),
        Wit::Config(m) => GuestError::Config(m),
        Wit::Unavailable(m) => GuestError::Unavailable(m),
        Wit::Internal(m) => GuestError::Internal(m),
    }
}

fn guest_result<T>(plugin: &LoadedPlugin, answer: Result<T, GuestError>) -> Result<T, PluginError> {
    answer.map_err(|error| PluginError::Guest {
        plugin: plugin.name.to_string(),
        error,
    })
}

fn finish_promotion(
    plugin: &LoadedPlugin,
    cart: &Cart,
    answer: Result<Vec<Adjustment>, bindings::types::PluginError>,
) -> Result<Vec<Adjustment>, PluginError> {
    let adjustments = guest_result(plugin, answer.map_err(guest_error))?;
    check_output(plugin, validate::adjustments_size(&adjustments))?;
    validate::adjustments(cart, &adjustments).map_err(|reason| invalid(plugin, reason))?;
    Ok(adjustments)
}

fn check_output(plugin: &LoadedPlugin, size: usize) -> Result<(), PluginError> {
    let limit = plugin.limits.max_output_bytes;
    if size > limit {
        return Err(PluginError::OutputTooLarge {
            plugin: plugin.name.to_string(),
            size,
            limit,
        });
    }
    Ok(())
}

fn invalid(plugin: &LoadedPlugin, reason: String) -> PluginError {
    PluginError::InvalidOutput {
        plugin: plugin.name.to_string(),
        reason,
    }
}

/// Tells deadline, fuel, memory, denial and other traps apart. The host's own
/// records (denial, memory ceiling) come first: they are exact, whatever
/// the guest did after being refused.
fn classify(plugin: &LoadedPlugin, store: &Store<HostState>, error: wasmtime::Error) -> PluginError {
    let name = plugin.name.to_string();
    let state = store.data();
    if let Some(what) = &state.denied {
        return PluginError::CapabilityDenied {
            plugin: name,
            what: what.clone(),
        };
    }
    if state.limiter.hit {
        return PluginError::MemoryLimit {
            plugin: name,
            limit_bytes: plugin.limits.memory_bytes,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => PluginError::FuelExhausted {
            plugin: name,
            fuel: plugin.limits.fuel,
        },
        Some(Trap::Interrupt) => PluginError::Deadline {
            plugin: name,
            deadline: plugin.limits.deadline,
        },
        Some(trap) => PluginError::Trap {
            plugin: name,
            message: trap.to_string(),
        },
        None => PluginError::Trap {
            plugin: name,
            message: format!("{error:#}"),
        },
    }
}
