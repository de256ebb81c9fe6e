-- The sync pipeline (see origin/src/sync).
--
-- Times that SQL compares are INTEGER Unix milliseconds, as elsewhere, so the
-- same statements run on SQLite.

-- The database queue (the embedded default's stand-in for SQS FIFO). A
-- message is deliverable when it is the oldest live one of its group and
-- visible; `dead` marks a dead letter, which no longer holds its group.
CREATE TABLE sync_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id      TEXT NOT NULL,
    dedup_id      TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    sent_at_ms    INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    dead          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sync_messages_group ON sync_messages (group_id, id) WHERE NOT dead;
CREATE INDEX sync_messages_live ON sync_messages (id) WHERE NOT dead;
CREATE UNIQUE INDEX sync_messages_receipt ON sync_messages (receipt);

-- Events the handlers applied (or found stale), so a redelivery changes
-- nothing. Written in the transaction of the change.
CREATE TABLE sync_processed (
    event_id      TEXT PRIMARY KEY,
    outcome       TEXT NOT NULL,
    processed_at_ms INTEGER NOT NULL
);

-- The newest version applied per SKU and field group: an event changes a
-- field only if it is newer than that field's last change, so the result is
-- the same in whatever order a SKU's events arrive. `deleted_version` stays
-- after a delete, so a late, older upsert does not bring the product back.
CREATE TABLE sync_versions (
    sku             TEXT PRIMARY KEY,
    stock_version   INTEGER NOT NULL DEFAULT 0,
    price_version   INTEGER NOT NULL DEFAULT 0,
    fields_version  INTEGER NOT NULL DEFAULT 0,
    deleted_version INTEGER NOT NULL DEFAULT 0
);

-- The last error of each event that failed, for the admin's dead letters.
CREATE TABLE sync_failures (
    event_id      TEXT PRIMARY KEY,
    last_error    TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    failed_at_ms  INTEGER NOT NULL
);

-- Catalog feed jobs: where a run stands, so a restart resumes it.
CREATE TABLE sync_feed_jobs (
    name          TEXT PRIMARY KEY,
    -- SHA-256 of the feed being (or last) processed.
    digest        TEXT NOT NULL,
    -- Rows of that feed already diffed and enqueued.
    rows_done     INTEGER NOT NULL,
    -- Whether that feed was processed to its end.
    finished      BOOLEAN NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
