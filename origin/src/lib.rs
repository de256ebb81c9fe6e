//! # vitrine-origin
//!
//! The origin service of a Vitrine storefront: it owns the data. Edges serve
//! cached catalog pages and forward every write here.
//!
//! - [`catalog`]: products and categories, answered with `Cache-Control`,
//!   `ETag` and `Surrogate-Key` so edges can cache and purge them.
//! - [`carts`]: guest and shopper carts, in Redis or the database.
//! - [`orders`]: orders made from carts in one transaction that checks prices,
//!   reserves stock (never below zero), and writes the outbox.
//! - [`auth`]: argon2id passwords, JWT access tokens, rotating refresh tokens,
//!   roles; [`admin`]: the role-checked admin API.
//! - [`change_feed`]: the outbox numbered without holes (`feed_seq`), as a
//!   long poll for edges and a Redis stream, so edges purge what changed.
//! - [`search`]: a tantivy index of the products (typos, prefixes,
//!   synonyms, facets, highlights), kept near real time from the change feed.
//! - [`sync`]: the ERP webhook and catalog feed, a FIFO queue per product
//!   (SQS or the database), idempotent versioned handlers, dead letters.
//! - [`notifications`]: signed outgoing webhooks about orders and payments,
//!   fanned out from the change feed, retried with backoff, with a delivery log.
//! - [`http`]: routing, the OpenAPI document, idempotency keys, metrics.
//! - [`db`]: Postgres or SQLite behind one code path; [`seed`]: the demo catalog.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let config = vitrine_origin::config::Config::embedded("./vitrine-data");
//! let state = vitrine_origin::state::AppState::connect(config, true).await?;
//! let app = vitrine_origin::http::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod auth;
pub mod carts;
pub mod catalog;
pub mod change_feed;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod http;
pub mod money;
pub mod notifications;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod redis_conn;
pub mod search;
pub mod seed;
pub mod server;
pub mod state;
pub mod stock;
pub mod sync;
