-- The runner marks a Jenkins trigger as sent *before* its POST, so that a runner lost
-- between the POST and recording Jenkins' answer (`triggered_at`) leaves a row that says
-- "Jenkins may have acted": the reaper then asks Jenkins instead of declaring it lost.
--   trigger_sent_at     when the trigger POST was about to be sent
--   trigger_next_build  the triggered job's nextBuildNumber read just before the POST
--                       (builds numbered from it may be the trigger's)
--   trigger_params      the parameters sent, as [[name, value], ...]
ALTER TABLE action_executions
    ADD COLUMN trigger_sent_at    TIMESTAMPTZ,
    ADD COLUMN trigger_next_build BIGINT CHECK (trigger_next_build IS NULL OR trigger_next_build > 0),
    ADD COLUMN trigger_params     JSONB;
