-- Runbooks initial schema. Each table names the service that writes it; services never read
-- another service's tables to learn its news (that travels on the bus).

-- ───────────────────────────── logs (orchestrator) ─────────────────────────────
CREATE TABLE logs_jenkins (
    id            BIGSERIAL PRIMARY KEY,
    source_id     TEXT        NOT NULL,
    message_id    UUID,
    timestamp     TIMESTAMPTZ NOT NULL,
    level         TEXT        NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error', 'fatal')),
    message       TEXT        NOT NULL,
    job_name      TEXT CHECK (job_name IS NULL OR length(job_name) BETWEEN 1 AND 512),
    build_number  BIGINT CHECK (build_number IS NULL OR build_number >= 0),
    details       JSONB       NOT NULL DEFAULT '{}'::jsonb,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT logs_jenkins_source_id_key UNIQUE (source_id)
);
CREATE INDEX logs_jenkins_timestamp_idx ON logs_jenkins (timestamp);
CREATE INDEX logs_jenkins_job_idx ON logs_jenkins (job_name, timestamp DESC);

CREATE TABLE logs_api (
    id            BIGSERIAL PRIMARY KEY,
    source_id     TEXT        NOT NULL,
    message_id    UUID,
    timestamp     TIMESTAMPTZ NOT NULL,
    level         TEXT        NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error', 'fatal')),
    http_method   TEXT,
    http_status   INTEGER     NOT NULL CHECK (http_status BETWEEN 100 AND 599),
    path          TEXT,
    latency_ms    DOUBLE PRECISION CHECK (latency_ms IS NULL OR latency_ms >= 0),
    service       TEXT,
    message       TEXT        NOT NULL DEFAULT '',
    details       JSONB       NOT NULL DEFAULT '{}'::jsonb,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT logs_api_source_id_key UNIQUE (source_id)
);
CREATE INDEX logs_api_timestamp_idx ON logs_api (timestamp);
CREATE INDEX logs_api_service_idx ON logs_api (service, timestamp DESC);

-- ─────────────────────────── incidents (orchestrator) ──────────────────────────
CREATE TABLE incidents (
    id                 BIGSERIAL PRIMARY KEY,
    fingerprint        TEXT        NOT NULL,
    rule               TEXT        NOT NULL,
    title              TEXT        NOT NULL,
    severity           TEXT        NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    status             TEXT        NOT NULL DEFAULT 'open'
                                   CHECK (status IN ('open', 'acknowledged', 'resolved')),
    source             TEXT        NOT NULL CHECK (source IN ('jenkins', 'api')),
    group_key          TEXT        NOT NULL DEFAULT '',
    job_name           TEXT,
    build_number       BIGINT,
    service            TEXT,
    path               TEXT,
    runbook_url        TEXT,
    details            JSONB       NOT NULL DEFAULT '{}'::jsonb,
    first_log_id       BIGINT,
    occurrences        BIGINT      NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    detected_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_notified_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_by    TEXT,
    acknowledged_at    TIMESTAMPTZ,
    resolved_by        TEXT,
    resolved_at        TIMESTAMPTZ,
    resolution_method  TEXT CHECK (resolution_method IN ('manual', 'auto_recovered', 'automated_action')),
    resolution_note    TEXT,
    mttr_seconds       DOUBLE PRECISION CHECK (mttr_seconds IS NULL OR mttr_seconds >= 0),
    CONSTRAINT incidents_resolution_consistent CHECK (
        (status = 'resolved') = (resolved_at IS NOT NULL AND resolution_method IS NOT NULL)
    ),
    CONSTRAINT incidents_ack_consistent CHECK (
        status <> 'acknowledged' OR acknowledged_at IS NOT NULL
    )
);
-- One open (or acknowledged) incident per fingerprint: dedup is enforced by the database.
CREATE UNIQUE INDEX incidents_open_fingerprint_idx ON incidents (fingerprint) WHERE status <> 'resolved';
CREATE INDEX incidents_status_idx ON incidents (status, severity, detected_at DESC);
CREATE INDEX incidents_job_open_idx ON incidents (job_name) WHERE status <> 'resolved';
CREATE INDEX incidents_detected_idx ON incidents (detected_at DESC);

