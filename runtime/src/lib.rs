//! The Vitrine edge runtime.
//!
//! For now this crate owns the **plugin host** ([`plugins`]): sandboxed
//! WebAssembly components that price carts (promotion), take payments and
//! personalize pages, each under its own capability grants and limits. The
//! edge server (router, page cache, origin client, change-feed follower)
//! comes next and will live beside it; the origin uses the plugin host as a
//! library for capture, refund and payment webhooks.

pub mod edge;
pub mod plugins;
pub mod testing;
