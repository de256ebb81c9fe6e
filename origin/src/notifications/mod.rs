//! Notifications: signed outgoing webhooks about orders and payments.
//!
//! Store managers register endpoints through the admin API ([`http`]): a URL
//! and the topics it wants (`order.created`, or `payment.*`). Every committed
//! outbox row with one of the [`TOPICS`] becomes one delivery per subscribed
//! endpoint ([`fanout`]), and the [`sender`] POSTs each, signed with the
//! endpoint's secret, retrying with backoff until the endpoint answers 2xx or
//! the attempts run out.
//!
//! ```text
//! outbox ─> relay numbers it (feed_seq) ─> fan-out: one delivery per endpoint,
//!                                           cursor moved in the same transaction
//!                                        ─> sender: lease, POST, delivered | retry | failed
//! ```
//!
//! Guarantees a receiver can build on:
//! - **At least once.** A delivery is retried until a 2xx or
//!   `VITRINE_WEBHOOK_MAX_ATTEMPTS`; a crash after the receiver answered but
//!   before the outcome was recorded sends it again. The body's `id` (the
//!   change's feed number, `evt_<n>`) is the same on every attempt and every
//!   endpoint, so receivers deduplicate on it.
//! - **No change lost or doubled by the fan-out.** Its cursor moves in the
//!   transaction that inserts the deliveries, and `(endpoint, event)` is unique.
//! - **One sender per delivery at a time**, across replicas: a sender leases
//!   what it claims (`lease_until_ms`), and records an outcome only while it
//!   still holds the lease.
//! - **Event order per endpoint while it answers.** An endpoint's deliveries
//!   are sent one at a time in feed order; one being retried does not hold up
//!   later ones, so after a failure order is not guaranteed. Endpoints do not
//!   wait for one another.
//! - **Only what happens after registration**: a change is delivered to the
//!   endpoints that existed when it was written.

pub mod config;
pub mod fanout;
pub mod http;
pub mod sender;
pub mod store;

pub use config::NotificationsConfig;

/// The outbox topics an endpoint may subscribe to.
pub const TOPICS: &[&str] = &[
    "order.created",
    "order.status_changed",
    "order.refunded",
    "payment.status_changed",
    "payment.refunded",
];

/// Whether changes of `topic` are sent to endpoints at all.
pub fn is_notified(topic: &str) -> bool {
    TOPICS.contains(&topic)
}

/// Whether `pattern` is a known topic or `<prefix>.*` for a prefix of one.
pub fn is_known_pattern(pattern: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => TOPICS
            .iter()
            .any(|topic| topic.split_once('.').is_some_and(|(p, _)| p == prefix)),
        None => TOPICS.contains(&pattern),
    }
}

/// Whether subscription `pattern` selects `topic`.
pub fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => topic.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')),
        None => pattern == topic,
    }
}

/// The header naming the topic.
pub const EVENT_HEADER: &str = "x-vitrine-event";
/// The header naming the delivery (the same on every attempt).
pub const DELIVERY_HEADER: &str = "x-vitrine-delivery";
/// The signature header: `t=<unix secs>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "x-vitrine-signature";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_select_their_topics_only() {
        assert!(is_known_pattern("order.created"));
        assert!(is_known_pattern("payment.*"));
        assert!(is_known_pattern("order.*"));
        for unknown in ["*", "product.*", "order.shipped", "order", "order.", ".*", "orde.*", ""] {
            assert!(!is_known_pattern(unknown), "{unknown:?}");
        }
        assert!(matches("payment.*", "payment.refunded"));
        assert!(!matches("payment.*", "order.created"));
        assert!(!matches("order.*", "orders.created"));
        assert!(matches("order.created", "order.created"));
        assert!(!matches("order.created", "order.created2"));
        assert!(TOPICS.iter().all(|t| is_notified(t)));
        assert!(!is_notified("product.stock_changed"));
    }
}
