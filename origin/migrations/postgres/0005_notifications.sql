-- Notifications: signed outgoing webhooks (see origin/src/notifications).
--
-- Times that SQL compares are BIGINT Unix milliseconds, as elsewhere, so the
-- same statements run on SQLite.

-- The endpoints the admin API registered. `events` is a JSON array of topics
-- and `<prefix>.*` patterns. A deleted endpoint keeps its row (and its
-- delivery log) with `deleted_at_ms` set, and gets nothing more.
CREATE TABLE webhook_endpoints (
    id            UUID PRIMARY KEY,
    url           TEXT NOT NULL,
    events        JSONB NOT NULL,
    description   TEXT,
    -- The signing secret, shown once when the endpoint is registered.
    secret        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    deleted_at_ms BIGINT
);

-- One row per (endpoint, change) to send; the delivery log. `status` is
-- pending, delivered, failed or cancelled (its endpoint was deleted). A
-- sender owns a pending row while `lease_until_ms` is in the future.
CREATE TABLE webhook_deliveries (
    id                 UUID PRIMARY KEY,
    endpoint_id        UUID NOT NULL REFERENCES webhook_endpoints (id),
    event_id           TEXT NOT NULL,
    -- The change feed number of the outbox row it came from.
    feed_seq           BIGINT NOT NULL,
    topic              TEXT NOT NULL,
    -- The exact bytes that are signed and sent.
    body               TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    last_status_code   BIGINT,
    last_error         TEXT,
    next_attempt_at_ms BIGINT NOT NULL,
    lease_until_ms     BIGINT NOT NULL DEFAULT 0,
    delivered_at_ms    BIGINT,
    created_at_ms      BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_pending_by_endpoint ON webhook_deliveries (endpoint_id, feed_seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at_ms);

-- How far the fan-out has read the change feed: every numbered outbox row up
-- to `last_feed_seq` has its deliveries. Moved in the transaction that
-- inserts them. Starts at the feed's end: endpoints hear of what happens
-- after they exist.
CREATE TABLE webhook_fanout (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_feed_seq BIGINT NOT NULL
);
INSERT INTO webhook_fanout (id, last_feed_seq) SELECT 1, COALESCE(MAX(feed_seq), 0) FROM outbox;
