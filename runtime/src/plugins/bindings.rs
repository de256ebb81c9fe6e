//! Host-side bindings generated from `sdk/wit/plugin.wit`.
//!
//! The payment world imports every host interface, so its bindings own the
//! shared ones (`types`, `log`, `config`, `http`, `clock`); the other worlds
//! reuse them through `with`, so each host capability is implemented once.
#![allow(missing_docs)]

/// The `payment` world (and the shared host interfaces).
pub mod payment {
    wasmtime::component::bindgen!({
        world: "payment",
        path: "../sdk/wit",
        imports: {
            "vitrine:plugin/config.secret": trappable,
            "vitrine:plugin/clock.now-ms": trappable,
        },
    });
}

/// The `promotion` world.
pub mod promotion {
    wasmtime::component::bindgen!({
        world: "promotion",
        path: "../sdk/wit",
        with: {
            "vitrine:plugin/types": super::payment::vitrine::plugin::types,
            "vitrine:plugin/log": super::payment::vitrine::plugin::log,
            "vitrine:plugin/config": super::payment::vitrine::plugin::config,
        },
    });
}

/// The `personalization` world.
pub mod personalization {
    wasmtime::component::bindgen!({
        world: "personalization",
        path: "../sdk/wit",
        with: {
            "vitrine:plugin/types": super::payment::vitrine::plugin::types,
            "vitrine:plugin/log": super::payment::vitrine::plugin::log,
            "vitrine:plugin/config": super::payment::vitrine::plugin::config,
        },
    });
}

pub use payment::vitrine::plugin::{clock, config, http, log, types};
