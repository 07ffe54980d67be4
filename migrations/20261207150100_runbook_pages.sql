-- Pages a runbook run sends when it escalates (PagerDuty Events API v2, a signed webhook).
-- The orchestrator owns the table. Like an action, a page is claimed before its call
-- (`status = 'sending'` with a lease, committed first), so a crash mid-call leaves a row a
-- later pass re-sends with the same `dedup_key` — which PagerDuty and the webhook's
-- receiver treat as the same page — instead of a page nobody knows was sent.
CREATE TABLE runbook_pages (
    id                BIGSERIAL   PRIMARY KEY,
    run_id            BIGINT      NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
    -- The escalate step that pages (NULL: the run ended unverified and escalated itself).
    step_id           BIGINT      REFERENCES runbook_steps (id) ON DELETE CASCADE,
    target            TEXT        NOT NULL CHECK (target IN ('pagerduty', 'webhook')),
    -- `trigger` when escalating; `resolve` once the incident is resolved (PagerDuty only).
    event_action      TEXT        NOT NULL CHECK (event_action IN ('trigger', 'resolve')),
    -- The incident's severity: which configured routing key / webhook is used at send time
    -- (secrets are never stored here).
    severity          TEXT        NOT NULL,
    -- Stable per run: `runbook-run-<run id>`.
    dedup_key         TEXT        NOT NULL,
    -- What is sent besides the secrets: summary, source, custom details.
    payload           JSONB       NOT NULL,
    status            TEXT        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts          INT         NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_expires_at  TIMESTAMPTZ,
    last_error        TEXT,
    -- The receiver's answer to the call that succeeded (PagerDuty: status, message, dedup_key).
    response          JSONB,
    sent_at           TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (dedup_key, target, event_action),
    CHECK ((status = 'sending') = (lease_expires_at IS NOT NULL))
);
-- The pager's question: what is due (or whose lease ran out).
CREATE INDEX runbook_pages_due_idx ON runbook_pages (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX runbook_pages_run_idx ON runbook_pages (run_id);
