-- Calls to payment providers that the origin owes (see origin/src/payments.rs):
-- capture an order's authorized payment, pay out an approved refund, and
-- authorize an order taken while its provider was down. Written in the
-- transaction that creates the obligation, so none is lost; run by a worker
-- with retries until done, failed for good, or past `give_up_at_ms`.
--
-- Times that SQL compares are INTEGER Unix milliseconds, as in 0004.
CREATE TABLE payment_tasks (
    id              BLOB PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('authorize', 'capture', 'refund')),
    order_id        BLOB NOT NULL REFERENCES orders (id),
    payment_id      BLOB NOT NULL REFERENCES payments (id),
    refund_id       BLOB REFERENCES refunds (id),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    -- What the call needs beyond the rows above (a deferred authorization's
    -- payment token and idempotency key).
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    -- While a worker holds it: until when.
    lease_until_ms  INTEGER NOT NULL DEFAULT 0,
    give_up_at_ms   INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX payment_tasks_due ON payment_tasks (next_attempt_at_ms) WHERE status = 'pending';
CREATE INDEX payment_tasks_by_order ON payment_tasks (order_id);
-- One capture or authorization per payment, one payout per refund.
CREATE UNIQUE INDEX payment_tasks_once ON payment_tasks (kind, payment_id) WHERE kind <> 'refund';
CREATE UNIQUE INDEX payment_tasks_refund_once ON payment_tasks (refund_id) WHERE kind = 'refund';

-- Where an approved refund's money is: `pending` until the provider
-- refunded it, then `refunded`, or `failed` (see the task's last_error).
ALTER TABLE refunds ADD COLUMN payout TEXT CHECK (payout IN ('pending', 'refunded', 'failed'));
