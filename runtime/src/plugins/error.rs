//! What can go wrong when loading or calling a plugin.
//!
//! Sandbox failures are their own variants because operators act differently
//! on each: a deadline may mean a slow host, fuel an expensive plugin, memory a
//! leak, a trap a bug, invalid output a broken contract, a denial a missing
//! grant in the operator's config.

use std::fmt;
use std::time::Duration;

/// A typed error returned by the plugin itself (the WIT `plugin-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// The input broke a rule the plugin relies on.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The plugin's configuration is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// Something the plugin needs is unavailable; retrying later may work.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug in the plugin, reported by the plugin.
    #[error("internal: {0}")]
    Internal(String),
    /// Payment: the provider said no.
    #[error("declined: {0}")]
    Declined(String),
    /// Payment: a webhook's signature did not verify.
    #[error("bad webhook signature")]
    BadSignature,
}

/// Why a plugin call (or load) failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No plugin of that name is installed (in the world asked for).
    #[error("no plugin `{0}` is installed")]
    NotFound(String),
    /// The plugin ran past its wall-clock deadline (epoch interruption).
    #[error("plugin `{plugin}` ran past its deadline of {deadline:?}")]
    Deadline {
        /// The plugin's name.
        plugin: String,
        /// The deadline it was given.
        deadline: Duration,
    },
    /// The plugin used up its instruction budget.
    #[error("plugin `{plugin}` used up its fuel budget of {fuel}")]
    FuelExhausted {
        /// The plugin's name.
        plugin: String,
        /// The budget it was given.
        fuel: u64,
    },
    /// The plugin tried to grow its memory past its ceiling.
    #[error("plugin `{plugin}` tried to grow its memory past {limit_bytes} bytes")]
    MemoryLimit {
        /// The plugin's name.
        plugin: String,
        /// The ceiling.
        limit_bytes: usize,
    },
    /// The plugin trapped (a panic, `unreachable`, an out-of-bounds access…).
    #[error("plugin `{plugin}` trapped: {message}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// What the engine reported.
        message: String,
    },
    /// The plugin answered, but the answer breaks the contract.
    #[error("plugin `{plugin}` returned invalid output: {reason}")]
    InvalidOutput {
        /// The plugin's name.
        plugin: String,
        /// Which rule the answer broke.
        reason: String,
    },
    /// The plugin asked for something it was not granted; the call was stopped.
    #[error("plugin `{plugin}` was denied a capability: {what}")]
    CapabilityDenied {
        /// The plugin's name.
        plugin: String,
        /// What it asked for.
        what: String,
    },
    /// The input was larger than the plugin's input limit; the plugin did not run.
    #[error("input for plugin `{plugin}` is {size} bytes, over its limit of {limit}")]
    InputTooLarge {
        /// The plugin's name.
        plugin: String,
        /// Estimated size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The plugin's answer was larger than its output limit.
    #[error("output of plugin `{plugin}` is {size} bytes, over its limit of {limit}")]
    OutputTooLarge {
        /// The plugin's name.
        plugin: String,
        /// Estimated size of the output.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The plugin's breaker is open after repeated failures; it was not called.
    #[error("plugin `{plugin}` is switched off for {retry_in:?} after repeated failures")]
    Disabled {
        /// The plugin's name.
        plugin: String,
        /// How long until the breaker lets a probe call through.
        retry_in: Duration,
    },
    /// The plugin returned its own typed error.
    #[error("plugin `{plugin}` failed: {error}")]
    Guest {
        /// The plugin's name.
        plugin: String,
        /// The error it returned.
        error: GuestError,
    },
    /// The plugin could not be loaded (read, compiled, linked or cached).
    #[error("loading plugin `{plugin}`: {message}")]
    Load {
        /// The plugin's name.
        plugin: String,
        /// What went wrong, with context.
        message: String,
    },
}

/// The kind of a call's outcome, for counters and the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// See [`PluginError::Deadline`].
    Deadline,
    /// See [`PluginError::FuelExhausted`].
    Fuel,
    /// See [`PluginError::MemoryLimit`].
    Memory,
    /// See [`PluginError::Trap`].
    Trap,
    /// See [`PluginError::InvalidOutput`].
    InvalidOutput,
    /// See [`PluginError::CapabilityDenied`].
    CapabilityDenied,
    /// See [`PluginError::InputTooLarge`].
    InputTooLarge,
    /// See [`PluginError::OutputTooLarge`].
    OutputTooLarge,
    /// See [`PluginError::Disabled`].
    Disabled,
    /// See [`PluginError::Guest`], except [`GuestError::Unavailable`].
    Guest,
    /// A guest error saying what the plugin depends on is unavailable (a
    /// payment provider that is down or answers with errors). It counts
    /// towards the breaker: that is what a payment plugin's breaker is for.
    Unavailable,
    /// See [`PluginError::NotFound`] and [`PluginError::Load`].
    Other,
}

impl FailureKind {
    /// Every kind, in a stable order (for counters).
    pub const ALL: [FailureKind; 12] = [
        FailureKind::Deadline,
        FailureKind::Fuel,
        FailureKind::Memory,
        FailureKind::Trap,
        FailureKind::InvalidOutput,
        FailureKind::CapabilityDenied,
        FailureKind::InputTooLarge,
        FailureKind::OutputTooLarge,
        FailureKind::Disabled,
        FailureKind::Guest,
        FailureKind::Unavailable,
        FailureKind::Other,
    ];

    /// A short snake_case label, used as the `outcome` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Deadline => "deadline",
            FailureKind::Fuel => "fuel",
            FailureKind::Memory => "memory",
            FailureKind::Trap => "trap",
            FailureKind::InvalidOutput => "invalid_output",
            FailureKind::CapabilityDenied => "capability_denied",
            FailureKind::InputTooLarge => "input_too_large",
            FailureKind::OutputTooLarge => "output_too_large",
            FailureKind::Disabled => "disabled",
            FailureKind::Guest => "guest_error",
            FailureKind::Unavailable => "unavailable",
            FailureKind::Other => "other",
        }
    }

    /// Whether this kind counts towards the plugin's breaker: it misbehaved,
    /// or what it calls is unavailable (calls would only wait and fail). A
    /// typed guest error is the plugin doing its job, an oversized input is
    /// the caller's doing, and a disabled plugin did not run.
    pub fn trips_breaker(self) -> bool {
        !matches!(
            self,
            FailureKind::Guest | FailureKind::InputTooLarge | FailureKind::Disabled | FailureKind::Other
        )
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PluginError {
    /// The kind of this error, for counters and the breaker.
    pub fn kind(&self) -> FailureKind {
        match self {
            PluginError::Deadline { .. } => FailureKind::Deadline,
            PluginError::FuelExhausted { .. } => FailureKind::Fuel,
            PluginError::MemoryLimit { .. } => FailureKind::Memory,
            PluginError::Trap { .. } => FailureKind::Trap,
            PluginError::InvalidOutput { .. } => FailureKind::InvalidOutput,
            PluginError::CapabilityDenied { .. } => FailureKind::CapabilityDenied,
            PluginError::InputTooLarge { .. } => FailureKind::InputTooLarge,
            PluginError::OutputTooLarge { .. } => FailureKind::OutputTooLarge,
            PluginError::Disabled { .. } => FailureKind::Disabled,
            PluginError::Guest {
                error: GuestError::Unavailable(_),
                ..
            } => FailureKind::Unavailable,
            PluginError::Guest { .. } => FailureKind::Guest,
            PluginError::NotFound(_) | PluginError::Load { .. } => FailureKind::Other,
        }
    }
}
