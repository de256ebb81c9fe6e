//! The edge server's parts. **Under construction (issue 4)**: today the
//! HTTP caching rules ([`policy`]), the cache's storage ([`store`]) and
//! request coalescing ([`coalesce`]) exist; the server, the origin client and the change-feed follower do not yet.

pub mod coalesce;
pub mod policy;
pub mod store;
