-- Post-mortems and the memory of past incidents.

-- Trigram similarity of normalised error text (pg_trgm is a trusted extension: the
-- database owner may create it without being a superuser).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The incident's normalised error text (numbers, ids, paths masked so that repeats of one
-- failure compare equal): what "similar incidents" are matched on.
ALTER TABLE incidents ADD COLUMN signature TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_signature_trgm_idx ON incidents USING gin (signature gin_trgm_ops);

-- Versioned reports: regenerating adds a version and keeps the earlier ones. The initial
-- schema's one-report-per-incident placeholder was never written to; it is replaced.
DROP TABLE IF EXISTS postmortems;
CREATE TABLE postmortems (
    id           BIGSERIAL   PRIMARY KEY,
    incident_id  BIGINT      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    version      INT         NOT NULL CHECK (version >= 1),
    title        TEXT        NOT NULL,
    summary      TEXT        NOT NULL,
    markdown     TEXT        NOT NULL,
    -- Which path wrote it, and why the template was used when it was.
    writer       TEXT        NOT NULL CHECK (writer IN ('llm', 'template')),
    writer_note  TEXT,
    model        TEXT,
    -- `resolved` (the incident resolved) or `on_demand` (REST, Slack, MCP).
    trigger      TEXT        NOT NULL CHECK (trigger IN ('resolved', 'on_demand')),
    requested_by TEXT        NOT NULL,
    -- The `incident.resolved` event that caused it: a redelivery writes nothing.
    source_event UUID        UNIQUE,
    -- Everything the report was written from (timeline, log summary, commits, similar).
    facts        JSONB       NOT NULL,
    generated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (incident_id, version)
);
