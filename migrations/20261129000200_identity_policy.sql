-- Identity and policy: which policy clause allowed an action, how many distinct approvers
-- it needs, who approved it, which service relayed the request, and a fingerprint of the
-- request behind an idempotency key (a key reused for a different request is refused).
ALTER TABLE action_executions
    ADD COLUMN approvals_required      INTEGER NOT NULL DEFAULT 0
                                       CHECK (approvals_required BETWEEN 0 AND 5),
    ADD COLUMN policy_clause           TEXT,
    ADD COLUMN requested_via           TEXT,
    ADD COLUMN idempotency_fingerprint TEXT;

CREATE TABLE action_approvals (
    action_id    BIGINT      NOT NULL REFERENCES action_executions (id) ON DELETE CASCADE,
    -- The normalised principal (trimmed, lowercase): one approval per person.
    approver     TEXT        NOT NULL,
    -- As the approver's principal was written.
    display_name TEXT        NOT NULL,
    via          TEXT,
    channel      TEXT        NOT NULL CHECK (channel IN ('api', 'slack', 'mcp', 'rule', 'system')),
    approved_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (action_id, approver)
);
