-- Runbook runs and their steps. The orchestrator owns both tables: its conductor advances a
-- run one step transition per transaction, holding the run's row (FOR UPDATE SKIP LOCKED),
-- so two replicas never advance the same run and a crash mid-transition rolls back whole.
CREATE TABLE runbook_runs (
    id               BIGSERIAL   PRIMARY KEY,
    runbook          TEXT        NOT NULL,
    -- The runbook as the conductor took it up (a rule's run is stored by name in the
    -- detection's transaction and bound at its first step): a reload never changes a run
    -- under way.
    runbook_version  INT         CHECK (runbook_version >= 1),
    definition       JSONB,
    incident_id      BIGINT      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    -- `runbook:<name>`, and on whose behalf: `rule:<name>` or the person who started it.
    principal        TEXT        NOT NULL,
    started_by       TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('running', 'resolved', 'escalated')),
    -- The step the run is on (index into the definition's steps) and its row's seq.
    current_step     INT,
    current_seq      INT,
    -- When the conductor must look at the run next: a stored timer, never an in-memory sleep.
    next_wake_at     TIMESTAMPTZ,
    -- What later steps need: the build a verification compares against, a passed verification.
    context          JSONB       NOT NULL DEFAULT '{}'::jsonb,
    transitions      INT         NOT NULL DEFAULT 0,
    outcome          TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ,
    -- The same start (a rule's incident, a REST idempotency key) creates one run.
    start_key        TEXT        UNIQUE,
    CHECK ((status = 'running') = (finished_at IS NULL)),
    CHECK (status <> 'running' OR (current_step IS NOT NULL AND next_wake_at IS NOT NULL))
);
-- The conductor's question: which running runs are due.
CREATE INDEX runbook_runs_due_idx ON runbook_runs (next_wake_at) WHERE status = 'running';
CREATE INDEX runbook_runs_incident_idx ON runbook_runs (incident_id);
-- One active run per incident: the incident's fate has one author at a time.
CREATE UNIQUE INDEX runbook_runs_one_active_idx ON runbook_runs (incident_id) WHERE status = 'running';

CREATE TABLE runbook_steps (
    id           BIGSERIAL   PRIMARY KEY,
    run_id       BIGINT      NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
    -- 1, 2, … in the order the run took them; a step visited twice gets two rows.
    seq          INT         NOT NULL CHECK (seq >= 1),
    step         TEXT        NOT NULL,
    kind         TEXT        NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out')),
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    deadline_at  TIMESTAMPTZ,
    -- The action an action step requested (its idempotency key is `runbook:<run>:<seq>`).
    action_id    BIGINT      REFERENCES action_executions (id),
    -- Who acted, the policy clause, the decision, what was observed.
    decision     JSONB,
    details      JSONB       NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (run_id, seq),
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX runbook_steps_action_idx ON runbook_steps (action_id) WHERE action_id IS NOT NULL;

-- Wakes the conductor early (a new run, an action result) instead of at its next poll.
CREATE OR REPLACE FUNCTION runbook_runs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('runbook_runs', NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER runbook_runs_notify AFTER INSERT ON runbook_runs
    FOR EACH ROW EXECUTE FUNCTION runbook_runs_notify();
