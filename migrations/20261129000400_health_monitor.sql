-- ───────────────────────────── health-monitor ─────────────────────────────
-- The service catalog with its up/down state, uptime history, the leader lease and the
-- counters behind /metrics; audit records gain who-for, outcome and policy clause.

-- One row per monitored service, Runbooks' own (heartbeats) or external (HTTP probes).
-- Transitions up → down → up are decided by updating this row while holding its lock, in
-- the transaction that enqueues the `health.service.*` event: any number of monitors agree.
CREATE TABLE monitored_services (
    service               TEXT        PRIMARY KEY,
    kind                  TEXT        NOT NULL CHECK (kind IN ('runbooks', 'external')),
    -- unknown: an external target not probed yet; stopped: every instance left cleanly.
    state                 TEXT        NOT NULL CHECK (state IN ('unknown', 'up', 'down', 'stopped')),
    changed_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    first_seen_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Last heartbeat, or last successful probe.
    last_seen_at          TIMESTAMPTZ,
    -- Probes failed in a row (external targets).
    consecutive_failures  INTEGER     NOT NULL DEFAULT 0,
    -- Last `health.service.down` sent (a transition or a /check-services alert).
    last_alert_at         TIMESTAMPTZ,
    -- Last probe result (external targets): status code, latency, error.
    last_check            JSONB
);

ALTER TABLE service_instances
    ADD COLUMN ready        BOOLEAN     NOT NULL DEFAULT true,
    ADD COLUMN degraded     TEXT[]      NOT NULL DEFAULT '{}',
    -- The sender's time of the newest heartbeat applied: an older one arriving late (several
    -- consumers, redelivery) changes nothing.
    ADD COLUMN beat_sent_at TIMESTAMPTZ;

-- Compaction and retention scan by time across services.
CREATE INDEX health_checks_checked_idx ON health_checks (checked_at);

-- Checks older than the raw window, summed per service and hour (uptime over 7 days).
CREATE TABLE health_checks_hourly (
    service      TEXT        NOT NULL,
    hour         TIMESTAMPTZ NOT NULL,
    up_count     INTEGER     NOT NULL CHECK (up_count >= 0),
    total_count  INTEGER     NOT NULL CHECK (total_count >= up_count),
    PRIMARY KEY (service, hour)
);

-- Which monitor instance runs the periodic work that must happen once (probes, uptime
-- samples, compaction), until when.
CREATE TABLE health_leases (
    name        TEXT        PRIMARY KEY,
    holder      TEXT        NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- Monotonic totals for runbooks_events_total / runbooks_audits_total, incremented in the
-- transaction that stores the row (counting rows would be slow and would go down after
-- retention).
CREATE TABLE health_counters (
    name   TEXT   PRIMARY KEY,
    value  BIGINT NOT NULL DEFAULT 0 CHECK (value >= 0)
);
INSERT INTO health_counters (name, value)
VALUES ('events', (SELECT count(*) FROM system_events)),
       ('audits', (SELECT count(*) FROM audit_log));

ALTER TABLE audit_log
    ADD COLUMN on_behalf_of TEXT,
    ADD COLUMN outcome      TEXT NOT NULL DEFAULT 'allowed' CHECK (outcome IN ('allowed', 'denied')),
    ADD COLUMN clause       TEXT;
CREATE INDEX audit_log_on_behalf_idx ON audit_log (on_behalf_of, occurred_at DESC)
    WHERE on_behalf_of IS NOT NULL;
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at DESC);
