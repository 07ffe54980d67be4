-- Listener hot standby and LastSentStore.
--
-- One row per source (`jenkins`, `api`). The replica whose lease is current tails it; a
-- standby takes the row over once `lease_until` has passed. Every takeover increments
-- `token`, and checkpoint writes are conditional on it, so a deposed holder (paused, cut
-- off) can never move the checkpoint again (fencing).
ALTER TABLE listener_checkpoints
    ADD COLUMN holder      TEXT,
    ADD COLUMN lease_until TIMESTAMPTZ,
    ADD COLUMN token       BIGINT NOT NULL DEFAULT 0,
    -- Ids of documents already published whose timestamp is still inside the overlap
    -- window, as [["index/id", epoch_ms], ...]: bounded by `tail.dedup_capacity`.
    ADD COLUMN sent_ids    JSONB  NOT NULL DEFAULT '[]'::jsonb;

COMMENT ON COLUMN listener_checkpoints.last_timestamp IS
    'every document up to this timestamp was confirmed by the broker (re-read minus the overlap window)';
COMMENT ON COLUMN listener_checkpoints.cursor IS
    'the sort values and id of the last confirmed document, for operators';
