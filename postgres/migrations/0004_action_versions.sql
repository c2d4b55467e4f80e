-- Every change of an action request is a compare-and-set on its version, so
-- that of two nodes acting on one request exactly one wins. Requests written
-- before have version 0, as their JSON (which has none) reads.
ALTER TABLE action_requests ADD COLUMN version bigint NOT NULL DEFAULT 0;