-- The logs that make up an incident (capped by the orchestrator); retention keeps these logs.
CREATE TABLE incident_logs (
    incident_id     BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    jenkins_log_id  BIGINT REFERENCES logs_jenkins (id),
    api_log_id      BIGINT REFERENCES logs_api (id),
    linked_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT incident_logs_one_source CHECK ((jenkins_log_id IS NULL) <> (api_log_id IS NULL))
);
CREATE UNIQUE INDEX incident_logs_jenkins_idx ON incident_logs (incident_id, jenkins_log_id) WHERE jenkins_log_id IS NOT NULL;
CREATE UNIQUE INDEX incident_logs_api_idx ON incident_logs (incident_id, api_log_id) WHERE api_log_id IS NOT NULL;
CREATE INDEX incident_logs_jenkins_ref_idx ON incident_logs (jenkins_log_id) WHERE jenkins_log_id IS NOT NULL;
CREATE INDEX incident_logs_api_ref_idx ON incident_logs (api_log_id) WHERE api_log_id IS NOT NULL;

-- Matches of threshold rules ("N within W seconds per group"), counted across replicas.
CREATE TABLE detection_hits (
    id         BIGSERIAL PRIMARY KEY,
    rule       TEXT        NOT NULL,
    group_key  TEXT        NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX detection_hits_window_idx ON detection_hits (rule, group_key, seen_at);

-- ─────────────────────── actions (orchestrator creates, runner runs) ───────────────────────
CREATE TABLE action_executions (
    id                BIGSERIAL PRIMARY KEY,
    action_type       TEXT        NOT NULL CHECK (action_type IN ('restart', 'rollback', 'stop')),
    status            TEXT        NOT NULL DEFAULT 'requested'
                                  CHECK (status IN ('requested', 'pending_approval', 'approved', 'running',
                                                    'completed', 'failed', 'rejected')),
    target_job        TEXT        NOT NULL CHECK (length(target_job) BETWEEN 1 AND 512),
    target_build      BIGINT CHECK (target_build IS NULL OR target_build >= 0),
    incident_id       BIGINT REFERENCES incidents (id),
    requested_by      TEXT        NOT NULL,
    channel           TEXT        NOT NULL CHECK (channel IN ('api', 'slack', 'mcp', 'rule', 'system')),
    requires_approval BOOLEAN     NOT NULL DEFAULT false,
    approved_by       TEXT,
    approved_at       TIMESTAMPTZ,
    rejected_by       TEXT,
    reason            TEXT,
    params            JSONB       NOT NULL DEFAULT '{}'::jsonb,
    idempotency_key   TEXT,
    dry_run           BOOLEAN,
    claimed_by        TEXT,
    lease_expires_at  TIMESTAMPTZ,
    result            JSONB,
    error             TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at        TIMESTAMPTZ,
    completed_at      TIMESTAMPTZ,
    CONSTRAINT action_executions_idempotency_key UNIQUE (idempotency_key),
    CONSTRAINT action_executions_approver_not_requester CHECK (approved_by IS NULL OR approved_by <> requested_by),
    CONSTRAINT action_executions_running_has_lease CHECK (
        status <> 'running' OR (claimed_by IS NOT NULL AND lease_expires_at IS NOT NULL)
    )
);
CREATE INDEX action_executions_status_idx ON action_executions (status, created_at);
CREATE INDEX action_executions_job_idx ON action_executions (target_job, started_at DESC);
CREATE INDEX action_executions_incident_idx ON action_executions (incident_id);
CREATE INDEX action_executions_lease_idx ON action_executions (lease_expires_at) WHERE status = 'running';

-- ───────────────────────────── postmortems (orchestrator) ─────────────────────────────
CREATE TABLE postmortems (
    id            BIGSERIAL PRIMARY KEY,
    incident_id   BIGINT      NOT NULL REFERENCES incidents (id),
    title         TEXT        NOT NULL,
    summary       TEXT,
    content       TEXT        NOT NULL,
    generated_by  TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT postmortems_incident_key UNIQUE (incident_id)
);

-- ─────────────────────────── outbox and inbox (every service) ───────────────────────────
CREATE TABLE outbox_events (
    id               BIGSERIAL PRIMARY KEY,
    event_id         UUID        NOT NULL,
    event_type       TEXT        NOT NULL,
    exchange         TEXT        NOT NULL,
    routing_key      TEXT        NOT NULL,
    payload          JSONB       NOT NULL,
    headers          JSONB       NOT NULL DEFAULT '{}'::jsonb,
    producer         TEXT        NOT NULL,
    status           TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published')),
    attempts         INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at     TIMESTAMPTZ,
    CONSTRAINT outbox_events_event_id_key UNIQUE (event_id),
    CONSTRAINT outbox_events_published_consistent CHECK ((status = 'published') = (published_at IS NOT NULL))
);
CREATE INDEX outbox_events_pending_idx ON outbox_events (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_events_published_idx ON outbox_events (published_at) WHERE status = 'published';

-- Wake relays as soon as a transaction that wrote to the outbox commits.
CREATE FUNCTION outbox_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_events', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify();

CREATE TABLE inbox_messages (
    consumer     TEXT        NOT NULL,
    message_id   UUID        NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX inbox_messages_received_idx ON inbox_messages (received_at);

-- ───────────────────────────────── listener ─────────────────────────────────
-- LastSentStore: where each tail stopped, so a restart neither loses nor repeats logs.
CREATE TABLE listener_checkpoints (
    source          TEXT        PRIMARY KEY,
    last_timestamp  TIMESTAMPTZ,
    -- Elasticsearch sort values of the last sent hit and the ids sent at that timestamp.
    cursor          JSONB       NOT NULL DEFAULT '{}'::jsonb,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ─────────────────────────────── health-monitor ───────────────────────────────
CREATE TABLE service_instances (
    service            TEXT        NOT NULL,
    instance_id        TEXT        NOT NULL,
    host               TEXT,
    version            TEXT,
    status             TEXT        NOT NULL CHECK (status IN ('up', 'degraded', 'stopping', 'down')),
    checks             JSONB       NOT NULL DEFAULT '{}'::jsonb,
    interval_secs      INTEGER     NOT NULL DEFAULT 5 CHECK (interval_secs > 0),
    started_at         TIMESTAMPTZ,
    first_seen_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_heartbeat_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (service, instance_id)
);
CREATE INDEX service_instances_last_idx ON service_instances (last_heartbeat_at);

CREATE TABLE health_checks (
    id          BIGSERIAL PRIMARY KEY,
    service     TEXT        NOT NULL,
    instance_id TEXT,
    status      TEXT        NOT NULL CHECK (status IN ('up', 'degraded', 'stopping', 'down')),
    latency_ms  BIGINT,
    details     JSONB       NOT NULL DEFAULT '{}'::jsonb,
    checked_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX health_checks_service_idx ON health_checks (service, checked_at DESC);

CREATE TABLE system_events (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    producer     TEXT        NOT NULL,
    severity     TEXT        NOT NULL DEFAULT 'info' CHECK (severity IN ('debug', 'info', 'warn', 'error', 'critical')),
    payload      JSONB       NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT system_events_event_id_key UNIQUE (event_id)
);
CREATE INDEX system_events_type_idx ON system_events (event_type, occurred_at DESC);
CREATE INDEX system_events_occurred_idx ON system_events (occurred_at DESC);

CREATE TABLE audit_log (
    id           BIGSERIAL PRIMARY KEY,
    event_id     UUID        NOT NULL,
    verb         TEXT        NOT NULL,
    actor        TEXT        NOT NULL,
    channel      TEXT        NOT NULL CHECK (channel IN ('api', 'slack', 'mcp', 'rule', 'system')),
    target_type  TEXT        NOT NULL,
    target_id    TEXT,
    details      JSONB       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at  TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT audit_log_event_id_key UNIQUE (event_id)
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, occurred_at DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id);

-- ───────────────────────────────── chatops ─────────────────────────────────
-- Where each incident's Slack thread lives. No foreign key: incidents belong to the orchestrator.
CREATE TABLE slack_threads (
    incident_id  BIGINT      PRIMARY KEY,
    channel      TEXT        NOT NULL,
    ts           TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
