-- Related incidents (the MCP tool get_related_incidents): every incident with the same
-- fingerprint, open or resolved (the unique index covers open ones only), and incidents
-- whose titles share words, through a full-text index on the title.
CREATE INDEX incidents_fingerprint_idx ON incidents (fingerprint, detected_at DESC);
CREATE INDEX incidents_title_words_idx ON incidents USING gin (to_tsvector('simple', title));
