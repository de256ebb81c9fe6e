//! The edge server's parts. **Under construction (issue 4)**: today the
//! HTTP caching rules ([`policy`]) and the cache's storage ([`store`])
//! exist; the server, the origin client and the change-feed follower do not yet.

pub mod policy;
pub mod store;
