//! The Rust SDK for Vitrine plugins.
//!
//! A plugin is a WebAssembly component that implements one world of the WIT
//! contract in `sdk/wit/plugin.wit` (`vitrine:plugin@0.1.0`): `promotion`,
//! `payment` or `personalization`. This crate hides the generated bindings
//! behind a trait per world and one export macro per world:
//!
//! ```
//! use vitrine_sdk::promotion::{Adjustment, Cart, Promotion};
//! use vitrine_sdk::{PluginError, money};
//!
//! /// 10% off every line in `tools` or below.
//! pub struct TenPercent;
//!
//! impl Promotion for TenPercent {
//!     fn apply(cart: &Cart) -> Result<Vec<Adjustment>, PluginError> {
//!         let mut out = Vec::new();
//!         // No line is in `tools`: nothing to do.
//!         let Some(tools) = cart.category_index("tools") else {
//!             return Ok(out);
//!         };
//!         for (i, line) in cart.lines.iter().enumerate() {
//!             if !cart.in_category_at(line, tools) {
//!                 continue;
//!             }
//!             let total = money::line_total(line.unit_price_minor, line.quantity)
//!                 .ok_or_else(|| PluginError::InvalidInput("line total overflows".into()))?;
//!             let off = money::percent_of(total, 1_000, money::Rounding::Floor)
//!                 .ok_or_else(|| PluginError::InvalidInput("negative price".into()))?;
//!             if off > 0 {
//!                 out.push(Adjustment::line(i, off, "10% off tools"));
//!             }
//!         }
//!         Ok(out)
//!     }
//! }
//!
//! vitrine_sdk::export_promotion!(TenPercent);
//! ```
//!
//! Each world is behind the cargo feature of the same name (`promotion`,
//! `payment`, `personalization`; all three by default). A plugin depends on
//! the SDK with `default-features = false` and its one world, so that its
//! component carries no other world's types.
//!
//! Invariants the SDK keeps for you:
//! - money is `i64` minor units; [`money`] does checked integer arithmetic with
//!   an explicit [`money::Rounding`], never floats;
//! - the export macros only pull in their own world, so a promotion component
//!   imports `log`/`config` (if used) and the WASI bits Rust's std needs, and
//!   exports `apply` only;
//! - on the host (`cargo test`), [`log`] writes to stderr and [`config`] reads
//!   from [`testing::set_config`], so plugin logic is unit-testable without a
//!   Wasm runtime.

pub mod alloc;
#[doc(hidden)]
pub mod bindings;
pub mod config;
pub mod log;
pub mod money;
#[cfg(feature = "payment")]
pub mod payment;
#[cfg(feature = "personalization")]
pub mod personalization;
#[cfg(feature = "promotion")]
pub mod promotion;
pub mod testing;

pub use bindings::shared::vitrine::plugin::types::{Money, PluginError};

/// Makes [`alloc::CallArena`] the plugin's global allocator (on wasm32 only;
/// host builds and tests keep the system allocator). Use it once, at the
/// crate root.
#[macro_export]
macro_rules! use_call_arena {
    () => {
        #[cfg(target_arch = "wasm32")]
        #[global_allocator]
        static VITRINE_CALL_ARENA: $crate::alloc::CallArena = $crate::alloc::CallArena::new();
    };
}

/// Exports `$ty` (a type that implements [`promotion::Promotion`]) as the
/// plugin's `promotion` world.
///
/// Use it once per plugin crate, at the crate root. `$ty` must be a plain
/// type name in scope. On non-Wasm targets it expands to nothing, so the
/// plugin's crate still builds and tests on the host.
#[macro_export]
macro_rules! export_promotion {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            impl $crate::bindings::promotion::Guest for $ty {
                fn apply(
                    cart: $crate::promotion::Cart,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::promotion::Adjustment>,
                    $crate::PluginError,
                > {
                    $crate::promotion::run::<$ty>(&cart)
                }
            }
        };
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::promotion::__export_promotion!($ty with_types_in $crate::bindings::promotion);
    };
}

/// Exports `$ty` (a type that implements [`payment::Payment`]) as the
/// plugin's `payment` world. See [`export_promotion!`] for the rules.
#[macro_export]
macro_rules! export_payment {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::payment as __p;
            impl $crate::bindings::payment::Guest for $ty {
                fn capabilities() -> __p::Capabilities {
                    <$ty as __p::Payment>::capabilities()
                }
                fn authorize(
                    request: __p::AuthorizeRequest,
                ) -> ::core::result::Result<__p::Authorization, __p::PaymentError> {
                    <$ty as __p::Payment>::authorize(request)
                }
                fn capture(
                    request: __p::CaptureRequest,
                ) -> ::core::result::Result<__p::Authorization, __p::PaymentError> {
                    <$ty as __p::Payment>::capture(request)
                }
                fn void(
                    request: __p::VoidRequest,
                ) -> ::core::result::Result<__p::Authorization, __p::PaymentError> {
                    <$ty as __p::Payment>::void(request)
                }
                fn refund(
                    request: __p::RefundRequest,
                ) -> ::core::result::Result<__p::Authorization, __p::PaymentError> {
                    <$ty as __p::Payment>::refund(request)
                }
                fn verify_webhook(
                    webhook: __p::Webhook,
                ) -> ::core::result::Result<__p::PaymentEvent, __p::PaymentError> {
                    <$ty as __p::Payment>::verify_webhook(webhook)
                }
            }
        };
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::payment::__export_payment!($ty with_types_in $crate::bindings::payment);
    };
}

/// Exports `$ty` (a type that implements
/// [`personalization::Personalization`]) as the plugin's `personalization`
/// world. See [`export_promotion!`] for the rules.
#[macro_export]
macro_rules! export_personalization {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::personalization as __p;
            impl $crate::bindings::personalization::Guest for $ty {
                fn personalize(
                    page: ::std::vec::Vec<__p::ProductSummary>,
                    context: __p::ShopperContext,
                ) -> ::core::result::Result<::std::vec::Vec<__p::ProductSummary>, $crate::PluginError>
                {
                    <$ty as __p::Personalization>::personalize(page, &context)
                }
            }
        };
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::personalization::__export_personalization!(
            $ty with_types_in $crate::bindings::personalization
        );
    };
}
