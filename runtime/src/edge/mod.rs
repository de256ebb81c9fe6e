//! The edge server's parts. **Under construction (issue 4)**: today only
//! the HTTP caching rules ([`policy`]) exist; the server, the page cache,
//! the origin client and the change-feed follower do not yet.

pub mod policy;
