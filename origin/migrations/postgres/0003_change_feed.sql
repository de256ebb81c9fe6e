-- The change feed the edges follow: `feed_seq` numbers committed outbox rows
-- 1, 2, 3, ... without holes, in the order the relay saw them commit. `seq`
-- cannot serve, because a rolled-back transaction leaves a hole in it and
-- transactions commit out of `seq` order. The relay assigns each row its
-- `feed_seq` once, under an advisory lock (see change_feed::relay).
ALTER TABLE outbox ADD COLUMN feed_seq BIGINT;
CREATE UNIQUE INDEX outbox_feed_seq ON outbox (feed_seq);
-- What the relay has yet to number.
CREATE INDEX outbox_unsequenced ON outbox (seq) WHERE feed_seq IS NULL;
-- Retention finds the rows past their age without reading the rest.
CREATE INDEX outbox_created_at ON outbox (created_at);
