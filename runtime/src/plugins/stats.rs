//! Per-plugin counters: a struct to read in-process, and `metrics` counters.

use std::sync::atomic::{AtomicU64, Ordering};

use super::error::FailureKind;

/// A snapshot of one plugin's counters since it was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginCounters {
    /// Calls asked for, including refused ones.
    pub calls: u64,
    /// Calls that answered with valid output.
    pub ok: u64,
    /// Failures by kind, in [`FailureKind::ALL`] order; see [`PluginCounters::failures`].
    pub failures_by_kind: [u64; FailureKind::ALL.len()],
}

impl PluginCounters {
    /// Failures of `kind`.
    pub fn failures(&self, kind: FailureKind) -> u64 {
        self.failures_by_kind[kind.index()]
    }

    /// All failures.
    pub fn total_failures(&self) -> u64 {
        self.failures_by_kind.iter().sum()
    }
}

/// The live counters, plus `metrics` handles registered at load.
///
/// `metrics` handles bind to the recorder installed when the plugin loads:
/// install the recorder before loading plugins.
pub(crate) struct Stats {
    calls: AtomicU64,
    ok: AtomicU64,
    failures: [AtomicU64; FailureKind::ALL.len()],
    m_ok: metrics::Counter,
    m_failures: [metrics::Counter; FailureKind::ALL.len()],
    m_seconds: metrics::Histogram,
}

impl Stats {
    pub(crate) fn new(plugin: &str) -> Self {
        let name = plugin.to_owned();
        Self {
            calls: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            failures: std::array::from_fn(|_| AtomicU64::new(0)),
            m_ok: metrics::counter!("vitrine_plugin_calls_total", "plugin" => name.clone(), "outcome" => "ok"),
            m_failures: FailureKind::ALL.map(|kind| {
                metrics::counter!("vitrine_plugin_calls_total", "plugin" => name.clone(), "outcome" => kind.as_str())
            }),
            m_seconds: metrics::histogram!("vitrine_plugin_call_seconds", "plugin" => name.clone()),
        }
    }

    pub(crate) fn record(&self, outcome: Result<(), FailureKind>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.m_ok.increment(1);
            }
            Err(kind) => {
                self.failures[kind.index()].fetch_add(1, Ordering::Relaxed);
                self.m_failures[kind.index()].increment(1);
            }
        }
    }

    /// How long a call that ran took (instantiation and checks included).
    pub(crate) fn observe(&self, took: std::time::Duration) {
        self.m_seconds.record(took.as_secs_f64());
    }

    pub(crate) fn snapshot(&self) -> PluginCounters {
        PluginCounters {
            calls: self.calls.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            failures_by_kind: std::array::from_fn(|i| self.failures[i].load(Ordering::Relaxed)),
        }
    }
}
