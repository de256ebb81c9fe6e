//! The code `wit-bindgen` generates from `sdk/wit/plugin.wit`. Plugin
//! authors use the friendly paths at the crate root instead.
//!
//! `shared` holds what every world has in common (`types`, `log`,
//! `config`), generated once from a small world of this crate's own, so there
//! is one `PluginError` type and one import of each host function. The world
//! modules reuse it through `with`.
//!
//! Each world module sits behind the cargo feature of the same name, and a
//! plugin enables only its own: `wit-bindgen` embeds every compiled world's
//! type information in the component (the linker keeps `#[link_section]`
//! statics), and the componentizer keeps their type imports, so compiling
//! the payment world into a promotion would make the promotion component
//! import payment types. `pub_export_macro` splits each world's information
//! in two: its imports (always linked) and its exports (linked only by the
//! world's export macro), so compiling a world never obliges a plugin to
//! export it.

/// What every world shares: the `types`, `log` and `config` interfaces.
#[allow(missing_docs, clippy::all)]
pub mod shared {
    wit_bindgen::generate!({
        inline: "
            package vitrine:sdk;
            world shared {
                import vitrine:plugin/types@0.1.0;
                import vitrine:plugin/log@0.1.0;
                import vitrine:plugin/config@0.1.0;
            }
        ",
        path: "wit",
        world: "vitrine:sdk/shared",
        additional_derives: [PartialEq, Eq],
        generate_all,
    });
}

/// The `promotion` world.
#[cfg(feature = "promotion")]
#[allow(missing_docs, clippy::all)]
pub mod promotion {
    wit_bindgen::generate!({
        world: "vitrine:plugin/promotion",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_promotion",
        default_bindings_module: "vitrine_sdk::bindings::promotion",
        additional_derives: [PartialEq, Eq],
        with: {
            "vitrine:plugin/types@0.1.0": crate::bindings::shared::vitrine::plugin::types,
            "vitrine:plugin/log@0.1.0": crate::bindings::shared::vitrine::plugin::log,
            "vitrine:plugin/config@0.1.0": crate::bindings::shared::vitrine::plugin::config,
        },
    });
}

/// The `payment` world.
#[cfg(feature = "payment")]
#[allow(missing_docs, clippy::all)]
pub mod payment {
    wit_bindgen::generate!({
        world: "vitrine:plugin/payment",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_payment",
        default_bindings_module: "vitrine_sdk::bindings::payment",
        additional_derives: [PartialEq, Eq],
        with: {
            "vitrine:plugin/types@0.1.0": crate::bindings::shared::vitrine::plugin::types,
            "vitrine:plugin/log@0.1.0": crate::bindings::shared::vitrine::plugin::log,
            "vitrine:plugin/config@0.1.0": crate::bindings::shared::vitrine::plugin::config,
        },
    });
}

/// The `personalization` world.
#[cfg(feature = "personalization")]
#[allow(missing_docs, clippy::all)]
pub mod personalization {
    wit_bindgen::generate!({
        world: "vitrine:plugin/personalization",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_personalization",
        default_bindings_module: "vitrine_sdk::bindings::personalization",
        additional_derives: [PartialEq, Eq],
        with: {
            "vitrine:plugin/types@0.1.0": crate::bindings::shared::vitrine::plugin::types,
            "vitrine:plugin/log@0.1.0": crate::bindings::shared::vitrine::plugin::log,
            "vitrine:plugin/config@0.1.0": crate::bindings::shared::vitrine::plugin::config,
        },
    });
}
