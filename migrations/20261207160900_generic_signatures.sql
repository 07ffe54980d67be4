-- Incidents were matched on their first log's text even when it only said that a build
-- failed (`Finished: FAILURE`): every failure matched every other. Such texts say nothing;
-- the incidents keep their fingerprint match only (new incidents take the line that says why).
UPDATE incidents SET signature = ''
WHERE signature LIKE 'finished: %' OR signature IN ('build failed', 'build failure');
