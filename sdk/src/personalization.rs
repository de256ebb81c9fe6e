//! The `personalization` world: a cached catalog page and the shopper's
//! context in, the page reordered, filtered and badged out.
//!
//! It runs per request on a cached page, so it must be cheap; it should only
//! reorder, drop or badge products it was given, never invent them (the host
//! refuses an answer that does, or that changes a price). It must be
//! deterministic: the same page, context and configuration give the same
//! answer, because the edge reuses an answer for the next shopper with the
//! same context on the same cached page.
//! Implement [`Personalization`] and export it with
//! [`crate::export_personalization!`].

pub use crate::bindings::personalization::vitrine::plugin::personalization_types::{ProductSummary, ShopperContext};

use crate::PluginError;

/// A personalization plugin.
pub trait Personalization {
    /// `page` reordered, filtered and badged for the shopper in `context`.
    fn personalize(page: Vec<ProductSummary>, context: &ShopperContext) -> Result<Vec<ProductSummary>, PluginError>;
}
