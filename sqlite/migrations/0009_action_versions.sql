-- Every change of an action request is a compare-and-set on its version, so
-- that of two writers acting on one request exactly one wins. Requests
-- written before have version 0, as their JSON (which has none) reads.
ALTER TABLE action_requests ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
