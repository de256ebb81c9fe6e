//! The `log` capability: one line at a time, tagged with the plugin's name
//! and rate-limited by the host. The operator must grant `log`.
//!
//! On non-Wasm targets (unit tests) lines go to stderr and to
//! [`crate::testing::logs`].

pub use crate::bindings::shared::vitrine::plugin::log::Level;

/// Writes `message` at `level`.
pub fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::shared::vitrine::plugin::log::write(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::record_log(level, message);
}

/// Writes `message` at debug level.
pub fn debug(message: &str) {
    write(Level::Debug, message);
}

/// Writes `message` at info level.
pub fn info(message: &str) {
    write(Level::Info, message);
}

/// Writes `message` at warn level.
pub fn warn(message: &str) {
    write(Level::Warn, message);
}

/// Writes `message` at error level.
pub fn error(message: &str) {
    write(Level::Error, message);
}
