-- Spine hardening of action_executions.
--   rejection_reason  why the guard (or the orchestrator's expiry sweep) rejected the action,
--                     kept apart from `reason`, the requester's own words;
--   error_kind        the class of a failure (`jenkins_5xx`, `runner_lost`, `build_failed`...);
--   jenkins_queue_id, jenkins_job, triggered_at
--                     the Jenkins trigger, recorded by the runner as soon as Jenkins answered:
--                     a runner that stops mid-action leaves them for another runner to follow
--                     the queue item instead of declaring the action lost;
--   requeued_at       when the orchestrator's sweep last re-published an unclaimed request.
ALTER TABLE action_executions
    ADD COLUMN rejection_reason TEXT,
    ADD COLUMN error_kind       TEXT,
    ADD COLUMN jenkins_queue_id BIGINT CHECK (jenkins_queue_id IS NULL OR jenkins_queue_id > 0),
    ADD COLUMN jenkins_job      TEXT,
    ADD COLUMN triggered_at     TIMESTAMPTZ,
    ADD COLUMN requeued_at      TIMESTAMPTZ;
