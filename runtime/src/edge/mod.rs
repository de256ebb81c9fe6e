//! The edge: what shoppers talk to.
//!
//! - [`checkout`]: carts priced with the promotion plugins, and checkout
//!   (authorize through the payment plugin, then the order at the origin);
//! - [`policy`]: what RFC 9111 lets a shared cache do with a response;
//! - [`store`]: the page store, bounded by bytes, purged by surrogate key;
//! - [`coalesce`]: one origin request per key in flight;
//! - [`origin`]: the pooled, signed, deadline-bound client to the origin;
//! - [`proxy`]: the request path, phase by phase (route, lookup, origin,
//!   respond) and write forwarding;
//! - [`limit`]: per-client token buckets;
//! - [`feed`]: following the origin's change feed and purging what changed;
//! - [`personalize`]: the shopper's context from a signed cookie, and
//!   personalization plugins run on a cached listing page;
//! - [`storefront`]: the shoppers' page, compiled in, served at `/`;
//! - [`server`]: the HTTP server (slow-client and header-size limits,
//!   graceful drain) and the operations endpoints.

pub mod checkout;
pub mod coalesce;
pub mod feed;
pub mod limit;
pub mod origin;
pub mod personalize;
pub mod policy;
pub mod proxy;
pub mod server;
pub mod store;
pub mod storefront;
