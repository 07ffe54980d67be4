-- Approvals of a runbook run's `approve` step (a human gate inside the flow). The
-- orchestrator owns the table. One row per distinct approver (normalised principal) per
-- step row: approving twice is refused by the policy and, underneath, by the key.
CREATE TABLE runbook_step_approvals (
    step_id      BIGINT      NOT NULL REFERENCES runbook_steps (id) ON DELETE CASCADE,
    approver_key TEXT        NOT NULL,
    approver     TEXT        NOT NULL,
    via          TEXT,
    channel      TEXT        NOT NULL,
    approved_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (step_id, approver_key)
);
