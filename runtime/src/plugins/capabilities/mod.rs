//! Host capabilities, each a unit: its grant (what the operator allows this
//! plugin, fixed at load), the per-call state built from that grant, and the
//! host functions that enforce it.
//!
//! | capability | grant | enforced |
//! |---|---|---|
//! | [`log`] | on/off, lines per second | rate-limited per plugin, tagged with its name, via `tracing` |
//! | [`config`] | named values and secrets | a plugin sees only its own; asking for a secret not granted stops the call with [`PluginError::CapabilityDenied`](super::PluginError) |
//! | [`http`] | hosts, timeout, response cap | any other host gets the typed `denied` error; granted requests are sent (no redirects, no ambient headers), bounded by the timeout, the call's deadline and the cap |
//!
//! Nothing else is reachable: a `wasm32-wasip2` guest's WASI imports are
//! linked (Rust's std imports them even when unused) against an empty WASI
//! context, created only if the guest touches WASI at all — no filesystem,
//! no environment, no sockets, no arguments, no stdio.
//! Its clocks tell whole milliseconds and it offers no timers (see `clocks.rs`).

mod clocks;
pub mod config;
pub mod http;
pub mod log;

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, component::Linker};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{self, clock};
pub use config::ConfigGrant;
pub use http::HttpGrant;
pub use log::LogGrant;

/// Everything the operator granted one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// The log.
    pub log: LogGrant,
    /// Config values and secrets.
    pub config: ConfigGrant,
    /// Outbound HTTP.
    pub http: HttpGrant,
    /// The millisecond clock (`clock.now-ms`, payment world). Not granted,
    /// asking the time stops the call with a capability denied.
    pub clock: bool,
}

/// Per-plugin capability state that outlives single calls (the log's bucket).
#[derive(Debug)]
pub(crate) struct Capabilities {
    pub(crate) plugin: Arc<str>,
    pub(crate) log: log::LogLimiter,
    pub(crate) config: ConfigGrant,
    pub(crate) http: HttpGrant,
    pub(crate) clock: bool,
}

impl Capabilities {
    pub(crate) fn new(plugin: Arc<str>, grants: Grants) -> Self {
        Self {
            log: log::LogLimiter::new(grants.log),
            config: grants.config,
            http: grants.http,
            clock: grants.clock,
            plugin,
        }
    }
}

/// The store's data for one call.
pub(crate) struct HostState {
    pub(crate) caps: Arc<Capabilities>,
    pub(crate) limiter: MemoryLimiter,
    /// Set when a host function refused the guest and trapped it.
    pub(crate) denied: Option<String>,
    /// When the call's wall-clock deadline passes; host functions that wait
    /// (outbound http) never wait past it. `None`: no deadline known.
    pub(crate) deadline: Option<std::time::Instant>,
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

impl HostState {
    pub(crate) fn new(caps: Arc<Capabilities>, memory_bytes: usize) -> Self {
        Self {
            caps,
            limiter: MemoryLimiter {
                limit: memory_bytes,
                hit: false,
            },
            denied: None,
            deadline: None,
            wasi: None,
            table: ResourceTable::new(),
        }
    }

    /// Records a denial and returns the trap that stops the guest.
    pub(crate) fn deny(&mut self, what: String) -> wasmtime::Error {
        let error = wasmtime::Error::msg(format!("capability denied: {what}"));
        self.denied = Some(what);
        error
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Built on first use: most plugins never touch WASI and pay nothing.
        let ctx = self.wasi.get_or_insert_with(|| {
            WasiCtx::builder()
                .wall_clock(clocks::MillisWallClock)
                .monotonic_clock(clocks::MillisMonotonicClock::new())
                .build()
        });
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

/// The memory ceiling (like `StoreLimits` with `trap_on_grow_failure`), which
/// also remembers that it fired so the failure is classified exactly.
pub(crate) struct MemoryLimiter {
    pub(crate) limit: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            wasmtime::bail!("memory limit: growing to {desired} bytes is over {} bytes", self.limit);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // The pool's own ceiling: a trap too, never a silent -1 to the guest.
        self.hit = true;
        Err(error.context("memory growth failed"))
    }
}

impl clock::Host for HostState {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        if !self.caps.clock {
            return Err(self.deny("the clock is not granted".into()));
        }
        Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0))
    }
}

type Data = wasmtime::component::HasSelf<HostState>;

/// Links the WASI imports and the capabilities every world imports.
pub(crate) fn link_common(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    clocks::deny_timers(linker)?;
    bindings::log::add_to_linker::<HostState, Data>(linker, |s| s)?;
    bindings::config::add_to_linker::<HostState, Data>(linker, |s| s)?;
    Ok(())
}

/// Links what only the payment world imports.
pub(crate) fn link_payment(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    bindings::http::add_to_linker::<HostState, Data>(linker, |s| s)?;
    bindings::clock::add_to_linker::<HostState, Data>(linker, |s| s)?;
    Ok(())
}
