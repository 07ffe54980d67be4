-- One incident per failure: related detections of one Jenkins job and build (the build
-- failed, it ran out of memory, its tests failed) are one incident instead of one per rule.
--   rules         every rule that matched the incident, the opening rule first
--   fingerprints  their fingerprints (`<rule>:<group key>`), the opening one first: further
--                 matches of any of them count on this incident, and a recovery rule that
--                 resolves any of them resolves it
-- `fingerprint` and `rule` stay the opening rule's. The orchestrator keeps one open incident
-- per fingerprint in either column (detection serialises per fingerprint and per job with
-- advisory locks); the unique index below still guards the opening fingerprint.
ALTER TABLE incidents
    ADD COLUMN rules        TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN fingerprints TEXT[] NOT NULL DEFAULT '{}';
UPDATE incidents SET rules = ARRAY[rule], fingerprints = ARRAY[fingerprint];
CREATE INDEX incidents_open_fingerprints_idx ON incidents USING gin (fingerprints)
    WHERE status <> 'resolved';
