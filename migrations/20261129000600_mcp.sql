-- The MCP server: related incidents and HTTP sessions shared by replicas.

-- Related incidents (the MCP tool get_related_incidents): every incident with the same
-- fingerprint, open or resolved (the unique index covers open ones only), and incidents
-- whose titles share words, through a full-text index on the title.
CREATE INDEX incidents_fingerprint_idx ON incidents (fingerprint, detected_at DESC);
CREATE INDEX incidents_title_words_idx ON incidents USING gin (to_tsvector('simple', title));

-- MCP sessions over HTTP: the client's `initialize`, so that any orchestrator replica can
-- continue a session another one started (behind a load balancer without sticky sessions).
CREATE TABLE mcp_sessions (
    session_id TEXT        PRIMARY KEY,
    state      JSONB       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mcp_sessions_used_idx ON mcp_sessions (used_at);
