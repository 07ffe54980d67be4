-- ───────────────────────────────── chatops ─────────────────────────────────
-- The notifier keeps the Slack messages it manages as desired state: a consumer writes what
-- each message should say (in the transaction that records the event as seen), and a paced
-- sender per channel makes Slack match it. Nothing is lost while Slack is down, and a
-- redelivered event renders the same content, so it posts nothing new.

-- One row per destination channel: its pacing, backoff and the instance sending to it.
CREATE TABLE slack_channels (
    channel       TEXT        PRIMARY KEY,
    next_send_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    failures      INTEGER     NOT NULL DEFAULT 0,
    last_error    TEXT,
    leased_by     TEXT,
    lease_until   TIMESTAMPTZ
);

CREATE SEQUENCE slack_messages_seq;

CREATE TABLE slack_messages (
    -- `incident:42`, `action:7`, `burst:<n>`, `event:<envelope id>`, `reply:<uuid>`
    key           TEXT        PRIMARY KEY,
    kind          TEXT        NOT NULL CHECK (kind IN ('incident', 'action', 'burst', 'reply', 'post')),
    channel       TEXT        NOT NULL REFERENCES slack_channels (channel),
    -- posted in the thread of this message (its ts is the thread_ts)
    thread_key    TEXT,
    -- posted only after this one (an incident before its replies)
    after_key     TEXT,
    -- the merged view the content is rendered from (incidents, actions)
    state         JSONB,
    text          TEXT        NOT NULL,
    blocks        JSONB       NOT NULL DEFAULT '[]'::jsonb,
    version       BIGINT      NOT NULL DEFAULT 1,
    sent_version  BIGINT      NOT NULL DEFAULT 0,
    -- order of pending work in the channel (renewed on every change)
    dirty_seq     BIGINT      NOT NULL DEFAULT nextval('slack_messages_seq'),
    -- placeholders (an action seen before its incident) wait until then
    ready_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    ts            TEXT,
    channel_id    TEXT,
    status        TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failed')),
    attempts      INTEGER     NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX slack_messages_pending_idx ON slack_messages (channel, dirty_seq)
    WHERE status = 'active' AND sent_version < version;
CREATE INDEX slack_messages_thread_idx ON slack_messages (thread_key) WHERE thread_key IS NOT NULL;
CREATE INDEX slack_messages_after_idx ON slack_messages (after_key) WHERE after_key IS NOT NULL;
CREATE INDEX slack_messages_burst_idx ON slack_messages (channel, updated_at) WHERE kind = 'burst';
CREATE INDEX slack_messages_updated_idx ON slack_messages (updated_at);

-- Signatures of accepted requests (replays are refused) and Events API event ids (Slack's
-- retries are not processed twice), kept a little longer than the 5-minute window.
CREATE TABLE slack_seen (
    key      TEXT        PRIMARY KEY,
    seen_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX slack_seen_at_idx ON slack_seen (seen_at);
