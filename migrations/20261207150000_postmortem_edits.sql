-- A person can save an edited post-mortem: the next version, written by `person`, triggered
-- by `edited`, with `requested_by` its author.
ALTER TABLE postmortems DROP CONSTRAINT postmortems_writer_check;
ALTER TABLE postmortems ADD CONSTRAINT postmortems_writer_check
    CHECK (writer IN ('llm', 'template', 'person'));
ALTER TABLE postmortems DROP CONSTRAINT postmortems_trigger_check;
ALTER TABLE postmortems ADD CONSTRAINT postmortems_trigger_check
    CHECK (trigger IN ('resolved', 'on_demand', 'edited'));
