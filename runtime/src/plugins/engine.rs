//! The wasmtime engine every plugin shares, and the epoch ticker that turns
//! wall-clock deadlines into epoch interruptions.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How the shared engine is set up. The defaults suit an edge node.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Instances that can be alive at once (the pooling allocator's slots).
    /// A call holds one slot for its duration.
    pub max_concurrent_instances: u32,
    /// The hard ceiling of any plugin's linear memory; each plugin's own
    /// `memory_bytes` limit must be at or under it.
    pub max_memory_bytes: usize,
    /// Bytes of each memory slot kept resident between instances (faster reuse).
    pub memory_keep_resident: usize,
    /// How often the epoch advances; deadlines are rounded up to it.
    pub epoch_tick: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_concurrent_instances: 256,
            max_memory_bytes: 64 << 20,
            memory_keep_resident: 128 << 10,
            epoch_tick: Duration::from_millis(2),
        }
    }
}

/// Builds the engine: components, pooling allocator, fuel and epoch interruption.
pub(crate) fn build_engine(config: &EngineConfig) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    // A component instance of ours holds a few core instances and one memory.
    pool.total_component_instances(config.max_concurrent_instances)
        .total_core_instances(config.max_concurrent_instances.saturating_mul(4))
        .total_memories(config.max_concurrent_instances)
        .total_tables(config.max_concurrent_instances.saturating_mul(2))
        .max_memory_size(config.max_memory_bytes)
        .linear_memory_keep_resident(config.memory_keep_resident)
        .table_keep_resident(config.memory_keep_resident);

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&wasm)
}

/// Advances the engine's epoch every tick on its own thread, until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine, tick: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("vitrine-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Ticks to wait for `deadline`: rounded up, plus one because the tick in
/// progress when the deadline is set may end at once.
pub(crate) fn deadline_ticks(deadline: Duration, tick: Duration) -> u64 {
    let tick_ns = tick.as_nanos().max(1);
    let ticks = deadline.as_nanos().div_ceil(tick_ns);
    u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rounds_up_and_adds_the_tick_in_progress() {
        let tick = Duration::from_millis(2);
        assert_eq!(deadline_ticks(Duration::from_millis(10), tick), 6);
        assert_eq!(deadline_ticks(Duration::from_millis(11), tick), 7);
        assert_eq!(deadline_ticks(Duration::ZERO, tick), 1);
    }
}
