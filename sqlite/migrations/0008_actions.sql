-- Requests to run actions, from the request to its outcome. The request is
-- kept whole as JSON in data; the columns beside it are what queries select
-- by. Requests name their action rather than reference it: their history
-- outlives an action removed from the config. IDs are made by the actions
-- service. Times are Unix nanoseconds; started_at is NULL until the request
-- starts running.
CREATE TABLE action_requests (
    id           TEXT    PRIMARY KEY,
    action       TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    requested_at INTEGER NOT NULL,
    started_at   INTEGER,
    data         BLOB    NOT NULL
);

-- Pending and approved requests are what the admin UI shows every responder
-- and what expiry walks.
CREATE INDEX action_requests_open ON action_requests (requested_at) WHERE state IN ('pending', 'approved');
CREATE INDEX action_requests_action ON action_requests (action, requested_at);
CREATE INDEX action_requests_requested ON action_requests (requested_at);
-- The cooldown asks when an action last started.
CREATE INDEX action_requests_started ON action_requests (action, started_at) WHERE started_at IS NOT NULL;
